#!/usr/bin/env python3
"""docs/writing-signatures.md works as written: its signature, added to a copy
of the knowledge base, passes `tunneldoc check`; its line is unknown to the
shipped knowledge base and diagnosed, with the documented fields, by the
extended one; and `check` rejects the signature when its example is wrong.

Usage: signature_guide_test.py --binary PATH --signatures DIR --doc FILE
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--signatures", required=True)
    ap.add_argument("--doc", required=True)
    a = ap.parse_args()
    doc = open(a.doc).read()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if b.startswith("signatures:")]
    if len(blocks) != 1:
        fail("expected one signatures: block in the guide, found {}".format(len(blocks)))
    snippet = blocks[0]
    sig_id = re.search(r"- id: (\S+)", snippet).group(1)
    line = re.search(r"line: '(.*)'", snippet).group(1)

    p = run([a.binary, "scan", "--signatures", a.signatures], line + "\n")
    if sig_id in p.stdout:
        fail("the shipped knowledge base already knows {}: the guide needs a new example".format(sig_id))
    p = run([a.binary, "explain", "--signatures", a.signatures, line])
    if p.returncode != 1:
        fail("the guide says explain finds nothing for the line (exit 1); it exited {}".format(p.returncode))

    work = tempfile.mkdtemp(prefix="tunneldoc-guide-")
    try:
        kb = os.path.join(work, "signatures")
        shutil.copytree(a.signatures, kb)
        with open(os.path.join(kb, "rules", "zz-guide.yaml"), "w") as f:
            f.write(snippet)
        p = run([a.binary, "check", kb])
        if p.returncode != 0:
            fail("tunneldoc check rejects the guide's signature: {}{}".format(p.stdout, p.stderr))
        p = run([a.binary, "scan", "--signatures", kb], line + "\n")
        recs = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
        if len(recs) != 1 or recs[0]["signature"] != sig_id:
            fail("scan with the guide's signature gave {}".format([r.get("signature") for r in recs]))
        documented = re.search(r"fields: \{(.*)\}", snippet).group(1)
        want = dict(kv.split(": ", 1) for kv in documented.split(", "))
        if recs[0]["fields"] != want:
            fail("fields {} differ from the guide's {}".format(recs[0]["fields"], want))
        key = re.search(r'keys: \["(\w+)"\]', snippet).group(1)
        p = run([a.binary, "explain", "--signatures", kb, key])
        if p.returncode != 0 or sig_id not in p.stdout:
            fail("explain {} does not find the new signature: {}".format(key, p.stdout[:300]))
        # check is not a rubber stamp: a wrong field in the example is reported.
        with open(os.path.join(kb, "rules", "zz-guide.yaml"), "w") as f:
            f.write(snippet.replace("user: alice", "user: bob"))
        p = run([a.binary, "check", kb])
        if p.returncode == 0 or "zz-guide.yaml" not in p.stdout + p.stderr:
            fail("check accepted an example with a wrong field: {}{}".format(p.stdout, p.stderr))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("the guide's signature {} checks, diagnoses its line with the documented fields, "
          "and check rejects a wrong example".format(sig_id))
    print("ok")


if __name__ == "__main__":
    main()
