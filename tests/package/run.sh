#!/usr/bin/env bash
# run.sh - the package test: builds the .deb packages, unpacks them into a temporary root (dpkg-deb -x, no install) and builds and runs hosts and guests from that root alone.
#
# Usage: run.sh STEP BUILD_DIR SOURCE_DIR [CMAKE_ARGS...]
#   build      scripts/package.sh into BUILD_DIR/package-test/build (prefix /usr, multiarch libdir;
#              CMAKE_ARGS pass on), then every package unpacked into package-test/root (and each
#              alone into package-test/only/NAME); the fixture the other steps use
#   control    each package's control fields (dpkg-deb --info / --field): name, version from
#              include/hyperlight/version.h, amd64, maintainer, section, a summary and a long
#              description, the exact Depends; the runtime package's shlibs and ldconfig scripts
#   contents   each package's file list (dpkg-deb --contents) is exactly what it should hold, owned
#              by root, no file in two packages; the CLI does not link libhyperlight.so
#   pkgconfig  tests/install/host.c built with `cc $(pkg-config --cflags --libs hyperlight)` from
#              the root's .pc files (their prefix found through ${pcfiledir}), tests/install/guest.c
#              with ROOT/usr/bin/hyperlight-cc; run in-process with LD_LIBRARY_PATH into the root;
#              the packaged CLI runs the packaged demo guest built with the packaged hyperlight-cc
#   cmake      tests/install/project with find_package(hyperlight) and CMAKE_PREFIX_PATH=ROOT/usr:
#              shared and static hosts and a guest, run in-process
#   example    examples/host/ (when the tree has it) configured and built against the root
set -euo pipefail
# (after a pipe, grep without -q: it reads all of its input, so the writer never dies of SIGPIPE)

step=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
shift 3
top=$build/package-test
debs=$top/build
root=$top/root
work=$top/$step
arch=x86_64-linux-gnu
libdir=usr/lib/$arch

fail() {
  echo "FAIL (package.$step): $*" >&2
  exit 1
}
expect() { # expect WHAT WANT GOT
  [ "$2" = "$3" ] || fail "$1: expected [$2], got [$3]"
}

# the version, from version.h alone (not from CMake), and the packages' names
version=
for part in MAJOR MINOR PATCH; do
  n=$(sed -n "s/^#define HL_VERSION_$part \([0-9]*\)$/\1/p" "$src/include/hyperlight/version.h")
  [ -n "$n" ] || fail "no HL_VERSION_$part in include/hyperlight/version.h"
  version=$version${version:+.}$n
done
major=${version%%.*}
full=$version-1
runtime=libhyperlight$major
packages=("$runtime" libhyperlight-dev hyperlight-guest-sdk hyperlight-tools)
deb() { echo "$debs/${1}_${full}_amd64.deb"; }

if [ "$step" != build ]; then
  [ -x "$root/usr/bin/hyperlight" ] || fail "no unpacked root (the package.build test sets it up)"
  rm -rf "$work"
  mkdir -p "$work"
fi
want_output="sum 2+40=42
sum -1+1=0
host calls: 2"
hyperfile=$root/usr/share/hyperlight/examples/minimal.toml

case $step in
build)
  rm -rf "$top"
  mkdir -p "$top"
  JOBS=1 bash "$src/scripts/package.sh" "$debs" "$@" >"$top/package.log" 2>&1 ||
    { tail -50 "$top/package.log" >&2; fail "scripts/package.sh"; }
  # exactly the four packages, named NAME_VERSION-REVISION_amd64.deb
  expect "the packages built" "$(for p in "${packages[@]}"; do deb "$p"; done | sort)" "$(printf '%s\n' "$debs"/*.deb | sort)"
  mkdir -p "$root"
  for p in "${packages[@]}"; do
    mkdir -p "$top/only/$p"
    dpkg-deb -x "$(deb "$p")" "$root"
    dpkg-deb -x "$(deb "$p")" "$top/only/$p"
  done
  ;;
