#!/usr/bin/env bash
# prepare.sh - fetches and caches what scripts/vm-test.sh boots: a Debian kernel, its KVM modules, a busybox initramfs.
#
# Idempotent and cached outside the git tree, in $HL_VM_CACHE (default ~/.cache/hyperlight-vm).
# A warm run only checks the cache and the host packages (well under a second, no network).
#
#   1. installs the host packages it needs with apt-get, only those missing (as install-deps.sh)
#   2. picks the kernel package linux-image-amd64 depends on (or $HL_VM_KERNEL_PKG), fetches it
#      with `apt-get download` and unpacks it with `dpkg-deb -x` (nothing is installed)
#   3. keeps /boot/vmlinuz-*, and a decompressed vmlinux when the bzImage's payload is an ELF with
#      a PVH entry note (QEMU boots that about twice as fast under software emulation)
#   4. keeps kvm-amd and the modules it depends on (read from each module's .modinfo, Debian ships
#      no usable modules.dep), decompressed, and their load order (irqbypass kvm ccp kvm-amd)
#   5. builds base.cpio: busybox (static) with its applet links, the modules, their order
#
# HL_VM_REFRESH=1 looks for a newer kernel package even when one is cached.
# Prints the kernel directory it prepared as its last line: `prepare: ready <dir>`.
set -euo pipefail

say() { echo "prepare: $*" >&2; }
die() {
  echo "prepare: error: $*" >&2
  exit 1
}

CACHE=${HL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hyperlight-vm}
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"
CACHE=$(cd "$CACHE" && pwd)

# One prepare at a time per cache (CTest may start several VM tests at once on a cold cache).
exec 9>"$CACHE/.lock"
flock 9

host_packages=(qemu-system-x86 busybox-static cpio xz-utils)

