#!/usr/bin/env python3
"""A flood of distinct peers against `tunneldoc serve`: the correlator's state
stays bounded (max_tracked, least recently used evicted and counted) and so
does the daemon's memory.

Starts serve on loopback (UDP, metrics on an ephemeral port, the default
incidents stream to /dev/null), sends N diagnoses from N distinct peer
addresses over UDP at a paced rate, waits until the daemon has processed every
datagram it received, and prints peak RSS (VmHWM), open incidents and the
eviction counter. Not a test: a measurement for docs and closing notes.

Usage: flood_peers.py --binary build-rel/tunneldoc --signatures signatures [-n 100000] [--rate 20000]
"""
import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        out = {}
        for line in r.read().decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out


def metric(m, prefix, contains=""):
    return sum(v for k, v in m.items() if k.startswith(prefix) and contains in k)


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # KiB
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--signatures", required=True)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--rate", type=int, default=20000, help="datagrams per second")
    ap.add_argument("--max-tracked", type=int, default=0, help="0: the default (50,000)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tunneldoc-flood-")
    ready = os.path.join(work, "ready.json")
    cmd = [a.binary, "serve", "--signatures", a.signatures, "--udp", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
           "--ready-file", ready, "--output", "/dev/null", "--log-level", "warn"]
    if a.max_tracked:
        cfg = os.path.join(work, "flood.yaml")
        with open(cfg, "w") as f:
            f.write("incidents:\n  max_tracked: %d\n" % a.max_tracked)
        cmd += ["--config", cfg]
    proc = subprocess.Popen(cmd, stderr=open(os.path.join(work, "stderr"), "w"))
    deadline = time.time() + 30
    while not os.path.exists(ready):
        if time.time() > deadline or proc.poll() is not None:
            raise SystemExit("serve did not start: " + open(os.path.join(work, "stderr")).read())
        time.sleep(0.05)
    info = json.load(open(ready))
    udp = [l["port"] for l in info["listeners"] if l["transport"] == "udp"][0]
    mport = info["metrics"]["port"]
    rss_idle = vm(proc.pid, "VmRSS")

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    start = time.time()
    for i in range(a.n):
        peer = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
        msg = ("<165>Nov 26 2026 10:00:00 hq-asa : %%ASA-5-713904: IP = %s, Received an un-encrypted "
               "NO_PROPOSAL_CHOSEN notify message, drop" % peer)
        s.sendto(msg.encode(), ("127.0.0.1", udp))
        if i % 1000 == 999:
            ahead = (i + 1) / a.rate - (time.time() - start)
            if ahead > 0:
                time.sleep(ahead)
    sent_in = time.time() - start
    # Wait until every datagram the daemon received is processed.
    last, same = -1, 0
    while same < 10:
        m = metrics(mport)
        got = metric(m, "tunneldoc_messages_processed_total")
        same = same + 1 if got == last else 0
        last = got
        time.sleep(0.1)
    m = metrics(mport)
    result = {
        "sent": a.n,
        "send_seconds": round(sent_in, 2),
        "processed": int(metric(m, "tunneldoc_messages_processed_total")),
        "kernel_drops": int(metric(m, "tunneldoc_udp_kernel_drops_total")),
        "incidents_open": int(metric(m, "tunneldoc_incidents_open")),
        "evicted": int(metric(m, "tunneldoc_correlator_evicted_total", 'what="incidents"')),
        "rss_idle_mib": round(rss_idle / 1024, 1),
        "rss_peak_mib": round(vm(proc.pid, "VmHWM") / 1024, 1),
    }
    proc.terminate()
    proc.wait(timeout=30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
