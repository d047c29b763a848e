#!/usr/bin/env python3
"""SIEM sinks end to end: the real tunneldoc binary forwarding to real or
protocol-enforcing receivers on loopback.

  syslog_ng    syslog-ng (Debian) receives syslog+udp, +tcp (octet counting) and
               +tls (client certificate, server name), parses the RFC 5424 frames;
               every record arrives with its structured data intact; a sink whose
               server name does not match never delivers and /healthz names it.
  hec          Splunk HEC receiver (tests/sinks/receivers.py): envelope, auth,
               503/429/stall/reset then recovery, in order, at least once,
               SIGTERM with the receiver down and the next start delivering.
  es           Elasticsearch _bulk receiver: create actions with ids, per-item 429
               retried alone, 400 dead-lettered, a lost answer gives 409 not a
               duplicate, ECS documents valid against tests/sinks/ecs.schema.json.
  outage       the receiver is down for 30 s ($TUNNELDOC_OUTAGE_SECONDS) under a
               steady stream: every record delivered, in order, duplicates no more
               than tunneldoc_sink_retried_total says.
  kill_replay  100,000 records spooled, kill -9, restart: all delivered (prints
               the replay time).
  tail_ack     a followed file's saved position waits until every sink holds the
               lines' records durably.
  config       sinks in the configuration file: checked, errors with file:line,
               secrets refused on the command line.

Usage: siem_test.py SCENARIO --binary PATH --signatures DIR --source DIR
Every wait has a deadline; nothing sleeps before an assertion.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import cef  # noqa: E402
from daemon_test import Daemon, check, fail, run_scenario, wait_for  # noqa: E402
from receivers import BulkReceiver, HecReceiver  # noqa: E402
from scale_out_test import tcp_listening  # noqa: E402

SIG = "asa-713904-no-proposal-chosen"
RA_SIG = "asa-generic-ipsec-proposals-unacceptable"
# Usernames no SIEM format may let out of their field (a comma ends the ASA field).
HOSTILE_USERS = [
    'ev|il=us\\er "quoted" \'single\'',
    "cr\r\nlf CEF:0|forged|x|1|y|z|10|src=6.6.6.6 suser=root",
    "bad\xff\xfeutf8 \x00nul ]} {\"x\":1}",
    "L" * 10000 + "|=\\",
]


def line(ip, host="hq-asa"):
    return ("<165>Nov 26 2026 09:20:11 {} : %ASA-5-713904: IP = {}, Received an un-encrypted NO_PROPOSAL_CHOSEN "
            "notify message, drop").format(host, ip)


def ra_line(user, ip):
    return ("<163>Nov 26 2026 10:00:01 hq-asa : %ASA-3-713902: Group = RA-VPN, Username = {}, IP = {}, All "
            "IPSec SA proposals found unacceptable!").format(user, ip)


def ip_of(n):
    return "10.{}.{}.{}".format(n // 65536 % 256, n // 256 % 256, n % 256)


def index_of(ip):
    a, b, c, d = (int(x) for x in ip.split("."))
    return b * 65536 + c * 256 + d


class Sender:
    """One TCP connection to tunneldoc's listener; octet-counted frames (any bytes inside)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)

    def send(self, messages):
        buf = bytearray()
        for m in messages:
            b = m.encode("utf-8", "surrogateescape") if isinstance(m, str) else m
            buf += b"%d " % len(b) + b
        self.s.sendall(bytes(buf))

    def close(self):
        self.s.close()


def hostile_bytes(user, ip):
    # The invalid UTF-8 user goes as raw bytes.
    return ra_line(user, ip).encode("latin-1") if "\xff" in user else ra_line(user, ip).encode()


def serve(args, work, flags, name="serve", output=True, stream="lines"):
    extra = ["--tcp", "127.0.0.1:0"] + flags
    if "--stream" not in flags:
        extra += ["--stream", stream]
    return Daemon.serve(args, work, extra, name=name, output=None if output else "-")


def sink_metric(d, family, sink):
    return d.metric(family, 'sink="{}"'.format(sink))


def load_schema(path):
    import jsonschema
    with open(path) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER if hasattr(cls, "FORMAT_CHECKER")
               else jsonschema.FormatChecker())


def first_error(validator, doc):
    for e in validator.iter_errors(doc):
        return "{}: {}".format("/".join(str(p) for p in e.absolute_path), e.message[:200])
    return None


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_certs(work):
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI)."""
    d = os.path.join(work, "pki")
    os.makedirs(d)

    def run(*cmd):
        subprocess.run(["openssl"] + list(cmd), cwd=d, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=tunneldoc test CA")
    for who, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                     ("client", "extendedKeyUsage=clientAuth")):
        with open(os.path.join(d, who + ".ext"), "w") as f:
            f.write(ext + "\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", who + ".key", "-out", who + ".csr", "-subj",
            "/CN=" + ("localhost" if who == "server" else "tunneldoc"))
        run("x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            who + ".pem", "-days", "2", "-extfile", who + ".ext")
    return {k: os.path.join(d, k) for k in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")}


def records_by_peer(d):
    """tunneldoc's own JSON output, keyed by peer IP (what every sink must carry)."""
    return {r["fields"].get("peer_ip"): r for r in d.diagnoses()}