control)
  for p in "${packages[@]}"; do
    d=$(deb "$p")
    dpkg-deb --info "$d" >"$work/$p.info" || fail "dpkg-deb --info $p"
    expect "$p Package" "$p" "$(dpkg-deb --field "$d" Package)"
    expect "$p Version" "$full" "$(dpkg-deb --field "$d" Version)"
    expect "$p Architecture" amd64 "$(dpkg-deb --field "$d" Architecture)"
    expect "$p Priority" optional "$(dpkg-deb --field "$d" Priority)"
    [[ $(dpkg-deb --field "$d" Maintainer) =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] ||
      fail "$p Maintainer [$(dpkg-deb --field "$d" Maintainer)] is not NAME <EMAIL>"
    # a summary line under 80 columns, then a long description of several lines
    desc=$(dpkg-deb --field "$d" Description)
    summary=$(head -1 <<<"$desc")
    if [ -z "$summary" ] || [ ${#summary} -ge 80 ]; then fail "$p summary [$summary]"; fi
    [ "$(wc -l <<<"$desc")" -ge 4 ] || fail "$p has no long description"
    grep -q '^ Description: ' "$work/$p.info" || fail "$p: dpkg-deb --info shows no Description"
  done
  expect "$runtime Section" libs "$(dpkg-deb --field "$(deb "$runtime")" Section)"
  expect "libhyperlight-dev Section" libdevel "$(dpkg-deb --field "$(deb libhyperlight-dev)" Section)"
  expect "hyperlight-guest-sdk Section" devel "$(dpkg-deb --field "$(deb hyperlight-guest-sdk)" Section)"
  expect "hyperlight-tools Section" utils "$(dpkg-deb --field "$(deb hyperlight-tools)" Section)"
  # Depends: the library and the CLI need the C library (dpkg-shlibdeps); -dev this very runtime
  [[ $(dpkg-deb --field "$(deb "$runtime")" Depends) =~ ^libc6\ \(\>=\ [0-9.]+\)$ ]] ||
    fail "$runtime Depends [$(dpkg-deb --field "$(deb "$runtime")" Depends)]"
  expect "libhyperlight-dev Depends" "$runtime (= $full)" "$(dpkg-deb --field "$(deb libhyperlight-dev)" Depends)"
  expect "hyperlight-guest-sdk Depends" "musl-dev, gcc | c-compiler" \
    "$(dpkg-deb --field "$(deb hyperlight-guest-sdk)" Depends)"
  # the CLI links the static library (tools/CMakeLists.txt): libc6 only, not the runtime package
  [[ $(dpkg-deb --field "$(deb hyperlight-tools)" Depends) =~ ^libc6\ \(\>=\ [0-9.]+\)$ ]] ||
    fail "hyperlight-tools Depends [$(dpkg-deb --field "$(deb hyperlight-tools)" Depends)]"
  expect "hyperlight-tools Suggests" "qemu-system-x86, busybox-static, cpio, xz-utils" \
    "$(dpkg-deb --field "$(deb hyperlight-tools)" Suggests)"
  expect "hyperlight-tools Recommends" "hyperlight-guest-sdk (= $full)" \
    "$(dpkg-deb --field "$(deb hyperlight-tools)" Recommends)"
  # the runtime package: a shlibs entry for programs built against it, ldconfig after (un)install
  dpkg-deb --control "$(deb "$runtime")" "$work/ctl"
  expect "$runtime shlibs" "libhyperlight $major $runtime (>= $full)" "$(cat "$work/ctl/shlibs")"
  grep -q '^[[:space:]]*ldconfig$' "$work/ctl/postinst" || fail "$runtime postinst does not run ldconfig"
  grep -q '^[[:space:]]*ldconfig$' "$work/ctl/postrm" || fail "$runtime postrm does not run ldconfig"
  for p in libhyperlight-dev hyperlight-guest-sdk hyperlight-tools; do
    dpkg-deb --control "$(deb "$p")" "$work/ctl-$p"
    expect "$p control files" "control md5sums" "$(cd "$work/ctl-$p" && echo *)"
  done
  ;;
contents)
  # what each package should hold: files and links, from the tree where a glob decides (headers, examples)
  lib=$libdir/libhyperlight.so
  want_runtime="$lib.$major -> libhyperlight.so.$version
$lib.$version"
  want_dev="$(cd "$src/include" && printf 'usr/include/%s\n' hyperlight/*.h)
$libdir/cmake/hyperlight/hyperlightConfig.cmake
$libdir/cmake/hyperlight/hyperlightConfigVersion.cmake
$libdir/cmake/hyperlight/hyperlightTargets-relwithdebinfo.cmake
$libdir/cmake/hyperlight/hyperlightTargets.cmake
$libdir/libhyperlight.a
$lib -> libhyperlight.so.$major
$libdir/pkgconfig/hyperlight.pc"
  want_sdk="usr/bin/hyperlight-cc
usr/include/hyperlight-guest/capi/hyperlight_guest.h
usr/include/hyperlight-guest/capi/macro.h
usr/include/hyperlight-guest/hyperlight/abi.h
usr/include/hyperlight-guest/hyperlight_guest.h
$libdir/cmake/hyperlight/HyperlightGuest.cmake
$libdir/hyperlight/libhyperlight_guest.a
$libdir/hyperlight/libhyperlight_guest_capi.a
$libdir/pkgconfig/hyperlight-guest.pc
usr/share/man/man1/hyperlight-cc.1"
  examples=$(cd "$src/examples" && { ls ./*.toml; for d in guest host; do [ ! -d "$d" ] || find "$d" -type f; done; } |
    sed 's|^\./||; s|^|usr/share/hyperlight/examples/|')
  want_tools="usr/bin/hyperlight
usr/bin/hyperlight-vm
usr/share/bash-completion/completions/hyperlight
$examples
usr/share/hyperlight/hyperfile.schema.json
usr/share/hyperlight/vm/init
usr/share/hyperlight/vm/prepare.sh
usr/share/hyperlight/vm/vm-test.sh
usr/share/man/man1/hyperlight-vm.1
usr/share/man/man1/hyperlight.1
usr/share/man/man5/hyperfile.5"
  for p in "${packages[@]}"; do
    dpkg-deb --contents "$(deb "$p")" >"$work/$p.contents" || fail "dpkg-deb --contents $p"
    # every entry owned by root, under usr/
    awk '$2 != "root/root" { print }' "$work/$p.contents" >"$work/$p.owners"
    [ ! -s "$work/$p.owners" ] || fail "$p has entries not owned by root: $(head -1 "$work/$p.owners")"
    awk '$6 !~ /^\.\/usr\// { print }' "$work/$p.contents" >"$work/$p.outside"
    [ ! -s "$work/$p.outside" ] || fail "$p has entries outside /usr: $(head -1 "$work/$p.outside")"
    # files and links (not directories): "path" or "path -> target"
    awk '$1 !~ /^d/ { $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +\.\//, ""); print }' "$work/$p.contents" |
      sort >"$work/$p.files"
  done
  for p in "${packages[@]}"; do
    case $p in
    "$runtime") want=$want_runtime ;;
    libhyperlight-dev) want=$want_dev ;;
    hyperlight-guest-sdk) want=$want_sdk ;;
    hyperlight-tools) want=$want_tools ;;
    esac
    sort <<<"$want" >"$work/$p.want"
    diff -u "$work/$p.want" "$work/$p.files" >"$work/$p.diff" ||
      fail "$p's files differ from what it should hold (- expected, + packaged):
$(cat "$work/$p.diff")"
  done
  # no path in two packages (dpkg would refuse to install the second)
  dups=$(sed 's/ -> .*//' "$work"/*.files | sort | uniq -d)
  [ -z "$dups" ] || fail "in two packages: $dups"
  # the soname is the runtime package's name; the CLI does not load libhyperlight.so
  soname=$(readelf -d "$root/$lib.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  expect "soname" "libhyperlight.so.$major" "$soname"
  if readelf -d "$root/usr/bin/hyperlight" | grep 'NEEDED.*libhyperlight' >/dev/null; then
    fail "the hyperlight CLI links libhyperlight.so, but hyperlight-tools does not depend on $runtime"
  fi
  # the runtime package alone gives a loadable library (libc only)
  only=$top/only/$runtime
  LD_LIBRARY_PATH=$only/$libdir ldd "$only/$lib.$major" >"$work/ldd" || fail "ldd of the runtime package's library"
  if grep 'not found' "$work/ldd" >/dev/null; then fail "the runtime library lacks: $(cat "$work/ldd")"; fi
  ;;
pkgconfig)
  export PKG_CONFIG_PATH=$root/$libdir/pkgconfig
  export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH # only the root's .pc files
  # the .pc files find the root through ${pcfiledir}, not the /usr they were built for
  [ "$(pkg-config --variable=prefix hyperlight)" -ef "$root/usr" ] ||
    fail "hyperlight.pc's prefix is [$(pkg-config --variable=prefix hyperlight)], not the root's usr"
  [ "$(pkg-config --variable=libdir hyperlight)" -ef "$root/$libdir" ] ||
    fail "hyperlight.pc's libdir is [$(pkg-config --variable=libdir hyperlight)]"
  hcc=$(pkg-config --variable=hyperlight_cc hyperlight-guest)
  [ "$hcc" -ef "$root/usr/bin/hyperlight-cc" ] || fail "hyperlight-guest.pc's hyperlight_cc is [$hcc]"
  expect "pkg-config --modversion hyperlight" "$version" "$(pkg-config --modversion hyperlight)"
  # shellcheck disable=SC2046 # pkg-config's output is meant to be split
  cc -std=c11 -Wall -Wextra -Werror -o "$work/host" "$src/tests/install/host.c" $(pkg-config --cflags --libs hyperlight)
  "$hcc" -O2 -Wall -Werror "$src/tests/install/guest.c" -o "$work/guest"
  export LD_LIBRARY_PATH=$root/$libdir
  expect "host output" "$want_output" "$("$work/host" "$hyperfile" "$work/guest" RunInProcess)"
  ldd "$work/host" | grep "$root/$libdir/libhyperlight.so.$major" >/dev/null ||
    fail "the host does not load the root's libhyperlight.so.$major"
  # the packaged CLI and the packaged example guest, built by the packaged hyperlight-cc
  "$root/usr/bin/hyperlight-cc" -O2 "$root/usr/share/hyperlight/examples/guest/demoguest.c" -o "$work/demoguest"
  expect "hyperlight run reverse" desserts "$("$root/usr/bin/hyperlight" run --hyperfile "$hyperfile" \
    --set execution_mode=RunInProcess "$work/demoguest" reverse stressed)"
  "$root/usr/bin/hyperlight-vm" --help | grep '^usage: hyperlight-vm ' >/dev/null || fail "hyperlight-vm --help"
  ;;
cmake)
  cmake -S "$src/tests/install/project" -B "$work/p" -DCMAKE_PREFIX_PATH="$root/usr" \
    -DHOST_SOURCE="$src/tests/install/host.c" -DGUEST_SOURCE="$src/tests/install/guest.c" \
    >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; fail "configure"; }
  grep -q "^hyperlight_DIR:PATH=$root/$libdir/cmake/hyperlight$" "$work/p/CMakeCache.txt" ||
    fail "find_package(hyperlight) did not find the root's package: $(grep '^hyperlight_DIR' "$work/p/CMakeCache.txt")"
  grep -q "^HYPERLIGHT_CC:FILEPATH=$root/usr/bin/hyperlight-cc$" "$work/p/CMakeCache.txt" ||
    fail "HYPERLIGHT_CC is not the root's hyperlight-cc"
  cmake --build "$work/p" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build"; }
  guest=$work/p/guests/cmakeguest
  expect "host_static output" "$want_output" "$("$work/p/host_static" "$hyperfile" "$guest" RunInProcess)"
  export LD_LIBRARY_PATH=$root/$libdir
  expect "host_shared output" "$want_output" "$("$work/p/host_shared" "$hyperfile" "$guest" RunInProcess)"
  ldd "$work/p/host_shared" | grep "$root/$libdir/libhyperlight.so.$major" >/dev/null ||
    fail "host_shared does not load the root's library"
  ;;
example)
  [ -f "$src/examples/host/CMakeLists.txt" ] || fail "examples/host/CMakeLists.txt does not exist"
  cmake -S "$src/examples/host" -B "$work/p" -DCMAKE_PREFIX_PATH="$root/usr" >"$work/configure.log" 2>&1 ||
    { cat "$work/configure.log" >&2; fail "configure examples/host"; }
  grep -q "^hyperlight_DIR:PATH=$root/$libdir/cmake/hyperlight$" "$work/p/CMakeCache.txt" ||
    fail "examples/host did not find the root's package"
  cmake --build "$work/p" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build examples/host"; }
  ;;
*)
  echo "run.sh: unknown step $step" >&2
  exit 2
  ;;
esac
echo "package.$step: ok"
