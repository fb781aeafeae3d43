#!/usr/bin/env bash
# profile-kvm-call.sh - where a KVM guest call's time goes: perf in the emulated VM, sampling
# bench_callloop's calls (no restore, with restore, one host call) and printing, for each, the
# share of the kernel, the library and the C library, then the functions with their callees.
#
# Usage: bench/profile-kvm-call.sh [BUILD_DIR]
#   BUILD_DIR  an existing CMake build with HL_BENCH=ON; by default build-bench/ (Release) is
#              configured and used, as bench/run-sandbox-bench.sh does.
# Environment:
#   PROFILE_CALLS=20000   calls per kind
#   PROFILE_NPT=1         the VM's kvm_amd npt
#   PROFILE_TOP=45        lines of each report
# perf comes from Debian's linux-perf (installed with apt-get when missing); the VM runs
# Debian's kernel, whose perf it is. Under emulation only the software clock samples (cpu-clock).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
calls=${PROFILE_CALLS:-20000}
npt=${PROFILE_NPT:-1}
top=${PROFILE_TOP:-45}
log() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/build-dir.sh
. "$here/build-dir.sh"
build=$(bench_build_dir "$@")
if ! command -v perf >/dev/null 2>&1; then
    log "installing linux-perf (perf)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf >/dev/null
fi
log "building bench_callloop in $build"
cmake --build "$build" --target bench_callloop -j2 >/dev/null
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/tools"
cp "$(command -v perf)" "$stage/tools/perf"
cat >"$stage/tools/run.sh" <<INNER
#!/bin/sh
echo 0 > /proc/sys/kernel/kptr_restrict
echo -1 > /proc/sys/kernel/perf_event_paranoid
for kind in "" "--restore" "--restore --host-call"; do
    echo "==== bench_callloop \$kind"
    $stage/tools/perf record -q -e cpu-clock -F 10000 -g -o /tmp/p.data -- \
        $build/bin/bench_callloop --mode kvm --guests $build/guests --calls $calls \$kind
    echo "-- self, by object"
    $stage/tools/perf report -i /tmp/p.data --stdio --no-children --sort dso -g none 2>/dev/null | grep '%' | head -6
    echo "-- with callees, by function"
    $stage/tools/perf report -i /tmp/p.data --stdio --children --sort sym -g none 2>/dev/null | grep '%' | head -$top
done
INNER
chmod +x "$stage/tools/run.sh"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); host: $(nproc) cores, Linux $(uname -r); VM npt=$npt"
"$root/scripts/vm-test.sh" --quiet --mem 2048 --timeout 900 --npt "$npt" --dir "$stage/tools" \
    --dir "$build/guests" --dir "$build/bin" -- "$stage/tools/run.sh"
