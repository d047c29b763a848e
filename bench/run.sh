#!/usr/bin/env bash
# Runs every benchmark and regenerates docs/performance.md.
#
#   bench/run.sh                 # full run: 1,000,000 lines, 5 repetitions
#   LINES=200000 RUNS=3 bench/run.sh
#   SKIP_PEERS=1 SKIP_CALLGRIND=1 SKIP_MICRO=1 SKIP_SERVE=1 bench/run.sh   # parts only
#   SKIP_RSYSLOG=1 SKIP_CEILING=1 SKIP_LOGGEN=1 bench/run.sh   # likewise; COUNT= lines per sender
#   BASELINE=/path/to/older/tunneldoc bench/run.sh   # also time an older build, same session
#   BASELINE=... BASELINE_SIGNATURES=/path/to/its/signatures bench/run.sh
#                                # ... with its own knowledge base (one this build's loader no longer reads)
#   BASELINE=... BASELINE_SIGNATURES=... SAME_SIGNATURES=/path bench/run.sh
#                                # ... and this build also on SAME_SIGNATURES: the baseline's knowledge base
#                                # made readable by this build (bench/upgrade_kb.py), so that the two builds
#                                # do the same work and differ by their code alone
#
# Builds Release into build-perf (or $BUILD), generates the corpus into $WORK
# (default /tmp/tunneldoc-bench), then measures, in this one session:
#   - `tunneldoc scan` over the corpus to a JSON-lines file, --threads 1 and 2
#     (whole process: knowledge-base load included), wall time and peak RSS
#     from /usr/bin/time; medians of $RUNS runs;
#   - syslog-ng with a PatternDB over the same corpus (bench/peers/syslog_ng.sh),
#     and rsyslog with mmnormalize and the same rules as a liblognorm rulebase
#     (bench/peers/rsyslog_mmnormalize.sh; rsyslogd on PATH or unpacked in
#     $RSYSLOG_ROOT, see that script), the same number of runs, interleaved;
#   - `tunneldoc serve` fed over UDP (one and two senders, as fast as they can
#     and at fixed rates) and TCP (one and eight connections): bench/serve_bench.sh;
#   - the loopback UDP ceiling: a do-nothing recvmmsg receiver, then serve, under
#     the same senders at increasing rates (bench/udp_ceiling.sh);
#   - serve under syslog-ng's loggen over UDP, TCP and TLS (bench/loggen_bench.sh);
#   - instructions per line under callgrind (noise-free);
#   - the Google Benchmark micro-benchmarks.
# Results go to $WORK/results.tsv and docs/performance.md (bench/report.py; or
# to $REPORT, e.g. REPORT=/tmp/performance.md for a trial run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${BUILD:-build-perf}
work=${WORK:-/tmp/tunneldoc-bench}
lines=${LINES:-1000000}
runs=${RUNS:-5}
threads_max=$(nproc)
mkdir -p "$work"

if [ -z "${SKIP_BUILD:-}" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g -DTUNNELDOC_BUILD_BENCH=ON >/dev/null
  ninja -C "$build" -j 2 tunneldoc tunneldoc_microbench tunneldoc_syslog_sender tunneldoc_udp_ceiling >/dev/null
fi
td=$root/$build/tunneldoc
# A copy of the knowledge base, so that every run of the session sees the same one.
rm -rf "$work/signatures"
cp -r "$root/signatures" "$work/signatures"
sigs=$work/signatures
export TUNNELDOC_SIGNATURES=$sigs  # for the micro-benchmarks
base_sigs=$sigs
if [ -n "${BASELINE_SIGNATURES:-}" ]; then
  rm -rf "$work/signatures-baseline"
  cp -r "$BASELINE_SIGNATURES" "$work/signatures-baseline"
  base_sigs=$work/signatures-baseline
fi
if [ -n "${SAME_SIGNATURES:-}" ]; then
  rm -rf "$work/signatures-same"
  cp -r "$SAME_SIGNATURES" "$work/signatures-same"
fi

corpus=$work/corpus-$lines.log
pdb=$work/patterndb.xml
rulebase=$work/rulebase.rb
echo "== corpus: $lines lines -> $corpus"
python3 bench/gen_corpus.py -n "$lines" -o "$corpus" --patterndb "$pdb" --rulebase "$rulebase"

results=$work/results.tsv
: > "$results"
record() { printf '%s\t%s\n' "$1" "$2" >> "$results"; }
record lines "$lines"
record bytes "$(stat -c %s "$corpus")"
record signatures "$(cat "$sigs"/rules/*.yaml | grep -c '^ *- id:')"
record loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
record machine "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
record kernel "$(uname -r)"
record commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- daemon include bench || echo '+changes')"
record date "$(date -u +%Y-%m-%dT%H:%MZ)"

# One timed run of a command, standard output to a file: appends
# "<name> <seconds> <max RSS KiB> <CPU seconds>" to results.
timed() {
  local name=$1 out=$2
  shift 2
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.txt" "$@" > "$out"
  read -r secs rss user sys < "$work/time.txt"
  record "$name" "$secs $rss $(echo "$user + $sys" | bc -l)"
}

