#!/usr/bin/env bash
# vm-test.sh - runs a command inside a QEMU-emulated VM whose Debian kernel has kvm_amd loaded, so /dev/kvm works there.
#
# usage: scripts/vm-test.sh [options] -- COMMAND [ARGS...]
#
#   --npt 0|1               load kvm_amd with nested paging on (1, default) or off (0: shadow paging)
#   --timeout SECONDS       kill QEMU after this long, boot included (default 300); exit 124
#   --mem MB                the VM's memory (default 1024); the initramfs lives in it
#   --env NAME=VALUE        set an environment variable for COMMAND (repeatable)
#   --dir HOSTDIR[:GUESTDIR]  copy a host directory into the VM at GUESTDIR (default: the same
#                           path); executables in it get their shared libraries copied too (repeatable)
#   --quiet                 no progress lines on stderr
#   --verbose               show the kernel's messages too (for boot problems)
#
# COMMAND with a '/' is a host file: it is copied into the VM at its absolute host path together
# with the shared libraries and loader `ldd` lists, and runs with its directory as the working
# directory. A path that does not exist on the host but lies in a --dir GUESTDIR runs as it is.
# COMMAND without a '/' is looked up in the VM's PATH (busybox: sh, ls, true...) and runs in /.
#
# The VM's console (the command's stdout and stderr, merged) streams to stdout, line by line.
# Exit status: the command's own; 124 when the timeout expired; 125 when the VM could not run the
# command (QEMU failed, kvm_amd did not load, no /dev/kvm...), with the reason on stderr.
# The kernel, modules and busybox come from vm/prepare.sh beside this script, which it runs first
# (cached in $HL_VM_CACHE, default ~/.cache/hyperlight-vm).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# prepare.sh and init: in scripts/vm/ in the repository, beside this script when installed
VMDIR=$HERE/vm
[ -f "$VMDIR/init" ] || VMDIR=$HERE
NPT=1
TIMEOUT=300
MEM=1024
QUIET=
VERBOSE=
envs=()
dirs=()

# the name the help gives this command: hyperlight-vm when installed (HL_VM_NAME, set by that wrapper)
NAME=${HL_VM_NAME:-scripts/vm-test.sh}
usage() {
  sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" | sed "1s|^vm-test.sh|$NAME|; s|scripts/vm-test.sh|$NAME|g"
  exit 0
}
fail() {
  echo "vm-test: error: $*" >&2
  exit 125
}
info() { [ -n "$QUIET" ] || echo "vm-test: $*" >&2; }

while [ $# -gt 0 ]; do
  case $1 in
    --npt)
      [ "${2:-}" = 0 ] || [ "${2:-}" = 1 ] || fail "--npt takes 0 or 1"
      NPT=$2
      shift 2
      ;;
    --timeout)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || fail "--timeout takes a whole number of seconds"
      TIMEOUT=$2
      shift 2
      ;;
    --mem)
      [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || fail "--mem takes a number of MiB"
      MEM=$2
      shift 2
      ;;
    --env)
      [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || fail "--env takes NAME=VALUE, got '${2:-}'"
      envs+=("$2")
      shift 2
      ;;
    --dir)
      [ -n "${2:-}" ] || fail "--dir takes HOSTDIR[:GUESTDIR]"
      dirs+=("$2")
      shift 2
      ;;
    --quiet) QUIET=1 && shift ;;
    --verbose) VERBOSE=1 && shift ;;
    -h | --help) usage ;;
    --)
      shift
      break
      ;;
    *) fail "unknown option '$1' (the command comes after --; see --help)" ;;
  esac
