# build-dir.sh - sourced by the bench scripts: the CMake build they run in.
# bench_build_dir [BUILD_DIR]: prints BUILD_DIR's absolute path; without it, configures
# build-bench/ at the top of the tree (Release, HL_BENCH=ON) and prints that. Exits on failure.
bench_build_dir() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ $# -ge 1 ]; then
        (cd "$1" && pwd) || exit 1
        return
    fi
    mkdir -p "$root/build-bench"
    cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release -DHL_BENCH=ON \
        >"$root/build-bench/configure.log" 2>&1 || {
        printf 'error: the tree does not configure (see %s)\n' "$root/build-bench/configure.log" >&2
        exit 1
    }
    printf '%s\n' "$root/build-bench"
}