# ---- syslog-ng --------------------------------------------------------------------

SYSLOG_NG_CONF = """@version: 3.38
options {{ keep-hostname(yes); chain-hostnames(no); use-dns(no); log-msg-size(1048576); stats-freq(0); }};
source s_udp {{ syslog(ip(127.0.0.1) port({udp}) transport("udp") so-rcvbuf(8388608)); }};
source s_tcp {{ syslog(ip(127.0.0.1) port({tcp}) transport("tcp")); }};
source s_tls {{ syslog(ip(127.0.0.1) port({tls}) transport("tls")
  tls(key-file("{key}") cert-file("{cert}") ca-file("{ca}") peer-verify(required-trusted))); }};
template t_out {{ template("$(format-json --scope sdata --pair pri=$PRI --pair program=$PROGRAM --pair msgid=$MSGID
  --pair host=$HOST --pair pid=$PID --pair date=$ISODATE --pair msg=$MSG)\\n"); }};
destination d_udp {{ file("{work}/udp.out" template(t_out)); }};
destination d_tcp {{ file("{work}/tcp.out" template(t_out)); }};
destination d_tls {{ file("{work}/tls.out" template(t_out)); }};
log {{ source(s_udp); destination(d_udp); }};
log {{ source(s_tcp); destination(d_tcp); }};
log {{ source(s_tls); destination(d_tls); }};
"""


def read_json_lines(path):
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            for l in f:
                if l.endswith("\n"):
                    out.append(json.loads(l))
    return out


def dead_letters(state_dir):
    """Every sink's dead letters under STATE_DIR/spool/*/dead-letter.jsonl."""
    letters = []
    for root, _, files in os.walk(os.path.join(state_dir, "spool")):
        if "dead-letter.jsonl" in files:
            letters += read_json_lines(os.path.join(root, "dead-letter.jsonl"))
    return letters


