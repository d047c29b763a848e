#!/usr/bin/env python3
"""Integration tests: the real tunneldoc binary on loopback ephemeral ports,
driven by real clients (util-linux logger, openssl s_client, Python sockets)
and by files rotated the way logrotate does it.

Usage: daemon_test.py SCENARIO --binary PATH --signatures DIR
Every scenario is bounded in time and talks to 127.0.0.1 only.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings

warnings.simplefilter("ignore", DeprecationWarning)

MSG = ("%ASA-5-713904: IP = {ip}, Received an un-encrypted NO_PROPOSAL_CHOSEN "
       "notify message, drop")
SIG = "asa-713904-no-proposal-chosen"


def line(ip="203.0.113.9", host="hq-asa"):
    return "<165>Nov 26 2026 09:20:11 {} : {}".format(host, MSG.format(ip=ip))


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out waiting for " + what)


class Daemon:
    def __init__(self, args, workdir, name="serve", extra=None, output=None):
        self.args = args
        self.dir = workdir
        self.output = output or os.path.join(workdir, name + ".jsonl")
        self.ready = os.path.join(workdir, name + ".ready")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        cmd = [args.binary] + (extra or [])
        self.cmd = cmd
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)

    @classmethod
    def serve(cls, args, workdir, flags, name="serve", output=None, signatures=True):
        d = cls.__new__(cls)
        extra = ["serve"] + (["--signatures", args.signatures] if signatures else []) + ["--metrics", "127.0.0.1:0",
                 "--ready-file", os.path.join(workdir, name + ".ready"), "--log-level", "info"]
        out = output
        if out is None:
            out = os.path.join(workdir, name + ".jsonl")
            extra += ["--output", out]
        if "--stream" not in flags:
            extra += ["--stream", "lines"]  # most scenarios count line diagnoses
        d.__init__(args, workdir, name, extra + flags, out)
        d.info = wait_for(d._read_ready, 15, "the daemon to bind (ready file)")
        return d

    def _read_ready(self):
        if self.proc.poll() is not None:
            fail("daemon exited early with {}: {}".format(self.proc.returncode, self.stderr()))
        try:
            with open(self.ready) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def port(self, transport, index=0):
        ports = [l["port"] for l in self.info["listeners"] if l["transport"] == transport]
        return ports[index]

    def url(self, path):
        m = self.info["metrics"]
        return "http://{}:{}{}".format(m["address"], m["port"], path)

    def http(self, path):
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        status, body = self.http("/metrics")
        check(status == 200, "/metrics answered {}".format(status))
        values = {}
        for l in body.splitlines():
            if l.startswith("#") or not l.strip():
                continue
            name, value = l.rsplit(" ", 1)
            values[name] = float(value)
        return values

    def metric(self, prefix, contains=""):
        """Sum of the series whose name starts with prefix and contains `contains`."""
        return sum(v for k, v in self.metrics().items()
                   if k.startswith(prefix) and contains in k)

    def diagnoses(self):
        out = []
        if not os.path.exists(self.output):
            return out
        with open(self.output) as f:
            for l in f:
                if l.endswith("\n"):
                    out.append(json.loads(l))
        return out

    def wait_diagnoses(self, n, timeout=10):
        return wait_for(lambda: len(self.diagnoses()) >= n and self.diagnoses(), timeout,
                        "{} diagnoses (have {})".format(n, len(self.diagnoses())))

    def stderr(self):
        self.err.flush()
        with open(self.stderr_path) as f:
            return f.read()

    def signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, limit=5.0):
        start = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=limit + 2)
        except subprocess.TimeoutExpired:
            if shutil.which("gdb") and os.environ.get("TUNNELDOC_DEBUG_HANG"):
                subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex", "thread apply all bt"],
                               timeout=60)
            self.proc.kill()
            fail("daemon did not stop within {} s".format(limit + 2))
        took = time.time() - start
        check(rc == 0, "daemon exited {} (stderr: {})".format(rc, self.stderr()))
        check(took <= limit, "shutdown took {:.2f} s".format(took))
        return took

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def logger(*args, message):
    subprocess.run(["logger", "-n", "127.0.0.1"] + list(args) + [message], check=True, timeout=10)


# ---- scenarios -----------------------------------------------------------------

def scenario_udp_tcp(args, work):
    d = Daemon.serve(args, work, ["--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0"])
    try:
        udp, tcp = d.port("udp"), d.port("tcp")
        msg = MSG.format(ip="203.0.113.9")
        # A stalled sender (half an octet-counted frame, then silence) and a
        # flooding one (no newline ever) must not hold up anyone else.
        stalled = socket.create_connection(("127.0.0.1", tcp), timeout=5)
        stalled.sendall(b"500 <13>half a fr")
        flood = socket.create_connection(("127.0.0.1", tcp), timeout=5)
        flood.sendall(b"<13>" + b"y" * 200000)
        # util-linux logger, every framing and header it can produce.
        logger("-P", str(udp), "--udp", message=msg)
        logger("-P", str(udp), "--udp", "--rfc3164", message=msg)
        logger("-P", str(tcp), "--tcp", message=msg)
        logger("-P", str(tcp), "--tcp", "--octet-count", message=msg)
        logger("-P", str(tcp), "--tcp", "--rfc3164", message=msg)
        logger("-P", str(tcp), "--tcp", "--rfc5424", "--octet-count", message=msg)
        got = d.wait_diagnoses(6)
        check(all(g["signature"] == SIG for g in got), "wrong signature: {}".format(got))
        sources = sorted(g["evidence"][0]["source"].split(":")[0] for g in got)
        check(sources == ["tcp"] * 4 + ["udp"] * 2, "sources: {}".format(sources))
        check(all(g["evidence"][0]["source"].startswith(("udp:127.0.0.1:", "tcp:127.0.0.1:")) for g in got),
              "source format")

        # Raw senders: an ASA header, a bare message (host falls back to the sender),
        # several frames in one TCP segment, mixed framings.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto((line("198.51.100.1") + "\n").encode(), ("127.0.0.1", udp))
        s.sendto(MSG.format(ip="198.51.100.2").encode(), ("127.0.0.1", udp))
        s.sendto(b"<13>not a VPN problem\n", ("127.0.0.1", udp))
        s.close()
        c = socket.create_connection(("127.0.0.1", tcp), timeout=5)
        a = line("198.51.100.3").encode()
        b = line("198.51.100.4").encode()
        c.sendall(b"%d %s" % (len(a), a) + b + b"\n")
        # A frame above max_frame (64 KiB) is cut and counted, and the stream goes on.
        c.sendall(b"<13>" + b"x" * 70000 + b"\n")
        c.sendall(line("198.51.100.5").encode())
        c.close()  # the last line had no LF: delivered at end of stream
        got = d.wait_diagnoses(11)
        by_ip = {g["fields"].get("peer_ip"): g for g in got}
        for ip in ["198.51.100.%d" % i for i in range(1, 6)]:
            check(ip in by_ip, "no diagnosis for {}: {}".format(ip, sorted(by_ip)))
        check(by_ip["198.51.100.1"]["host"] == "hq-asa", "host from header")
        check(by_ip["198.51.100.2"]["host"] == "127.0.0.1", "host falls back to the sender address")
        check(len(got) == 11, "exactly 11 diagnoses, got {}".format(len(got)))

        # Metrics and health.
        m = d.metrics()
        key = lambda name, t, p: '{}{{listener="{}:127.0.0.1:{}"}}'.format(name, t, p)
        check(m[key("tunneldoc_listener_messages_total", "udp", udp)] == 5, "udp messages: {}".format(m))
        check(m[key("tunneldoc_listener_messages_total", "tcp", tcp)] == 8,
              "tcp messages: {}".format(m[key("tunneldoc_listener_messages_total", "tcp", tcp)]))
        check(m[key("tunneldoc_listener_oversize_total", "tcp", tcp)] == 1, "oversize (the flood is not over yet)")
        check(m[key("tunneldoc_listener_bytes_total", "udp", udp)] > 300, "bytes")
        check(m['tunneldoc_signature_matches_total{signature="%s"}' % SIG] == 11, "signature matches")
        check(m["tunneldoc_diagnoses_total"] == 11, "diagnoses_total")
        check(key("tunneldoc_udp_kernel_drops_total", "udp", udp) in m, "kernel drops exported")
        check(m[key("tunneldoc_listener_connections_open", "tcp", tcp)] == 2, "the stalled ones are still open")
        stalled.close()
        flood.close()
        wait_for(lambda: d.metric("tunneldoc_listener_connections_open", ":%d" % tcp) == 0, 5, "connections closed")
        check(d.metric("tunneldoc_listener_malformed_total", ":%d" % tcp) == 1, "the half frame is malformed")
        check(d.metric("tunneldoc_listener_oversize_total", ":%d" % tcp) == 2, "the flood was cut")
        check(m["tunneldoc_kb_signatures"] > 10, "kb signatures")
        check(any(k.startswith("tunneldoc_kb_info{") for k in m), "kb version")
        status, body = d.http("/healthz")
        check(status == 200 and json.loads(body)["status"] == "ok", "healthz: {} {}".format(status, body))
        check(d.http("/nope")[0] == 404, "404")
        check("oversize" in d.stderr() or "longer than max_frame" in d.stderr(), "oversize logged")
    finally:
        d.stop()


def make_cert(work, name, ca=None):
    key, crt = os.path.join(work, name + ".key"), os.path.join(work, name + ".pem")
    if ca is None:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=60)
    else:
        csr = os.path.join(work, name + ".csr")
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                        "-subj", "/CN=" + name], check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
                        "-out", crt, "-days", "2"], check=True, capture_output=True, timeout=60)
    return key, crt


def s_client(port, data, extra=()):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet", "-no_ign_eof"]
                          + list(extra), input=data, capture_output=True, timeout=20)
    if os.environ.get("TUNNELDOC_DEBUG"):
        print("s_client:", r.returncode, r.stdout[-500:], r.stderr[-1500:])
    return r


def scenario_tls(args, work):
    key, crt = make_cert(work, "server")
    d = Daemon.serve(args, work, ["--tls", "127.0.0.1:0", "--tls-cert", crt, "--tls-key", key])
    try:
        port = d.port("tls")
        # openssl s_client: plain LF framing over TLS.
        s_client(port, (line("192.0.2.10") + "\n").encode())
        # A small client: octet counting (RFC 5425), certificate checked against ours.
        ctx = ssl.create_default_context(cafile=crt)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                check(t.version() in ("TLSv1.2", "TLSv1.3"), "TLS version " + str(t.version()))
                for ip in ("192.0.2.11", "192.0.2.12"):
                    b = line(ip).encode()
                    t.sendall(b"%d %s" % (len(b), b))
                # Close properly (close_notify, read what the server sent): a
                # plain close() with unread TLS 1.3 session tickets is a TCP
                # reset, and a reset discards what the server has not read yet.
                try:
                    t.unwrap()
                except (ssl.SSLError, OSError):
                    pass
        got = wait_for(lambda: len(d.diagnoses()) >= 3 and d.diagnoses(), 10,
                       "3 TLS diagnoses, have {}".format([g["fields"]["peer_ip"] for g in d.diagnoses()]))
        ips = sorted(g["fields"]["peer_ip"] for g in got)
        check(ips == ["192.0.2.10", "192.0.2.11", "192.0.2.12"], "tls diagnoses: {}".format(ips))
        check(all(g["evidence"][0]["source"].startswith("tls:127.0.0.1:") for g in got), "tls source")
        # TLS 1.1 is refused.
        ctx11 = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx11.check_hostname = False
        ctx11.verify_mode = ssl.CERT_NONE
        try:
            ctx11.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx11.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx11.set_ciphers("DEFAULT:@SECLEVEL=0")
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with ctx11.wrap_socket(raw) as t:
                    fail("a TLS 1.1 handshake succeeded")
        except (ssl.SSLError, OSError, ValueError):
            pass
        # Data in flight on an open TLS connection at SIGTERM is still processed.
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        t = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        b = line("192.0.2.13").encode()
        t.sendall(b"%d %s" % (len(b), b))
        time.sleep(0.1)
        d.stop()
        t.close()
        ips = sorted(g["fields"]["peer_ip"] for g in d.diagnoses())
        check("192.0.2.13" in ips, "TLS data in flight at shutdown: {}".format(ips))
    finally:
        d.kill()

    # Client certificates: required and checked against a CA.
    ca = make_cert(work, "ca")
    ckey, ccrt = make_cert(work, "client", ca=ca)
    d = Daemon.serve(args, work, ["--tls", "127.0.0.1:0", "--tls-cert", crt, "--tls-key", key,
                                  "--tls-ca", ca[1]], name="mtls")
    try:
        port = d.port("tls")
        s_client(port, (line("192.0.2.20") + "\n").encode())  # no client certificate: refused
        s_client(port, (line("192.0.2.21") + "\n").encode(), ["-cert", ccrt, "-key", ckey])
        got = d.wait_diagnoses(1)
        time.sleep(0.3)
        got = d.diagnoses()
        check([g["fields"]["peer_ip"] for g in got] == ["192.0.2.21"], "mTLS: {}".format(got))
        check(d.metric("tunneldoc_listener_malformed_total") >= 1, "failed handshake counted")
    finally:
        d.stop()


def scenario_allowlist(args, work):
    cfg = os.path.join(work, "allow.yaml")
    with open(cfg, "w") as f:
        f.write("""listeners:
  - {type: udp, address: "127.0.0.1:0", allow: [192.0.2.0/24]}
  - {type: tcp, address: "127.0.0.1:0", allow: [192.0.2.0/24, 127.0.0.0/8]}
  - {type: tcp, address: "127.0.0.1:0", allow: ["10.0.0.0/8"]}
  - {type: tcp, address: "127.0.0.1:0", max_connections: 2, idle_timeout: 1}
