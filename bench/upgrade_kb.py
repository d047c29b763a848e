#!/usr/bin/env python3
"""Makes an older knowledge base readable by this build, its content unchanged.

    bench/upgrade_kb.py OLD_SIGNATURES_DIR OUT_DIR

For bench/run.sh's SAME_SIGNATURES=: the baseline build and this one then load
the same sections, signatures and examples, and a timing compares their code
alone. Knowledge bases from before every signature had to name the source of
its wording (issue 10) lack `source:`; each signature without one gets
`source: 'troubleshooting-guide'`, the guide those knowledge bases were written
from. Nothing else is touched. Text edit, not a YAML round trip, so that
comments, layout and line numbers of problems stay readable; `tunneldoc check
OUT_DIR` says whether the result loads.
"""
import pathlib
import re
import shutil
import sys

SIGNATURE = re.compile(r"^(\s*)- id:\s")


def upgrade(text: str) -> str:
    lines = text.splitlines(keepends=True)
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        m = SIGNATURE.match(line)
        if not m:
            continue
        indent = m.group(1) + "  "
        # The signature's own keys: the lines up to the next entry of the list.
        j = i + 1
        has_source = False
        while j < len(lines) and not SIGNATURE.match(lines[j]):
            if lines[j].startswith(indent + "source:"):
                has_source = True
            j += 1
        if not has_source:
            out.append(f"{indent}source: 'troubleshooting-guide'\n")
    return "".join(out)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    if not (src / "rules").is_dir():
        print(f"{src}: no rules/ directory: not a knowledge base", file=sys.stderr)
        return 1
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    changed = 0
    for path in sorted((dst / "rules").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        new = upgrade(text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    print(f"{dst}: {changed} signature files given a source", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