def scenario_syslog_ng(args, work):
    if shutil.which("syslog-ng") is None:
        fail("syslog-ng is not installed (Debian: syslog-ng-core; scripts/setup.sh installs it)")
    pki = make_certs(work)
    ports = {"udp": free_port(socket.SOCK_DGRAM), "tcp": free_port(), "tls": free_port()}
    conf = os.path.join(work, "syslog-ng.conf")
    with open(conf, "w") as f:
        f.write(SYSLOG_NG_CONF.format(work=work, key=pki["server.key"], cert=pki["server.pem"], ca=pki["ca.pem"],
                                      **ports))
    err = open(os.path.join(work, "syslog-ng.stderr"), "w")
    ng = subprocess.Popen(["syslog-ng", "-F", "--no-caps", "-f", conf, "--persist-file",
                           os.path.join(work, "ng.persist"), "--control", os.path.join(work, "ng.ctl"), "--pidfile",
                           os.path.join(work, "ng.pid")], stdout=subprocess.DEVNULL, stderr=err)
    d = None
    try:
        wait_for(lambda: (ng.poll() is not None and fail("syslog-ng exited: " + open(err.name).read()))
                 or (tcp_listening(ports["tcp"]) and tcp_listening(ports["tls"])), 20, "syslog-ng to listen")
        tls_q = "ca={}&certificate={}&key={}".format(pki["ca.pem"], pki["client.pem"], pki["client.key"])
        d = serve(args, work, [
            "--state-dir", os.path.join(work, "state"),
            "--sink", "syslog+udp://127.0.0.1:{}?format=json&stream=lines&facility=local4".format(ports["udp"]),
            "--sink", "syslog+tcp://127.0.0.1:{}?format=cef&stream=lines".format(ports["tcp"]),
            "--sink", "syslog+tls://127.0.0.1:{}?format=ecs&stream=lines&{}".format(ports["tls"], tls_q),
            # The certificate names 127.0.0.1 and localhost, not this: never delivered, and /healthz says so.
            "--sink", "syslog+tls://127.0.0.1:{}?stream=lines&name=tls-wrong-name&grace=1&server_name=wrong.example"
                      "&{}".format(ports["tls"], tls_q),
        ])
        sender = Sender(d.port("tcp"))
        n = 40
        msgs = [line(ip_of(i)) for i in range(n)]
        hostile = [hostile_bytes(u, "198.51.100.{}".format(60 + k)) for k, u in enumerate(HOSTILE_USERS)]
        sender.send(msgs + hostile)
        sender.close()
        total = n + len(hostile)
        own = wait_for(lambda: len(d.diagnoses()) >= total and records_by_peer(d), 30, "tunneldoc's own records")
        outs = {}
        for t in ("udp", "tcp", "tls"):
            outs[t] = wait_for(lambda: (lambda r: len(r) >= total and r)(read_json_lines(os.path.join(work, t + ".out"))),
                               60, "{} records at syslog-ng over {}".format(total, t))
            check(len(outs[t]) == total, "{}: {} records for {} sent".format(t, len(outs[t]), total))
        ecs = load_schema(os.path.join(HERE, "ecs.schema.json"))
        for t, recs in outs.items():
            for r in recs:
                if os.environ.get("TUNNELDOC_DEBUG"):
                    print(t, {k: (v if k != "msg" else v[:50]) for k, v in r.items()})
                # format-json nests .SDATA.tunneldoc@32473.id as _SDATA → tunneldoc@32473 → id
                sd = r.get("_SDATA", {}).get("tunneldoc@32473", {})
                check(r["program"] == "tunneldoc", "{}: APP-NAME {}".format(t, r["program"]))
                check(sd.get("state") == "line", "{}: SD state {}".format(t, sd))
                check(r["msgid"] == sd["signature"][:32], "{}: MSGID {} for {}".format(t, r["msgid"], sd))
                check(sd.get("device") == "hq-asa" and sd.get("id"), "{}: SD {}".format(t, sd))
                check(int(r["pri"]) % 8 in (3, 5), "{}: PRI {}".format(t, r["pri"]))
                msg = r["msg"]
                if t == "udp":
                    check(int(r["pri"]) // 8 == 20, "facility local4")
                    rec = json.loads(msg)
                    mine = own[rec["fields"]["peer_ip"]]
                    check(rec["signature"] == mine["signature"] and rec["evidence"] == mine["evidence"],
                          "udp: the record differs from tunneldoc's own output")
                    check(all(len(x["steps"]) <= 1 for x in rec["remedies"]), "remedies=brief on network sinks")
                elif t == "tcp":
                    c = cef.parse(msg)
                    check(c["signature"] == sd["signature"], "cef signature")
                    ext = c["extension"]
                    mine = own[ext["src"]]
                    check(ext.get("dvchost") == "hq-asa", "cef dvchost")
                    if "user" in mine["fields"]:
                        # CEF keeps CR and LF (escaped); other control characters become spaces.
                        want = re.sub("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]", " ", mine["fields"]["user"])[:1023]
                        check(ext["suser"] == want,
                              "cef suser {!r} != {!r}".format(ext["suser"][:80], want[:80]))
                else:
                    doc = json.loads(msg)
                    problem = first_error(ecs, doc)
                    check(problem is None, "tls ecs document: {}".format(problem))
                    mine = own[doc["source"]["ip"]]
                    if "user" in mine["fields"]:
                        check(doc["user"]["name"] == mine["fields"]["user"], "ecs user.name")
        # Every hostile user reached every format whole, in its own field.
        users = {r["fields"]["user"] for r in own.values() if "user" in r["fields"]}
        check(len(users) == len(HOSTILE_USERS), "hostile users diagnosed: {}".format(len(users)))
        check(sink_metric(d, "tunneldoc_sink_records_total", "tls-wrong-name") == 0, "wrong name delivered")
        check(sink_metric(d, "tunneldoc_sink_errors_total", "tls-wrong-name") >= 1, "wrong name: no error counted")

        def unhealthy():
            status, body = d.http("/healthz")
            return status == 503 and (status, json.loads(body))

        _, health = wait_for(unhealthy, 20, "/healthz to answer 503 for the sink with the wrong server name")
        check(health["failing"] == ["tls-wrong-name"], "healthz names {}".format(health.get("failing")))
        wrong = [s for s in health["sinks"] if s["name"] == "tls-wrong-name"][0]
        check("verif" in wrong["error"] or "certificate" in wrong["error"] or "handshake" in wrong["error"],
              "healthz error: {}".format(wrong["error"]))
        print("syslog-ng: {} records each over udp (json), tcp (cef) and tls (ecs), structured data intact; "
              "a wrong server name never delivers and /healthz names it".format(total))
        d.stop(limit=8)
    finally:
        if d is not None:
            d.kill()
        if ng.poll() is None:
            ng.terminate()
            try:
                ng.wait(timeout=10)
            except subprocess.TimeoutExpired:
                ng.kill()


# ---- Splunk HEC -------------------------------------------------------------------

def unique(events, key):
    seen, order, dups = set(), [], 0
    for e in events:
        k = key(e)
        if k in seen:
            dups += 1
            continue
        seen.add(k)
        order.append(k)
    return order, dups


def hec_key(e):
    return e["event"]["fields"]["peer_ip"]


def scenario_hec(args, work):
    token = "5f3c0c7e-tunneldoc-test"
    os.environ["TUNNELDOC_HEC_TOKEN"] = token
    rcv = HecReceiver(token).start()
    record_schema = load_schema(os.path.join(args.source, "docs", "diagnosis.schema.json"))
    # A token on the command line is refused, with the reason.
    p = subprocess.run([args.binary, "serve", "--signatures", args.signatures, "--check-config", "--sink",
                        "hec+http://127.0.0.1:{}?token=abc".format(rcv.port)], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode == 2 and "secret" in p.stderr, "token in the URL: {} {}".format(p.returncode, p.stderr))
    state = os.path.join(work, "state")
    name = "splunk"
    url = "hec+http://127.0.0.1:{}?stream=lines&name={}&grace=2&retry_max=1&timeout=2".format(rcv.port, name)
    d = serve(args, work, ["--state-dir", state, "--sink", url])
    sent = 0

    def send(k):
        nonlocal sent
        s = Sender(d.port("tcp"))
        s.send([line(ip_of(i)) for i in range(sent, sent + k)])
        s.close()
        sent += k

    def delivered():
        return set(unique(list(rcv.events), hec_key)[0])

    def wait_all(what):
        want = {ip_of(i) for i in range(sent)}
        wait_for(lambda: want <= delivered(), 30, what + " ({} of {})".format(len(delivered()), len(want)))

    try:
        # Phase 1: all is well.
        send(20)
        wait_all("20 events at the HEC receiver")
        path, headers, _ = rcv.requests[0]
        check(path == "/services/collector/event", "path " + path)
        check(headers.get("Authorization") == "Splunk " + token, "authorization")
        check(headers.get("Content-Type") == "application/json", "content type")
        e = rcv.events[0]
        check(e["time"] == 1795684811.0, "time {} (2026-11-26T09:20:11Z)".format(e["time"]))
        check(e["host"] == "hq-asa" and e["source"] == "tunneldoc" and e["sourcetype"] == "tunneldoc:diagnosis",
              "envelope {}".format({k: v for k, v in e.items() if k != "event"}))
        for ev in rcv.events:
            problem = first_error(record_schema, ev["event"])
            check(problem is None, "the event is not a diagnosis record: {}".format(problem))
            check(len(json.dumps(ev)) < 8192, "an event of {} bytes (remedies=brief)".format(len(json.dumps(ev))))
        # Phase 2: 503 (busy), then 429: spooled, retried, /healthz names the sink after its grace.
        for mode in ("busy503", "busy429"):
            rcv.mode = mode
            before = sink_metric(d, "tunneldoc_sink_errors_total", name)
            send(10)
            wait_for(lambda: sink_metric(d, "tunneldoc_sink_errors_total", name) >= before + 2, 20,
                     "failed attempts against " + mode)
            if mode == "busy503":
                status, body = wait_for(lambda: (lambda r: r[0] == 503 and r)(d.http("/healthz")), 20,
                                        "/healthz 503 after the grace period")
                check(json.loads(body)["failing"] == [name], "healthz: " + body)
                check(sink_metric(d, "tunneldoc_sink_spooled", name) >= 10, "records spooled while failing")
                check(sink_metric(d, "tunneldoc_sink_spool_bytes", name) > 0, "spool bytes")
                check(sink_metric(d, "tunneldoc_sink_oldest_age_seconds", name) > 0, "oldest undelivered age")
            rcv.mode = "ok"
            wait_all("delivery after " + mode)
        check(d.http("/healthz")[0] == 200, "healthy again")
        # Phase 3: a receiver that never answers (timeout 2 s), then one that resets the connection.
        for mode in ("stall", "reset"):
            rcv.stall_release.clear()
            rcv.mode = mode
            before = sink_metric(d, "tunneldoc_sink_errors_total", name)
            send(10)
            wait_for(lambda: sink_metric(d, "tunneldoc_sink_errors_total", name) > before, 20, "a failure on " + mode)
            rcv.mode = "ok"
            rcv.stall_release.set()
            wait_all("delivery after " + mode)
        # Phase 3b: the token is revoked on the Splunk side (403 code 4): nothing is lost, /healthz says why;
        # a new token (here: the old one accepted again) and every record goes out.
        rcv.token = "revoked"
        before = sink_metric(d, "tunneldoc_sink_errors_total", name)
        send(5)
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_errors_total", name) >= before + 2, 20, "403 answers")
        status, body = wait_for(lambda: (lambda r: r[0] == 503 and r)(d.http("/healthz")), 20, "/healthz on 403")
        check("403" in [s for s in json.loads(body)["sinks"] if s["name"] == name][0]["error"], "healthz: " + body)
        check(sink_metric(d, "tunneldoc_sink_dead_letter_total", name) == 0, "a 403 dead-lettered records")
        rcv.token = token
        wait_all("delivery after the token came back")
        order, dups = unique(list(rcv.events), hec_key)
        check(order == [ip_of(i) for i in range(sent)], "events out of order")
        retried = sink_metric(d, "tunneldoc_sink_retried_total", name)
        check(dups <= retried, "{} duplicates but only {} records retried".format(dups, retried))
        check(sink_metric(d, "tunneldoc_sink_dead_letter_total", name) == 0, "dead letters")
        # Phase 3c: HEC refuses one event of a batch (400 code 6, invalid-event-number): that event goes to the
        # dead-letter file, counted; the others are delivered.
        bad = ip_of(sent + 2)
        rcv.reject = lambda env: env["event"]["fields"].get("peer_ip") == bad
        send(5)
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_dead_letter_total", name) == 1, 20, "the dead letter")
        want = {ip_of(i) for i in range(sent - 5, sent)} - {bad}
        wait_for(lambda: want <= delivered(), 20, "the batch's other events")
        check(bad not in delivered(), "the refused event was indexed")
        letters = dead_letters(state)
        check(len(letters) == 1 and "HTTP 400" in letters[0]["reason"]
              and json.loads(letters[0]["record"])["fields"]["peer_ip"] == bad, "dead letter: {}".format(letters))
        rcv.reject = None
        check(not rcv.protocol_errors, "protocol errors: {}".format(rcv.protocol_errors[:3]))
        # Phase 4: SIGTERM while the receiver is down: exit 0 at once, the records stay in the spool...
        rcv.stop()
        send(10)
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_spooled", name) >= 10, 20, "records spooled")
        took = d.stop(limit=6)
        # ... and the next start delivers them.
        rcv2 = HecReceiver(token, port=rcv.port).start()
        d = serve(args, work, ["--state-dir", state, "--sink", url], name="serve2")
        rcv = rcv2
        want = {ip_of(i) for i in range(sent - 10, sent)}
        wait_for(lambda: want <= delivered(), 30, "the spooled records after the restart")
        check(not rcv.protocol_errors, "protocol errors: {}".format(rcv.protocol_errors[:3]))
        print("hec: {} records through 503, 429, a stall, a reset and a revoked token, in order, {} duplicates for "
              "{} retried; one refused event dead-lettered; SIGTERM with the receiver down took {:.2f} s and the "
              "restart delivered the spool".format(sent, dups, int(retried), took))
        d.stop()
    finally:
        d.kill()
        rcv.stop()


# ---- Elasticsearch _bulk ----------------------------------------------------------

def scenario_es(args, work):
    api_key = "dHVubmVsZG9jOnNlY3JldC1rZXk="
    os.environ["TUNNELDOC_ES_API_KEY"] = api_key
    ecs = load_schema(os.path.join(HERE, "ecs.schema.json"))
    validate = lambda doc: first_error(ecs, doc)  # noqa: E731
    by_key = BulkReceiver("tunneldoc-alerts", auth=("apikey", api_key), validate=validate).start()
    by_basic = BulkReceiver("tunneldoc-basic", auth=("basic", "elastic", "pa:ss w0rd"), validate=validate).start()
    busy_left = {"n": 2}

    def reject(doc):
        peer = doc["tunneldoc"]["fields"].get("peer_ip")
        if peer == "198.51.100.66":
            return 400, "mapper_parsing_exception", "failed to parse field [source.ip] of type [ip]"
        if peer == "198.51.100.77" and busy_left["n"] > 0:
            busy_left["n"] -= 1
            return 429, "es_rejected_execution_exception", "rejected execution of coordinating operation"
        return None

    by_key.reject = reject
    config = os.path.join(work, "tunneldoc.yaml")
    with open(config, "w") as f:
        f.write("""state_dir: {state}
stream: lines
sinks:
  - url: es+http://127.0.0.1:{p1}/tunneldoc-alerts?stream=lines&retry_max=1
    name: elastic
  - url: es+http://127.0.0.1:{p2}/tunneldoc-basic
    stream: lines
    username: elastic
    password: "pa:ss w0rd"
    remedies: none
""".format(state=os.path.join(work, "state"), p1=by_key.port, p2=by_basic.port))
    d = serve(args, work, ["--config", config])
    try:
        s = Sender(d.port("tcp"))
        peers = ["10.0.0.{}".format(i) for i in range(1, 21)] + ["198.51.100.66", "198.51.100.77"]
        s.send([line(p) for p in peers])
        hostile = {"198.51.100.{}".format(60 + k): u for k, u in enumerate(HOSTILE_USERS)}
        s.send([hostile_bytes(u, p) for p, u in hostile.items()])
        s.close()
        total = len(peers) + len(hostile)
        wait_for(lambda: len(by_key.docs) >= total - 1 and len(by_basic.docs) >= total, 30,
                 "documents indexed ({} and {})".format(len(by_key.docs), len(by_basic.docs)))
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_dead_letter_total", "elastic") == 1, 10, "the dead letter")
        check(len(by_key.docs) == total - 1, "{} documents, want {}".format(len(by_key.docs), total - 1))
        # Only the rejected item was retried, alone.
        busy_id = [i for i, doc in by_key.docs.items() if doc["tunneldoc"]["fields"]["peer_ip"] == "198.51.100.77"][0]
        retries = [ids for ids in by_key.item_requests if busy_id in ids]
        check(len(retries) == 3, "the 429 item went {} times".format(len(retries)))
        check(all(ids == [busy_id] for ids in retries[1:]), "retries carried more than the failed item: {}".format(
            [len(ids) for ids in retries]))
        check(sink_metric(d, "tunneldoc_sink_retried_total", "elastic") == 2, "retried counter")
        letters = dead_letters(os.path.join(work, "state"))
        check(len(letters) == 1 and "mapper_parsing_exception" in letters[0]["reason"], "dead letters: {}".format(
            letters))
        check(json.loads(letters[0]["record"])["tunneldoc"]["fields"]["peer_ip"] == "198.51.100.66",
              "the dead letter holds the rejected document")
        # Hostile values: valid ECS (schema checked on every document), each in its field.
        for doc in by_key.docs.values():
            peer = doc["tunneldoc"]["fields"]["peer_ip"]
            if peer in hostile:
                check(doc["user"]["name"][:20] == hostile[peer].encode("utf-8", "replace").decode()[:20]
                      or "\ufffd" in doc["user"]["name"], "user.name of {}".format(peer))
        check(all(doc["tunneldoc"]["remedies"] == [] for doc in by_basic.docs.values()), "remedies=none")
        # A lost answer: the documents are indexed, the answer never comes; the retry gets 409s, not duplicates.
        by_key.mode = "lose-answer"
        before = len(by_key.docs)
        errors = sink_metric(d, "tunneldoc_sink_errors_total", "elastic")
        s = Sender(d.port("tcp"))
        s.send([line("10.9.0.{}".format(i)) for i in range(5)])
        s.close()
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_errors_total", "elastic") > errors, 20, "the lost answer")
        by_key.mode = "ok"
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_records_total", "elastic") >= total - 1 + 5, 20,
                 "the retry after the lost answer")
        check(len(by_key.docs) == before + 5, "documents after a lost answer: {}".format(len(by_key.docs) - before))
        for rcv in (by_key, by_basic):
            check(not rcv.protocol_errors, "protocol errors: {}".format(rcv.protocol_errors[:3]))
        print("es: {} documents (api key) and {} (basic auth); the 429 item retried alone, the 400 item "
              "dead-lettered, a lost answer answered by 409s, every document valid ECS".format(
                  len(by_key.docs), len(by_basic.docs)))
        d.stop()
    finally:
        d.kill()
        by_key.stop()
        by_basic.stop()