# How many CPUs this session really gets now (other builds share the machine):
# CPU time over wall time of two busy loops; 2.00 on an idle 2-core machine.
cpu_probe() {
  /usr/bin/time -f '%e %U %S' -o "$work/probe.txt" \
    bash -c 'for k in 1 2; do (i=0; while ((i < 300000)); do ((i++)); done) & done; wait'
  awk '{printf "%.2f\n", ($2 + $3) / $1}' "$work/probe.txt"
}
record cpus.available.before "$(cpu_probe)"

echo "== scan and peers, $runs runs each (interleaved)"
have_sng=0
if [ -z "${SKIP_PEERS:-}" ] && command -v syslog-ng >/dev/null; then have_sng=1; fi
have_rsyslog=0
if [ -z "${SKIP_PEERS:-}" ] && [ -z "${SKIP_RSYSLOG:-}" ]; then
  if command -v rsyslogd >/dev/null || [ -x "${RSYSLOG_ROOT:-/opt/rsyslog-bench}/usr/sbin/rsyslogd" ]; then
    have_rsyslog=1
  else
    echo "   (no rsyslogd: the rsyslog peer is skipped; see bench/peers/rsyslog_mmnormalize.sh)"
  fi
fi
for ((r = 1; r <= runs; r++)); do
  if [ -n "${BASELINE:-}" ]; then
    timed scan.baseline "$work/scan-baseline.jsonl" "$BASELINE" scan --year 2026 --signatures "$base_sigs" "$corpus"
  fi
  timed scan.t1 "$work/scan-t1.jsonl" "$td" scan --year 2026 --signatures "$sigs" --threads 1 "$corpus"
  if [ -n "${SAME_SIGNATURES:-}" ]; then
    timed scan.same_kb "$work/scan-same-kb.jsonl" "$td" scan --year 2026 --signatures "$work/signatures-same" \
      --threads 1 "$corpus"
  fi
  if ((threads_max > 1)); then
    timed "scan.t$threads_max" "$work/scan-t$threads_max.jsonl" \
      "$td" scan --year 2026 --signatures "$sigs" --threads "$threads_max" "$corpus"
  fi
  if ((have_sng)); then
    read -r secs matches rss cpu < <(bench/peers/syslog_ng.sh "$corpus" "$pdb" "$work/syslog-ng" no-parse)
    record syslog-ng "$secs $rss $cpu"
    record syslog-ng.matches "$matches"
    read -r secs matches rss cpu < <(bench/peers/syslog_ng.sh "$corpus" "$pdb" "$work/syslog-ng" parse)
    record syslog-ng.parse "$secs $rss $cpu"
    record syslog-ng.parse.matches "$matches"
  fi
  if ((have_rsyslog)); then
    read -r secs matches rss cpu < <(bench/peers/rsyslog_mmnormalize.sh "$corpus" "$rulebase" "$work/rsyslog")
    record rsyslog "$secs $rss $cpu"
    record rsyslog.matches "$matches"
  fi
done
record cpus.available.after "$(cpu_probe)"
record scan.matches "$(wc -l < "$work/scan-t1.jsonl")"
record scan.output_bytes "$(stat -c %s "$work/scan-t1.jsonl")"
if [ -n "${BASELINE:-}" ]; then
  record scan.baseline.matches "$(wc -l < "$work/scan-baseline.jsonl")"
  record scan.baseline.output_bytes "$(stat -c %s "$work/scan-baseline.jsonl")"
  record baseline.own_signatures "$([ -n "${BASELINE_SIGNATURES:-}" ] && echo yes || echo no)"
  if [ -n "${SAME_SIGNATURES:-}" ]; then
    record scan.same_kb.matches "$(wc -l < "$work/scan-same-kb.jsonl")"
    record scan.same_kb.output_bytes "$(stat -c %s "$work/scan-same-kb.jsonl")"
  fi
  if [ -n "${BASELINE_SIGNATURES:-}" ]; then
    # An empty input: the knowledge-base load alone, both builds.
    : > "$work/empty.log"
    for ((r = 1; r <= runs; r++)); do
      timed scan.baseline.empty /dev/null "$BASELINE" scan --year 2026 --signatures "$base_sigs" "$work/empty.log"
      timed scan.empty /dev/null "$td" scan --year 2026 --signatures "$sigs" "$work/empty.log"
    done
  fi
  if cmp -s <(sed 's/"received":"[^"]*"//' "$work/scan-t1.jsonl") \
            <(sed 's/"received":"[^"]*"//' "$work/scan-baseline.jsonl"); then
    record baseline.same_output yes
  else
    record baseline.same_output NO
  fi
