#!/usr/bin/env bash
# gdb-for-vm.sh - CTest fixture of the tests that run gdb (test_coredump, test_gdb): puts a gdb that runs inside the emulated VM at OUTDIR/gdb.
#
# usage: tests/runtime/gdb-for-vm.sh OUTDIR
#
# Debian's full gdb cannot start inside the VM of scripts/vm-test.sh (it embeds Python); the
# gdb of Debian's gdb-minimal can. scripts/fetch-gdb-minimal.sh fetches and unpacks it (cached
# outside the tree); this copies its one binary into OUTDIR, which the VM test copies into the VM
# (vm-test.sh adds the shared libraries it needs). Exit status: fetch-gdb-minimal.sh's on failure.
set -euo pipefail
out=${1:?usage: gdb-for-vm.sh OUTDIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
gdb=$(bash "$here/scripts/fetch-gdb-minimal.sh")
mkdir -p "$out"
cp -L "$gdb" "$out/gdb.tmp"
mv "$out/gdb.tmp" "$out/gdb"
"$out/gdb" --version | head -n 1
