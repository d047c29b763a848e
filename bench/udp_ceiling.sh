#!/usr/bin/env bash
# The loopback UDP ceiling, and `tunneldoc serve` against it. For each offered
# rate (RATES, lines/s per sender, "max" = as fast as the senders can), SENDERS
# concurrent bench/syslog_sender.cc send COUNT lines each over UDP, first to the
# do-nothing receiver (bench/udp_ceiling.cc: recvmmsg and count, same 8 MiB
# SO_RCVBUF as serve), then to a fresh `tunneldoc serve`, in the same session.
# Per run: sent, received, the kernel's /proc/net/snmp Udp InErrors and
# RcvbufErrors deltas, the offered rate. The ceiling is the highest offered rate
# at which the do-nothing receiver loses nothing; bench/report.py sets serve's
# zero-loss rate beside it.
#
#   bench/udp_ceiling.sh TUNNELDOC SENDER CEILING_RECEIVER CORPUS SIGNATURES WORKDIR [RESULTS.tsv]
#   COUNT=200000 SENDERS=2 RATES="100000 200000 300000 400000 max" (defaults)
# prints one tab-separated row per run (and appends them to RESULTS.tsv):
#   ceiling.null.<S>x<rate>   sent received in_errors rcvbuf_errors offered_rate peak_rss_kib
#   ceiling.serve.<S>x<rate>  sent received in_errors rcvbuf_errors offered_rate peak_rss_kib diagnosed expected
set -euo pipefail
td=$1 sender=$2 ceiling=$3 corpus=$4 sigs=$5 work=$6 results=${7:-/dev/null}
count=${COUNT:-200000}
senders=${SENDERS:-2}
rates=${RATES:-100000 200000 300000 400000 max}
port=${PORT:-55524}
mport=${METRICS_PORT:-59524}
. "$(dirname "$0")/serve_lib.sh"
[ -x "$ceiling" ] || { echo "udp_ceiling.sh: no receiver at $ceiling (ninja tunneldoc_udp_ceiling)" >&2; exit 2; }
mkdir -p "$work"
head -n "$count" "$corpus" > "$work/ceiling-input.log"
per_sender=$(scan_diagnosed "$work/ceiling-input.log")

# send RATE: SENDERS senders at RATE each; sets sent and offered.
send() {
  local rate=$1 args=(--udp "127.0.0.1:$port" --file "$work/ceiling-input.log" --count "$count") pids=() s start end
  [ "$rate" != max ] && args+=(--rate "$rate")
  rm -f "$work"/ceiling-sender-*.txt
  start=$(date +%s.%N)
  for ((s = 0; s < senders; s++)); do "$sender" "${args[@]}" > "$work/ceiling-sender-$s.txt" & pids+=($!); done
  wait "${pids[@]}" || { echo "udp_ceiling.sh: a sender failed at rate $rate" >&2; return 1; }
  end=$(date +%s.%N)
  sent=$(cat "$work"/ceiling-sender-*.txt | awk '{s += $2} END {print s}')
  offered=$(echo "$sent / ($end - $start)" | bc -l | xargs printf '%.0f')
}

row() { printf '%s\t%s\n' "$1" "$2" | tee -a "$results"; }

for rate in $rates; do
  label=${senders}x$rate
  # The do-nothing receiver: it exits 1 s after the last datagram.
  rm -f "$work/ceiling-ready.json"
  "$ceiling" --udp "127.0.0.1:$port" --quiet-ms 1000 --idle-ms 60000 --ready-file "$work/ceiling-ready.json" \
    > "$work/ceiling-null.txt" 2> "$work/ceiling-null.err" &
  rpid=$!
  wait_for_file "$work/ceiling-ready.json" 10 || { echo "udp_ceiling.sh: receiver did not start, see $work/ceiling-null.err" >&2; exit 1; }
  in0=$(udp_counter InErrors) rb0=$(udp_counter RcvbufErrors)
  send "$rate"
  hwm=$(peak_rss "$rpid")
  wait_pid "$rpid" 30
  in1=$(udp_counter InErrors) rb1=$(udp_counter RcvbufErrors)
  received=$(awk '{print $2}' "$work/ceiling-null.txt")
  row "ceiling.null.$label" "$sent $received $((in1 - in0)) $((rb1 - rb0)) $offered $hwm"

  # tunneldoc serve under the same load.
  start_serve "ceiling-$label" --udp "127.0.0.1:$port"
  in0=$(udp_counter InErrors) rb0=$(udp_counter RcvbufErrors)
  send "$rate"
  wait_drained
  in1=$(udp_counter InErrors) rb1=$(udp_counter RcvbufErrors)
  received=$(metric tunneldoc_listener_messages_total)
  diagnosed=$(metric tunneldoc_diagnoses_total)
  hwm=$(peak_rss "$serve_pid")
  stop_serve
  row "ceiling.serve.$label" "$sent $received $((in1 - in0)) $((rb1 - rb0)) $offered $hwm $diagnosed $((per_sender * senders))"
done
rm -f "$work"/ceiling-sender-*.txt
