#!/usr/bin/env bash
# run.sh - the install test: install into a temporary prefix, then build and run hosts and guests from that prefix alone.
#
# Usage: run.sh STEP BUILD_DIR LIBDIR   (LIBDIR: CMAKE_INSTALL_LIBDIR, e.g. lib)
#   prefix      `cmake --install` of everything into BUILD_DIR/install-test/prefix (the fixture the
#               other steps use); checks the layout, the soname links, the installed error text
#   pkgconfig   host.c built with `cc $(pkg-config --cflags --libs hyperlight)`, guest.c with the
#               hyperlight-cc that `pkg-config --variable=hyperlight_cc hyperlight-guest` names;
#               run in-process with LD_LIBRARY_PATH=P/lib; then the same from a moved prefix
#               the example host (share/hyperlight/examples/host/host.c) with the one-line
#               pkg-config command, its demo guest with hyperlight-cc; run in-process
#   cmake       project/: find_package(hyperlight) gives hyperlight::hyperlight (shared),
#               hyperlight::hyperlight_static and hyperlight_add_guest(); both hosts run in-process;
#               then the installed examples/host/CMakeLists.txt builds the example host and guest
#   kvm         the cmake step's shared host and guest, and the installed example host with the demo
#               guest, on KVM inside the emulated VM of P/bin/hyperlight-vm
#   man         every installed man page renders with `man -l --warnings` without a warning, and
#               names every command, option and hyperfile key of the installed programs
#   completion  the installed bash completion offers exactly the commands and options of
#               `hyperlight --help` and `hyperlight CMD --help`, and the values of --format
#   clean       nothing under the prefix names the build tree
#   exports     the installed libhyperlight.so exports exactly the functions the installed headers declare
set -euo pipefail
# (after a pipe, grep without -q: it reads all of its input, so the writer never dies of SIGPIPE)

step=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$build/install-test
prefix=$top/prefix
work=$top/$step
libdir=$3

fail() {
  echo "FAIL (install.$step): $*" >&2
  exit 1
}
expect() { # expect WANT GOT
  [ "$1" = "$2" ] || fail "expected [$1], got [$2]"
}
want_output="sum 2+40=42
sum -1+1=0
host calls: 2"

if [ "$step" != prefix ]; then
  [ -x "$prefix/bin/hyperlight" ] || fail "no installed prefix (the install.prefix test sets it up)"
  rm -rf "$work"
  mkdir -p "$work"
fi
hl=$prefix/bin/hyperlight
hyperfile=$prefix/share/hyperlight/examples/minimal.toml
examples=$prefix/share/hyperlight/examples

# The example host (examples/host/host.c, installed) on the installed demo guest and demo.toml's
# debug profile (RunInProcess): its stdout must be tests/examples/demo.stdout, its exit status 0.
# Usage: check_example_host HOST GUEST [LD_LIBRARY_PATH]
check_example_host() {
  local got rc=0
  got=$(cd "$examples" && LD_LIBRARY_PATH=${3:-} "$1" "$2" demo.toml debug 2>"$work/example.stderr") || rc=$?
  [ "$rc" = 0 ] || { cat "$work/example.stderr" >&2; fail "the example host $1 exited $rc"; }
  expect "$(cat "$here/../examples/demo.stdout")" "$(sed 's/^libhyperlight [0-9.]*$/libhyperlight VERSION/' <<<"$got")"
}

