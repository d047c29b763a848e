#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build dir $FUZZ_BUILD_DIR, default
# build-fuzz) and runs each for FUZZ_SECONDS (default 45) from seeds made from
# the tests (fuzz/seeds.py) and the checked-in corpus fuzz/corpus/<target>.
# Prints executions and time per target. A crash fails the run; its input is
# kept in $FUZZ_BUILD_DIR/crashes/<target>/ — minimise it, add it to
# fuzz/corpus/<target>/ (the replay tests run it in every build), fix the bug.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-45}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -G Ninja "${launcher[@]}" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTUNNELDOC_FUZZ=ON -DTUNNELDOC_WERROR=ON -DTUNNELDOC_BUILD_TESTS=OFF -DTUNNELDOC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_all -j "$(nproc)"
rm -rf "$build/seeds"
python3 fuzz/seeds.py "$build/seeds"
status=0
printf '%-14s %12s %8s %s\n' target executions seconds result
for t in parse_line framer kb_loader config json_renderer; do
  work="$build/corpus/$t" crashes="$build/crashes/$t"
  mkdir -p "$work" "$crashes"
  log="$build/fuzz-$t.log"
  rc=0
  # -rss_limit_mb: a leak or a blow-up is a finding; -timeout: one input may not hang.
  dict=(); [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  "$build/fuzz/fuzz_$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "fuzz/corpus/$t" "$build/seeds/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    status=1
    printf '%-14s %12s %8s %s\n' "$t" "${runs:-?}" "${took:-?}" "CRASH (see $log, input in $crashes/)"
    grep -m 5 -E 'ERROR|invariant|SUMMARY' "$log" || true
  else
    printf '%-14s %12s %8s %s\n' "$t" "$runs" "$took" ok
  fi
done
exit $status
