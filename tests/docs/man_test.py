#!/usr/bin/env python3
"""The man pages document every flag and every configuration key.

tunneldoc(8) against what the binary itself prints for `--help` (every
subcommand, every option and positional, its help text, its default), and
tunneldoc.yaml(5) against the packaged configuration (every key it sets or
shows commented out is documented in the right section) and against the
loader (a key the man page does not list is rejected). groff must format
both pages without a warning.

Usage: man_test.py --binary PATH --man-dir DIR --source DIR
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        fail("{} exited {}: {}".format(" ".join(cmd), p.returncode, p.stderr))
    return p


def roff_text(s):
    """Roff running text to plain text: fonts off, escapes resolved."""
    s = re.sub(r"\\f[BIRP]", "", s)
    s = s.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    return s


def norm(s):
    return " ".join(s.split())


# ---- --help -------------------------------------------------------------------

def parse_help(text):
    """{name: {"names": [...], "default": str|None, "desc": str}} for each entry
    under Positionals: and Options:, plus the subcommand list."""
    entries, subs, section, last = {}, [], None, None
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
            continue
        if not line.startswith("  ") or section is None:
            continue
        if line.startswith(" " * 10):  # description continuation
            if last is not None:
                last["desc"] = norm(last["desc"] + " " + line)
            continue
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        head, desc = parts[0], parts[1] if len(parts) > 1 else ""
        if section == "Subcommands":
            subs.append(head.split()[0])
            continue
        first, _, rest = head.partition(" ")
        names = first.split(",")
        default = None
        rest = rest.replace(" REQUIRED", "").replace(" ...", "")
        if "=" in rest:
            default = rest.rpartition("=")[2]
        last = {"names": names, "default": default, "desc": norm(desc)}
        entries[names[-1]] = last
    return entries, subs


# ---- tunneldoc(8) -------------------------------------------------------------

def parse_command_man(text):
    """{subcommand or "": {name: {"names", "default", "desc"}}} from the roff."""
    out, current, lines, i = {}, None, text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH "):
            current = "" if line == ".SH OPTIONS" else None
        elif line.startswith(".SS "):
            m = re.match(r"\.SS \\fBtunneldoc (\S+)\\fR", line)
            current = m.group(1) if m else None
        elif line == ".TP" and current is not None:
            head = roff_text(lines[i + 1])
            body, j = [], i + 2
            while j < len(lines) and not lines[j].startswith("."):
                body.append(lines[j])
                j += 1
            default = None
            if j + 1 < len(lines) and lines[j] == ".br":
                note = roff_text(lines[j + 1])
                m = re.search(r"Default: (.*)\.$", note)
                default = m.group(1) if m else None
            if head.startswith("-"):
                names = re.findall(r"(?:^|, )(--?[\w-]+)", head)
            else:  # a positional: "files..."
                names = [head.split()[0].replace("...", "")]
            entry = {"names": names, "default": default, "desc": norm(roff_text(" ".join(body)))}
            out.setdefault(current, {})[names[-1]] = entry
            i = j
            continue
        i += 1
    return out


def check_command_page(binary, page):
    if not os.path.exists(page):
        fail("{} was not generated".format(page))
    documented = parse_command_man(open(page).read())
    top, subs = parse_help(run(binary, "--help").stdout)
    if not subs:
        fail("no subcommands in tunneldoc --help")
    for name, e in top.items():
        if name not in documented.get("", {}):
            fail("tunneldoc(8) does not document the global option {}".format(name))
    checked = 0
    for sub in subs:
        if sub not in documented:
            fail("tunneldoc(8) has no section for the subcommand {}".format(sub))
        helped, _ = parse_help(run(binary, sub, "--help").stdout)
        for name, e in helped.items():
            if name == "--help":
                continue
            d = documented[sub].get(name)
            if d is None:
                fail("tunneldoc(8) does not document {} {} (--help lists it)".format(sub, name))
            if d["names"] != e["names"]:
                fail("{} {}: names {} in the man page, {} in --help".format(sub, name, d["names"], e["names"]))
            if not d["desc"].startswith(e["desc"]):
                fail("{} {}: the man page says {!r}, --help says {!r}".format(sub, name, d["desc"], e["desc"]))
            # --signatures defaults to this machine's directory in --help; the page states the search order.
            if e["default"] is not None and name not in ("--signatures", "dir"):
                if d["default"] != e["default"]:
                    fail("{} {}: default {!r} in the man page, {!r} in --help".format(sub, name, d["default"],
                                                                                      e["default"]))
            checked += 1
        for name in documented[sub]:
            if name not in helped:
                fail("tunneldoc(8) documents {} {}, which --help does not list".format(sub, name))
    print("tunneldoc(8): {} subcommands, {} options and positionals match --help".format(len(subs), checked))


# ---- tunneldoc.yaml(5) --------------------------------------------------------

def parse_config_man(text):
    """{section title: set of keys}."""
    out, section, lines = {}, None, text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            section = line[4:].strip().strip('"')
        elif line == ".TP" and section is not None and i + 1 < len(lines):
            m = re.match(r"\\fB([\w]+)\\fR \(", lines[i + 1])
            if m:
                out.setdefault(section, set()).add(m.group(1))
    return out


def uncomment(text):
    """The packaged configuration with its commented-out settings switched on
    ('#' then no space, or exactly two spaces, marks a setting; '# ' prose)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^(\s*)#(\S.*|  \S.*)$", line)
        out.append(m.group(1) + m.group(2) if m else line)
    return "\n".join(out) + "\n"


