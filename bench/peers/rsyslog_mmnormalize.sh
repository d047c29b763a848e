#!/usr/bin/env bash
# rsyslog with mmnormalize (liblognorm) over a corpus, as the peer of
# `tunneldoc scan` beside syslog-ng's PatternDB (bench/peers/syslog_ng.sh):
# classifies the same VPN lines with the same rules (bench/gen_corpus.py
# --rulebase) and writes one JSON object per match. rsyslogd runs in the
# foreground (-n) with its own config, work directory and pid file under a
# private directory; it reads a copy of the corpus with imfile (the whole raw
# line goes to mmnormalize: useRawMsg, as syslog-ng's flags(no-parse)), one
# main-queue worker, and a last sentinel line tells when everything before it
# has been classified. Never touches a system service.
#
#   bench/peers/rsyslog_mmnormalize.sh CORPUS RULEBASE.rb WORKDIR
# prints: "<seconds> <matches> <peak RSS KiB> <CPU seconds>" on standard output
# (seconds: from start to the sentinel, start-up and rulebase load included).
#
# rsyslogd: the one on PATH, else $RSYSLOG_ROOT/usr/sbin/rsyslogd (default
# /opt/rsyslog-bench) with its modules there. The Debian package rsyslog
# conflicts with syslog-ng-core (both are the system-log-daemon), so on a
# machine with syslog-ng the bench unpacks it instead of installing it:
#   apt-get install liblognorm5 libfastjson4 libestr0
#   (cd /tmp && apt-get download rsyslog) && dpkg-deb -x /tmp/rsyslog_*.deb /opt/rsyslog-bench
set -euo pipefail
corpus=$(realpath "$1") rulebase=$(realpath "$2") work=$(realpath -m "$3")
root=${RSYSLOG_ROOT:-/opt/rsyslog-bench}
modules=()
if command -v rsyslogd >/dev/null; then
  rsyslogd=$(command -v rsyslogd)
elif [ -x "$root/usr/sbin/rsyslogd" ]; then
  rsyslogd=$root/usr/sbin/rsyslogd
  modules=(-M "$root/usr/lib/x86_64-linux-gnu/rsyslog")
else
  echo "rsyslogd not found on PATH nor in $root (see the comment at the top of $0)" >&2
  exit 3
fi
mkdir -p "$work"
rm -rf "$work/spool" "$work/rsyslog.jsonl" "$work/done" "$work/rsyslog.pid"
mkdir -p "$work/spool"
sentinel="tunneldoc-bench-end-of-corpus"
# imfile follows a file: give it a copy ending in the sentinel line.
{ cat "$corpus"; echo "$sentinel"; } > "$work/input.log"
out=$work/rsyslog.jsonl
cat > "$work/rsyslog.conf" <<CONF
global(workDirectory="$work/spool" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="mmnormalize")
# One worker keeps the corpus order, so the sentinel comes last.
main_queue(queue.type="FixedArray" queue.size="100000" queue.workerThreads="1")
template(name="match" type="string"
         string="{\"signature\":%\$!event.tags%,\"line\":\"%rawmsg:::json%\",\"fields\":%\$!%}\n")
ruleset(name="bench") {
  if \$rawmsg == "$sentinel" then {
    action(type="omfile" file="$work/done")
    stop
  }
  action(type="mmnormalize" rulebase="$rulebase" useRawMsg="on")
  if \$parsesuccess == "OK" then {
    action(type="omfile" file="$out" template="match" ioBufferSize="256k")
  }
}
input(type="imfile" file="$work/input.log" tag="corpus" ruleset="bench" freshStartTail="off"
      readMode="0" persistStateInterval="0")
CONF
"$rsyslogd" -N1 -f "$work/rsyslog.conf" "${modules[@]}" > "$work/rsyslog-check.txt" 2>&1 ||
  { echo "rsyslogd rejects $work/rsyslog.conf, see $work/rsyslog-check.txt" >&2; exit 1; }
start=$(date +%s.%N)
/usr/bin/time -f '%M %U %S' -o "$work/time.txt" \
  "$rsyslogd" -n -f "$work/rsyslog.conf" -i "$work/rsyslog.pid" "${modules[@]}" 2> "$work/rsyslog.err" &
tpid=$!
# Done when the sentinel has been written; bounded at 10 minutes.
deadline=$((SECONDS + 600))
until [ -s "$work/done" ]; do
  if ! kill -0 "$tpid" 2>/dev/null || ((SECONDS > deadline)); then
    echo "rsyslogd stopped or timed out before the end of the corpus, see $work/rsyslog.err" >&2
    kill -TERM "$(cat "$work/rsyslog.pid" 2>/dev/null)" 2>/dev/null || true
    wait "$tpid" || true
    exit 1
  fi
  sleep 0.02
done
end=$(date +%s.%N)
# rsyslogd flushes and closes its files on SIGTERM.
kill -TERM "$(cat "$work/rsyslog.pid")"
wait "$tpid" || true
matches=$(wc -l < "$out")
read -r rss user sys < "$work/time.txt"
echo "$(echo "$end - $start" | bc -l) $matches $rss $(echo "$user + $sys" | bc -l)"
