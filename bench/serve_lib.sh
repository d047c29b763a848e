# serve_lib.sh — shell functions shared by the `tunneldoc serve` load
# benchmarks (bench/serve_bench.sh, bench/udp_ceiling.sh, bench/loggen_bench.sh).
# Sourced, not run:
#
#   . "$(dirname "$0")/serve_lib.sh"
#
# Expects: $td (tunneldoc), $sigs (knowledge base), $work (work dir),
# $mport (metrics port). Waits are loops with deadlines, never fixed sleeps.

# A counter of the Udp: lines of /proc/net/snmp (InErrors, RcvbufErrors, ...).
udp_counter() { awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) k[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) if (k[i] == "'"$1"'") print $i } }' /proc/net/snmp; }

# A TcpExt: counter of /proc/net/netstat (TCPAbortOnClose: connections this
# host reset because they were closed with unread data).
tcpext_counter() { awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) k[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) if (k[i] == "'"$1"'") print $i } }' /proc/net/netstat; }

# The sum of a metric of the running daemon (all label sets).
metric() { curl -s "http://127.0.0.1:$mport/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" {s += $NF} END {printf "%.0f\n", s}'; }

# Lines of FILE that `tunneldoc scan` diagnoses (its --stats "diagnosed:"), the
# figure the daemon's tunneldoc_diagnoses_total is compared with.
scan_diagnosed() {
  "$td" scan --stats --signatures "$sigs" "$1" 2>&1 >/dev/null | awk -F': *' '$1 == "diagnosed" {print $2}'
}

# Waits (deadline $2 seconds, default 10) until FILE exists and is not empty.
wait_for_file() {
  local file=$1 deadline=$((SECONDS + ${2:-10}))
  while [ ! -s "$file" ]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# start_serve NAME LISTEN_ARGS... : a fresh daemon writing to $work/serve.jsonl,
# metrics on $mport; sets serve_pid once it has written its ready file.
start_serve() {
  local name=$1
  shift
  rm -f "$work/serve.jsonl" "$work/ready.json"
  "$td" serve "$@" --output "$work/serve.jsonl" --metrics "127.0.0.1:$mport" --signatures "$sigs" \
    --ready-file "$work/ready.json" --log-level warn 2> "$work/serve-$name.err" &
  serve_pid=$!
  if ! wait_for_file "$work/ready.json" 20; then
    echo "serve did not start for $name, see $work/serve-$name.err" >&2
    kill "$serve_pid" 2>/dev/null || true
    return 1
  fi
}

# Waits until the daemon's tunneldoc_listener_messages_total holds still for
# 1 s (deadline 30 s): what was sent has been read.
wait_drained() {
  local last=-1 now stable=0 deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    now=$(metric tunneldoc_listener_messages_total)
    if [ "$now" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
    [ $stable -ge 10 ] && return 0
    last=$now
    sleep 0.1
  done
  echo "serve still receiving after 30 s (last count $last)" >&2
}

# Peak RSS (VmHWM, KiB) of a running process.
peak_rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# Stops the daemon started by start_serve and waits for it.
stop_serve() {
  kill -TERM "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
}

# Waits for PID to end (deadline $2 s), then sends it SIGTERM and waits.
wait_pid() {
  local pid=$1 deadline=$((SECONDS + ${2:-30}))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
