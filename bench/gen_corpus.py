#!/usr/bin/env python3
"""Deterministic benchmark corpus of Cisco ASA syslog.

    bench/gen_corpus.py [-n LINES] [--vpn-share 0.05] [--seed 1] [--signatures DIR] -o FILE

About 95 % of the lines are ordinary traffic (302013/302014/302015/302016,
106023, 106100, 305011/305012, 710005) in the header forms of docs/design; the
rest are VPN problems drawn evenly from every signature of the knowledge base,
using the inline examples of signatures/rules/*.yaml as templates. Values that
a signature extracts (addresses, users, groups, numbers, hex) are varied; a
variant is kept only when the signature's own pattern (run with Python's re)
still matches it and yields the new values, otherwise the example is used as
written. New signatures are picked up automatically.

`--patterndb FILE` also writes a syslog-ng PatternDB with one rule per
(signature, example), built from the same examples with the varied spans
replaced by parsers, so that syslog-ng classifies the same lines
(bench/peers/syslog_ng.sh uses it); `--rulebase FILE` writes the same rules
as a liblognorm v2 rulebase for rsyslog's mmnormalize
(bench/peers/rsyslog_mmnormalize.sh). Same seed, same output, byte for byte.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from xml.sax.saxutils import escape

# ---------------------------------------------------------------- examples


def _unquote(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("'") and raw.endswith("'"):
        return raw[1:-1].replace("''", "'")
    if raw.startswith('"') and raw.endswith('"'):
        return bytes(raw[1:-1], "utf-8").decode("unicode_escape")
    return raw


def load_signatures(sigdir: str) -> list[dict]:
    """Signatures with their examples: PyYAML when present, else a small reader
    for the subset of YAML the knowledge base uses."""
    files = []
    for root, _, names in os.walk(os.path.join(sigdir, "rules")):
        files += [os.path.join(root, n) for n in names if n.endswith(".yaml")]
    files.sort()
    sigs: list[dict] = []
    try:
        import yaml  # type: ignore

        for f in files:
            with open(f, encoding="utf-8") as fh:
                doc = yaml.safe_load(fh) or {}
            for s in doc.get("signatures", []) or []:
                sigs.append({
                    "id": s.get("id"),
                    "pattern": s.get("pattern", ""),
                    "keyless": bool(s.get("keyless", False)),
                    "examples": [e["line"] for e in (s.get("examples") or []) if isinstance(e, dict) and "line" in e],
                })
        return sigs
    except ImportError:
        pass
    for f in files:
        cur = None
        in_examples = False
        with open(f, encoding="utf-8") as fh:
            for text in fh:
                m = re.match(r"^\s*- id:\s*(.+?)\s*$", text)
                if m:
                    cur = {"id": _unquote(m.group(1)), "pattern": "", "keyless": False, "examples": []}
                    sigs.append(cur)
                    in_examples = False
                    continue
                if cur is None:
                    continue
                m = re.match(r"^\s*pattern:\s*(.+?)\s*$", text)
                if m:
                    cur["pattern"] = _unquote(m.group(1))
                    continue
                if re.match(r"^\s*keyless:\s*true", text):
                    cur["keyless"] = True
                m = re.match(r"^\s*(\w+):\s*$", text)
                if m:
                    in_examples = m.group(1) == "examples"
                    continue
                m = re.match(r"^\s*- line:\s*(.+?)\s*$", text)
                if m and in_examples:
                    cur["examples"].append(_unquote(m.group(1)))
    return sigs


# ---------------------------------------------------------------- variation

IPV4 = re.compile(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$")
HEX = re.compile(r"^0x[0-9A-Fa-f]+$")
DEC = re.compile(r"^\d+$")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
NAME_FIELDS = ("user", "group", "tunnel", "map_tag", "name", "host", "policy", "profile")
USERS = ["alice", "bob", "carol", "dmitri", "erin", "farid", "grace", "hiro", "ines", "jon", "kwame", "lena",
         "branch-7", "branch-12", "hq-l2l", "DefaultRAGroup", "RA-Sales", "RA-Eng", "contractors", "vendor-x"]


def rand_ip(rng: random.Random) -> str:
    net = rng.choice(("10.{}.{}.{}", "192.0.2.{2}", "198.51.100.{2}", "203.0.113.{2}", "172.16.{1}.{2}"))
    return net.format(rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))


def vary_value(name: str, value: str, rng: random.Random) -> str | None:
    if IPV4.match(value):
        return rand_ip(rng)
    if HEX.match(value):
        digits = len(value) - 2
        s = "".join(rng.choice("0123456789ABCDEF") for _ in range(digits))
        if value[2:].lower() == value[2:] and value[2:].upper() != value[2:]:
            s = s.lower()
        return "0x" + s
    if DEC.match(value):
        if len(value) == 1:
            return str(rng.randint(0, 9))
        return str(rng.randint(10 ** (len(value) - 1), 10 ** len(value) - 1))
    if NAME.match(value) and any(k in name for k in NAME_FIELDS):
        return rng.choice(USERS)
    return None


class Template:
    """One example line: its text and the spans of the groups its signature extracts."""

    def __init__(self, sig: dict, line: str):
        self.sig_id = sig["id"]
        self.line = line
        self.regex = None
        self.spans: list[tuple[int, int, str]] = []  # (start, end, group name) in line
        try:
            rx = re.compile(sig["pattern"])
        except re.error:
            return
        m = rx.search(line)
        if not m:
            return
        self.regex = rx
        spans = []
        for name in rx.groupindex:
            s, e = m.span(name)
            if s >= 0 and e > s:
                spans.append((s, e, name))
        spans.sort()
        # Keep non-overlapping spans only (nested optional groups).
        last = -1
        for s, e, n in spans:
            if s >= last:
                self.spans.append((s, e, n))
                last = e

    def variant(self, rng: random.Random) -> str:
        if self.regex is None or not self.spans:
            return self.line
        out, pos, expect = [], 0, {}
        for s, e, n in self.spans:
            new = vary_value(n, self.line[s:e], rng)
            if new is None:
                new = self.line[s:e]
            out.append(self.line[pos:s])
            out.append(new)
            expect[n] = new
            pos = e
        out.append(self.line[pos:])
        text = "".join(out)
        m = self.regex.search(text)
        if not m or any(m.group(n) != v for n, v in expect.items()):
            return self.line
        return text


# ---------------------------------------------------------------- traffic

HOSTS = ["hq-asa", "hq-asa-2", "dc-ftd-1", "branch-asa-1", "branch-asa-2", "branch-asa-3", "edge-fw"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def header(rng: random.Random, t: int, sev: int) -> str:
    hh, mm, ss = (t // 3600) % 24, (t // 60) % 60, t % 60
    ms = rng.randint(0, 999)
    host = rng.choice(HOSTS)
    pri = 20 * 8 + sev  # local4
    r = rng.random()
    if r < 0.70:
        return f"<{pri}>Nov 26 2026 {hh:02}:{mm:02}:{ss:02} {host} : "
    if r < 0.80:
        return f"<{pri}>Nov 26 2026 {hh:02}:{mm:02}:{ss:02}: "
    if r < 0.90:
        return f"Nov 26 {hh:02}:{mm:02}:{ss:02} 10.20.0.{rng.randint(1, 9)} "
    if r < 0.95:
        return f"<{pri}>1 2026-11-26T{hh:02}:{mm:02}:{ss:02}.{ms:03}+00:00 {host} - - - - "
    return f"<{pri}>2026-11-26T{hh:02}:{mm:02}:{ss:02}Z {host} : "


def port(rng: random.Random) -> int:
    return rng.randint(1024, 65535)


def traffic(rng: random.Random, conn: int) -> tuple[str, int]:
    """(message with id, severity) of ordinary firewall traffic."""
    out_ip, in_ip = rand_ip(rng), f"10.{rng.randint(1, 40)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    op, ip_ = port(rng), rng.choice((443, 80, 53, 22, 3389, 8443, port(rng)))
    dur = f"{rng.randint(0, 2)}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}"
    r = rng.random()
    if r < 0.30:
        d = rng.choice(("inbound", "outbound"))
        return (f"%ASA-6-302013: Built {d} TCP connection {conn} for outside:{out_ip}/{op} ({out_ip}/{op}) "
                f"to inside:{in_ip}/{ip_} ({in_ip}/{ip_})"), 6
    if r < 0.55:
        reason = rng.choice(("TCP FINs", "TCP Reset-I", "TCP Reset-O", "Conn-timeout", "SYN Timeout"))
        return (f"%ASA-6-302014: Teardown TCP connection {conn} for outside:{out_ip}/{op} to inside:{in_ip}/{ip_} "
                f"duration {dur} bytes {rng.randint(0, 9_999_999)} {reason}"), 6
    if r < 0.68:
        return (f"%ASA-6-302015: Built outbound UDP connection {conn} for outside:{out_ip}/53 ({out_ip}/53) "
                f"to inside:{in_ip}/{op} ({in_ip}/{op})"), 6
    if r < 0.78:
        return (f"%ASA-6-302016: Teardown UDP connection {conn} for outside:{out_ip}/53 to inside:{in_ip}/{op} "
                f"duration {dur} bytes {rng.randint(40, 9999)}"), 6
    if r < 0.86:
        proto = rng.choice(("tcp", "udp"))
        return (f"%ASA-4-106023: Deny {proto} src outside:{out_ip}/{op} dst inside:{in_ip}/{ip_} by access-group "
                f"\"outside_access_in\" [0x{rng.getrandbits(32):x}, 0x0]"), 4
    if r < 0.90:
        return (f"%ASA-6-106100: access-list outside_access_in permitted tcp outside/{out_ip}({op}) -> "
                f"inside/{in_ip}({ip_}) hit-cnt 1 first hit [0x{rng.getrandbits(32):x}, 0x0]"), 6
    if r < 0.95:
        proto = rng.choice(("TCP", "UDP", "ICMP"))
        return (f"%ASA-6-305011: Built dynamic {proto} translation from inside:{in_ip}/{op} to "
                f"outside:198.51.100.1/{port(rng)}"), 6
    if r < 0.98:
        return (f"%ASA-6-305012: Teardown dynamic UDP translation from inside:{in_ip}/{op} to "
                f"outside:198.51.100.1/{port(rng)} duration {dur}"), 6
    return f"%ASA-7-710005: UDP request discarded from {out_ip}/{op} to outside:198.51.100.1/{ip_}", 7


HDR_TIME = re.compile(r"\b\d{2}:\d{2}:\d{2}\b")


def retime(line: str, t: int) -> str:
    """Moves an example's header clock to the corpus clock (message text untouched)."""
    p = line.find("%")
    if p <= 0:
        return line
    head = HDR_TIME.sub(f"{(t // 3600) % 24:02}:{(t // 60) % 60:02}:{t % 60:02}", line[:p], count=1)
    return head + line[p:]


