#!/usr/bin/env bash
# update-abi-baseline.sh - writes abi/libhyperlight.abi, the ABI baseline abidiff checks against.
#
#   scripts/update-abi-baseline.sh [BUILD_DIR]     (default: build; needs abidw, abigail-tools)
#
# The baseline is the ABI of the released soname: the test abi.abidiff fails when the freshly
# built libhyperlight.so breaks it. Regenerate it ONLY
#   - when a release adds to the ABI compatibly (new functions, members appended to a
#     struct_size struct): commit it with the release, so later changes are checked against it;
#   - together with a major version bump (HL_VERSION_MAJOR in include/hyperlight/version.h, which
#     is the soname's number) when the ABI is broken on purpose.
# Never regenerate it to make abi.abidiff pass: that is exactly the mistake the test catches.
# See docs/abi.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
lib=$build/lib/libhyperlight.so
if [ ! -e "$lib" ]; then
  echo "update-abi-baseline: $lib not found: build the library first (cmake --build $build)" >&2
  exit 1
fi
command -v abidw >/dev/null || { echo "update-abi-baseline: abidw not found (apt-get install abigail-tools)" >&2; exit 1; }
# Only types reachable from the public headers; no paths or line numbers, so that the file does
# not change with the checkout's location or an unrelated edit.
abidw --headers-dir "$here/include/hyperlight" --drop-private-types --drop-undefined-syms \
      --short-locs --no-corpus-path --no-comp-dir-path --type-id-style hash \
      --out-file "$here/abi/libhyperlight.abi" "$lib"
echo "update-abi-baseline: wrote abi/libhyperlight.abi from $lib ($(grep -c '<elf-symbol ' "$here/abi/libhyperlight.abi") symbols)"