def yaml_keys(text):
    """(section, key) pairs of a configuration, by indentation: top-level keys,
    keys of list entries under listeners/files, keys under metrics."""
    pairs, parent = set(), None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.match(r"^(\w+):", line)
        if m:
            parent = m.group(1)
            pairs.add(("KEYS", parent))
            continue
        for m in re.finditer(r"(?:^\s*-?\s*|[{,]\s*)(\w+):(?:\s|$)", line):
            pairs.add((parent.upper() + " KEYS", m.group(1)))
    return pairs


def check_config_page(binary, page, source):
    if not os.path.exists(page):
        fail("{} was not generated".format(page))
    documented = parse_config_man(open(page).read())
    if not documented.get("KEYS"):
        fail("tunneldoc.yaml(5) documents no top-level key")
    conf = open(os.path.join(source, "packaging", "tunneldoc.yaml")).read()
    used = yaml_keys(uncomment(conf))
    for section, key in sorted(used):
        if key not in documented.get(section, set()):
            fail("packaging/tunneldoc.yaml sets {} ({}), which tunneldoc.yaml(5) does not document".format(
                key, section))
    # The loader rejects what the page does not list.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write("log_level: info\nundocumented_key: 1\n")
    p = run(binary, "serve", "--config", f.name, "--check-config", check=False)
    os.unlink(f.name)
    if p.returncode == 0 or 'unknown option "undocumented_key"' not in p.stderr:
        fail("the loader accepted a key the man page does not list: {}".format(p.stderr))
    total = sum(len(v) for v in documented.values())
    print("tunneldoc.yaml(5): {} keys in {} sections; the {} settings of the packaged configuration "
          "are documented".format(total, len(documented), len(used)))


def check_groff(page):
    p = run("groff", "-man", "-ww", "-z", "-Tutf8", page, check=False)
    if p.returncode != 0 or p.stderr.strip():
        fail("groff warns on {}: {}".format(page, p.stderr))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--man-dir", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    cmd_page = os.path.join(a.man_dir, "tunneldoc.8")
    cfg_page = os.path.join(a.man_dir, "tunneldoc.yaml.5")
    check_command_page(a.binary, cmd_page)
    check_config_page(a.binary, cfg_page, a.source)
    check_groff(cmd_page)
    check_groff(cfg_page)
    print("ok")


if __name__ == "__main__":
    main()
