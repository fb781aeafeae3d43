#!/usr/bin/env bash
# run-sandbox-bench.sh - builds bench_sandbox (Release) and runs it in-process, then on KVM: natively, or inside the emulated VM.
#
# Usage: bench/run-sandbox-bench.sh [BUILD_DIR]
#   BUILD_DIR  an existing CMake build of this tree (Release, please); by default build-bench/ at
#              the top of the tree is configured (Release) and used.
# Environment:
#   BENCH_ITERATIONS=2000    timed calls per operation when running natively
#   BENCH_VM_ITERATIONS=500  the same inside the emulated VM (everything there is ~10-100x slower)
#   BENCH_KVM=auto           auto: native KVM when /dev/kvm is usable and a sandbox runs on it, else
#                            the emulated VM (scripts/vm-test.sh) when it exists, else no KVM run;
#                            native, vm: only that; none: in-process only
#   BENCH_VM_NPT=1           kvm_amd's nested paging inside the VM (0: shadow paging)
#   BENCH_VM_MEM=2048        the VM's memory in MiB (the 256 MiB sandbox and its snapshot live there)
#   BENCH_VM_TIMEOUT=900     seconds before the VM run is killed
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
iters=${BENCH_ITERATIONS:-2000}
vm_iters=${BENCH_VM_ITERATIONS:-500}
kvm_mode=${BENCH_KVM:-auto}
vm_npt=${BENCH_VM_NPT:-1}
vm_mem=${BENCH_VM_MEM:-2048}
vm_timeout=${BENCH_VM_TIMEOUT:-900}
vm_tool=$root/scripts/vm-test.sh

log() { printf '%s\n' "$*" >&2; }
case $kvm_mode in auto | native | vm | none) ;; *) log "BENCH_KVM must be auto, native, vm or none" && exit 2 ;; esac

# 1. Build bench_sandbox and the test guests.
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
        log "error: the tree does not configure (see $build/configure.log); bench_sandbox needs the whole library"
        exit 1
    fi
fi
log "building bench_sandbox in $build"
cmake --build "$build" --target bench_sandbox -j2 >/dev/null
bench=$build/bin/bench_sandbox
guests=$build/guests

echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); build: $build"
echo

# 2. In-process.
"$bench" --mode inproc --guests "$guests" --iterations "$iters"
echo

# 3. KVM, natively.
kvm_usable() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
ran_kvm=
if [ "$kvm_mode" = native ] || { [ "$kvm_mode" = auto ] && kvm_usable; }; then
    log "running the KVM benchmark natively"
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    if "$bench" --mode kvm --guests "$guests" --iterations "$iters" >"$out"; then
        cat "$out"
        ran_kvm=native
    else
        # e.g. a /dev/kvm that is not hardware virtualisation (kvm-pvm) and cannot run the guest
        echo "native KVM: bench_sandbox --mode kvm failed here (its message is above, on stderr)."
        [ "$kvm_mode" = native ] && exit 1
    fi
    echo
fi

# 4. KVM inside the emulated VM.
if [ -z "$ran_kvm" ] && { [ "$kvm_mode" = vm ] || [ "$kvm_mode" = auto ]; }; then
    if [ ! -x "$vm_tool" ]; then
        echo "KVM: no usable /dev/kvm and no $vm_tool: no KVM figures."
        [ "$kvm_mode" = vm ] && exit 1
        exit 0
    fi
    echo "KVM inside a QEMU VM (software emulation, -accel tcg, kvm_amd npt=$vm_npt), via scripts/vm-test.sh."
    echo "Under emulation absolute times mean little: read the ratios to the bare KVM baseline,"
    echo "which is measured by the same program in the same VM run."
    echo "host: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(nproc) cores online; Linux $(uname -r)"
    log "running the KVM benchmark inside the emulated VM (a minute or so)"
    "$vm_tool" --npt "$vm_npt" --mem "$vm_mem" --timeout "$vm_timeout" --dir "$guests" -- \
        "$bench" --mode kvm --guests "$guests" --iterations "$vm_iters" | tr -d '\r'
fi
