#!/usr/bin/env bash
# Runs every benchmark and regenerates docs/performance.md.
#
#   bench/run.sh                 # full run: 1,000,000 lines, 5 repetitions
#   LINES=200000 RUNS=3 bench/run.sh
#   SKIP_PEERS=1 SKIP_CALLGRIND=1 SKIP_MICRO=1 bench/run.sh   # parts only
#
# Builds Release into build-perf (or $BUILD), generates the corpus into $WORK
# (default /tmp/tunneldoc-bench), then measures, in this one session:
#   - `tunneldoc scan` over the corpus to a JSON-lines file, --threads 1 and 2
#     (whole process: knowledge-base load included), wall time and peak RSS
#     from /usr/bin/time; medians of $RUNS runs;
#   - syslog-ng with a PatternDB over the same corpus (bench/peers/syslog_ng.sh),
#     the same number of runs, interleaved with tunneldoc's;
#   - instructions per line under callgrind (noise-free);
#   - the Google Benchmark micro-benchmarks.
# Results go to $WORK/results.tsv and docs/performance.md (bench/report.py).
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
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-g >/dev/null
  ninja -C "$build" -j 2 tunneldoc tunneldoc_microbench >/dev/null
fi
td=$root/$build/tunneldoc
sigs=$root/signatures

corpus=$work/corpus-$lines.log
pdb=$work/patterndb.xml
echo "== corpus: $lines lines -> $corpus"
python3 bench/gen_corpus.py -n "$lines" -o "$corpus" --patterndb "$pdb"

results=$work/results.tsv
: > "$results"
record() { printf '%s\t%s\n' "$1" "$2" >> "$results"; }
record lines "$lines"
record bytes "$(stat -c %s "$corpus")"
record signatures "$(grep -c '^ *- id:' "$sigs"/rules/*.yaml | awk -F: '{s+=$2} END {print s}')"
record machine "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
record kernel "$(uname -r)"
record commit "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- daemon include bench || echo '+changes')"
record date "$(date -u +%Y-%m-%dT%H:%MZ)"

# One timed run of a command, standard output to a file: appends
# "<name> <seconds> <max RSS KiB>" to results.
timed() {
  local name=$1 out=$2
  shift 2
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" > "$out"
  read -r secs rss < "$work/time.txt"
  record "$name" "$secs $rss"
}

echo "== scan and peers, $runs runs each (interleaved)"
have_sng=0
if [ -z "${SKIP_PEERS:-}" ] && command -v syslog-ng >/dev/null; then have_sng=1; fi
for ((r = 1; r <= runs; r++)); do
  timed scan.t1 "$work/scan-t1.jsonl" "$td" scan --year 2026 --signatures "$sigs" --threads 1 "$corpus"
  if ((threads_max > 1)); then
    timed "scan.t$threads_max" "$work/scan-t$threads_max.jsonl" \
      "$td" scan --year 2026 --signatures "$sigs" --threads "$threads_max" "$corpus"
  fi
  if ((have_sng)); then
    read -r secs matches < <(bench/peers/syslog_ng.sh "$corpus" "$pdb" "$work/syslog-ng")
    record syslog-ng "$secs 0"
    record syslog-ng.matches "$matches"
  fi
done
record scan.matches "$(wc -l < "$work/scan-t1.jsonl")"
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

if [ -z "${SKIP_CALLGRIND:-}" ] && command -v valgrind >/dev/null; then
  echo "== callgrind: instructions per line"
  head -n 200000 "$corpus" > "$work/cg-200k.log"
  : > "$work/cg-empty.log"
  for f in cg-empty cg-200k; do
    valgrind --tool=callgrind --callgrind-out-file="$work/$f.cg" "$td" scan --year 2026 --signatures "$sigs" \
      "$work/$f.log" > /dev/null 2> "$work/$f.valgrind"
    record "callgrind.$f" "$(awk '/Collected :/ {print $NF}' "$work/$f.valgrind")"
  done
  python3 - "$work/cg-200k.cg" >> "$results" <<'PY' || true
# Per-stage split of the 200k-line run (inclusive instructions of the stage functions).
import subprocess, sys
out = subprocess.run(["callgrind_annotate", "--inclusive=yes", sys.argv[1]], capture_output=True, text=True).stdout
stages = {"parse": "tunneldoc::parse_line(", "match": "tunneldoc::Matcher::match(", "render": "tunneldoc::JsonRenderer::render(",
          "read": "tunneldoc::LineReader::next(", "kb_load": "tunneldoc::load_knowledge_base("}
for name, fn in stages.items():
    for line in out.splitlines():
        if fn in line:
            print(f"callgrind.stage.{name}\t{line.split()[0].replace(',', '')}")
            break
PY
fi

if [ -z "${SKIP_MICRO:-}" ]; then
  echo "== micro-benchmarks"
  "$root/$build/bench/tunneldoc_microbench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_format=csv 2>/dev/null | grep '_median' | while IFS=, read -r name _iters real cpu unit _rest; do
      record "micro.${name//\"/}" "$cpu $unit"
    done
fi

python3 bench/report.py "$results" "$work/stats.txt" > docs/performance.md
echo "== docs/performance.md written"
