#!/usr/bin/env bash
# `tunneldoc serve` under syslog-ng's load generator, loggen (package
# syslog-ng-core), beside our own sender (bench/serve_bench.sh): UDP (`-i -D`),
# TCP (`-i -S`) and TLS (`-U`, serve with --tls and a self-signed certificate
# made here), flat out and at fixed rates. loggen reads the first COUNT corpus
# lines with `-R FILE -d` (sent whole, not parsed; newline-terminated over TCP
# and TLS, one line a datagram over UDP) and sends them on each connection
# (`-n` counts per connection, `-r` is the rate per connection; `-I` only
# bounds the run: loggen stops at whichever of -n / -I comes first, and its
# defaults are 1,000 msg/s for 10 s). For each scenario a fresh daemon; counts
# sent (loggen's count), received (tunneldoc_listener_messages_total), lines
# diagnosed (tunneldoc_diagnoses_total) against `tunneldoc scan --stats`, the
# kernel's Udp InErrors / RcvbufErrors deltas, the daemon's peak RSS, and the
# connections reset on close (/proc/net/netstat TcpExt TCPAbortOnClose delta):
# loggen closes a TLS connection without reading what the server sent (TLS 1.3
# session tickets), so the kernel resets it and the daemon loses whatever was
# still in its receive queue; a loss with resets is loggen's abrupt close.
#
#   bench/loggen_bench.sh TUNNELDOC CORPUS SIGNATURES WORKDIR [RESULTS.tsv]
#   COUNT=200000 (lines per connection); SCENARIOS="NAME:PROTO:CONNECTIONS:RATE ..." (RATE per connection or max)
# prints one tab-separated row per scenario (and appends them to RESULTS.tsv):
#   loggen.<scenario>  sent received diagnosed expected in_errors rcvbuf_errors offered_rate peak_rss_kib loggen_rate resets
set -euo pipefail
td=$1 corpus=$2 sigs=$3 work=$4 results=${5:-/dev/null}
count=${COUNT:-200000}
port=${PORT:-55534}
mport=${METRICS_PORT:-59534}
scenarios=${SCENARIOS:-udp-1-max:udp:1:max udp-1x20k:udp:1:20000 udp-2-max:udp:2:max
  tcp-1-max:tcp:1:max tcp-8-max:tcp:8:max tcp-1x20k:tcp:1:20000
  tls-1-max:tls:1:max tls-4-max:tls:4:max tls-1x20k:tls:1:20000}
. "$(dirname "$0")/serve_lib.sh"
command -v loggen >/dev/null || { echo "loggen_bench.sh: loggen is not installed (apt-get install syslog-ng-core)" >&2; exit 3; }
mkdir -p "$work"
head -n "$count" "$corpus" > "$work/loggen-input.log"
per_connection=$(scan_diagnosed "$work/loggen-input.log")
if [ ! -s "$work/tls.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2> "$work/openssl.err" ||
    { echo "loggen_bench.sh: openssl req failed, see $work/openssl.err" >&2; exit 1; }
fi

for s in $scenarios; do
  IFS=: read -r name proto connections rate <<< "$s"
  case $proto in
    udp) listen=(--udp "127.0.0.1:$port") transport=(-i -D) ;;
    tcp) listen=(--tcp "127.0.0.1:$port") transport=(-i -S) ;;
    # -U is a plugin of its own (TLS over TCP): with -i -S as well loggen refuses to run.
    tls) listen=(--tls "127.0.0.1:$port" --tls-cert "$work/tls.crt" --tls-key "$work/tls.key") transport=(-U) ;;
    *) echo "loggen_bench.sh: unknown protocol $proto in $s" >&2; exit 2 ;;
  esac
  # "max": a rate no connection reaches (loggen's default is 1,000 msg/s).
  [ "$rate" = max ] && r=100000000 || r=$rate
  start_serve "loggen-$name" "${listen[@]}"
  in0=$(udp_counter InErrors) rb0=$(udp_counter RcvbufErrors) ab0=$(tcpext_counter TCPAbortOnClose)
  start=$(date +%s.%N)
  if ! loggen "${transport[@]}" -R "$work/loggen-input.log" -d -n "$count" -I 100 -r "$r" \
      --active-connections="$connections" 127.0.0.1 "$port" > "$work/loggen-$name.out" 2> "$work/loggen-$name.err"; then
    echo "loggen_bench.sh: loggen failed in $name, see $work/loggen-$name.err" >&2
    stop_serve
    exit 1
  fi
  end=$(date +%s.%N)
  wait_drained
  in1=$(udp_counter InErrors) rb1=$(udp_counter RcvbufErrors) ab1=$(tcpext_counter TCPAbortOnClose)
  received=$(metric tunneldoc_listener_messages_total)
  diagnosed=$(metric tunneldoc_diagnoses_total)
  hwm=$(peak_rss "$serve_pid")
  stop_serve
  # loggen's summary (stderr): "average rate = R msg/sec, count=N, time=T, ..."
  read -r lrate sent < <(sed -n 's/^average rate = \([0-9.]*\) msg\/sec, count=\([0-9]*\),.*/\1 \2/p' \
    "$work/loggen-$name.err" | tail -1)
  [ -n "${sent:-}" ] || { echo "loggen_bench.sh: no summary from loggen in $work/loggen-$name.err" >&2; exit 1; }
  offered=$(echo "$sent / ($end - $start)" | bc -l | xargs printf '%.0f')
  printf 'loggen.%s\t%s %s %s %s %s %s %s %s %.0f %s\n' "$name" "$sent" "$received" "$diagnosed" \
    "$((per_connection * connections))" "$((in1 - in0))" "$((rb1 - rb0))" "$offered" "$hwm" "$lrate" "$((ab1 - ab0))" |
    tee -a "$results"
done