# ---------------------------------------------------------------- patterndb

def _lnfield(spec: dict) -> str:
    """A liblognorm v2 field, %{json}%; a % inside it would end it early."""
    return "%" + json.dumps(spec).replace("%", "\\u0025") + "%"


def _rules(templates: list[Template]):
    """(signature id, rule number, PatternDB pattern, liblognorm v2 pattern) per
    distinct rule. The whole input line is the message (the peers run with
    flags(no-parse) / useRawMsg), so every rule skips the header up to the
    message id: @ESTRING::%@ in the PatternDB, char-to % in liblognorm."""
    seen = set()
    for k, t in enumerate(templates):
        line = t.line
        p = line.find("%")
        if p >= 0 and re.match(r"%[A-Z][A-Z0-9_]*-\d-[A-Z0-9_]+:", line[p:]):
            start = p + 1
            prefix = "@ESTRING::%@"
            lprefix = _lnfield({"name": "-", "type": "char-to", "extradata": "%"}) + "%%"
        else:
            start = 0
            prefix = ""
            lprefix = ""
        if t.regex is None:
            continue
        parts, lparts, pos = [prefix], [lprefix], start
        for s, e, n in t.spans:
            value = line[s:e]
            # Values the generator never varies stay literal (they are the
            # same in every corpus line of this template).
            if s < start or vary_value(n, value, random.Random(0)) is None:
                continue
            parts.append(line[pos:s].replace("@", "@@"))
            lparts.append(line[pos:s].replace("%", "%%"))
            if IPV4.match(value):
                parts.append(f"@IPv4:f.{n}@")
                lparts.append(_lnfield({"name": f"f_{n}", "type": "ipv4"}))
            elif e >= len(line):
                parts.append(f"@ANYSTRING:f.{n}@")
                lparts.append(_lnfield({"name": f"f_{n}", "type": "rest"}))
            else:
                # ESTRING stops at the first occurrence of its end string: take
                # enough of the following literal text that the value (or any
                # variant of it) cannot contain it.
                k = 1
                while e + k < len(line) and (line[e:e + k] in value or line[e:e + k].strip(".-_0123456789") == ""):
                    k += 1
                stop = line[e:e + k]
                parts.append(f"@ESTRING:f.{n}:{stop.replace('@', '@@')}@")
                # char-to / string-to stop before their end: the literal follows.
                # (liblognorm 2.0.6's string-to matches nothing with a one-character
                # end string; char-to is the same thing there.)
                lparts.append(_lnfield({"name": f"f_{n}", "type": "char-to" if len(stop) == 1 else "string-to",
                                        "extradata": stop})
                              + stop.replace("%", "%%"))
                e += k
            pos = e
        parts.append(line[pos:].replace("@", "@@"))
        lparts.append(line[pos:].replace("%", "%%"))
        pattern = "".join(parts)
        if pattern in seen:  # two examples that differ only in varied values
            continue
        seen.add(pattern)
        yield t.sig_id, k, pattern, "".join(lparts)


