#!/usr/bin/env bash
# run.sh - the guest toolchain from outside the tree: install, then build guests with the installed hyperlight-cc.
#
# Usage: run.sh STEP BUILD_DIR
#   install    `cmake --install` of the guest SDK into an empty prefix: hyperlight-cc, SDK, headers
#   cc         a two-file guest compiled with -c then linked, -I -D -O2 -g -lm, run in-process
#   hardening  -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fcf-protection: builds, runs, and a
#              smashed stack ends the call with a clear error
#   capi       a Hyperlight C API guest (--hyperlight-capi)
#   cmake      a separate CMake project using hyperlight_add_guest() from the prefix
set -euo pipefail

step=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$build/toolchain-test/$step
prefix=$work/prefix
hl=$build/bin/hyperlight
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" --component guest-sdk >/dev/null
cc=$prefix/bin/hyperlight-cc

# run GUEST FUNCTION ARGS...: calls in-process, prints the result
run() { "$hl" run --set execution_mode=RunInProcess "$@" 2>"$work/stderr"; }
expect() { # expect WANT GOT
  if [ "$1" != "$2" ]; then
    echo "FAIL ($step): expected [$1], got [$2]" >&2
    cat "$work/stderr" >&2 || true
    exit 1
  fi
}

case $step in
install)
  for f in bin/hyperlight-cc lib/hyperlight/libhyperlight_guest.a lib/hyperlight/libhyperlight_guest_capi.a \
           include/hyperlight-guest/hyperlight_guest.h include/hyperlight-guest/hyperlight/abi.h \
           include/hyperlight-guest/capi/hyperlight_guest.h lib/cmake/hyperlight/HyperlightGuest.cmake; do
    [ -f "$prefix/$f" ] || { echo "FAIL: $f not installed" >&2; exit 1; }
  done
  # the installed driver names nothing of the build tree
  if grep -q "$build" "$cc"; then echo "FAIL: the installed hyperlight-cc refers to $build" >&2; exit 1; fi
  ;;
cc)
  p=$here/project
  "$cc" -O2 -g -I"$p/include" -DGREETING='"separate"' -c "$p/main.c" -o "$work/main.o"
  "$cc" -O2 -g -I"$p/include" -c "$p/util.c" -o "$work/util.o"
  "$cc" "$work/main.o" "$work/util.o" -lm -o "$work/guest"
  expect "separate: world, hypot 5.0" "$(run "$work/guest" greet world)"
  ;;
hardening)
  p=$here/project
  flags="-O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fcf-protection"
  "$cc" $flags -I"$p/include" -DGREETING='"hard"' "$p/main.c" "$p/util.c" -lm -o "$work/guest"
  expect "hard: x, hypot 5.0" "$(run "$work/guest" greet x)"
  expect "120" "$(run "$work/guest" smash 8)"
  if run "$work/guest" smash 64 >/dev/null; then echo "FAIL: a smashed stack went unnoticed" >&2; exit 1; fi
  grep -q "stack smashing detected" "$work/stderr" || { cat "$work/stderr" >&2; exit 1; }
  ;;
capi)
  "$cc" --hyperlight-capi -O2 "$here/capi.c" -o "$work/guest"
  expect "42" "$(run "$work/guest" twice 21)"
  ;;
cmake)
  cmake -S "$here/project" -B "$work/p" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_MODULE_PATH="$prefix/lib/cmake/hyperlight" >/dev/null
  cmake --build "$work/p" >/dev/null
  expect "parent: cmake, hypot 5.0" "$(run "$work/p/guests/parentguest" greet cmake)"
  ;;
*)
  echo "run.sh: unknown step $step" >&2
  exit 2 ;;
esac
echo "toolchain $step: ok"
