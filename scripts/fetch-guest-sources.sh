#!/usr/bin/env bash
# fetch-guest-sources.sh - fetches and unpacks Debian source packages (lua5.4 by default) for guests built from real-world C programs.
#
# usage: scripts/fetch-guest-sources.sh [PACKAGE...]
#
# For each package it prints one line: the absolute path of its unpacked source tree (Debian's
# patches applied), under $HL_GUEST_SRC_CACHE (default ~/.cache/hyperlight-guest-src), outside
# the git tree. Nothing from it is ever committed.
#
# - Cached: when the package was fetched before, it prints the path and exits at once (no
#   network, no apt). Delete the cache directory, or set HL_GUEST_SRC_REFRESH=1, to fetch again.
# - Cold: when APT knows no source for a package, it adds deb-src entries mirroring the
#   system's Debian binary entries (deb822 /etc/apt/sources.list.d/debian.sources, as Debian 12
#   has it, or one-line /etc/apt/sources.list) to /etc/apt/sources.list.d/hyperlight-deb-src.*
#   unless Debian's entries have them already, runs `apt-get update` once (through sudo when
#   not root), then `apt-get source --download-only` and `dpkg-source -x` (from dpkg-dev,
#   installed when missing).
# - The cache is locked (flock) while it works, so concurrent runs do not collide.
#
# Exit status: 0 when every path was printed; 2 when a package could not be fetched (no network,
# no such source package, not root and no sudo), with the reason on stderr; 1 on other errors.
set -euo pipefail

CACHE=${HL_GUEST_SRC_CACHE:-${HOME:-/root}/.cache/hyperlight-guest-src}
REFRESH=${HL_GUEST_SRC_REFRESH:-0}
[ $# -gt 0 ] || set -- lua5.4

say() { echo "fetch-guest-sources: $*" >&2; }
unavailable() {
  say "error: $*"
  exit 2
}

# The fast path: every package already unpacked (its recorded directory still there).
cached_dir() {
  local stamp=$CACHE/$1.srcdir dir
  [ "$REFRESH" != 1 ] && [ -f "$stamp" ] || return 1
  dir=$(cat "$stamp")
  [ -n "$dir" ] && [ -d "$dir" ] || return 1
  printf '%s\n' "$dir"
}
all_cached() {
  local p
  for p in "$@"; do cached_dir "$p" >/dev/null || return 1; done
}
if all_cached "$@"; then
  for p in "$@"; do cached_dir "$p"; done
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || unavailable "apt-get is missing: this script needs Debian 12 or a derivative"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || unavailable "not root and no sudo: cannot add deb-src entries or run apt-get update"
  sudo=(sudo)
fi
apt_get() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@"; }

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# Whether Debian's own entries (or ours) already include sources: other repositories' deb-src
# lines do not count, they do not carry Debian's packages.
have_debian_deb_src() {
  ls /etc/apt/sources.list.d/hyperlight-deb-src.* >/dev/null 2>&1 && return 0
  grep -Eqs '^[[:space:]]*deb-src[[:space:]]' /etc/apt/sources.list && return 0
  grep -Eqs '^Types:.*deb-src' /etc/apt/sources.list.d/debian.sources
}
apt_knows_source() { apt-cache showsrc "$1" 2>/dev/null | grep -q '^Package:'; }
# Adds deb-src entries matching the system's Debian deb entries.
add_deb_src() {
  local deb822=/etc/apt/sources.list.d/debian.sources tmp
  tmp=$(mktemp)
  if [ -f "$deb822" ] && grep -Eq '^Types:.*\bdeb\b' "$deb822"; then
    # the same stanzas (URIs, Suites, Components, Signed-By), for sources instead of binaries
    { echo "# added by hyperlight-c scripts/fetch-guest-sources.sh: Debian's sources, for guests"
      sed -E 's/^Types:.*/Types: deb-src/' "$deb822"; } >"$tmp"
    "${sudo[@]}" install -m 0644 "$tmp" /etc/apt/sources.list.d/hyperlight-deb-src.sources
    say "added /etc/apt/sources.list.d/hyperlight-deb-src.sources (deb-src stanzas of $deb822)"
  elif grep -Eqs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
    { echo "# added by hyperlight-c scripts/fetch-guest-sources.sh: Debian's sources, for guests"
      sed -nE 's/^[[:space:]]*deb[[:space:]]/deb-src /p' /etc/apt/sources.list; } >"$tmp"
    "${sudo[@]}" install -m 0644 "$tmp" /etc/apt/sources.list.d/hyperlight-deb-src.list
    say "added /etc/apt/sources.list.d/hyperlight-deb-src.list (deb-src lines of /etc/apt/sources.list)"
  else
    rm -f "$tmp"
    unavailable "no Debian entries in $deb822 or /etc/apt/sources.list to derive deb-src entries from"
  fi
  rm -f "$tmp"
}

updated=0
apt_update() {
  [ "$updated" = 0 ] || return 0
  say "apt-get update"
  apt_get update >&2 || unavailable "apt-get update failed (no network to Debian's mirrors?)"
  updated=1
}

for p in "$@"; do
  if ! apt_knows_source "$p"; then
    have_debian_deb_src || add_deb_src
    apt_update
    break
  fi
done
if ! command -v dpkg-source >/dev/null 2>&1; then
  apt_update
  say "installing dpkg-dev (dpkg-source unpacks the source packages)"
  apt_get install -y --no-install-recommends dpkg-dev >&2 || unavailable "could not install dpkg-dev"
fi

fetch_one() {
  local pkg=$1 work ver dsc dir
  apt_knows_source "$pkg" || unavailable "APT knows no source package '$pkg' (even after apt-get update)"
  work=$CACHE/$pkg
  rm -rf "$work"
  mkdir -p "$work"
  say "downloading the source of $pkg into $work"
  # apt's download sandbox user (_apt) cannot write root's cache directory: download as root there
  (cd "$work" && apt-get -q -o APT::Sandbox::User=root source --download-only "$pkg" >&2) ||
    unavailable "apt-get source $pkg failed (no network to Debian's mirrors?)"
  dsc=$(find "$work" -maxdepth 1 -name '*.dsc' | head -n 1)
  [ -n "$dsc" ] || unavailable "apt-get source $pkg left no .dsc in $work"
  ver=$(sed -n 's/^Version: //p' "$dsc" | head -n 1)
  dir=$work/src
  dpkg-source -x "$dsc" "$dir" >&2
  printf '%s\n' "$ver" >"$CACHE/$pkg.version"
  printf '%s\n' "$dir" >"$CACHE/$pkg.srcdir"
  say "$pkg $ver unpacked in $dir"
}

for p in "$@"; do
  if ! cached_dir "$p" >/dev/null; then
    fetch_one "$p" # not in a || list: set -e must stay on inside it
  fi
done
for p in "$@"; do cached_dir "$p"; done
