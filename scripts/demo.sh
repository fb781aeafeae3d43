#!/usr/bin/env bash
# demo.sh - `make demo`: runs the demo guest with the HIP's sample settings in a KVM micro-VM,
# natively when this machine's /dev/kvm can run sandboxes, else inside the emulated VM.
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
hl=$build/bin/hyperlight
hyperfile=$root/examples/demo.toml
guest=$build/guests/demoguest
calls=("word_count|hello from the hyperfile" "fibonacci|90" "reverse|stressed")

echo "== the effective configuration of examples/demo.toml (the HIP's sample settings)"
"$hl" config --hyperfile "$hyperfile" --show-origin

if probe=$("$hl" run --hyperfile "$hyperfile" "$guest" --list 2>&1); then
  echo "== RunInHypervisor natively, on this machine's /dev/kvm"
  echo "$probe"
  for c in "${calls[@]}"; do
    echo "\$ hyperlight run --hyperfile examples/demo.toml demoguest ${c%%|*} \"${c#*|}\""
    "$hl" run --hyperfile "$hyperfile" "$guest" "${c%%|*}" "${c#*|}"
  done
  exit 0
fi
echo "== this machine cannot run KVM sandboxes natively:"
echo "   ${probe//$'\n'/ }"
echo "== RunInHypervisor inside an emulated VM with KVM (QEMU, kvm_amd; scripts/vm-test.sh)"
bash "$root/scripts/vm/prepare.sh" >/dev/null
for c in "${calls[@]}"; do
  echo "\$ hyperlight run --hyperfile examples/demo.toml demoguest ${c%%|*} \"${c#*|}\"   (in the VM)"
  bash "$root/scripts/vm-test.sh" --quiet --timeout 300 --dir "$build/guests" --dir "$root/examples" \
    -- "$hl" run --hyperfile "$hyperfile" "$guest" "${c%%|*}" "${c#*|}"
done
