#!/usr/bin/env bash
# run-density-bench.sh - host memory per initialised sandbox (bench_density): in-process, then on KVM inside the emulated VM.
# Each mode also measures sandboxes made from one snapshot file (`hyperlight snapshot`;
# in-process only one at a time can exist, at the snapshot's address).
#
# Usage: bench/run-density-bench.sh [BUILD_DIR]
#   BUILD_DIR  an existing CMake build of this tree; by default build-bench/ (Release) is
#              configured and used, as bench/run-sandbox-bench.sh does.
# Environment:
#   DENSITY_COUNTS=1,100,1000      N for the in-process run
#   DENSITY_VM_COUNTS=1,100,200    N on KVM in the VM (each KVM sandbox is a VM: a vCPU thread,
#                                  fds, kernel memory)
#   BENCH_KVM=auto|vm|none         as in run-sandbox-bench.sh (native KVM is tried when usable)
#   BENCH_VM_MEM=2048              the VM's memory in MiB
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
counts=${DENSITY_COUNTS:-1,100,1000}
vm_counts=${DENSITY_VM_COUNTS:-1,100,200}
kvm_mode=${BENCH_KVM:-auto}
vm_mem=${BENCH_VM_MEM:-2048}
log() { printf '%s\n' "$*" >&2; }
# shellcheck source=bench/build-dir.sh
. "$here/build-dir.sh"
build=$(bench_build_dir "$@")
log "building bench_density in $build"
cmake --build "$build" --target bench_density hyperlight -j2 >/dev/null
bench=$build/bin/bench_density
guests=$build/guests
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); host: $(nproc) cores, Linux $(uname -r)"
echo
"$bench" --mode inproc --guests "$guests" --counts "$counts"
echo
# sandboxes made from a snapshot file: in-process one at a time (the snapshot's address)
hl=$build/bin/hyperlight
snap=$build/density-inproc.hls
"$hl" snapshot --set execution_mode=RunInProcess "$guests/simpleguest" -o "$snap" 2>/dev/null
"$bench" --snapshot "$snap" --counts 1,1
echo
[ "$kvm_mode" = none ] && exit 0
if [ -c /dev/kvm ] && [ "$kvm_mode" != vm ] && "$bench" --mode kvm --guests "$guests" --counts "$vm_counts"; then
    "$hl" snapshot "$guests/simpleguest" -o "$build/density-kvm.hls" 2>/dev/null &&
        "$bench" --snapshot "$build/density-kvm.hls" --counts "$vm_counts"
    exit 0
fi
echo "KVM inside a QEMU VM (software emulation, kvm_amd), via scripts/vm-test.sh:"
"$root/scripts/vm-test.sh" --quiet --mem "$vm_mem" --timeout 1500 --dir "$guests" --dir "$build/bin" -- \
    sh -c "'$bench' --mode kvm --guests '$guests' --counts '$vm_counts' && echo &&
           '$hl' snapshot '$guests/simpleguest' -o /tmp/density-kvm.hls 2>/dev/null &&
           '$bench' --snapshot /tmp/density-kvm.hls --counts '$vm_counts'" | tr -d '\r'
