#!/usr/bin/env bash
# build-lua-guest.sh - builds the Lua guest (examples/lua/luaguest.c + Debian's Lua 5.4, unchanged) with hyperlight-cc.
#
# usage: scripts/build-lua-guest.sh HYPERLIGHT_CC OUTPUT OBJDIR
#
#   HYPERLIGHT_CC  the guest compiler driver (build/bin/hyperlight-cc)
#   OUTPUT         the guest to write (build/guests/luaguest)
#   OBJDIR         where the object files go (build/lua-guest)
#
# Fetches lua5.4's source with scripts/fetch-guest-sources.sh (cached outside the git tree), then
# compiles every file of its src/ but the two programs (lua.c, luac.c) exactly as upstream's
# `make posix` does (-std=gnu99 -O2 -DLUA_COMPAT_5_3 -DLUA_USE_POSIX: no dlopen, which a static
# musl has not), our glue with our warnings, and links them like `cc` would. Only what changed
# (sources, flags, the driver) is recompiled; the link always runs (a fraction of a second).
#
# Exit status: 0 when OUTPUT is up to date; 77 (CTest's "skipped") when the sources cannot be
# fetched, with the reason on stderr - but 1 under CI=true, where the Lua guest must be tested;
# 1 on a compile or link error.
set -euo pipefail

if [ $# -ne 3 ]; then
  sed -n '3,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 1
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CC_DRIVER=$(readlink -f "$1") # absolute: it is part of the flags stamp
OUTPUT=$2
OBJDIR=$3
GLUE=$ROOT/examples/lua/luaguest.c

LUA_CFLAGS=(-std=gnu99 -O2 -Wall -Wextra -DLUA_COMPAT_5_3 -DLUA_USE_POSIX)
GLUE_CFLAGS=(-std=c11 -O2 -Wall -Wextra -Wno-unused-parameter -Werror)

rc=0
srcroot=$("$HERE/fetch-guest-sources.sh" lua5.4) || rc=$?
if [ $rc -ne 0 ]; then
  if [ $rc -eq 2 ] && [ "${CI:-}" != true ]; then
    echo "build-lua-guest: skipped: Lua 5.4's sources could not be fetched (see above);" \
      "run scripts/fetch-guest-sources.sh where Debian's mirrors are reachable" >&2
    exit 77
  fi
  echo "build-lua-guest: error: Lua 5.4's sources could not be fetched, and under CI=true the Lua guest must be built" >&2
  exit 1
fi
luasrc=$srcroot/src
[ -f "$luasrc/lua.h" ] || { echo "build-lua-guest: error: no lua.h in $luasrc" >&2; exit 1; }

mkdir -p "$OBJDIR/include" "$(dirname "$OUTPUT")"
# Debian's luaconf.h (its patch 0002, module paths) includes a header that debian/rules writes at
# configure time; write the same one here, beside the objects, rather than into Lua's tree.
multiarch=$OBJDIR/include/lua5.4-deb-multiarch.h
if [ ! -f "$multiarch" ]; then
  printf '#ifndef _LUA_DEB_MULTIARCH_\n#define _LUA_DEB_MULTIARCH_\n#define DEB_HOST_MULTIARCH "%s"\n#endif\n' \
    x86_64-linux-gnu >"$multiarch"
fi
LUA_CFLAGS+=(-I"$OBJDIR/include")
GLUE_CFLAGS+=(-I"$OBJDIR/include")
# A change of flags, driver or source tree rebuilds everything: they are recorded in a stamp.
stamp=$OBJDIR/flags
want="lua ${LUA_CFLAGS[*]} | glue ${GLUE_CFLAGS[*]} | $CC_DRIVER | $luasrc"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ "$CC_DRIVER" -nt "$stamp" ]; then
  rm -f "$OBJDIR"/*.o
  printf '%s\n' "$want" >"$stamp"
fi

# compile SRC OBJ FLAGS...: compiles SRC when OBJ is missing or older than it.
objs=()
compile() {
  local src=$1 obj=$2
  shift 2
  objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    echo "build-lua-guest: cc $(basename "$src")" >&2
    "$CC_DRIVER" "$@" -c "$src" -o "$obj"
  fi
}
for src in "$luasrc"/*.c; do
  name=$(basename "$src" .c)
  case $name in lua | luac) continue ;; esac # the stand-alone interpreter and compiler
  compile "$src" "$OBJDIR/$name.o" "${LUA_CFLAGS[@]}"
done
compile "$GLUE" "$OBJDIR/luaguest.o" "${GLUE_CFLAGS[@]}" -I"$luasrc"

# always linked (a fraction of a second): the guest SDK the driver links may have changed
"$CC_DRIVER" -O2 "${objs[@]}" -lm -o "$OUTPUT.tmp"
mv -f "$OUTPUT.tmp" "$OUTPUT"
echo "build-lua-guest: $OUTPUT is up to date (lua5.4 $(cat "$(dirname "$srcroot")/../lua5.4.version" 2>/dev/null || echo '?'))" >&2