def patterndb(templates: list[Template]) -> str:
    """A syslog-ng PatternDB (version 4) with one rule per template."""
    rules = [
        f'      <rule provider="tunneldoc-bench" id="{escape(sig_id)}.{k}" class="{escape(sig_id)}">\n'
        f"        <patterns><pattern>{escape(pattern)}</pattern></patterns>\n"
        f"        <tags><tag>vpn</tag></tags>\n"
        f"      </rule>\n"
        for sig_id, k, pattern, _ in _rules(templates)]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<patterndb version="4" pub_date="2026-11-26">\n'
            '  <ruleset name="tunneldoc-bench" id="tunneldoc-bench">\n'
            "    <rules>\n" + "".join(rules) + "    </rules>\n  </ruleset>\n</patterndb>\n")


def rulebase(templates: list[Template]) -> str:
    """A liblognorm v2 rulebase with the same rules as patterndb(), for rsyslog's
    mmnormalize (bench/peers/rsyslog_mmnormalize.sh): the rule's tag is the
    signature id."""
    out = ["version=2\n", "# bench/gen_corpus.py --rulebase: the rules of its PatternDB, for mmnormalize\n"]
    skip = _lnfield({"name": "-", "type": "char-to", "extradata": "%"})
    for sig_id, _, _, lpattern in _rules(templates):
        out.append(f"rule={sig_id}:{lpattern}\n")
        # char-to takes one character at least, @ESTRING::%@ none: the same
        # rule again for lines without a header (the message id first).
        if lpattern.startswith(skip):
            out.append(f"rule={sig_id}:{lpattern[len(skip):]}\n")
    return "".join(out)