# ---- outage and kill -9 -------------------------------------------------------------

def scenario_outage(args, work):
    token = "outage-token"
    os.environ["TUNNELDOC_HEC_TOKEN"] = token
    outage = float(os.environ.get("TUNNELDOC_OUTAGE_SECONDS", "30"))
    rcv = HecReceiver(token).start()
    port = rcv.port
    name = "splunk"
    d = serve(args, work, ["--state-dir", os.path.join(work, "state"), "--sink",
                           "hec+http://127.0.0.1:{}?stream=lines&name={}&retry_max=2".format(port, name)])
    rate, before_s, after_s = 20, 5.0, 5.0
    stop = threading.Event()
    sent = [0]

    def stream():
        s = Sender(d.port("tcp"))
        start = time.time()
        while not stop.is_set():
            due = int((time.time() - start) * rate)
            if due > sent[0]:
                s.send([line(ip_of(i)) for i in range(sent[0], due)])
                sent[0] = due
            stop.wait(1.0 / rate)
        s.close()

    t = threading.Thread(target=stream)
    events = []
    try:
        t.start()
        wait_for(lambda: sent[0] >= before_s * rate and len(rcv.events) > 0, before_s + 10, "the stream to flow")
        rcv.stop()
        events += rcv.events
        down_at = time.time()
        max_age = 0.0
        while time.time() - down_at < outage:
            max_age = max(max_age, sink_metric(d, "tunneldoc_sink_oldest_age_seconds", name))
            stop.wait(0.5)
        rcv = HecReceiver(token, port=port).start()
        back_at = time.time()
        backlog = {ip_of(i) for i in range(sent[0])}
        wait_for(lambda: backlog <= set(unique(events + rcv.events, hec_key)[0]), 60, "the backlog after the outage")
        drained = time.time() - back_at
        stop.wait(max(0.0, after_s - drained))
        stop.set()
        t.join()
        total = sent[0]
        want = {ip_of(i) for i in range(total)}
        wait_for(lambda: want <= set(unique(events + rcv.events, hec_key)[0]), 60,
                 "every record after the outage")
        order, dups = unique(events + rcv.events, hec_key)
        check(order == [ip_of(i) for i in range(total)], "records out of order after the outage")
        retried = sink_metric(d, "tunneldoc_sink_retried_total", name)
        check(dups <= retried, "{} duplicates, {} retried".format(dups, retried))
        check(sink_metric(d, "tunneldoc_sink_dropped_total", 'sink="{}"'.format(name)) == 0, "drops")
        check(max_age >= outage * 0.5, "oldest undelivered age peaked at {:.1f} s".format(max_age))
        check(not rcv.protocol_errors, "protocol errors: {}".format(rcv.protocol_errors[:3]))
        print("outage: {} records at {}/s, receiver down {:.0f} s: all delivered in order, {} duplicates "
              "({} retried), oldest undelivered age peaked at {:.1f} s, the backlog of {} records was delivered {:.1f} s "
              "after the receiver came back".format(total, rate, outage, dups, int(retried), max_age, len(backlog),
                                                   drained))
        d.stop()
    finally:
        stop.set()
        d.kill()
        rcv.stop()


