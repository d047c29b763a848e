#!/usr/bin/env bash
# syslog-ng with a PatternDB (db-parser) over a corpus, as the peer of
# `tunneldoc scan`: classifies the same VPN lines and writes one JSON object per
# match. Runs in the foreground with its own config, persist file, control
# socket and pid file under a private directory; never touches the system
# service (which the Debian package cannot start here: policy-rc.d).
#
#   bench/peers/syslog_ng.sh CORPUS PATTERNDB.xml WORKDIR
# prints: "<seconds> <matches>" on standard output.
set -euo pipefail
corpus=$(realpath "$1") pdb=$(realpath "$2") work=$(realpath -m "$3")
command -v syslog-ng >/dev/null || { echo "syslog-ng is not installed (apt-get install syslog-ng-core)" >&2; exit 3; }
mkdir -p "$work"
out="$work/syslog-ng.jsonl"
rm -f "$out" "$work/syslog-ng.persist"*
cat > "$work/syslog-ng.conf" <<CONF
@version: 3.38
options {
  stats-freq(0);
  keep-hostname(yes);
  log-fifo-size(100000);
};
# no-parse: the whole line is the message, so every header form reaches the
# PatternDB unchanged (each rule skips the header with @ESTRING::%@); this
# spares syslog-ng its header parsing, in its favour. stdin() must be a pipe
# (regular files need follow-freq and never end); syslog-ng exits at its EOF.
source s_corpus { stdin(flags(no-parse) log-iw-size(100000) log-fetch-limit(1000)); };
parser p_vpn { db-parser(file("$pdb") drop-unmatched(no)); };
filter f_vpn { tags("vpn"); };
destination d_json {
  file("$out" template("\$(format-json signature=\${.classifier.class} rule=\${.classifier.rule_id} line=\${MESSAGE} --key f.*)\n")
       flush-lines(10000));
};
log { source(s_corpus); parser(p_vpn); filter(f_vpn); destination(d_json); };
CONF
start=$(date +%s.%N)
syslog-ng -F --no-caps -f "$work/syslog-ng.conf" --persist-file "$work/syslog-ng.persist" \
  --control "$work/syslog-ng.ctl" --pidfile "$work/syslog-ng.pid" 2>"$work/syslog-ng.err" < <(cat "$corpus")
end=$(date +%s.%N)
matches=$(wc -l < "$out")
echo "$(echo "$end - $start" | bc -l) $matches"