# ---------------------------------------------------------------- main

def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("-n", "--lines", type=int, default=1_000_000)
    ap.add_argument("--vpn-share", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--signatures", default=os.path.join(here, "..", "signatures"))
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--patterndb", help="also write a syslog-ng PatternDB for the same examples")
    ap.add_argument("--rulebase", help="also write a liblognorm v2 rulebase (rsyslog mmnormalize), same rules")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    sigs = [s for s in load_signatures(args.signatures) if s["examples"]]
    # Multi-line examples (VPN Client) do not fit a one-line corpus.
    per_sig = [[Template(s, e) for e in s["examples"] if "\n" not in e] for s in sigs]
    per_sig = [ts for ts in per_sig if ts]
    if not per_sig:
        print("gen_corpus: no signature examples found in", args.signatures, file=sys.stderr)
        return 1
    if args.patterndb:
        with open(args.patterndb, "w", encoding="utf-8") as fh:
            fh.write(patterndb([t for ts in per_sig for t in ts]))
    if args.rulebase:
        with open(args.rulebase, "w", encoding="utf-8") as fh:
            fh.write(rulebase([t for ts in per_sig for t in ts]))

    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8", newline="\n")
    buf: list[str] = []
    t0 = 10 * 3600
    conn = 100_000_000
    vpn = 0
    for i in range(args.lines):
        t = t0 + i // 2000  # ~2000 lines per second of log time
        if rng.random() < args.vpn_share:
            tmpl = rng.choice(rng.choice(per_sig))
            buf.append(retime(tmpl.variant(rng), t))
            vpn += 1
        else:
            conn += rng.randint(1, 3)
            msg, sev = traffic(rng, conn)
            buf.append(header(rng, t, sev) + msg)
        if len(buf) >= 65536:
            out.write("\n".join(buf) + "\n")
            buf.clear()
    if buf:
        out.write("\n".join(buf) + "\n")
    if out is not sys.stdout:
        out.close()
    print(f"gen_corpus: {args.lines} lines, {vpn} from {len(per_sig)} signatures' examples", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
