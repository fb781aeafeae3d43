#!/usr/bin/env bash
# abidiff.sh - abidiff between the committed ABI baseline and the freshly built libhyperlight.so.
#
#   tests/abi/abidiff.sh BASELINE.abi SUPPRESSIONS LIB.so INCLUDE_DIR
#
# abidiff's exit status is a bit set: 1 error, 2 usage error, 4 the ABI changed, 8 the change is
# incompatible. The test fails on 1, 2 or 8, and on 4 when the report removes or changes anything;
# additions alone pass, with a reminder to regenerate the baseline at the next release
# (scripts/update-abi-baseline.sh says when that is allowed).
set -uo pipefail
baseline=$1 suppr=$2 lib=$3 include=$4
if ! command -v abidiff >/dev/null; then
  echo "abidiff not found: install abigail-tools (scripts/install-deps.sh)" >&2
  exit 1
fi
# --fail-no-debug-info: without DWARF abidiff would compare symbol names only and miss every
# change of a struct or a signature. The suppressions allow what docs/abi.md allows: members
# appended to the structs that start with struct_size.
report=$(abidiff --no-show-locs --fail-no-debug-info --suppr "$suppr" \
                 --hd1 "$include/hyperlight" --hd2 "$include/hyperlight" "$baseline" "$lib")
rc=$?
echo "$report"
if (( rc & 3 )); then
  echo "abidiff failed to run (status $rc)" >&2
  exit 1
fi
# Bit 8 is set only for some breaks (a removed symbol); a changed struct or signature sets bit 4
# alone, so every "Removed" or "Changed" in the summaries counts as a break too. Only additions
# (new functions) pass.
broken=$(( rc & 8 ))
if grep -Eq '(^|[^0-9])[1-9][0-9]* (Removed|Changed)' <<<"$report"; then
  broken=1
fi
# The suppression (libabigail 2.2) also hides members of those structs that moved or changed
# type, not only appended ones: a second run without it fails on any such member change.
full=$(abidiff --no-show-locs --hd1 "$include/hyperlight" --hd2 "$include/hyperlight" \
               "$baseline" "$lib")
# ("no data member changes (N filtered)" is abidiff saying that nothing of the kind happened)
if grep -v 'no data member changes' <<<"$full" | grep -Eq 'data members? (change|deletion)|offset changed'; then
  echo "$full"
  broken=1
fi
if (( broken )); then
  echo "error: incompatible ABI change against $baseline (abidiff status $rc): see the report above." >&2
  echo "Fix the change (append members to struct_size structs, add functions rather than change" >&2
  echo "them), or break the ABI on purpose: bump HL_VERSION_MAJOR (the soname) and run" >&2
  echo "scripts/update-abi-baseline.sh (docs/abi.md)." >&2
  exit 1
fi
if (( rc & 4 )); then
  echo "note: compatible ABI additions against $baseline; regenerate the baseline at the next release."
fi
echo "abidiff: no incompatible change"
exit 0
