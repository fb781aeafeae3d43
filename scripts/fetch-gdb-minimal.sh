#!/usr/bin/env bash
# fetch-gdb-minimal.sh - unpacks Debian's gdb-minimal (gdb without Python) for use inside the emulated VM; prints its gdb's path.
#
# usage: scripts/fetch-gdb-minimal.sh
#
# Debian's full gdb cannot start inside the VM of scripts/vm-test.sh (it embeds Python, whose
# standard library is not in the VM); gdb-minimal has no Python and runs there with nothing but
# its shared libraries, which vm-test.sh copies in. gdb-minimal conflicts with the gdb package,
# so it is not installed: `apt-get download` fetches its .deb and `dpkg-deb -x` unpacks it under
# $HL_GDB_CACHE (default ~/.cache/hyperlight-gdb-minimal), outside the git tree.
#
# Prints one line, the absolute path of the unpacked gdb. Cached: a second run prints it at once.
# Exit status: 0; 2 when the package could not be fetched (no network, not root and no sudo for
# the `apt-get update` it may need), with the reason on stderr; 1 on other errors.
set -euo pipefail

CACHE=${HL_GDB_CACHE:-${HOME:-/root}/.cache/hyperlight-gdb-minimal}
GDB=$CACHE/root/usr/bin/gdb
say() { echo "fetch-gdb-minimal: $*" >&2; }
unavailable() {
  say "error: $*"
  exit 2
}

if [ -x "$GDB" ]; then
  printf '%s\n' "$GDB"
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || unavailable "apt-get is missing: this script needs Debian 12 or a derivative"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [ -x "$GDB" ]; then # fetched by a concurrent run while this one waited
  printf '%s\n' "$GDB"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && sudo=(sudo)
fi
work=$(mktemp -d "$CACHE/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get -q -o APT::Sandbox::User=root download gdb-minimal >&2); }
if ! download; then
  say "apt-get download failed; running apt-get update once"
  [ "$(id -u)" -eq 0 ] || [ ${#sudo[@]} -gt 0 ] || unavailable "not root and no sudo: cannot run apt-get update"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2 ||
    unavailable "apt-get update failed (no network to Debian's mirrors?)"
  download || unavailable "apt-get download gdb-minimal failed (no network to Debian's mirrors?)"
fi
deb=$(ls "$work"/gdb-minimal_*.deb)
rm -rf "$CACHE/root"
dpkg-deb -x "$deb" "$work/root"
[ -x "$work/root/usr/bin/gdb" ] || unavailable "gdb-minimal's package has no usr/bin/gdb"
mv "$work/root" "$CACHE/root"
printf '%s\n' "$GDB"
