#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#        (targets: fuzz_toml fuzz_hyperfile fuzz_elf fuzz_codec fuzz_gdbstub fuzz_snapshot)
# Prints each target's executions, coverage and findings; exits 1 if any target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_toml fuzz_hyperfile fuzz_elf fuzz_codec fuzz_gdbstub fuzz_snapshot)

bash scripts/install-deps.sh >/dev/null
CC=clang cmake -S . -B build-fuzz -DHL_FUZZ=ON -DHL_SANITIZE=ON -DHL_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >/dev/null

work=build-fuzz/corpus
status=0
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  mkdir -p "$work/$name" "build-fuzz/findings/$name"
  cp -n fuzz/corpus/"$name"/* "$work/$name"/ 2>/dev/null || true
  # seeds from the tree (and the conformance suite when it is beside the repository);
  # the first byte of every input is the target's control byte
  i=0
  for f in examples/*.toml tests/golden/*/*.toml; do
    [ -f "$f" ] || continue
    i=$((i + 1)); { printf '\x00'; cat "$f"; } > "$work/$name/tree-$i"
  done
  if [ "$name" = toml ] && [ -d ../shared/toml-test/tests ]; then
    for f in $(find ../shared/toml-test/tests -name '*.toml' | sort | head -800); do
      i=$((i + 1)); { printf '\x00'; cat "$f"; } > "$work/$name/suite-$i"
    done
  fi
  # a snapshot file holds its guest's memory image: its seeds are whole files of ~150 KiB
  max_len=8192
  [ "$name" = snapshot ] && max_len=262144
  log=build-fuzz/$t.log
  rc=0
  ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/bin/$t -max_total_time="$secs" -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$name/" "$work/$name" >"$log" 2>&1 || rc=$?
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' || true)
  crashes=$(ls "build-fuzz/findings/$name" | wc -l)
  printf '%-16s %6ss  executions: %-10s %-10s corpus: %s files  findings: %s\n' \
    "$t" "$secs" "${execs:-?}" "$cov" "$(ls "$work/$name" | wc -l)" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    grep -m5 -E 'ERROR|SUMMARY' "$log" || true
  fi
done
exit $status
