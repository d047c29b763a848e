#!/usr/bin/env python3
"""Per-stage instruction split of a `tunneldoc scan` run under callgrind.

    bench/callgrind_stages.py PREFIX EMPTY.cg FULL.cg >> results.tsv

For each stage, the inclusive instructions of its entry function over the
corpus run minus the same over a run on an empty file (the knowledge-base load
parses and matches its own examples, so `match` and `parse` run there too).
Prints `PREFIX.stage.NAME<TAB>instructions` rows (bench/run.sh, bench/report.py).
A stage whose function is absent from a build (an older one) is left out.
"""
import re
import subprocess
import sys

# "  72,124,640 ( 6.41%)  FILE:FUNCTION [OBJECT]"
ROW = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$")

# Stage -> the start of its function's name as callgrind_annotate prints it.
STAGES = {
    "read": "tunneldoc::LineReader::next(",
    "recognize": "tunneldoc::Recognizer::recognize(",
    "parse": "tunneldoc::parse_line(",
    "match": "tunneldoc::Matcher::match(",
    "re2": "re2::RE2::Match(",
    "re2_set": "re2::RE2::Set::Match(re2::StringPiece const&, std::vector<int, std::allocator<int> >*, re2::RE2::Set::ErrorInfo*) const",
    "correlate": "tunneldoc::Correlator::process(",
    "intake": "tunneldoc::Sink::intake(",
    "render": "tunneldoc::JsonRenderer::render(",
    "deliver": "tunneldoc::Sink::deliver(",
    "malloc": "malloc [",
    "free": "free [",
    "kb_load": "tunneldoc::load_knowledge_base(",
}


def counts(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", path], capture_output=True, text=True,
                         check=True).stdout
    got = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        fn = m.group(2).split(":", 1)[1] if ":" in m.group(2) else m.group(2)  # drop "FILE:"
        for name, prefix in STAGES.items():
            if name not in got and fn.startswith(prefix):
                got[name] = int(m.group(1).replace(",", ""))
    return got


def main():
    prefix, empty_path, full_path = sys.argv[1:4]
    empty, full = counts(empty_path), counts(full_path)
    for name in STAGES:
        if name in full:
            value = full[name] if name == "kb_load" else full[name] - empty.get(name, 0)
            print(f"{prefix}.stage.{name}\t{value}")


if __name__ == "__main__":
    main()