def scenario_kill_replay(args, work):
    token = "replay-token"
    os.environ["TUNNELDOC_HEC_TOKEN"] = token
    n = int(os.environ.get("TUNNELDOC_REPLAY_RECORDS", "100000"))
    port = free_port()  # nobody listens yet
    state = os.path.join(work, "state")
    name = "splunk"
    url = "hec+http://127.0.0.1:{}?stream=lines&remedies=none&name={}&retry_max=1".format(port, name)
    d = serve(args, work, ["--state-dir", state, "--sink", url], output=False)
    rcv = None
    try:
        start = time.time()
        s = Sender(d.port("tcp"))
        for k in range(0, n, 5000):
            # Paced to the spool (half the memory queue ahead at most): what is measured is the replay, not
            # how a burst larger than queue_size is dropped.
            wait_for(lambda: sink_metric(d, "tunneldoc_sink_spooled", name) >= k - 8000, 60, "the spool to keep up")
            s.send([line(ip_of(i)) for i in range(k, min(n, k + 5000))])
        s.close()
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_spooled", name) >= n, 240,
                 "{} records spooled (have {})".format(n, sink_metric(d, "tunneldoc_sink_spooled", name)))
        spooled_in = time.time() - start
        spool_bytes = sink_metric(d, "tunneldoc_sink_spool_bytes", name)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        rcv = HecReceiver(token, port=port).start()
        restart = time.time()
        d = serve(args, work, ["--state-dir", state, "--sink", url], name="serve2", output=False)
        wait_for(lambda: len(rcv.events) >= n, 300, "the replay ({} of {})".format(len(rcv.events), n))
        replay = time.time() - restart
        order, dups = unique(list(rcv.events), hec_key)
        check(order == [ip_of(i) for i in range(n)], "replayed records missing or out of order")
        check(dups == 0, "{} duplicates after kill -9 (nothing had been delivered)".format(dups))
        check(not rcv.protocol_errors, "protocol errors: {}".format(rcv.protocol_errors[:3]))
        print("kill_replay: {} records ({:.0f} MB) spooled in {:.1f} s; after kill -9 the restart delivered all of "
              "them in {:.1f} s ({:.0f} records/s), none twice".format(n, spool_bytes / 1e6, spooled_in, replay,
                                                                         n / replay))
        d.stop()
    finally:
        d.kill()
        if rcv:
            rcv.stop()


