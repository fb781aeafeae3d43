#!/usr/bin/env bash
# run_host.sh - runs the example host (examples/host/host.c) and compares its output with the expected files here.
#
# Usage: run_host.sh HOST GUEST CASE
#   demo      HOST GUEST examples/demo.toml debug (RunInProcess): every call, the failures it
#             provokes on purpose printed with their diagnostics; exit 0
#   over-cap  a hyperfile beyond the host policy's cap: the diagnostic at the value; exit 1
#   debug-forbidden  a hyperfile that turns on core dumps and the gdb stub: the policy's
#             forbid_debugging locks them, a diagnostic at each key; exit 1
# stdout and stderr must equal CASE.stdout and CASE.stderr (the version line aside), and the
# exit status must be the expected one.
set -euo pipefail
host=$1 guest=$2 case=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

case $case in
demo) want_rc=0 && cd "$top/examples" && args=(demo.toml debug) ;;
over-cap) want_rc=1 && cd "$here" && args=(over-cap.toml) ;;
debug-forbidden) want_rc=1 && cd "$here" && args=(debug-forbidden.toml) ;;
*) echo "run_host.sh: unknown case $case" >&2 && exit 2 ;;
esac
rc=0
"$host" "$guest" "${args[@]}" >"$out/stdout" 2>"$out/stderr" || rc=$?
sed -i 's/^libhyperlight [0-9.]*$/libhyperlight VERSION/' "$out/stdout"
status=0
diff -u "$here/$case.stdout" "$out/stdout" || status=1
diff -u "$here/$case.stderr" "$out/stderr" || status=1
if [ "$rc" != "$want_rc" ]; then
  echo "FAIL: exit status $rc, expected $want_rc" >&2
  status=1
fi
[ $status = 0 ] && echo "example host ($case): ok"
exit $status
