#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the tests: fuzz/seeds.py OUTDIR
writes OUTDIR/<target>/<n> files. Lines come from the golden files, the sample,
the knowledge-base evaluation set and negative corpus, and the signatures'
inline examples; YAML from the knowledge base and the test knowledge bases;
configurations from packaging/ and the integration tests."""
import glob
import os
import re
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def lines():
    out = []
    for pattern in ("tests/golden/*.log", "samples/*.log", "tests/kb/negative.log"):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path, "rb") as f:
                out += [l.rstrip(b"\n") for l in f if l.strip()]
    with open(os.path.join(ROOT, "tests/kb/eval.tsv"), "rb") as f:
        out += [l.split(b"\t")[0] for l in f if l.strip() and not l.startswith(b"#")]
    for path in sorted(glob.glob(os.path.join(ROOT, "signatures/**/*.yaml"), recursive=True)):
        with open(path, "rb") as f:
            out += [m.group(2) for m in re.finditer(rb"- line: (['\"])(.*?)\1\s*$", f.read(), re.M)]
    seen, unique = set(), []
    for l in out:
        if l not in seen:
            seen.add(l)
            unique.append(l)
    return unique


def write(outdir, target, items):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        with open(os.path.join(d, "%04d" % i), "wb") as f:
            f.write(data)
    return len(items)


def control(max_frame, stream_ended, cuts):
    # FuzzedDataProvider takes integers from the end of the input, last byte first.
    tail = [max_frame & 0xFF, 1 if stream_ended else 0, len(cuts) - 1] + cuts
    return bytes(reversed(tail))


def main():
    outdir = sys.argv[1]
    ls = lines()
    counts = {}
    counts["parse_line"] = write(outdir, "parse_line", ls)
    streams = []
    for i in range(0, len(ls), 8):
        group = ls[i:i + 8]
        lf = b"".join(l + b"\n" for l in group)
        octets = b"".join(b"%d %s" % (len(l), l) for l in group)
        mixed = b"".join((b"%d %s" % (len(l), l)) if k % 2 else l + b"\r\n" for k, l in enumerate(group))
        for s in (lf, octets, mixed):
            streams.append(s + control(200, i % 2 == 0, [1 + (i % 60), 7, 33]))
    counts["framer"] = write(outdir, "framer", streams)
    yaml = []
    for pattern in ("signatures/rules/*.yaml", "tests/data/mini-kb/*.yaml", "tests/data/broken-kb/*.yaml"):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path, "rb") as f:
                yaml.append(f.read())
    counts["kb_loader"] = write(outdir, "kb_loader", yaml)
    configs = []
    with open(os.path.join(ROOT, "packaging/tunneldoc.yaml"), "rb") as f:
        configs.append(f.read())
    for path in glob.glob(os.path.join(ROOT, "tests/integration/*.cc")) + \
            glob.glob(os.path.join(ROOT, "tests/*/*.py")):
        with open(path, "rb") as f:
            text = f.read()
        configs += [m.group(1).replace(b"\\n", b"\n") for m in re.finditer(rb'R"\((listeners:.*?)\)"', text, re.S)]
        configs += [m.group(1).replace(b"\\n", b"\n") for m in re.finditer(rb'"(listeners:\\n.*?)"', text)]
    counts["config"] = write(outdir, "config", configs)
    renderer = [struct.pack("<I", i) + l for i, l in enumerate(ls[:200])]
    counts["json_renderer"] = write(outdir, "json_renderer", renderer)
    print(" ".join("{}={}".format(k, v) for k, v in counts.items()))


if __name__ == "__main__":
    main()
