#!/usr/bin/env python3
"""Measure the UDP rate one sender reaches with no loss (not a test).

  udp_rate.py --binary build/tunneldoc --sender build/tests/integration/tunneldoc_udp_sender \
              --signatures signatures [--count 500000] [--rates 50000,100000,...]

Starts `tunneldoc serve` on a loopback ephemeral port, sends COUNT datagrams at
each paced rate (and once unpaced), and compares what the daemon counted
(tunneldoc_listener_messages_total) with what was sent, next to the kernel's
drop counters for our sockets and /proc/net/snmp's UDP RcvbufErrors.
"""
import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request


def snmp_udp():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    return dict(zip(rows[0][1:], map(int, rows[1][1:])))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--sender", required=True)
    p.add_argument("--signatures", required=True)
    p.add_argument("--count", type=int, default=500000)
    p.add_argument("--rates", default="50000,100000,150000,200000,250000,300000,400000,0")
    p.add_argument("--threads", default="2")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="tunneldoc-rate-")
    ready = os.path.join(work, "ready")
    cfg = os.path.join(work, "c.yaml")
    with open(cfg, "w") as f:
        f.write('threads: %s\nlisteners:\n  - {type: udp, address: "127.0.0.1:0"}\n' % a.threads)
    proc = subprocess.Popen([a.binary, "serve", "--config", cfg, "--signatures", a.signatures,
                             "--metrics", "127.0.0.1:0", "--ready-file", ready, "--output",
                             os.path.join(work, "out.jsonl"), "--log-level", "warn"])
    try:
        for _ in range(200):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        info = json.load(open(ready))
        port = info["listeners"][0]["port"]
        murl = "http://127.0.0.1:%d/metrics" % info["metrics"]["port"]

        def metric(prefix):
            body = urllib.request.urlopen(murl, timeout=5).read().decode()
            return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines()
                       if l.startswith(prefix))

        print("%10s %12s %10s %10s %12s %14s" % ("rate", "achieved/s", "sent", "received", "kernel drops",
                                                 "RcvbufErrors"))
        for rate in [int(r) for r in a.rates.split(",")]:
            before = metric("tunneldoc_listener_messages_total")
            drops_before = metric("tunneldoc_udp_kernel_drops_total")
            snmp_before = snmp_udp()
            out = subprocess.run([a.sender, str(port), str(a.count), str(rate)], capture_output=True,
                                 text=True, check=True).stdout
            achieved = float(out.split(":")[1].split("/s")[0])
            last, stable = -1, 0
            while stable < 4:  # until the count stops moving
                time.sleep(0.1)
                now = metric("tunneldoc_listener_messages_total")
                stable = stable + 1 if now == last else 0
                last = now
            got = int(last - before)
            drops = int(metric("tunneldoc_udp_kernel_drops_total") - drops_before)
            rcvbuf = snmp_udp()["RcvbufErrors"] - snmp_before["RcvbufErrors"]
            print("%10s %12.0f %10d %10d %12d %14d%s" % (rate or "unpaced", achieved, a.count, got, drops, rcvbuf,
                                                        "" if got == a.count else "   LOSS"))
        with open("/proc/%d/status" % proc.pid) as f:
            hwm = [l.split()[1] for l in f if l.startswith("VmHWM:")][0]
        print("peak RSS of serve (VmHWM): %.1f MiB" % (int(hwm) / 1024.0))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