# ---- followed files and acknowledgements -------------------------------------------

def saved_offset(state_file, path):
    if not os.path.exists(state_file):
        return None
    with open(state_file) as f:
        for l in f:
            if l.startswith("#"):
                continue
            parts = l.rstrip("\n").split(" ", 6)
            if parts[-1] == path:
                return int(parts[2])
    return None


def scenario_tail_ack(args, work):
    token = "tail-token"
    os.environ["TUNNELDOC_HEC_TOKEN"] = token
    rcv = HecReceiver(token).start()
    rcv.mode = "busy503"
    log = os.path.join(work, "asa.log")
    with open(log, "w") as f:
        f.write("".join(line(ip_of(i)) + "\n" for i in range(10)))
    size = os.path.getsize(log)
    positions = os.path.join(work, "positions")
    config = os.path.join(work, "tail.yaml")
    with open(config, "w") as f:
        f.write("listeners: []\nstream: lines\nfiles:\n  - {{path: {}, from_start: true}}\nstate_file: {}\n"
                "state_dir: {}\n".format(log, positions, os.path.join(work, "state")))
    mem = "hec+http://127.0.0.1:{}?stream=lines&spool=false&name=memory&retry_max=1".format(rcv.port)
    d = Daemon.serve(args, work, ["--config", config, "--sink", mem])
    try:
        # The lines are read and published, but the only sink keeps them in memory and cannot deliver:
        # the position must stay where it was.
        wait_for(lambda: d.metric("tunneldoc_file_lines_total") == 10, 10, "the lines read")
        wait_for(lambda: sink_metric(d, "tunneldoc_sink_errors_total", "memory") >= 2, 10, "failed deliveries")
        check(saved_offset(positions, log) in (None, 0), "position advanced past undelivered records: {}".format(
            saved_offset(positions, log)))
        # A memory sink tries to deliver until the shutdown deadline (shutdown_timeout, 5 s), then gives up.
        d.stop(limit=7)
        check(saved_offset(positions, log) in (None, 0), "position advanced at stop (records given up)")
        # Next start: the receiver works; the lines are read again and delivered; then the position moves.
        rcv.mode = "ok"
        d = Daemon.serve(args, work, ["--config", config, "--sink", mem], name="serve2")
        wait_for(lambda: {ip_of(i) for i in range(10)} <= set(unique(list(rcv.events), hec_key)[0]), 20,
                 "the re-read lines delivered")
        wait_for(lambda: saved_offset(positions, log) == size, 10, "the position once delivered")
        d.stop()
        # A disk spool makes records durable at once: the position moves while the receiver is down.
        rcv.mode = "busy503"
        with open(log, "a") as f:
            f.write("".join(line(ip_of(i)) + "\n" for i in range(10, 20)))
        disk = "hec+http://127.0.0.1:{}?stream=lines&name=disk&retry_max=1".format(rcv.port)
        d = Daemon.serve(args, work, ["--config", config, "--sink", disk], name="serve3")
        wait_for(lambda: saved_offset(positions, log) == os.path.getsize(log), 10,
                 "the position once the records are spooled")
        check(sink_metric(d, "tunneldoc_sink_records_total", "disk") == 0, "nothing was delivered")
        d.stop()
        # `tunneldoc tail --sink`: the same, from the command line; the position waits for delivery.
        rcv.mode = "ok"
        with open(log, "a") as f:
            f.write("".join(line(ip_of(i)) + "\n" for i in range(20, 30)))
        tail_positions = os.path.join(work, "tail-positions")
        t = Daemon(args, work, "tail", ["tail", "--signatures", args.signatures, "--from-start", "--state-file",
                                        tail_positions, "--output", os.path.join(work, "tail.jsonl"),
                                        "--poll-interval", "50", "--sink", mem.replace("name=memory", "name=tail"),
                                        log])
        try:
            wait_for(lambda: {ip_of(i) for i in range(30)} <= set(unique(list(rcv.events), hec_key)[0]), 20,
                     "tail --sink delivering the file")
            wait_for(lambda: saved_offset(tail_positions, log) == os.path.getsize(log), 10, "tail's position")
            t.stop()
        finally:
            t.kill()
        print("tail_ack: the position waited for delivery with a memory spool, moved once spooled with a disk "
              "spool; tail --sink delivers and then saves its position")
    finally:
        d.kill()
        rcv.stop()


