#!/usr/bin/env bash
# install-deps.sh - installs, with apt-get, whichever of the build and test packages are missing (Debian 12).
#
# Idempotent: every package is checked with one dpkg-query call, and apt-get (update once, then
# install) runs only when something is missing, so a second run takes a few milliseconds.
# Runs apt-get through sudo when not root. Prints what it installs, or that everything is there.
#
#   build-essential g++ cmake pkg-config   compilers, make, CMake, pkg-config
#   libcmocka-dev                          the unit tests' framework
#   man-db groff-base                      `man -l --warnings` on the installed man pages (tests/install)
#   python3 python3-jsonschema             the conformance harness and the JSON Schema tests
#   clang libclang-rt-14-dev               libFuzzer and the sanitizer runtimes for clang
#   libtomlplusplus-dev                    toml++, the benchmark's point of comparison
#   musl-dev                               the guests' C library (headers, libc.a)
#   abigail-tools                          abidw/abidiff: the ABI check against abi/libhyperlight.abi
#   dpkg-dev                               dpkg-source, which unpacks Debian source packages for the
#                                          Lua guest (scripts/fetch-guest-sources.sh); dpkg-shlibdeps
#                                          for the packages' Depends (make package)
#   file                                   CPack's DEB generator finds the ELF files with it
#   gdb                                    the debugging tests: gdb opens guest core dumps and
#                                          talks to the gdb stub (gdb-minimal, for inside the VM,
#                                          comes from scripts/fetch-gdb-minimal.sh)
set -euo pipefail

packages=(
  build-essential
  cmake
  pkg-config
  libcmocka-dev
  python3
  python3-jsonschema
  clang
  libclang-rt-14-dev
  g++
  libtomlplusplus-dev
  musl-dev
  dpkg-dev
  # make package: CPack's DEB generator (dpkg-shlibdeps is in dpkg-dev)
  file
  # tests/install: `man -l --warnings` renders the installed man pages
  man-db
  groff-base
  # tests/abi: abidiff against the ABI baseline
  abigail-tools
  # tests/debug: gdb on core dumps and the gdb stub
  gdb
  # scripts/vm-test.sh: the QEMU-emulated VM in which the KVM tests run
  qemu-system-x86
  busybox-static
  cpio
  xz-utils
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: this script needs dpkg and apt-get (Debian 12 or a derivative)." >&2
  echo "install-deps: please install by other means: ${packages[*]}" >&2
  exit 1
fi

# One dpkg-query for all packages; a package never seen by dpkg is simply absent from the output.
declare -A installed=()
while read -r name status; do
  # ${db:Status-Abbrev} is "ii " for an installed package (desired: install, status: installed)
  [ "$status" = ii ] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
  [ -n "${installed[$p]:-}" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-deps: missing ${missing[*]}, and not root and no sudo to install them" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
