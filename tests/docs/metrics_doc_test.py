#!/usr/bin/env python3
"""Every metric a running `tunneldoc serve` exports is explained in
docs/troubleshooting.md (its metrics table), so the guide cannot fall behind.

Starts serve with a UDP and a TCP listener, a followed file and a spooled
syslog sink on loopback,
waits for its ready file (deadline), scrapes /metrics once, stops it.

Usage: metrics_doc_test.py --binary PATH --signatures DIR --doc FILE
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--signatures", required=True)
    ap.add_argument("--doc", required=True)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tunneldoc-metrics-doc-")
    followed = os.path.join(work, "asa.log")
    open(followed, "w").close()
    ready = os.path.join(work, "ready.json")
    proc = subprocess.Popen([a.binary, "serve", "--signatures", a.signatures, "--udp", "127.0.0.1:0", "--tcp",
                             "127.0.0.1:0", "--file", followed, "--metrics", "127.0.0.1:0", "--output",
                             os.path.join(work, "out.jsonl"), "--ready-file", ready,
                             # a network sink with a disk spool: every sink family is exported
                             "--state-dir", os.path.join(work, "state"), "--sink", "syslog+udp://127.0.0.1:9"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        info = None
        while info is None:
            if proc.poll() is not None:
                print("FAIL: serve exited with {}".format(proc.returncode))
                sys.exit(1)
            if time.time() > deadline:
                print("FAIL: serve did not write its ready file within 20 s")
                sys.exit(1)
            try:
                with open(ready) as f:
                    info = json.load(f)
            except (OSError, ValueError):
                time.sleep(0.05)
        m = info["metrics"]
        with urllib.request.urlopen("http://{}:{}/metrics".format(m["address"], m["port"]), timeout=10) as r:
            body = r.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    names = sorted({l.split()[2] for l in body.splitlines() if l.startswith("# TYPE ")})
    if len(names) < 10:
        print("FAIL: only {} metric families exported: {}".format(len(names), names))
        sys.exit(1)
    doc = open(a.doc).read()
    missing = [n for n in names if "`{}`".format(n) not in doc]
    if missing:
        print("FAIL: {} does not explain: {}".format(a.doc, ", ".join(missing)))
        sys.exit(1)
    print("{} metric families, all explained in {}".format(len(names), os.path.basename(a.doc)))
    print("ok")


if __name__ == "__main__":
    main()
