#!/usr/bin/env python3
"""docs/diagnosis.schema.json describes what tunneldoc really writes.

1. Every record `tunneldoc scan` writes for the bundled sample, the golden
   inputs and the knowledge-base evaluation lines validates against the schema,
   and its section slugs are in the catalogue.
2. The example records of docs/diagnosis-record.md (one per kind: line,
   correlated, incident) validate too.
3. The schema is not vacuous: records broken the ways a consumer would notice
   (a field missing, an unknown kind, an incident without its id, a resolved
   incident without a resolution) are rejected.
4. Every field the schema names is explained in docs/diagnosis-record.md.
5. The diagnosis the README shows whole is what scan really writes for its line
   (the structure: signature, kind, fields, sections, host, time..., not the prose,
   which the knowledge base may reword).

Usage: schema_test.py --binary PATH --source DIR
"""
import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("FAIL: the Python module jsonschema is missing (Debian: python3-jsonschema, scripts/setup.sh)")
    sys.exit(1)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def scan(binary, source, paths, extra=()):
    p = subprocess.run([binary, "scan", "--signatures", os.path.join(source, "signatures")] + list(extra) + paths,
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail("tunneldoc scan exited {}: {}".format(p.returncode, p.stderr))
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def doc_examples(doc):
    """The ```json blocks of the guide that hold one record each."""
    out = []
    for block in re.findall(r"```json\n(.*?)```", doc, re.S):
        obj = json.loads(block)
        if isinstance(obj, dict) and obj.get("schema") == "tunneldoc.diagnosis/1":
            out.append(obj)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    schema = json.load(open(os.path.join(a.source, "docs", "diagnosis.schema.json")))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def errors(record):
        return sorted(e.message for e in validator.iter_errors(record))

    slugs = set()
    with open(os.path.join(a.source, "signatures", "catalogue.tsv")) as f:
        next(f)
        slugs = {l.split("\t")[0] for l in f if l.strip()}

    inputs = [os.path.join(a.source, "samples", "asa-vpn.log")] + sorted(
        glob.glob(os.path.join(a.source, "tests", "golden", "*.log")))
    records = scan(a.binary, a.source, inputs)
    # Every kind of record: the correlator over a recorded log, as every change
    # of state (--stream all) and as the final state of each incident (--incidents).
    recorded = [os.path.join(a.source, "tests", "golden", "incidents.all.log")]
    records += scan(a.binary, a.source, recorded, ["--stream", "all"])
    records += scan(a.binary, a.source, recorded, ["--incidents"])
    # The evaluation set's lines: one of each diagnosis the knowledge base makes.
    eval_lines = []
    with open(os.path.join(a.source, "tests", "kb", "eval.tsv")) as f:
        for l in f:
            if l.startswith("#") or "\t" not in l:
                continue
            eval_lines.append(l.split("\t")[-1].rstrip("\n").replace("\\n", "\n"))
    p = subprocess.run([a.binary, "scan", "--signatures", os.path.join(a.source, "signatures")],
                       input="\n".join(eval_lines) + "\n", capture_output=True, text=True, timeout=120)
    records += [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    for kind in ("line", "correlated", "incident"):
        if not any(r["kind"] == kind for r in records):
            fail("scan wrote no {} record".format(kind))
    if len(records) < 20:
        fail("expected scan to diagnose at least 20 lines, got {}".format(len(records)))
    kinds = set()
    for r in records:
        e = errors(r)
        if e:
            fail("a record scan wrote does not validate: {}\n{}".format(e, json.dumps(r)[:600]))
        unknown = set(r["sections"]) - slugs
        if unknown:
            fail("sections outside the catalogue: {}".format(unknown))
        kinds.add(r["kind"])
    print("{} records from scan validate (kinds: {}; {} signatures)".format(
        len(records), ", ".join(sorted(kinds)), len({r["signature"] for r in records})))

    doc = open(os.path.join(a.source, "docs", "diagnosis-record.md")).read()
    examples = doc_examples(doc)
    by_kind = {}
    for ex in examples:
        e = errors(ex)
        if e:
            fail("the {} example of docs/diagnosis-record.md does not validate: {}".format(ex.get("kind"), e))
        by_kind.setdefault(ex["kind"], ex)
    for kind in ("line", "correlated", "incident"):
        if kind not in by_kind:
            fail("docs/diagnosis-record.md has no example of a {} record".format(kind))
    print("{} examples of docs/diagnosis-record.md validate".format(len(examples)))

    line = records[0]
    broken = []
    for field in schema["required"]:
        r = copy.deepcopy(line)
        del r[field]
        broken.append(("without " + field, r))
    r = copy.deepcopy(line); r["kind"] = "guess"; broken.append(("kind guess", r))
    r = copy.deepcopy(line); r["severity"] = 9; broken.append(("severity 9", r))
    r = copy.deepcopy(line); r["evidence"][0]["source"] = "somewhere"; broken.append(("bad source", r))
    r = copy.deepcopy(line); r["time"] = "Nov 26 09:20:11"; broken.append(("time not RFC 3339", r))
    inc = by_kind["incident"]
    r = copy.deepcopy(inc); del r["incident"]["id"]; broken.append(("incident without id", r))
    r = copy.deepcopy(inc); del r["incident"]; broken.append(("incident record without its incident", r))
    r = copy.deepcopy(inc); r["incident"]["state"] = "resolved"; r["incident"]["resolution"] = None
    broken.append(("resolved incident without resolution", r))
    r = copy.deepcopy(inc); r["incident"]["state"] = "open"; r["incident"]["resolution"] = "quiet"
    broken.append(("open incident with a resolution", r))
    cor = by_kind["correlated"]
    r = copy.deepcopy(cor); r["incident"] = inc["incident"]; broken.append(("correlated with an incident", r))
    r = copy.deepcopy(line); r["evidence"] = r["evidence"] * 2; broken.append(("line with two lines, no rule", r))
    for what, r in broken:
        if not errors(r):
            fail("the schema accepts a record {}".format(what))
    print("{} broken records are rejected".format(len(broken)))

    def names(node):
        out = set()
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "properties":
                    out |= set(v)
                out |= names(v)
        elif isinstance(node, list):
            for v in node:
                out |= names(v)
        return out

    undocumented = sorted(n for n in names(schema) if "`{}`".format(n) not in doc)
    if undocumented:
        fail("docs/diagnosis-record.md does not explain: {}".format(", ".join(undocumented)))
    print("every field of the schema is explained in docs/diagnosis-record.md")

    readme = open(os.path.join(a.source, "README.md")).read()
    shown = doc_examples(readme)
    if len(shown) != 1:
        fail("README.md should show exactly one diagnosis record, it shows {}".format(len(shown)))
    shown = shown[0]
    e = errors(shown)
    if e:
        fail("the README's record does not validate: {}".format(e))
    p = subprocess.run([a.binary, "scan", "--signatures", os.path.join(a.source, "signatures")],
                       input=shown["evidence"][0]["line"] + "\n", capture_output=True, text=True, timeout=60)
    real = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if len(real) != 1:
        fail("scan of the README's line gave {} records".format(len(real)))
    real = real[0]
    for field in ("schema", "time", "host", "message_id", "severity", "signature", "kind", "confidence", "sections",
                  "fields", "count"):
        if shown[field] != real[field]:
            fail("README shows {} = {!r}, scan writes {!r}".format(field, shown[field], real[field]))
    if [r["section"] for r in shown["remedies"]] != [r["section"] for r in real["remedies"]]:
        fail("README's remedies are not the sections scan gives")
    print("the README's diagnosis is what scan writes for its line")
    print("ok")


if __name__ == "__main__":
    main()