# ---- configuration -----------------------------------------------------------------

def scenario_config(args, work):
    def check_config(text, env=None):
        path = os.path.join(work, "c.yaml")
        with open(path, "w") as f:
            f.write(text)
        e = dict(os.environ)
        e.pop("TUNNELDOC_HEC_TOKEN", None)
        e.update(env or {})
        return subprocess.run([args.binary, "serve", "--signatures", args.signatures, "--config", path,
                               "--check-config"], capture_output=True, text=True, timeout=30, env=e)

    good = """sinks:
  - "-"
  - url: syslog+tls://siem.example.com:6514?format=cef
    ca: {ca}
    facility: local4
  - url: hec+https://splunk.example.com:8088
    token: abc
    remedies: brief
  - url: es+https://es.example.com:9200/tunneldoc
    api_key: a2V5
output: {out}
""".format(ca=make_certs(work)["ca.pem"], out=os.path.join(work, "x.jsonl"))
    p = check_config(good)
    check(p.returncode == 0, "a good configuration was refused: " + p.stderr)
    p = check_config("sinks:\n  - url: hec+https://splunk.example.com:8088\n", {"TUNNELDOC_HEC_TOKEN": "t"})
    check(p.returncode == 0, "the token from the environment: " + p.stderr)
    for text, want in [
        ("sinks:\n  - url: hec+https://splunk.example.com:8088\n", "HEC token"),
        ("sinks:\n  - url: hec+https://s:8088?token=x\n", "secret"),
        ("sinks:\n  - url: syslog+tcp://h:514\n    colour: red\n", "c.yaml:3: unknown option \"colour\""),
        ("sinks:\n  - url: syslog+tcp://h:514\n    format: xml\n", "c.yaml:3"),
        ("sinks:\n  - kafka://h:1\n", "not a sink URL"),
        ("sinks:\n  - url: es+http://h:9200/\n", "names its index"),
        ("sinks:\n  - syslog+udp://h:514\n  - syslog+udp://h:514\n", "named twice"),
        ("sinks:\n  - url: syslog+tls://h:6514\n    ca: /nonexistent/ca.pem\n", "cannot read /nonexistent/ca.pem"),
    ]:
        p = check_config(text)
        check(p.returncode == 2 and want in p.stderr, "{!r}: exit {} {}".format(text, p.returncode, p.stderr))
    print("config: sinks checked, every error with its file and line; secrets only from the file or the "
          "environment")


def main():
    run_scenario(globals(), "tunneldoc-siem-", ["--source"])


if __name__ == "__main__":
    main()
