#!/usr/bin/env python3
"""Scale-out behind a relay: a real syslog-ng (Debian's syslog-ng-core) receives
every device's syslog and hashes the sending host ($(sha1 $HOST)) to one of
two `tunneldoc serve` instances, with the relay configuration of
docs/scale-out.md (packaging/scale-out/syslog-ng-relay.conf).

Checks that every device's lines land on exactly one instance, that none is
lost or repeated, and that a restarted instance gets its own devices back
(the relay keeps their lines while it is down) while the other instance never
sees them.

Usage: scale_out_test.py --binary PATH --signatures DIR --relay-config FILE
Everything listens on 127.0.0.1; every wait has a deadline.
"""
import argparse
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon_test import fail, wait_for  # noqa: E402  (the same waiting rules as the other daemon tests)

DEVICES = 40
LINES_PER_DEVICE = 25


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tcp_listening(port):
    """True once something listens on 127.0.0.1:port (the kernel's table, no connection made)."""
    needle = ":{:04X} ".format(port)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f.readlines()[1:]:
                    parts = line.split()
                    if parts[1].endswith(needle.strip()) and parts[3] == "0A":
                        return True
        except OSError:
            pass
    return False


class Instance:
    """One `tunneldoc serve` with a TCP listener, its output file and ready file."""

    def __init__(self, args, work, name, port=0):
        self.args, self.work, self.name = args, work, name
        self.output = os.path.join(work, name + ".jsonl")
        self.start(port)

    def start(self, port):
        ready = os.path.join(self.work, self.name + ".ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.err = open(os.path.join(self.work, self.name + ".stderr"), "a")
        self.proc = subprocess.Popen(
            [self.args.binary, "serve", "--signatures", self.args.signatures, "--tcp",
             "127.0.0.1:{}".format(port), "--metrics", "off", "--output", self.output, "--ready-file", ready,
             "--log-level", "info"], stdout=subprocess.DEVNULL, stderr=self.err)

        def read_ready():
            if self.proc.poll() is not None:
                fail("{} exited with {}".format(self.name, self.proc.returncode))
            try:
                with open(ready) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None

        info = wait_for(read_ready, 20, self.name + " to bind (ready file)")
        self.port = info["listeners"][0]["port"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=15)
        if rc != 0:
            fail("{} exited {} on SIGTERM".format(self.name, rc))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def records(self):
        out = []
        if os.path.exists(self.output):
            with open(self.output) as f:
                out = [json.loads(l) for l in f if l.endswith("\n")]
        return out


def device_line(device, seq):
    # What an ASA with `logging device-id hostname` sends; the peer address makes every line unique.
    return ("<165>Nov 26 09:20:{:02d} {} %ASA-5-713904: IP = 10.{}.{}.{}, Received an un-encrypted "
            "NO_PROPOSAL_CHOSEN notify message, drop\n").format(seq % 60, device, device_index(device), seq // 250,
                                                                seq % 250)


def device_index(device):
    return int(device.rsplit("-", 1)[1])


def send(port, lines):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall("".join(lines).encode())


def key(record):
    return (record["host"], record["fields"]["peer_ip"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--signatures", required=True)
    ap.add_argument("--relay-config", required=True)
    a = ap.parse_args()
    if shutil.which("syslog-ng") is None:
        fail("syslog-ng is not installed (Debian: syslog-ng-core; scripts/setup.sh installs it)")

    work = tempfile.mkdtemp(prefix="tunneldoc-scale-out-")
    instances, relay = [], None
    try:
        instances = [Instance(a, work, "td0"), Instance(a, work, "td1")]
        relay_port = free_port()
        # The documented relay configuration, with this test's ports and directories filled in.
        conf = open(a.relay_config).read()
        for k, v in {"@RELAY_PORT@": relay_port, "@TD0_PORT@": instances[0].port, "@TD1_PORT@": instances[1].port,
                     "@RELAY_ADDRESS@": "127.0.0.1", "@TD0_ADDRESS@": "127.0.0.1",
                     "@TD1_ADDRESS@": "127.0.0.1", "@WORKDIR@": work}.items():
            conf = conf.replace(k, str(v))
        if "@" in conf.replace("@version", ""):
            fail("an unfilled placeholder is left in the relay configuration")
        conf_path = os.path.join(work, "relay.conf")
        with open(conf_path, "w") as f:
            f.write(conf)
        relay_err = open(os.path.join(work, "relay.stderr"), "w")
        relay = subprocess.Popen(
            ["syslog-ng", "-F", "--no-caps", "-f", conf_path, "--persist-file", os.path.join(work, "relay.persist"),
             "--control", os.path.join(work, "relay.ctl"), "--pidfile", os.path.join(work, "relay.pid")],
            stdout=subprocess.DEVNULL, stderr=relay_err)
        wait_for(lambda: relay.poll() is not None and fail("syslog-ng exited: " + open(relay_err.name).read())
                 or tcp_listening(relay_port), 20, "syslog-ng to listen")

        devices = ["asa-{:03d}".format(i) for i in range(DEVICES)]
        sent = set()
        # Devices interleaved, one TCP connection per device, as firewalls would.
        for d in devices:
            lines = [device_line(d, s) for s in range(LINES_PER_DEVICE)]
            send(relay_port, lines)
            sent |= {(d, "10.{}.{}.{}".format(device_index(d), s // 250, s % 250)) for s in range(LINES_PER_DEVICE)}

        def all_in():
            got = instances[0].records() + instances[1].records()
            return len(got) >= len(sent) and got

        wait_for(all_in, 60, "{} diagnoses across the two instances".format(len(sent)))
        per = [instances[0].records(), instances[1].records()]
        owner = {}
        for i, recs in enumerate(per):
            for r in recs:
                if r["signature"] != "asa-713904-no-proposal-chosen":
                    fail("unexpected diagnosis {}".format(r["signature"]))
                prev = owner.setdefault(r["host"], i)
                if prev != i:
                    fail("device {} landed on both instances".format(r["host"]))
        got = [key(r) for recs in per for r in recs]
        dups = [k for k, n in collections.Counter(got).items() if n > 1]
        if dups:
            fail("lines delivered twice: {}".format(dups[:5]))
        if set(got) != sent:
            fail("lost: {}; unexpected: {}".format(sorted(sent - set(got))[:5], sorted(set(got) - sent)[:5]))
        counts = [len({r["host"] for r in recs}) for recs in per]
        if 0 in counts:
            fail("one instance received no device at all: {}".format(counts))
        print("phase 1: {} lines from {} devices: instance 0 has {} devices, instance 1 has {}; "
              "each device on exactly one, none lost or repeated".format(len(sent), DEVICES, *counts))

        # Phase 2: instance 1 restarts. Its devices' lines wait in the relay and
        # reach it (not instance 0) once it is back on the same port.
        ones = sorted(d for d, i in owner.items() if i == 1)
        port1 = instances[1].port
        before = [len(per[0]), len(per[1])]
        instances[1].stop()
        wait_for(lambda: not tcp_listening(port1), 10, "instance 1 to close its port")
        extra = set()
        for d in devices:
            lines = [device_line(d, s) for s in range(LINES_PER_DEVICE, LINES_PER_DEVICE + 5)]
            send(relay_port, lines)
            extra |= {(d, "10.{}.{}.{}".format(device_index(d), s // 250, s % 250))
                      for s in range(LINES_PER_DEVICE, LINES_PER_DEVICE + 5)}
        zeros_extra = {k for k in extra if owner[k[0]] == 0}
        wait_for(lambda: len(instances[0].records()) >= before[0] + len(zeros_extra), 30,
                 "instance 0 to get its own devices' new lines while instance 1 is down")
        instances[1].start(port1)
        wait_for(lambda: len(instances[1].records()) >= before[1] + len(extra) - len(zeros_extra), 60,
                 "the relay to deliver instance 1's held lines after its restart")
        per = [instances[0].records(), instances[1].records()]
        for i, recs in enumerate(per):
            for r in recs:
                if owner[r["host"]] != i:
                    fail("after the restart, device {} landed on instance {}".format(r["host"], i))
        got = [key(r) for recs in per for r in recs]
        if len(got) != len(set(got)):
            fail("lines delivered twice after the restart")
        if set(got) != sent | extra:
            fail("lost after the restart: {}".format(sorted((sent | extra) - set(got))[:5]))
        print("phase 2: instance 1 restarted; {} lines of its {} devices were held by the relay and "
              "delivered to it, none to instance 0, none lost".format(len(extra) - len(zeros_extra), len(ones)))
        print("ok")
    except Exception:
        for name in ("relay.stderr", "td0.stderr", "td1.stderr"):
            p = os.path.join(work, name)
            if os.path.exists(p):
                sys.stderr.write("--- {}\n{}".format(name, open(p).read()[-3000:]))
        raise
    finally:
        if relay is not None and relay.poll() is None:
            relay.terminate()
            try:
                relay.wait(timeout=10)
            except subprocess.TimeoutExpired:
                relay.kill()
        for i in instances:
            i.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