""")
    d = Daemon.serve(args, work, ["--config", cfg])
    try:
        udp, tcp_ok, tcp_denied = d.port("udp"), d.port("tcp", 0), d.port("tcp", 1)
        for _ in range(3):
            logger("-P", str(udp), "--udp", message=MSG.format(ip="203.0.113.1"))
        logger("-P", str(tcp_ok), "--tcp", message=MSG.format(ip="203.0.113.2"))
        try:
            logger("-P", str(tcp_denied), "--tcp", message=MSG.format(ip="203.0.113.3"))
        except subprocess.CalledProcessError:
            pass
        got = d.wait_diagnoses(1)
        wait_for(lambda: d.metric("tunneldoc_listener_denied_total") >= 4, 5, "denied counters")
        time.sleep(0.2)
        got = d.diagnoses()
        check([g["fields"]["peer_ip"] for g in got] == ["203.0.113.2"], "only the allowed sender: {}".format(got))
        check(d.metric("tunneldoc_listener_denied_total", "udp:") == 3, "udp denied")
        check(d.metric("tunneldoc_listener_denied_total", ":%d" % tcp_denied) == 1, "tcp denied")
        # max_connections and idle_timeout.
        limited = d.port("tcp", 2)
        conns = [socket.create_connection(("127.0.0.1", limited), timeout=5) for _ in range(3)]
        wait_for(lambda: d.metric("tunneldoc_listener_connections_refused_total", ":%d" % limited) == 1, 5,
                 "third connection refused")
        check(d.metric("tunneldoc_listener_connections_open", ":%d" % limited) == 2, "two open")
        wait_for(lambda: d.metric("tunneldoc_listener_connections_open", ":%d" % limited) == 0, 5,
                 "idle connections closed after idle_timeout")
        for c in conns:
            c.close()
        err = d.stderr()
        check(err.count("denied by the allowlist") == 2, "denied logged once per listener (rate-limited):\n" + err)
    finally:
        d.stop()


def scenario_reload(args, work):
    kb = os.path.join(work, "kb")
    shutil.copytree(args.signatures, kb)
    cfg = os.path.join(work, "reload.yaml")
    out = os.path.join(work, "reload.jsonl")

    def write_cfg(extra=""):
        with open(cfg, "w") as f:
            f.write('signatures: "{}"\nlisteners:\n  - {{type: udp, address: "127.0.0.1:0"}}\n{}'.format(kb, extra))

    write_cfg()
    d = Daemon.serve(args, work, ["--config", cfg, "--output", out], output=out, signatures=False)
    try:
        udp = d.port("udp")

        def send(ip):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(line(ip).encode(), ("127.0.0.1", udp))
            s.close()

        send("203.0.113.1")
        d.wait_diagnoses(1)
        version = [k for k in d.metrics() if k.startswith("tunneldoc_kb_info{")]

        # A broken knowledge base is rejected, every error listed, the old one serves.
        broken = os.path.join(kb, "rules", "zz-broken.yaml")
        with open(broken, "w") as f:
            f.write("signatures: [\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.metric("tunneldoc_reloads_total", 'result="failed"') == 1, 10, "failed reload metric")
        check(d.metric("tunneldoc_last_reload_success") == 0, "last reload failed")
        check("reload rejected" in d.stderr() and "zz-broken.yaml" in d.stderr(),
              "reload errors logged:\n" + d.stderr())
        send("203.0.113.2")
        d.wait_diagnoses(2)
        check(d.metric("tunneldoc_up") == 1, "still up")

        # A broken configuration is rejected too.
        os.unlink(broken)
        write_cfg("colour: blue\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.metric("tunneldoc_reloads_total", 'result="failed"') == 2, 10, "failed config reload")
        wait_for(lambda: "colour" in d.stderr(), 10, "the config error in the log")

        # A good reload swaps the knowledge base in: change a title and see it.
        write_cfg()
        changed = False
        for root, _, files in os.walk(kb):
            for fn in files:
                p = os.path.join(root, fn)
                if not fn.endswith(".yaml"):
                    continue
                text = open(p).read()
                if "id: " + SIG in text:
                    with open(p, "a") as f:
                        f.write("\n# reloaded\n")
                    changed = True
        check(changed, "found the signature file")
        # logrotate: move the output away; SIGHUP reopens it.
        os.rename(out, out + ".1")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.metric("tunneldoc_reloads_total", 'result="ok"') == 1, 10, "good reload")
        check(d.metric("tunneldoc_last_reload_success") == 1, "last reload ok")
        # Only the knowledge base in service is exported: the replaced one's series is gone.
        new_version = [k for k in d.metrics() if k.startswith("tunneldoc_kb_info{")]
        check(len(new_version) == 1 and new_version != version, "kb version changes: {} → {}".format(
            version, new_version))
        send("203.0.113.3")
        got = d.wait_diagnoses(1)
        check(got[0]["fields"]["peer_ip"] == "203.0.113.3", "the reopened output gets new diagnoses")
        with open(out + ".1") as f:
            check(len(f.readlines()) == 2, "the rotated output kept the old ones")
    finally:
        d.stop()


def scenario_reload_apply(args, work):
    """A reload puts a new allowlist and a new TLS certificate in service
    without a restart, and names a changed listen address it cannot apply."""
    key1, crt1 = make_cert(work, "first")
    key2, crt2 = make_cert(work, "second")
    cfg = os.path.join(work, "apply.yaml")

    def write_cfg(allow, crt, key, tcp_address="127.0.0.1:0"):
        with open(cfg + ".tmp", "w") as f:
            f.write('listeners:\n'
                    '  - {{type: udp, address: "127.0.0.1:0", allow: [{allow}]}}\n'
                    '  - {{type: tcp, address: "{tcp}", allow: [{allow}]}}\n'
                    '  - {{type: tls, address: "127.0.0.1:0", certificate: "{crt}", key: "{key}"}}\n'.format(
                        allow=allow, tcp=tcp_address, crt=crt, key=key))
        os.rename(cfg + ".tmp", cfg)

    write_cfg("192.0.2.0/24", crt1, key1)
    d = Daemon.serve(args, work, ["--config", cfg])
    try:
        udp, tcp, tls = d.port("udp"), d.port("tcp"), d.port("tls")
        logger("-P", str(udp), "--udp", message=MSG.format(ip="203.0.113.1"))
        wait_for(lambda: d.metric("tunneldoc_listener_denied_total", "udp:") == 1, 10, "denied before the reload")
        r = s_client(tls, b"")
        check(b"CN = first" in r.stderr + r.stdout, "the first certificate served")

        write_cfg("127.0.0.0/8", crt2, key2)
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.metric("tunneldoc_reloads_total", 'result="ok"') == 1, 15, "the reload")
        logger("-P", str(udp), "--udp", message=MSG.format(ip="203.0.113.2"))
        logger("-P", str(tcp), "--tcp", message=MSG.format(ip="203.0.113.3"))
        got = d.wait_diagnoses(2)
        check(sorted(g["fields"]["peer_ip"] for g in got) == ["203.0.113.2", "203.0.113.3"],
              "the new allowlist in service: {}".format([g["fields"]["peer_ip"] for g in got]))
        r = s_client(tls, (line("203.0.113.4") + "\n").encode())
        check(b"CN = second" in r.stderr + r.stdout, "the new certificate served: {}".format(r.stderr[-400:]))
        d.wait_diagnoses(3)
        check(d.metric("tunneldoc_reload_restart_needed") == 0, "nothing waits for a restart")

        # A new address for the TCP listener: named, not applied; it still listens where it was.
        write_cfg("127.0.0.0/8", crt2, key2, tcp_address="127.0.0.1:1")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.metric("tunneldoc_reloads_total", 'result="ok"') == 2, 15, "the second reload")
        err = d.stderr()
        check("listener tcp:127.0.0.1:1 added" in err and "listener tcp:127.0.0.1:{} removed".format(tcp) in err,
              "the changed address named:\n" + err)
        check(d.metric("tunneldoc_reload_restart_needed") == 2, "two changes wait for a restart")
        logger("-P", str(tcp), "--tcp", message=MSG.format(ip="203.0.113.5"))
        d.wait_diagnoses(4)
    finally:
        d.stop()
    # The metrics address, from the file (no --metrics on the command line).
    mcfg = os.path.join(work, "metrics.yaml")

    def write_metrics(address):
        with open(mcfg + ".tmp", "w") as f:
            f.write('listeners:\n  - {{type: udp, address: "127.0.0.1:0"}}\nmetrics: {{address: "{}"}}\n'.format(
                address))
        os.rename(mcfg + ".tmp", mcfg)

    write_metrics("127.0.0.1:0")
    m = Daemon(args, work, "metrics", ["serve", "--config", mcfg, "--signatures", args.signatures, "--ready-file",
                                       os.path.join(work, "metrics.ready"), "--output", os.path.join(work, "m.jsonl")])
    try:
        m.info = wait_for(m._read_ready, 15, "the second daemon to bind")
        write_metrics("127.0.0.1:1")
        m.signal(signal.SIGHUP)
        wait_for(lambda: "need a restart: metrics address" in m.stderr() or "needs a restart: metrics address" in
                 m.stderr(), 15, "the metrics address named")
        check(m.metric("tunneldoc_reload_restart_needed") == 1, "one change waits for a restart")
    finally:
        m.stop()


def scenario_shutdown(args, work):
    d = Daemon.serve(args, work, ["--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0"])
    udp, tcp = d.port("udp"), d.port("tcp")
    # An open TCP connection with data in flight, a burst of datagrams, and an
    # idle connection that never closes: all received data is processed, and
    # the daemon exits 0 within 5 s.
    idle = socket.create_connection(("127.0.0.1", tcp), timeout=5)
    c = socket.create_connection(("127.0.0.1", tcp), timeout=5)
    c.sendall(b"".join((line("10.0.%d.%d" % (i // 250, i % 250)) + "\n").encode() for i in range(300)))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(300):
        s.sendto(line("10.1.%d.%d" % (i // 250, i % 250)).encode(), ("127.0.0.1", udp))
    # A metrics client that keeps its connection alive: the daemon must not
    # wait for it past the deadline.
    m = socket.create_connection(("127.0.0.1", d.info["metrics"]["port"]), timeout=5)
    m.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    check(b"200 OK" in m.recv(4096), "keep-alive healthz")
    time.sleep(0.3)
    status, _ = d.http("/healthz")
    check(status == 200, "healthy while serving")
    took = d.stop()
    m.close()
    got = d.diagnoses()
    check(len(got) == 600, "every received message processed before exit: {} of 600".format(len(got)))
    check("stopped" in d.stderr(), "says it stopped")
    print("shutdown took {:.2f} s".format(took))
    c.close()
    idle.close()
    s.close()


# ---- incidents (issue 8) -------------------------------------------------------

PHASE1_DONE = "%ASA-5-713119: Group = {ip}, IP = {ip}, PHASE 1 COMPLETED"


def incidents_of(records):
    return [r for r in records if r["kind"] == "incident"]


def scenario_incidents(args, work):
    """A tunnel retrying with mismatched policies, sent with logger: one open
    incident (not one record per retry), then one resolved when phase 1
    completes; an incident open at SIGTERM is saved in the state directory and
    resolved after a restart with the same id, never re-opened."""
    state = os.path.join(work, "state")
    out = os.path.join(work, "incidents.jsonl")
    flags = ["--udp", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--state-dir", state, "--stream", "incidents",
             "--output", out]
    d = Daemon.serve(args, work, flags, output=out)
    try:
        udp, tcp = d.port("udp"), d.port("tcp")
        for i in range(40):
            logger("-P", str(udp), "--udp", message=MSG.format(ip="203.0.113.9"))
        logger("-P", str(tcp), "--tcp", "--octet-count", message=MSG.format(ip="198.51.100.44"))
        wait_for(lambda: d.metric("tunneldoc_signature_matches_total", SIG) == 41, 15, "41 diagnoses")
        # The records are written by the sink's own thread: wait for them too.
        got = wait_for(lambda: len(incidents_of(d.diagnoses())) >= 2 and incidents_of(d.diagnoses()), 10,
                       "the incident records")
        check(len(got) == 2 and all(g["incident"]["state"] == "open" for g in got),
              "one open incident per peer, not one per retry: {}".format([(g["incident"]["peer"], g["incident"]["state"]) for g in got]))
        check(not any(g["kind"] == "line" for g in d.diagnoses()), "the incidents stream has no line records")
        check(d.metric("tunneldoc_incidents_open") == 2, "two open")
        logger("-P", str(udp), "--udp", message=PHASE1_DONE.format(ip="203.0.113.9"))
        done = wait_for(lambda: [g for g in incidents_of(d.diagnoses()) if g["incident"]["state"] == "resolved"],
                        10, "the resolved record")
        check(len(done) == 1 and done[0]["incident"]["peer"] == "203.0.113.9" and
              done[0]["incident"]["resolution"] == "cleared" and done[0]["count"] == 40,
              "resolved, cleared, 40 folded: {}".format(done[0]["incident"]))
        opened = {g["incident"]["peer"]: g["incident"]["id"] for g in incidents_of(d.diagnoses())
                  if g["incident"]["state"] == "open"}
    finally:
        d.stop()
    saved = json.load(open(os.path.join(state, "incidents.json")))
    check([i["peer"] for i in saved["incidents"]] == ["198.51.100.44"], "the open incident is saved: {}".format(saved))

    d = Daemon.serve(args, work, flags, name="serve2", output=out)
    try:
        check("restored 1 open incident" in d.stderr(), "restore is logged:\n" + d.stderr())
        check(d.metric("tunneldoc_incidents_open") == 1, "restored as open")
        before = len(d.diagnoses())
        logger("-P", str(d.port("udp")), "--udp", message=MSG.format(ip="198.51.100.44"))
        logger("-P", str(d.port("udp")), "--udp", message=PHASE1_DONE.format(ip="198.51.100.44"))
        wait_for(lambda: len(d.diagnoses()) > before, 10, "a record after the restart")
        after = incidents_of(d.diagnoses()[before:])
        check([(g["incident"]["state"], g["incident"]["id"]) for g in after] ==
              [("resolved", opened["198.51.100.44"])],
              "after the restart: resolved with the same id, no new open: {}".format(after))
        check(after[0]["count"] == 2, "the count carried over")
    finally:
        d.stop()


def scenario_blocked_output(args, work):
    """The output is a FIFO whose reader never reads: the listeners keep
    reading, /healthz answers, the sink drops its oldest records (counted),
    and SIGTERM exits 0 within shutdown_timeout."""
    fifo = os.path.join(work, "out.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read
    cfg = os.path.join(work, "blocked.yaml")
    with open(cfg, "w") as f:
        f.write('listeners:\n  - {type: udp, address: "127.0.0.1:0"}\n  - {type: tcp, address: "127.0.0.1:0"}\n'
                'queue_size: 64\nshutdown_timeout: 2\nstream: all\n')
    d = Daemon.serve(args, work, ["--config", cfg, "--stream", "all", "--output", fifo], output=fifo)
    try:
        udp, tcp = d.port("udp"), d.port("tcp")
        c = socket.create_connection(("127.0.0.1", tcp), timeout=5)
        c.sendall(b"".join((line("10.2.%d.%d" % (i // 250, i % 250)) + "\n").encode() for i in range(2000)))
        wait_for(lambda: d.metric("tunneldoc_sink_dropped_total", 'reason="queue_full"') > 0, 20,
                 "the blocked sink to drop its oldest records")
        # Another listener keeps reading while the output is stuck.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(200):
            s.sendto(line("10.3.0.%d" % (i % 250)).encode(), ("127.0.0.1", udp))
        wait_for(lambda: d.metric("tunneldoc_listener_messages_total", "udp:") == 200, 10,
                 "UDP messages read while the output blocks")
        status, body = d.http("/healthz")
        check(status in (200, 503) and json.loads(body)["sinks"][0]["queued"] >= 1,
              "healthz answers with the sink's queue: {} {}".format(status, body))
        c.close()
        s.close()
    finally:
        # shutdown_timeout is 2 s; half a second more for the signal and the exit.
        took = d.stop(limit=2.5)
        os.close(reader)
    print("blocked output: stopped in {:.2f} s".format(took))


def write_lines(path, ips, mode="a"):
    with open(path, mode) as f:
        for ip in ips:
            f.write(line(ip) + "\n")


def ips(start, n):
    return ["10.9.%d.%d" % ((start + i) // 250, (start + i) % 250) for i in range(n)]


def tail_cmd(args, work, log, state, out, extra=()):
    return ["tail", "--signatures", args.signatures, "--state-file", state, "--output", out,
            "--poll-interval", "50", "--log-level", "info"] + list(extra) + [log]



def peer_ips(path):
    with open(path) as f:
        return [json.loads(l)["fields"]["peer_ip"] for l in f if l.endswith("\n")]


def scenario_tail_rotation(args, work):
    log = os.path.join(work, "asa.log")
    state = os.path.join(work, "positions")
    out = os.path.join(work, "tail.jsonl")
    write_lines(log, ips(0, 5))  # before we start: not read (tail starts at the end)
    t = Daemon(args, work, "tail", tail_cmd(args, work, log, state, out))
    expected = []
    try:
        wait_for(lambda: os.path.exists(state), 15, "tail started (its first position saved)")
        batch = ips(100, 20)
        write_lines(log, batch)
        expected += batch
        wait_for(lambda: os.path.exists(out) and len(peer_ips(out)) >= 20, 10, "first batch")
        # logrotate without copytruncate: rename, then create.
        write_lines(log, ips(200, 10))
        expected += ips(200, 10)
        os.rename(log, log + ".1")
        write_lines(log + ".1", ips(300, 5))  # the writer has not reopened yet
        expected += ips(300, 5)
        write_lines(log, ips(400, 10), mode="w")
        expected += ips(400, 10)
        wait_for(lambda: len(peer_ips(out)) >= len(expected), 10, "after rename+create")
        # logrotate with copytruncate.
        time.sleep(0.2)
        shutil.copyfile(log, log + ".2")
        with open(log, "r+") as f:
            f.truncate(0)
        time.sleep(0.3)
        write_lines(log, ips(500, 10))
        expected += ips(500, 10)
        wait_for(lambda: len(peer_ips(out)) >= len(expected), 10, "after copytruncate")
        t.stop()
    finally:
        t.kill()
    got = peer_ips(out)
    check(sorted(got) == sorted(expected), "tail lost or repeated lines:\n got {}\n want {}".format(got, expected))

    # serve follows the same way, with the file as a configured source.
    cfg = os.path.join(work, "files.yaml")
    log2 = os.path.join(work, "later.log")  # appears after the start
    with open(cfg, "w") as f:
        f.write('listeners: []\nfiles:\n  - {}\nstate_file: {}\npoll_interval: 50\n'.format(log2, state + ".serve"))
    d = Daemon.serve(args, work, ["--config", cfg], name="servefiles")
    try:
        time.sleep(0.3)
        write_lines(log2, ips(600, 3))
        got = d.wait_diagnoses(3)
        check(got[0]["evidence"][0]["source"] == "file:{}:1".format(log2), "file source: " + str(got[0]["evidence"]))
        check(d.metric("tunneldoc_file_lines_total") == 3, "file lines metric")
    finally:
        d.stop()


def scenario_tail_restart(args, work):
    log = os.path.join(work, "asa.log")
    state = os.path.join(work, "positions")
    out = os.path.join(work, "tail.jsonl")
    write_lines(log, ips(0, 3))
    expected = ips(0, 3)
    cmd = tail_cmd(args, work, log, state, out, ["--from-start"])
    t = Daemon(args, work, "tail1", cmd)
    try:
        wait_for(lambda: os.path.exists(out) and len(peer_ips(out)) >= 3, 10, "start")
        write_lines(log, ips(10, 10))
        expected += ips(10, 10)
        wait_for(lambda: len(peer_ips(out)) >= len(expected), 10, "batch")
        t.stop()
    finally:
        t.kill()
    # While stopped: more lines, then a rotation, then lines in the new file.
    write_lines(log, ips(30, 7))
    expected += ips(30, 7)
    os.rename(log, log + ".1")
    write_lines(log, ips(50, 4), mode="w")
    expected += ips(50, 4)
    t = Daemon(args, work, "tail2", cmd)
    try:
        wait_for(lambda: len(peer_ips(out)) >= len(expected), 10, "after restart")
        time.sleep(0.3)
        # Restart again with nothing new: nothing repeated.
        t.stop()
    finally:
        t.kill()
    t = Daemon(args, work, "tail3", cmd)
    try:
        time.sleep(0.6)
        write_lines(log, ips(70, 2))
        expected += ips(70, 2)
        wait_for(lambda: len(peer_ips(out)) >= len(expected), 10, "third run")
        time.sleep(0.3)
        t.stop()
    finally:
        t.kill()
    got = peer_ips(out)
    check(got == expected, "restart lost or repeated lines:\n got {}\n want {}".format(got, expected))


def scenario_config_errors(args, work):
    cfg = os.path.join(work, "bad.yaml")
    with open(cfg, "w") as f:
        f.write('listeners:\n  - {type: udp, address: "127.0.0.1"}\n  - {type: tcp, address: "127.0.0.1:0"}\n'
                'threads: 0\n')
    r = subprocess.run([args.binary, "serve", "--config", cfg, "--signatures", args.signatures],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 2, "bad configuration exits 2, got {}".format(r.returncode))
    check("bad.yaml:2:" in r.stderr and "bad.yaml:4:" in r.stderr, "every error with its line:\n" + r.stderr)
    check("listening" not in r.stderr, "nothing bound")

    empty = os.path.join(work, "emptykb")
    os.makedirs(os.path.join(empty, "rules"))
    with open(os.path.join(empty, "rules", "x.yaml"), "w") as f:
        f.write("signatures: [\n")
    r = subprocess.run([args.binary, "serve", "--udp", "127.0.0.1:0", "--metrics", "off", "--signatures", empty],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "does not load" in r.stderr, "broken knowledge base at start: " + r.stderr)

    r = subprocess.run([args.binary, "serve", "--udp", "127.0.0.1:0", "--signatures", args.signatures,
                        "--check-config"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 0, "--check-config: " + r.stderr)

    # A port in use: a clear message, exit 1.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    r = subprocess.run([args.binary, "serve", "--tcp", "127.0.0.1:%d" % s.getsockname()[1], "--metrics", "off",
                        "--signatures", args.signatures], capture_output=True, text=True, timeout=20)
    s.close()
    check(r.returncode == 1 and "cannot listen" in r.stderr, "port in use: {} {}".format(r.returncode, r.stderr))


def scenario_language(args, work):
    """serve: language and versions from the configuration, --version-of overriding one platform;
    the records the output sink encodes carry them."""
    cfg = os.path.join(work, "lang.yaml")
    with open(cfg, "w") as f:
        f.write('language: zh-TW\nversions: {asa: "8.2", ios: "15.4"}\nlisteners: []\n')
    d = Daemon.serve(args, work, ["--config", cfg, "--udp", "127.0.0.1:0", "--version-of", "asa=9.16"])
    try:
        logger("-P", str(d.port("udp")), "--udp", message=MSG.format(ip="203.0.113.9"))
        got = d.wait_diagnoses(1)[0]
        check(got["signature"] == SIG, "signature: {}".format(got["signature"]))
        check(got["lang"] == "zh-TW", "lang: {}".format(got["lang"]))
        check(any("\u4e00" <= ch <= "\u9fff" for ch in got["title"]), "title in Chinese: " + got["title"])
        ts = [r for r in got["remedies"] if r["section"] == "transform-set"]
        check(len(ts) == 1, "transform-set remedy")
        asa = ts[0]["commands"]["asa"]
        check(any("ikev1" in c for c in asa), "9.16 (the command line) wins over 8.2: {}".format(asa))
        check(not any(c.endswith("set transform-set <ts-name>") and "ikev1" not in c for c in asa),
              "no pre-8.4 command: {}".format(asa))
        check(all(g["versions"] != "<8.4" for g in ts[0]["command_groups"]), "no <8.4 group")
        # The language is set at start: a reload that changes it says so and keeps the old one.
        with open(cfg, "w") as f:
            f.write('language: en\nlisteners: []\n')
        d.signal(signal.SIGHUP)
        wait_for(lambda: "need a restart: language; versions" in d.stderr(), 10, "the reload's warning")
        check(d.metric("tunneldoc_reload_restart_needed") == 2, "two changes wait for a restart")
        logger("-P", str(d.port("udp")), "--udp", message=MSG.format(ip="203.0.113.10"))
        again = d.wait_diagnoses(2)[1]
        check(again["lang"] == "zh-TW", "language after the reload: {}".format(again["lang"]))
    finally:
        d.stop()
    r = subprocess.run([args.binary, "serve", "--signatures", args.signatures, "--udp", "127.0.0.1:0",
                        "--metrics", "off", "--version-of", "asa=newest"], capture_output=True, text=True, timeout=20)
    check(r.returncode != 0 and "not a software version" in r.stderr, "bad --version-of: " + r.stderr)


def run_scenario(scope, prefix, extra_args=()):
    """SCENARIO --binary PATH --signatures DIR [extra_args]: runs scope["scenario_" + SCENARIO](args, workdir)
    in a fresh directory; on failure prints the daemons' stderr and exits 1."""
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--binary", required=True)
    p.add_argument("--signatures", required=True)
    for a in extra_args:
        p.add_argument(a, required=True)
    args = p.parse_args()
    fn = scope.get("scenario_" + args.scenario)
    if fn is None:
        sys.exit("unknown scenario " + args.scenario)
    work = tempfile.mkdtemp(prefix=prefix)
    start = time.time()
    try:
        fn(args, work)
    except AssertionError as e:
        print("FAIL {}: {}".format(args.scenario, e))
        for fn_ in sorted(os.listdir(work)):
            if fn_.endswith(".stderr"):
                print("--- " + fn_)
                print(open(os.path.join(work, fn_), errors="replace").read()[-4000:])
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("ok {} ({:.1f} s)".format(args.scenario, time.time() - start))


def main():
    run_scenario(globals(), "tunneldoc-it-")


if __name__ == "__main__":
    main()