# --- 1. host packages --------------------------------------------------------------------------
install_missing() {
  command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 ||
    die "needs dpkg and apt-get (Debian 12); install by other means: ${host_packages[*]}"
  declare -A have=()
  local name status
  while read -r name status; do
    [ "$status" = ii ] && have[$name]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${host_packages[@]}" 2>/dev/null || true)
  local missing=() p
  for p in "${host_packages[@]}"; do
    [ -n "${have[$p]:-}" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages ${missing[*]}, and not root and no sudo"
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
    die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
    die "apt-get install ${missing[*]} failed"
}
install_missing

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found (package qemu-system-x86)"
command -v cpio >/dev/null || die "cpio not found (package cpio)"
command -v xz >/dev/null || die "xz not found (package xz-utils)"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (package busybox-static)"
if ldd "$BUSYBOX" 2>/dev/null | grep -q '=>'; then
  die "$BUSYBOX is dynamically linked: install busybox-static (it replaces busybox)"
fi

# --- warm path: a complete cached kernel and base initramfs -----------------------------------
current=""
[ -f "$CACHE/current" ] && current=$(cat "$CACHE/current")
if [ -n "$current" ] && [ -f "$CACHE/$current/complete" ] && [ -z "${HL_VM_REFRESH:-}" ] &&
  { [ -z "${HL_VM_KERNEL_PKG:-}" ] || [ "$(cat "$CACHE/$current/package")" = "$HL_VM_KERNEL_PKG" ]; }; then
  say "cached: $(cat "$CACHE/$current/package") $(cat "$CACHE/$current/version") in $CACHE/$current"
  echo "prepare: ready $CACHE/$current"
  exit 0
fi

# --- 2. the kernel package ---------------------------------------------------------------------
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1
}
pkg=${HL_VM_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
  pkg=$(kernel_package)
  if [ -z "$pkg" ]; then
    say "no package list knows linux-image-amd64 yet: apt-get update"
    if [ "$(id -u)" -ne 0 ]; then sudo apt-get update -q >&2; else apt-get update -q >&2; fi ||
      die "apt-get update failed"
    pkg=$(kernel_package)
  fi
  [ -n "$pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
fi
candidate() { apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
version=$(candidate)
[ -n "$version" ] && [ "$version" != "(none)" ] || die "apt knows no candidate version of $pkg"
kdir="$pkg-$version"
if [ -f "$CACHE/$kdir/complete" ]; then
  say "cached: $pkg $version is the newest, in $CACHE/$kdir"
  echo "$kdir" >"$CACHE/current.tmp" && mv "$CACHE/current.tmp" "$CACHE/current"
  echo "prepare: ready $CACHE/$kdir"
  exit 0
fi

work=$(mktemp -d "$CACHE/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
apt_opts=()
# as root, apt drops to the _apt user to download, who cannot write into root's home
[ "$(id -u)" -eq 0 ] && apt_opts=(-o APT::Sandbox::User=root)
download() {
  say "downloading $pkg $version (apt-get download)"
  (cd "$work" && apt-get download -q "${apt_opts[@]}" "$pkg=$version" >&2)
}
if ! download; then
  # stale package lists name a version the mirror no longer has: refresh them once
  say "download failed: apt-get update, then again"
  if [ "$(id -u)" -ne 0 ]; then sudo apt-get update -q >&2; else apt-get update -q >&2; fi ||
    die "apt-get update failed"
  [ -n "${HL_VM_KERNEL_PKG:-}" ] || pkg=$(kernel_package)
  version=$(candidate)
  kdir="$pkg-$version"
  download || die "apt-get download $pkg=$version failed (is a Debian mirror reachable?)"
fi
deb=$(ls "$work"/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || die "apt-get download left no .deb in $work"
say "unpacking $(basename "$deb") (dpkg-deb -x)"
dpkg-deb -x "$deb" "$work/root" || die "dpkg-deb -x $deb failed"
rm -f "$deb"

out="$work/out"
mkdir -p "$out/modules"

# --- 3. the kernel image -----------------------------------------------------------------------
vmlinuz=$(ls "$work"/root/boot/vmlinuz-* 2>/dev/null | head -1)
[ -n "$vmlinuz" ] || die "$pkg has no /boot/vmlinuz-*"
release=${vmlinuz##*/vmlinuz-}
cp "$vmlinuz" "$out/vmlinuz"
cp "$work"/root/boot/config-"$release" "$out/config" 2>/dev/null || true
say "kernel $release: $(stat -c %s "$out/vmlinuz") bytes"

# The bzImage carries the kernel ELF compressed; find the payload by its magic (as the kernel's
# scripts/extract-vmlinux does) and keep the result if it is an ELF QEMU can boot through PVH.
extract_vmlinux() {
  local magic tool off
  for magic in 'xz:\xFD7zXZ\x00' 'zstd:\x28\xB5\x2F\xFD' 'gzip:\x1F\x8B\x08'; do
    tool=${magic%%:*}
    command -v "$tool" >/dev/null 2>&1 || continue
    for off in $(LC_ALL=C grep -obUaP "${magic#*:}" "$out/vmlinuz" 2>/dev/null | head -3 | cut -d: -f1); do
      case $tool in
        xz) tail -c +$((off + 1)) "$out/vmlinuz" | xz -dc --single-stream >"$out/vmlinux" 2>/dev/null ;;
        zstd) tail -c +$((off + 1)) "$out/vmlinuz" | zstd -dc 2>/dev/null >"$out/vmlinux" ;;
        gzip) tail -c +$((off + 1)) "$out/vmlinuz" | gzip -dc 2>/dev/null >"$out/vmlinux" ;;
      esac
      if [ "$(head -c 4 "$out/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
        echo "$tool"
        return 0
      fi
    done
  done
  rm -f "$out/vmlinux"
  return 1
}
if comp=$(extract_vmlinux); then
  # Xen ELF note 18 is XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry point QEMU needs for an ELF kernel
  if command -v readelf >/dev/null && readelf -n "$out/vmlinux" 2>/dev/null | grep -q -E 'Xen.*(0x00000012\)|PHYS32)'; then
    say "decompressed the $comp payload to vmlinux ($(stat -c %s "$out/vmlinux") bytes, PVH entry present)"
  else
    say "the decompressed kernel has no PVH entry note (or no readelf): booting the bzImage"
    rm -f "$out/vmlinux"
  fi
else
  say "no ELF payload found in the bzImage: booting it compressed (slower)"
fi

# --- 4. kvm-amd and its dependencies -----------------------------------------------------------
mdir="$work/root/lib/modules/$release"
[ -d "$mdir" ] || mdir=$(ls -d "$work"/root/usr/lib/modules/"$release" 2>/dev/null || true)
[ -d "$mdir" ] || die "$pkg has no lib/modules/$release"
declare -A modpath=()
while IFS= read -r f; do
  b=${f##*/}
  b=${b%%.ko*}
  modpath[${b//-/_}]=$f
done < <(find "$mdir" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')

# decompress module $1 (a path) to $2
unpack_module() {
  case $1 in
    *.ko) cp "$1" "$2" ;;
    *.ko.xz) xz -dc "$1" >"$2" ;;
    *.ko.gz) gzip -dc "$1" >"$2" ;;
    *.ko.zst)
      command -v zstd >/dev/null || die "$1 is zstd-compressed and zstd is not installed"
      zstd -dcq "$1" >"$2"
      ;;
  esac
}

order=()
declare -A state=()
# depth-first over the depends= field of each module's .modinfo; dependencies load first
visit() {
  local name=$1 f deps d
  [ "${state[$name]:-}" = done ] && return 0
  [ "${state[$name]:-}" = busy ] && die "module dependency cycle at $name"
  state[$name]=busy
  f=${modpath[$name]:-}
  [ -n "$f" ] || die "module $name not found under $mdir"
  local file=${f##*/}
  file=${file%%.ko*}.ko
  unpack_module "$f" "$out/modules/$file" || die "cannot decompress $f"
  deps=$(tr '\0' '\n' <"$out/modules/$file" | sed -n 's/^depends=//p' | head -1)
  for d in ${deps//,/ }; do
    visit "${d//-/_}"
  done
  state[$name]=done
  order+=("${file%.ko}")
}
visit kvm_amd
printf '%s\n' "${order[@]}" >"$out/modules.order"
say "modules, in load order: ${order[*]}"

# --- 5. the base initramfs: busybox and the modules --------------------------------------------
base="$work/base"
mkdir -p "$base"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,hlvm}
cp "$BUSYBOX" "$base/bin/busybox"
while IFS= read -r applet; do
  [ "$applet" = /bin/busybox ] || [ -e "$base$applet" ] || ln -s /bin/busybox "$base$applet"
done < <("$BUSYBOX" --list-full | sed 's|^|/|; s|^//|/|')
cp -r "$out/modules" "$out/modules.order" "$base/hlvm/"
(cd "$base" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out/base.cpio" ||
  die "cpio failed to build base.cpio"
say "base initramfs: $(stat -c %s "$out/base.cpio") bytes (busybox, ${#order[@]} modules)"

echo "$pkg" >"$out/package"
echo "$version" >"$out/version"
echo "$release" >"$out/release"
touch "$out/complete"
rm -rf "${CACHE:?}/$kdir"
mv "$out" "$CACHE/$kdir"
echo "$kdir" >"$CACHE/current.tmp" && mv "$CACHE/current.tmp" "$CACHE/current"
# older kernels are no longer needed
for old in "$CACHE"/linux-image-*; do
  [ "$old" = "$CACHE/$kdir" ] || rm -rf "$old"
done
echo "prepare: ready $CACHE/$kdir"
