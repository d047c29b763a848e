#!/usr/bin/env python3
"""Memory per tracked device: peak RSS of `tunneldoc serve` after the same
number of diagnosed lines from 1 device and from many distinct devices
(header host names), over TCP on loopback. The difference divided by the
number of extra devices is what each tracked device costs (the sizing figure
of docs/scale-out.md).

  bench/devices_bench.py --binary build-perf/tunneldoc --signatures signatures \
      [--lines 200000] [--devices 1,10000,100000]

Each run: a fresh daemon, one TCP connection, the lines sent as fast as the
socket takes them; the run ends when tunneldoc_messages_processed_total says
every line was processed (deadline 120 s). Prints one row per device count.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def metric(info, name):
    m = info["metrics"]
    with urllib.request.urlopen("http://{}:{}/metrics".format(m["address"], m["port"]), timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def rss_kib(pid, field):
    with open("/proc/{}/status".format(pid)) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def run(args, devices, work):
    ready = os.path.join(work, "ready.json")
    if os.path.exists(ready):
        os.unlink(ready)
    proc = subprocess.Popen([args.binary, "serve", "--signatures", args.signatures, "--tcp", "127.0.0.1:0",
                             "--metrics", "127.0.0.1:0", "--output", os.devnull, "--ready-file", ready,
                             "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        info = None
        while info is None:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("serve did not start")
            try:
                with open(ready) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                time.sleep(0.05)
        base = rss_kib(proc.pid, "VmRSS")
        port = info["listeners"][0]["port"]
        lines = []
        for i in range(args.lines):
            d = i % devices
            lines.append("<165>Nov 26 09:20:11 asa-{:06d} %ASA-5-713904: IP = 10.{}.{}.{}, Received an "
                         "un-encrypted NO_PROPOSAL_CHOSEN notify message, drop\n".format(
                             d, d // 65536 % 256, d // 256 % 256, d % 256))
        start = time.time()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall("".join(lines).encode())
        deadline = time.time() + 120
        while metric(info, "tunneldoc_messages_processed_total") < args.lines:
            if time.time() > deadline:
                raise SystemExit("serve did not process every line within 120 s")
            time.sleep(0.05)
        took = time.time() - start
        return base, rss_kib(proc.pid, "VmRSS"), rss_kib(proc.pid, "VmHWM"), took
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--signatures", required=True)
    ap.add_argument("--lines", type=int, default=200000)
    ap.add_argument("--devices", default="1,10000,100000")
    args = ap.parse_args()
    counts = [int(x) for x in args.devices.split(",")]
    work = tempfile.mkdtemp(prefix="tunneldoc-devices-")
    rows = [(d,) + run(args, d, work) for d in counts]
    print("| devices | RSS at start KiB | RSS after KiB | peak RSS KiB | seconds | bytes per extra device |")
    print("|---:|---:|---:|---:|---:|---:|")
    first = rows[0]
    for d, base, after, peak, took in rows:
        per = "" if d == first[0] else "{:.0f}".format((after - first[2]) * 1024 / (d - first[0]))
        print("| {:,} | {:,} | {:,} | {:,} | {:.2f} | {} |".format(d, base, after, peak, took, per))


if __name__ == "__main__":
    main()
