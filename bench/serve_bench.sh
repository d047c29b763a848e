#!/usr/bin/env bash
# `tunneldoc serve` under load on loopback: UDP from one and two concurrent
# senders (as fast as they can, and at fixed rates), TCP over one and several
# connections. For each scenario a fresh daemon; counts what was sent, what the
# daemon received (its tunneldoc_listener_messages_total) and diagnosed (its
# tunneldoc_diagnoses_total: lines diagnosed, whatever the output stream) against
# what `tunneldoc scan --stats` diagnoses in the same lines, and the kernel's
# /proc/net/snmp Udp InErrors / RcvbufErrors over the run; peak RSS is the
# daemon's VmHWM. Bounded: COUNT lines per sender (default 200000).
#
#   bench/serve_bench.sh TUNNELDOC SENDER CORPUS SIGNATURES WORKDIR [RESULTS.tsv]
# prints one tab-separated row per scenario (and appends them to RESULTS.tsv):
#   serve.<scenario>  sent received diagnosed expected in_errors rcvbuf_errors offered_rate peak_rss_kib kb_load_ms
set -euo pipefail
td=$1 sender=$2 corpus=$3 sigs=$4 work=$5 results=${6:-/dev/null}
count=${COUNT:-200000}
port=${PORT:-55514}
mport=${METRICS_PORT:-59514}
. "$(dirname "$0")/serve_lib.sh"
mkdir -p "$work"
head -n "$count" "$corpus" > "$work/serve-input.log"
per_sender=$(scan_diagnosed "$work/serve-input.log")

scenario() {
  local name=$1 proto=$2 senders=$3 rate=$4 connections=$5
  local listen=(--udp "127.0.0.1:$port")
  [ "$proto" = tcp ] && listen=(--tcp "127.0.0.1:$port")
  start_serve "$name" "${listen[@]}" || return 1
  local in0 rb0 in1 rb1
  in0=$(udp_counter InErrors) rb0=$(udp_counter RcvbufErrors)
  local args=(--file "$work/serve-input.log" --count "$count")
  [ "$proto" = udp ] && args+=(--udp "127.0.0.1:$port") || args+=(--tcp "127.0.0.1:$port" --connections "$connections")
  [ "$rate" != max ] && args+=(--rate "$rate")
  local start end pids=()
  start=$(date +%s.%N)
  for ((s = 0; s < senders; s++)); do "$sender" "${args[@]}" > "$work/sender-$s.txt" & pids+=($!); done
  if ! wait "${pids[@]}"; then
    echo "a sender failed in $name" >&2
    stop_serve
    return 1
  fi
  end=$(date +%s.%N)
  wait_drained
  in1=$(udp_counter InErrors) rb1=$(udp_counter RcvbufErrors)
  local received diagnosed kb hwm sent
  received=$(metric tunneldoc_listener_messages_total)
  diagnosed=$(metric tunneldoc_diagnoses_total)
  kb=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '/^tunneldoc_kb_load_seconds/ {printf "%.1f", $NF * 1000}')
  hwm=$(peak_rss "$serve_pid")
  stop_serve
  sent=$(cat "$work"/sender-*.txt | awk '{s += $2} END {print s}')
  local offered
  offered=$(echo "$sent / ($end - $start)" | bc -l | xargs printf '%.0f')
  local row
  row=$(printf 'serve.%s\t%s %s %s %s %s %s %s %s %s' "$name" "$sent" "$received" "$diagnosed" \
    "$((per_sender * senders))" "$((in1 - in0))" "$((rb1 - rb0))" "$offered" "$hwm" "$kb")
  echo "$row" | tee -a "$results"
  rm -f "$work"/sender-*.txt
}

scenario udp-1-max udp 1 max 1
scenario udp-2-max udp 2 max 1
scenario udp-2x50k udp 2 50000 1
scenario udp-2x100k udp 2 100000 1
scenario udp-2x150k udp 2 150000 1
scenario tcp-1 tcp 1 max 1
scenario tcp-8 tcp 1 max 8