case $step in
prefix)
  rm -rf "$top"
  mkdir -p "$top"
  cmake --install "$build" --prefix "$prefix" >"$top/install.log"
  for f in bin/hyperlight bin/hyperlight-cc bin/hyperlight-vm \
    include/hyperlight/config.h include/hyperlight/sandbox.h include/hyperlight/error.h \
    "$libdir/libhyperlight.a" "$libdir/pkgconfig/hyperlight.pc" "$libdir/pkgconfig/hyperlight-guest.pc" \
    "$libdir/cmake/hyperlight/hyperlightConfig.cmake" "$libdir/cmake/hyperlight/hyperlightConfigVersion.cmake" \
    "$libdir/cmake/hyperlight/hyperlightTargets.cmake" "$libdir/cmake/hyperlight/HyperlightGuest.cmake" \
    "$libdir/hyperlight/libhyperlight_guest.a" include/hyperlight-guest/hyperlight_guest.h \
    share/man/man1/hyperlight.1 share/man/man1/hyperlight-cc.1 share/man/man1/hyperlight-vm.1 \
    share/man/man5/hyperfile.5 share/bash-completion/completions/hyperlight \
    share/hyperlight/hyperfile.schema.json share/hyperlight/examples/minimal.toml \
    share/hyperlight/examples/guest/demoguest.c share/hyperlight/vm/vm-test.sh \
    share/hyperlight/examples/host/host.c share/hyperlight/examples/host/CMakeLists.txt \
    share/hyperlight/examples/demo.toml \
    share/hyperlight/vm/prepare.sh share/hyperlight/vm/init; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
  done
  # every public header of the tree
  for h in "$here"/../../include/hyperlight/*.h; do
    cmp -s "$h" "$prefix/include/hyperlight/$(basename "$h")" || fail "include/hyperlight/$(basename "$h") not installed"
  done
  # libhyperlight.so -> libhyperlight.so.N -> libhyperlight.so.N.M.m, and the soname is libhyperlight.so.N
  so=$prefix/$libdir/libhyperlight.so
  [ -L "$so" ] || fail "libhyperlight.so is not a symlink"
  soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
  [[ $soname =~ ^libhyperlight\.so\.[0-9]+$ ]] || fail "soname [$soname]"
  [ "$(readlink "$so")" = "$soname" ] || fail "libhyperlight.so points at $(readlink "$so"), not $soname"
  [[ $(readlink "$prefix/$libdir/$soname") =~ ^$soname\.[0-9]+\.[0-9]+$ ]] || fail "$soname is not a link to the versioned file"
  # the schema is the CLI's, the completion and man pages are there
  cmp -s "$prefix/share/hyperlight/hyperfile.schema.json" <("$hl" schema) || fail "the installed schema differs from hyperlight schema"
  # the library's "no /dev/kvm" advice names the installed runner, not a path in the repository
  strings "$prefix/$libdir/$(readlink "$prefix/$libdir/$soname")" | grep 'hyperlight-vm' >/dev/null ||
    fail "the shared library's /dev/kvm error does not name hyperlight-vm"
  "$prefix/bin/hyperlight-vm" --help | grep '^usage: hyperlight-vm ' >/dev/null || fail "hyperlight-vm --help"
  ;;
pkgconfig)
  export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
  hcc=$(pkg-config --variable=hyperlight_cc hyperlight-guest)
  [ -x "$hcc" ] || fail "pkg-config's hyperlight_cc [$hcc] is not a program"
  # shellcheck disable=SC2046 # pkg-config's output is meant to be split
  cc -std=c11 -Wall -Wextra -Werror -o "$work/host" "$here/host.c" $(pkg-config --cflags --libs hyperlight)
  "$hcc" -O2 -Wall -Werror "$here/guest.c" -o "$work/guest"
  expect "$want_output" "$(LD_LIBRARY_PATH=$prefix/$libdir "$work/host" "$hyperfile" "$work/guest" RunInProcess)"
  # the shared library from the prefix, not another one
  LD_LIBRARY_PATH=$prefix/$libdir ldd "$work/host" | grep "$prefix/$libdir/libhyperlight.so" >/dev/null ||
    fail "the host does not load the prefix's libhyperlight.so"
  # relocatable: the .pc files find a moved prefix by themselves
  cp -a "$prefix" "$work/moved"
  export PKG_CONFIG_PATH=$work/moved/$libdir/pkgconfig
  [ "$(pkg-config --variable=hyperlight_cc hyperlight-guest)" -ef "$work/moved/bin/hyperlight-cc" ] ||
    fail "the moved prefix's hyperlight-guest.pc names $(pkg-config --variable=hyperlight_cc hyperlight-guest)"
  # shellcheck disable=SC2046
  cc -std=c11 -o "$work/host2" "$here/host.c" $(pkg-config --cflags --libs hyperlight)
  "$work/moved/bin/hyperlight-cc" -O2 "$here/guest.c" -o "$work/guest2"
  expect "$want_output" "$(LD_LIBRARY_PATH=$work/moved/$libdir "$work/host2" "$hyperfile" "$work/guest2" RunInProcess)"
  # the example host with the one-line command docs/embedding.md gives, the guest with hyperlight-cc
  # shellcheck disable=SC2046
  cc -std=c11 -O2 -Wall -Wextra -Werror "$examples/host/host.c" -o "$work/example-host" $(pkg-config --cflags --libs hyperlight)
  "$hcc" -O2 -Wall -Werror "$examples/guest/demoguest.c" -o "$work/demoguest"
  check_example_host "$work/example-host" "$work/demoguest" "$work/moved/$libdir"
  ;;
cmake | kvm)
  cmake -S "$here/project" -B "$work/p" -DCMAKE_PREFIX_PATH="$prefix" -DHOST_SOURCE="$here/host.c" \
    -DGUEST_SOURCE="$here/guest.c" >"$work/configure.log" || { cat "$work/configure.log" >&2; fail "configure"; }
  cmake --build "$work/p" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; fail "build"; }
  grep -q "HYPERLIGHT_CC:FILEPATH=$prefix/bin/hyperlight-cc" "$work/p/CMakeCache.txt" ||
    fail "HYPERLIGHT_CC is not the prefix's hyperlight-cc"
  guest=$work/p/guests/cmakeguest
  if [ "$step" = cmake ]; then
    expect "$want_output" "$("$work/p/host_shared" "$hyperfile" "$guest" RunInProcess)"
    expect "$want_output" "$("$work/p/host_static" "$hyperfile" "$guest" RunInProcess)"
    ldd "$work/p/host_shared" | grep "$prefix/$libdir/libhyperlight.so" >/dev/null || fail "host_shared does not load the prefix's library"
    if ldd "$work/p/host_static" | grep libhyperlight >/dev/null; then fail "host_static loads libhyperlight.so"; fi
    # the installed examples/host/CMakeLists.txt, as a developer copies it: find_package(hyperlight)
    # and hyperlight_add_guest() for the demo guest
    cmake -S "$examples/host" -B "$work/example" -DCMAKE_PREFIX_PATH="$prefix" >"$work/example-configure.log" ||
      { cat "$work/example-configure.log" >&2; fail "configure examples/host"; }
    cmake --build "$work/example" >"$work/example-build.log" 2>&1 || { cat "$work/example-build.log" >&2; fail "build examples/host"; }
    check_example_host "$work/example/host" "$work/example/guests/demoguest"
  else
    mkdir -p "$work/vm"
    cp "$guest" "$hyperfile" "$work/vm/"
    out=$("$prefix/bin/hyperlight-vm" --quiet --timeout 240 --dir "$work/vm" -- \
      "$work/p/host_shared" "$work/vm/minimal.toml" "$work/vm/cmakeguest" RunInHypervisor) ||
      fail "hyperlight-vm exited $?: $out"
    expect "$want_output" "$out"
    # the installed example host (find_package + hyperlight_add_guest), demo.toml's default
    # profile: RunInHypervisor; its stdout as in-process but for the mode line
    cmake -S "$examples/host" -B "$work/example" -DCMAKE_PREFIX_PATH="$prefix" >"$work/example-configure.log" ||
      { cat "$work/example-configure.log" >&2; fail "configure examples/host"; }
    cmake --build "$work/example" >"$work/example-build.log" 2>&1 || { cat "$work/example-build.log" >&2; fail "build examples/host"; }
    cp "$work/example/host" "$work/example/guests/demoguest" "$examples/demo.toml" "$work/vm/"
    out=$("$prefix/bin/hyperlight-vm" --quiet --timeout 240 --dir "$work/vm" -- \
      sh -c "cd $work/vm && ./host $work/vm/demoguest demo.toml 2>/dev/null") || fail "the example host on KVM exited $?: $out"
    expect "$(sed 's/^mode RunInProcess, max_execution_time 5000 ms$/mode RunInHypervisor, max_execution_time 100 ms/' \
      "$here/../examples/demo.stdout")" "$(sed 's/^libhyperlight [0-9.]*$/libhyperlight VERSION/' <<<"$out")"
  fi
  ;;
man)
  for page in "$prefix"/share/man/man1/*.1 "$prefix"/share/man/man5/*.5; do
    warnings=$(MANWIDTH=80 man -l --warnings "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "$(basename "$page"): man -l --warnings: $warnings"
  done
  for page in hyperlight.1 hyperlight-cc.1 hyperlight-vm.1 hyperfile.5; do
    f=$(ls "$prefix"/share/man/man*/"$page")
    MANWIDTH=200 man -l "$f" 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g' >"$work/$page.txt"
    [ -s "$work/$page.txt" ] || fail "$page renders empty"
  done
  # every command and option of the installed CLI, every key of its schema
  for cmd in $("$hl" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
    grep -q "hyperlight $cmd" "$work/hyperlight.1.txt" || fail "hyperlight(1) lacks the command $cmd"
    [ "$cmd" = help ] && continue
    for opt in $("$hl" "$cmd" --help | grep -oE '^  (-[A-Za-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
      grep -qe "$opt" "$work/hyperlight.1.txt" || fail "hyperlight(1) lacks $cmd's $opt"
    done
  done
  for key in $(python3 -c 'import json,sys; print(" ".join(k for k in json.load(sys.stdin)["properties"] if k != "sandbox"))' \
    <"$prefix/share/hyperlight/hyperfile.schema.json"); do
    grep -q "$key" "$work/hyperfile.5.txt" || fail "hyperfile(5) lacks the key $key"
  done
  grep -q -- '--hyperlight-capi' "$work/hyperlight-cc.1.txt" || fail "hyperlight-cc(1) lacks --hyperlight-capi"
  grep -q -- '--timeout' "$work/hyperlight-vm.1.txt" || fail "hyperlight-vm(1) lacks --timeout"
  ;;
completion)
  bash "$here/completion.sh" "$hl" "$prefix/share/bash-completion/completions/hyperlight"
  ;;
clean)
  if grep -rl -- "$build" "$prefix" >"$work/hits"; then
    fail "files under the prefix name the build tree $build: $(tr '\n' ' ' <"$work/hits")"
  fi
  ;;
exports)
  # the installed shared library exports exactly what the installed headers declare
  lib=$(ls "$prefix/$libdir"/libhyperlight.so.*.*.* | head -n 1)
  python3 "$here/../abi/check_exports.py" --lib "$lib" --include "$prefix/include" --cc "${CC:-cc}" \
    --soname "$(basename "$(ls "$prefix/$libdir"/libhyperlight.so.? | head -n 1)")"
  ;;
*)
  echo "run.sh: unknown step $step" >&2
  exit 2
  ;;
esac
echo "install.$step: ok"
