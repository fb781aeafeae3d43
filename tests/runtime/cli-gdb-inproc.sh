#!/usr/bin/env bash
# cli-gdb-inproc.sh - `hyperlight run --gdb PORT` in RunInProcess: prints how to attach gdb, waits for it, and gdb given those commands knows the guest's symbols.
#
# usage: cli-gdb-inproc.sh HYPERLIGHT GUEST GDB
# Starts the run in the background, reads the commands it prints, attaches gdb to it in batch
# mode with them, checks that gdb resolves the guest function `add` to the guest's file, and lets
# gdb continue: the run sees the debugger, goes on under it and prints add(2, 3) = 5.
set -euo pipefail
hl=$1 guest=$2 gdb=$3
out=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$out"' EXIT
"$hl" run --gdb 9 --set execution_mode=RunInProcess "$guest" add 2 3 >"$out/stdout" 2>"$out/stderr" &
pid=$!
for _ in $(seq 100); do
  grep -q "waiting for a debugger" "$out/stderr" && break
  sleep 0.1
done
grep -q "waiting for a debugger" "$out/stderr" || { cat "$out/stderr"; echo "FAIL: no debugger prompt"; exit 1; }
grep -q "^    gdb -p $pid\$" "$out/stderr" || { cat "$out/stderr"; echo "FAIL: no 'gdb -p $pid' line"; exit 1; }
args=()
while IFS= read -r line; do
  case $line in
  "    (gdb) continue") ;;
  "    (gdb) "*) args+=(-ex "${line#    (gdb) }") ;;
  esac
done <"$out/stderr"
[ ${#args[@]} -ge 5 ] || { cat "$out/stderr"; echo "FAIL: expected at least 5 gdb commands"; exit 1; }
"$gdb" -nx -batch -p "$pid" "${args[@]}" -ex "info symbol add" -ex "info line add" -ex continue >"$out/gdb" 2>&1 || true
grep -Eq "^add in section \.text of .*simpleguest" "$out/gdb" || { cat "$out/gdb"; echo "FAIL: gdb does not place add in the guest"; exit 1; }
wait "$pid"
[ "$(cat "$out/stdout")" = 5 ] || { cat "$out/stdout" "$out/stderr"; echo "FAIL: the run did not finish with 5"; exit 1; }
echo "cli --gdb in-process: ok"
