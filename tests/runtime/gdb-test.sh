#!/usr/bin/env bash
# gdb-test.sh - runs test_gdb with gdb-minimal (scripts/fetch-gdb-minimal.sh, cached; the CTest
# fixture gdb.fetch fetches it first): in this process's mode (inproc) or on KVM inside the
# emulated VM (kvm NPT), where gdb-minimal, the guests and the guest's sources are copied in.
#
# usage: gdb-test.sh SOURCE_DIR GUEST_DIR TEST_BINARY inproc
#        gdb-test.sh SOURCE_DIR GUEST_DIR TEST_BINARY kvm 0|1
set -euo pipefail
src=$1 guests=$2 test=$3 mode=$4
gdb=$(bash "$src/scripts/fetch-gdb-minimal.sh") || {
  echo "gdb-test: no gdb-minimal (scripts/fetch-gdb-minimal.sh failed)" >&2
  exit 1
}
case $mode in
  inproc) exec env HL_TEST_MODE=inproc HL_GUEST_DIR="$guests" HL_GDB="$gdb" "$test" ;;
  kvm)
    root=${gdb%/usr/bin/gdb}
    envs=(--env HL_TEST_MODE=kvm --env "HL_GUEST_DIR=$guests" --env "HL_GDB=$gdb")
    [ -n "${CI:-}" ] && envs+=(--env "CI=$CI")
    exec bash "$src/scripts/vm-test.sh" --npt "$5" --timeout 800 --dir "$root" --dir "$src/guest/tests" \
      --dir "$guests" "${envs[@]}" -- "$test"
    ;;
  *)
    echo "gdb-test: mode inproc or kvm, not '$mode'" >&2
    exit 2
    ;;
esac