fi
if ((threads_max > 1)); then
  # Same output as one thread (the "received" clock aside).
  if cmp -s <(sed 's/"received":"[^"]*"//' "$work/scan-t1.jsonl") \
            <(sed 's/"received":"[^"]*"//' "$work/scan-t$threads_max.jsonl"); then
    record threads.same_output yes
  else
    record threads.same_output NO
  fi
fi
"$td" scan --stats --year 2026 --signatures "$sigs" "$corpus" > /dev/null 2> "$work/stats.txt" || true

if [ -z "${SKIP_SERVE:-}" ] && "$td" serve --help >/dev/null 2>&1; then
  echo "== serve under UDP and TCP load"
  bench/serve_bench.sh "$td" "$root/$build/bench/tunneldoc_syslog_sender" "$corpus" "$sigs" "$work/serve" "$results"
fi
if [ -z "${SKIP_CEILING:-}" ] && "$td" serve --help >/dev/null 2>&1; then
  echo "== UDP ceiling: do-nothing receiver, then serve, at increasing rates"
  bench/udp_ceiling.sh "$td" "$root/$build/bench/tunneldoc_syslog_sender" "$root/$build/bench/tunneldoc_udp_ceiling" \
    "$corpus" "$sigs" "$work/ceiling" "$results"
fi
if [ -z "${SKIP_LOGGEN:-}" ] && command -v loggen >/dev/null && "$td" serve --help >/dev/null 2>&1; then
  echo "== serve under loggen (UDP, TCP, TLS)"
  bench/loggen_bench.sh "$td" "$corpus" "$sigs" "$work/loggen" "$results"
fi

if [ -z "${SKIP_CALLGRIND:-}" ] && command -v valgrind >/dev/null; then
  echo "== callgrind: instructions per line"
  head -n 200000 "$corpus" > "$work/cg-200k.log"
  : > "$work/cg-empty.log"
  for f in cg-empty cg-200k; do
    valgrind --tool=callgrind --callgrind-out-file="$work/$f.cg" "$td" scan --year 2026 --signatures "$sigs" \
      "$work/$f.log" > /dev/null 2> "$work/$f.valgrind"
    record "callgrind.$f" "$(awk '/Collected :/ {print $NF}' "$work/$f.valgrind")"
  done
  if [ -n "${BASELINE:-}" ]; then
    valgrind --tool=callgrind --callgrind-out-file="$work/cg-baseline.cg" "$BASELINE" scan --year 2026 \
      --signatures "$base_sigs" "$work/cg-200k.log" > /dev/null 2> "$work/cg-baseline.valgrind"
    record "callgrind.cg-baseline" "$(awk '/Collected :/ {print $NF}' "$work/cg-baseline.valgrind")"
    valgrind --tool=callgrind --callgrind-out-file="$work/cg-baseline-empty.cg" "$BASELINE" scan --year 2026 \
      --signatures "$base_sigs" "$work/cg-empty.log" > /dev/null 2> "$work/cg-baseline-empty.valgrind"
    record "callgrind.cg-baseline-empty" "$(awk '/Collected :/ {print $NF}' "$work/cg-baseline-empty.valgrind")"
  fi
  # The same with two worker threads: the extra instructions of the chunked path.
  valgrind --tool=callgrind --callgrind-out-file="$work/cg-200k-t2.cg" "$td" scan --year 2026 --signatures "$sigs" \
    --threads 2 "$work/cg-200k.log" > /dev/null 2> "$work/cg-200k-t2.valgrind"
  record "callgrind.cg-200k-t2" "$(awk '/Collected :/ {print $NF}' "$work/cg-200k-t2.valgrind")"
  # Per-stage split (bench/callgrind_stages.py), this build and the baseline.
  python3 bench/callgrind_stages.py callgrind "$work/cg-empty.cg" "$work/cg-200k.cg" >> "$results" || true
  if [ -n "${BASELINE:-}" ]; then
    python3 bench/callgrind_stages.py callgrind.baseline "$work/cg-baseline-empty.cg" "$work/cg-baseline.cg" \
      >> "$results" || true
  fi
fi

if [ -z "${SKIP_MICRO:-}" ]; then
  echo "== micro-benchmarks"
  "$root/$build/bench/tunneldoc_microbench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_filter='^BM_[A-Za-z0-9]+(/[0-9]+)?$' --benchmark_format=csv 2>/dev/null | grep '_median' |
    while IFS=, read -r name _iters real cpu unit _rest; do
      record "micro.${name//\"/}" "$cpu $unit"
    done
  # One parse + match per signature (its first example): the costliest ten.
  "$root/$build/bench/tunneldoc_microbench" --benchmark_filter='^BM_Signature/' --benchmark_min_time=0.05 \
    --benchmark_format=csv 2>/dev/null | grep '^"BM_Signature' | sort -t, -k4 -rn | sed -n '1,10p' |
    while IFS=, read -r name _iters real cpu unit _rest; do
      record "sig.${name//\"/}" "$cpu $unit"
    done
fi

report=${REPORT:-docs/performance.md}
python3 bench/report.py "$results" "$work/stats.txt" > "$report"
echo "== $report written"
