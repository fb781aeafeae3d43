#!/usr/bin/env bash
# package.sh - `make package`: configures a build with Debian's layout (prefix /usr), builds it and runs cpack there, leaving the .deb files in it.
#
# Usage: scripts/package.sh BUILD_DIR [CMAKE_ARGS...]
#   BUILD_DIR   a build directory of its own (make package: build-package/), configured with
#               -DCMAKE_INSTALL_PREFIX=/usr so that GNUInstallDirs picks the multiarch libdir
#               (lib/x86_64-linux-gnu), and without the benchmarks
#   CMAKE_ARGS  more configure arguments (-DHL_WERROR=ON, -DPython3_EXECUTABLE=...)
# JOBS sets the build's parallelism (default: nproc). Prints the path of each package built.
# The packages and their contents: cmake/package.cmake, docs/packages.md.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: package.sh BUILD_DIR [CMAKE_ARGS...]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$1
shift
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

for tool in cpack dpkg-deb dpkg-shlibdeps file; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "package.sh: $tool is missing (scripts/install-deps.sh installs dpkg-dev and file)" >&2
    exit 1
  fi
done

cmake -S "$root" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHL_BENCH=OFF -DHL_SANITIZE=OFF -DHL_FUZZ=OFF "$@" \
  >"$build.configure.log" 2>&1 || {
  cat "$build.configure.log" >&2
  exit 1
}
rm -f "$build.configure.log"
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
case $libdir in
lib/*-linux-gnu) ;;
*)
  echo "package.sh: the libdir is [$libdir], not Debian's multiarch lib/<triplet> (is the prefix /usr?)" >&2
  exit 1
  ;;
esac

cmake --build "$build" -j"$jobs" >&2
rm -f "$build"/*.deb
# cpack reads CPackConfig.cmake from the current directory
(cd "$build" && cpack -G DEB) >"$build/cpack.log" 2>&1 || {
  cat "$build/cpack.log" >&2
  exit 1
}
debs=("$build"/*.deb)
[ -e "${debs[0]}" ] || {
  echo "package.sh: cpack made no .deb files (see $build/cpack.log)" >&2
  exit 1
}
printf '%s\n' "${debs[@]}"
