#!/usr/bin/env bash
# run-toml-bench.sh - builds and runs the TOML parse benchmark (ours, toml++, tomllib) and prints one table.
#
# Usage: bench/run-toml-bench.sh [BUILD_DIR]
#   BUILD_DIR  an existing CMake build of this tree (Release, please) to build the benchmark
#              targets in; by default build-bench/ at the top of the tree is configured and used.
# Environment:
#   BENCH_ROUNDS=3       rounds; each runs every parser on every input in turn, so that a burst of
#                        load on the shared machine hits one round rather than one parser
#   BENCH_REPS=3         minimum repetitions per parser, input and round
#   BENCH_SECONDS=1      minimum seconds of parsing per parser, input and round
#   BENCH_MAX_REPS=100000
#   BENCH_SIZE_MB=8      size of the generated document
#   HYPERFILE_SAMPLE     the HIP sample (default: ../shared/hyperfile-sample.toml next to the tree)
#   PYTHON=python3       a Python >= 3.11 (for tomllib and the generator)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
rounds=${BENCH_ROUNDS:-3}
reps=${BENCH_REPS:-3}
seconds=${BENCH_SECONDS:-1}
max_reps=${BENCH_MAX_REPS:-100000}
size_mb=${BENCH_SIZE_MB:-8}
python=${PYTHON:-python3}
sample=${HYPERFILE_SAMPLE:-$(cd "$root/.." && pwd)/shared/hyperfile-sample.toml}

log() { printf '%s\n' "$*" >&2; }

# 1. Build the benchmark programs.
if [ $# -ge 1 ]; then
    build=$(cd "$1" && pwd)
    type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
    case "$type" in
    Release | RelWithDebInfo) ;;
    *) log "warning: $build is a '${type:-?}' build; the figures mean little unless it is optimised" ;;
    esac
else
    build=$root/build-bench
    mkdir -p "$build"
    if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DHL_BENCH=ON >"$build/configure.log" 2>&1; then
        # Another part of the tree may be mid-work; the benchmarks need only src/toml.
        log "note: the full tree does not configure (see $build/configure.log); building the benchmarks alone"
        build=$root/build-bench/standalone
        cmake -S "$here/standalone" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    fi
fi
log "building the benchmarks in $build"
cmake --build "$build" --target bench-toml -j2 >/dev/null
bin=$build/bin

# 2. The inputs: the HIP sample, read in place, and a generated document (kept in the build dir).
inputs=()
if [ -r "$sample" ]; then
    inputs+=("$sample")
else
    log "warning: $sample not found; set HYPERFILE_SAMPLE to include the HIP sample"
fi
big=$build/bench-data/generated-${size_mb}MB.toml
if [ ! -s "$big" ] || [ "$here/gen-toml.py" -nt "$big" ]; then
    mkdir -p "$(dirname "$big")"
    log "generating $big"
    "$python" "$here/gen-toml.py" --size "$size_mb" "$big"
fi
inputs+=("$big")

# 3. Run every parser on every input, one process each (so peak RSS is per parser and input).
parsers=(ours)
[ -x "$bin/bench-toml-tomlpp" ] && parsers+=(toml++) || log "warning: toml++ not built (header missing?)"
if "$python" -c 'import tomllib' 2>/dev/null; then parsers+=(tomllib); else log "warning: $python has no tomllib"; fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
args=(-n "$reps" -t "$seconds" -m "$max_reps")
for round in $(seq "$rounds"); do
    for input in "${inputs[@]}"; do
        for p in "${parsers[@]}"; do
            log "round $round/$rounds: $p on $(basename "$input")"
            case $p in
            ours) "$bin/bench-toml-hl" "${args[@]}" "$input" ;;
            toml++) "$bin/bench-toml-tomlpp" "${args[@]}" "$input" ;;
            tomllib) "$python" "$here/toml_bench_tomllib.py" "${args[@]}" "$input" ;;
            esac
        done
    done
done | tee "$results" | sed 's/^/  /' >&2

# 4. The table.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
tomlpp=$(sed -n 's/^#define TOML_LIB_\(MAJOR\|MINOR\|PATCH\)[[:space:]]*\([0-9]*\).*/\2/p' \
    /usr/include/toml++/impl/version.h 2>/dev/null | paste -sd. -)
echo "machine: ${cpu:-unknown CPU}, $(nproc) cores online; $(uname -sr)"
echo "compilers: $(cc --version | head -n1); toml++ ${tomlpp:-?}; $("$python" --version 2>&1)"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); build: $build"
echo "each row: $rounds rounds of >= $reps parses and >= ${seconds}s each; median/parse is the median of the"
echo "rounds' medians, spread the range of the rounds' medians over it; parsing from memory, file reading excluded"
"$python" - "$results" <<'EOF'
import sys

runs = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        r = dict(kv.split("=", 1) for kv in line.split()[1:])
        runs.setdefault((r["parser"], r["input"]), []).append(r)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


rows = []  # one per parser and input, in the order they first ran
for (parser, path), rs in runs.items():
    meds = [int(r["median_ns"]) for r in rs]
    rows.append(dict(parser=parser, input=path, bytes=int(rs[0]["bytes"]), nodes=rs[0]["nodes"],
                     reps=sum(int(r["reps"]) for r in rs), ns=median(meds),
                     spread=(max(meds) - min(meds)) / median(meds),
                     peak=max(int(r["rss_peak_kb"]) for r in rs),
                     own=max(int(r["rss_peak_kb"]) - int(r["rss_base_kb"]) for r in rs)))
ours = {r["input"]: r["ns"] for r in rows if r["parser"] == "ours"}


def dur(ns):
    return "%.1f us" % (ns / 1e3) if ns < 1e6 else "%.2f ms" % (ns / 1e6)


head = ("parser", "input", "bytes", "reps", "median/parse", "spread", "MB/s", "time vs ours", "values",
        "peak RSS", "RSS for parse")
table = [head]
for r in rows:
    ns, n = r["ns"], r["bytes"]
    ratio = "%.2fx" % (ns / ours[r["input"]]) if r["input"] in ours else "-"
    table.append((r["parser"], r["input"].rsplit("/", 1)[-1], str(n), str(r["reps"]), dur(ns),
                  "%.0f%%" % (100 * r["spread"]), "%.1f" % (n / ns * 1e3), ratio, r["nodes"],
                  "%.1f MiB" % (r["peak"] / 1024), "%.1f MiB" % (r["own"] / 1024)))
width = [max(len(row[i]) for row in table) for i in range(len(head))]
right = set(range(2, len(head)))
for k, row in enumerate(table):
    cells = [c.rjust(width[i]) if i in right else c.ljust(width[i]) for i, c in enumerate(row)]
    print("| " + " | ".join(cells) + " |")
    if k == 0:
        print("|" + "|".join(("-" * (w + 1) + ":") if i in right else ("-" * (w + 2))
                             for i, w in enumerate(width)) + "|")
EOF
