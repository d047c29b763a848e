#!/usr/bin/env bash
# syslog-ng with a PatternDB (db-parser) over a corpus, as the peer of
# `tunneldoc scan`: classifies the same VPN lines and writes one JSON object per
# match. Runs in the foreground with its own config, persist file, control
# socket and pid file under a private directory; never touches the system
# service (which the Debian package cannot start here: policy-rc.d).
#
#   bench/peers/syslog_ng.sh CORPUS PATTERNDB.xml WORKDIR [no-parse|parse]
# prints: "<seconds> <matches> <peak RSS KiB> <CPU seconds>" on standard output.
#
# no-parse (default): the whole line is the message, so every header form
# reaches the PatternDB unchanged (each rule skips the header with
# @ESTRING::%@); this spares syslog-ng its header parsing, in its favour.
# parse: syslog-ng parses the syslog header as a deployment would (PRI, date,
# host, program), and the PatternDB sees "${MSGHDR}${MSG}"; lines without a
# syslog header (debug, VPN Client, show output) then lose their first word to
# PROGRAM and some keyless rules miss: compare the match counts.
set -euo pipefail
corpus=$(realpath "$1") pdb=$(realpath "$2") work=$(realpath -m "$3") mode=${4:-no-parse}
command -v syslog-ng >/dev/null || { echo "syslog-ng is not installed (apt-get install syslog-ng-core)" >&2; exit 3; }
mkdir -p "$work"
out="$work/syslog-ng.jsonl"
rm -f "$out" "$work/syslog-ng.persist"*
flags="flags(no-parse)" template=""
if [ "$mode" = parse ]; then flags="" template='template("${MSGHDR}${MSG}")'; fi
cat > "$work/syslog-ng.conf" <<CONF
@version: 3.38
options {
  stats-freq(0);
  keep-hostname(yes);
  log-fifo-size(100000);
};
# stdin() must be a pipe (regular files need follow-freq and never end);
# syslog-ng exits at its EOF.
source s_corpus { stdin($flags log-iw-size(100000) log-fetch-limit(1000)); };
parser p_vpn { db-parser(file("$pdb") $template); };
filter f_vpn { tags("vpn"); };
destination d_json {
  file("$out" template("\$(format-json signature=\${.classifier.class} rule=\${.classifier.rule_id} time=\${ISODATE} host=\${HOST} line=\${MESSAGE} --key f.*)\n")
       flush-lines(10000));
};
log { source(s_corpus); parser(p_vpn); filter(f_vpn); destination(d_json); };
CONF
start=$(date +%s.%N)
/usr/bin/time -f '%M %U %S' -o "$work/time.txt" \
  syslog-ng -F --no-caps -f "$work/syslog-ng.conf" --persist-file "$work/syslog-ng.persist" \
  --control "$work/syslog-ng.ctl" --pidfile "$work/syslog-ng.pid" 2>"$work/syslog-ng.err" < <(cat "$corpus")
end=$(date +%s.%N)
matches=$(wc -l < "$out")
read -r rss user sys < "$work/time.txt"
echo "$(echo "$end - $start" | bc -l) $matches $rss $(echo "$user + $sys" | bc -l)"
