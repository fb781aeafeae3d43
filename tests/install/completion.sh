#!/usr/bin/env bash
# completion.sh - checks an installed bash completion of hyperlight against the installed program's --help texts.
#
# Usage: completion.sh HYPERLIGHT COMPLETION_FILE
# Runs the completion function as bash would (COMP_WORDS, COMP_CWORD) and compares what it offers
# with what the help texts list: the commands of `hyperlight --help` (after `hyperlight` and after
# `hyperlight help`), the options of `hyperlight --help` and of each `hyperlight CMD --help`, the
# choices of each `--opt a|b`, and the hyperfile keys of `hyperlight schema` after --set.
set -euo pipefail

hl=$1
# shellcheck source=/dev/null
source "$2"
declare -F _hyperlight >/dev/null || { echo "FAIL: $2 defines no _hyperlight" >&2; exit 1; }
complete -p hyperlight | grep -- '-F _hyperlight' >/dev/null || { echo "FAIL: $2 does not register _hyperlight" >&2; exit 1; }

# offered WORD...: what the completion offers for the command line WORD... (the last is completed)
offered() {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _hyperlight
  printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort -u | tr '\n' ' '
}
sorted() { tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort -u | tr '\n' ' '; }
check() { # check WHAT WANT GOT
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: the completion offers [$3], the help lists [$2]" >&2
    exit 1
  fi
}
# the options of a help text: lines "  [-x, ]--name ..."
help_options() { grep -oE '^  (-[A-Za-z], )?--[a-z][a-z-]*' | grep -oE -- '-{1,2}[A-Za-z][a-z-]*' | sorted; }

commands=$("$hl" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | sorted)
[ -n "$commands" ] || { echo "FAIL: hyperlight --help lists no commands" >&2; exit 1; }
check "commands" "$commands" "$(offered hyperlight '')"
check "help's argument" "$commands" "$(offered hyperlight help '')"
check "global options" "$("$hl" --help | help_options)" "$(offered hyperlight -)"
keys=$("$hl" schema | python3 -c 'import json,sys; print(" ".join(k + "=" for k in json.load(sys.stdin)["properties"] if k not in ("hyperfile_version", "sandbox")))' | sorted)

n=0
for cmd in $commands; do
  [ "$cmd" = help ] && continue
  help=$("$hl" "$cmd" --help)
  check "$cmd's options" "$(help_options <<<"$help")" "$(offered hyperlight "$cmd" -)"
  # options with a|b choices complete exactly those
  while read -r opt choices; do
    check "$cmd $opt" "$(tr '|' ' ' <<<"$choices" | sorted)" "$(offered hyperlight "$cmd" "$opt" '')"
  done < <(sed -n 's/^  \(--[a-z-]*\) \([a-z]*|[a-z|]*\) .*/\1 \2/p' <<<"$help")
  if grep -q -- '^  --set KEY=VALUE' <<<"$help"; then
    check "$cmd --set" "$keys" "$(offered hyperlight "$cmd" --set '')"
  fi
  n=$((n + 1))
done
echo "completion: the commands, the options of $n commands, their choices and --set keys match the help"