done
[ $# -gt 0 ] || fail "no command given (usage: vm-test.sh [options] -- COMMAND [ARGS...])"

# --- the kernel, modules and base initramfs ----------------------------------------------------
prep_log=$(bash "$VMDIR/prepare.sh" 2>&1)
prep_status=$?
kdir=$(printf '%s\n' "$prep_log" | sed -n 's/^prepare: ready //p' | tail -1)
if [ $prep_status -ne 0 ] || [ -z "$kdir" ]; then
  printf '%s\n' "$prep_log" >&2
  fail "scripts/vm/prepare.sh failed: no kernel to boot"
fi
# show what a cold prepare did; a warm one says only that it is cached
[ -n "$QUIET" ] || printf '%s\n' "$prep_log" | grep -v -e '^prepare: ready ' -e '^prepare: cached: ' >&2
kernel=$kdir/vmlinux
[ -f "$kernel" ] || kernel=$kdir/vmlinuz

# --- this run's files --------------------------------------------------------------------------
stage=$(mktemp -d "${TMPDIR:-/tmp}/hl-vm.XXXXXX") || fail "mktemp failed"
qpid=
cleanup() {
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
  rm -rf "$stage"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
root=$stage/root
mkdir -p "$root/hlvm" "$root/root"

# copy host file $1 into the VM at the same absolute path
add_file() {
  mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1" || fail "cannot copy $1 into the VM"
}
# the shared libraries and loader of executable $1, as ldd lists them
add_libraries() {
  local out line lib
  out=$(ldd "$1" 2>/dev/null) || return 0 # static, or not an executable for this host
  while IFS= read -r line; do
    case $line in
      *"=> not found"*) fail "$1 needs ${line%% =>*}, which ldd does not find" ;;
      *"=> /"*)
        lib=${line#*=> }
        lib=${lib%% (*}
        ;;
      [[:space:]]/*)
        lib=${line#"${line%%[![:space:]]*}"}
        lib=${lib%% (*}
        ;;
      *) continue ;;
    esac
    [ -e "$root$lib" ] || add_file "$lib"
  done <<<"$out"
}
is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; }

guest_dirs=()
for d in "${dirs[@]}"; do
  host=${d%%:*}
  guest=${d#*:}
  [ "$d" = "$host" ] && guest=$host
  [ -d "$host" ] || fail "--dir $d: no directory $host"
  host=$(cd "$host" && pwd)
  case $guest in /*) ;; *) fail "--dir $d: the guest directory must be an absolute path" ;; esac
  mkdir -p "$root$guest" && cp -rL "$host/." "$root$guest/" || fail "cannot copy $host into the VM"
  guest_dirs+=("$guest")
  while IFS= read -r -d '' f; do
    is_elf "$f" && add_libraries "$f"
  done < <(find "$host" -type f -perm -u+x -print0)
done

cmd=$1
shift
case $cmd in
  */*)
    if [ -e "$cmd" ]; then
      [ -f "$cmd" ] && [ -x "$cmd" ] || fail "$cmd is not an executable file"
      cmd=$(realpath -s "$cmd")
      add_file "$cmd"
      is_elf "$cmd" && add_libraries "$cmd"
      cwd=$(dirname "$cmd")
    else
      found=
      for g in "${guest_dirs[@]}"; do
        case $cmd in "$g"/*) found=1 ;; esac
      done
      [ -n "$found" ] || fail "no such file: $cmd (neither on the host nor under a --dir GUESTDIR)"
      cwd=$(dirname "$cmd")
    fi
    ;;
  *) cwd=/ ;;
esac

# run.conf: shell-quoted with single quotes only, which busybox sh reads as any POSIX sh does
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
{
  echo "HLVM_TOKEN=$token"
  echo "HLVM_NPT=$NPT"
  echo "HLVM_CWD=$(quote "$cwd")"
  for e in "${envs[@]}"; do
    echo "export ${e%%=*}=$(quote "${e#*=}")"
  done
  printf 'set --'
  printf ' %s' "$(quote "$cmd")"
  for a in "$@"; do printf ' %s' "$(quote "$a")"; done
  echo
} >"$root/hlvm/run.conf"
cp "$VMDIR/init" "$root/init" && chmod 755 "$root/init" || fail "cannot copy scripts/vm/init"

# the base archive (busybox, modules) followed by this run's: Linux unpacks both, in order
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$stage/run.cpio" ||
  fail "cpio failed"
cat "$kdir/base.cpio" "$stage/run.cpio" >"$stage/initrd" || fail "cannot write the initramfs"

# --- boot --------------------------------------------------------------------------------------
append="console=ttyS0 panic=-1 quiet loglevel=1"
[ -n "$VERBOSE" ] && append="console=ttyS0 panic=-1 loglevel=7"
append+=${HL_VM_APPEND:+ $HL_VM_APPEND}
mkfifo "$stage/console" || fail "mkfifo failed"
info "booting $(basename "$kernel") $(cat "$kdir/release"), kvm_amd npt=$NPT, timeout ${TIMEOUT}s: $cmd $*"
t0=$EPOCHREALTIME
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 \
  -nodefaults -no-user-config -display none -serial stdio -no-reboot -nic none \
  -m "$MEM" -smp 1 -cpu "${HL_VM_CPU:-max}" -accel tcg \
  -kernel "$kernel" -initrd "$stage/initrd" -append "$append" \
  </dev/null >"$stage/console" 2>"$stage/qemu.err" &
qpid=$!

result=
error=
t_init=
t_ready=
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  # after the marker only the kernel's power-down message comes
  [ -z "$result" ] && [ -z "$error" ] || continue
  case $line in
    *"HL-VM-EXIT-STATUS: "*" $token"*)
      prefix=${line%%HL-VM-EXIT-STATUS: *}
      [ -z "$prefix" ] || printf '%s' "$prefix" # the command's last line had no newline
      rest=${line#*HL-VM-EXIT-STATUS: }
      result=${rest%% *}
      ;;
    *"HL-VM-ERROR: $token "*) error=${line#*"HL-VM-ERROR: $token "} ;;
    *"HL-VM-INFO: $token "*) info "${line#*"HL-VM-INFO: $token "}" ;;
    *"HL-VM-INIT: $token"*) t_init=$EPOCHREALTIME ;;
    *"HL-VM-READY: $token"*) t_ready=$EPOCHREALTIME ;;
    *) printf '%s\n' "$line" ;;
  esac
done <"$stage/console"
wait "$qpid"
qstatus=$?
qpid=
t1=$EPOCHREALTIME

# seconds between two $EPOCHREALTIME values, with one decimal
elapsed() {
  local a=${1/./} b=${2/./}
  local ms=$(((10#$b - 10#$a) / 1000))
  printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}

if [[ $result =~ ^[0-9]+$ ]]; then
  if [ -n "$t_init" ] && [ -n "$t_ready" ]; then
    info "exit status $result (boot $(elapsed "$t0" "$t_init") s, kvm_amd $(elapsed "$t_init" "$t_ready") s, command $(elapsed "$t_ready" "$t1") s, total $(elapsed "$t0" "$t1") s)"
  fi
  exit "$result"
fi
if [ -n "$error" ]; then
  fail "$error"
fi
if [ $qstatus -eq 124 ] || [ $qstatus -eq 137 ]; then
  echo "vm-test: timed out after ${TIMEOUT}s: QEMU killed ($([ -n "$t_ready" ] && echo "the command was running" || echo "the VM had not finished booting"))" >&2
  exit 124
fi
[ -s "$stage/qemu.err" ] && sed 's/^/vm-test: qemu: /' "$stage/qemu.err" >&2
fail "the VM stopped without reporting an exit status (QEMU exit status $qstatus$([ -n "$t_ready" ] && echo ", after the command had started"); --verbose shows the kernel's messages)"
