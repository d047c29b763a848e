"""A CEF parser written from the ArcSight Common Event Format implementation
standard (independent of tunneldoc's encoder), strict where the spec is:

    CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension

- Header: seven fields separated by '|'; inside a field, '|' is written '\\|'
  and '\\' is written '\\\\'. No other escape is defined in the header.
- Extension: key=value pairs separated by spaces. Keys are alphanumeric. In a
  value, '=' is written '\\=', '\\' is written '\\\\', a line feed '\\n' and a
  carriage return '\\r'; a '|' needs no escape. A value runs up to the space
  that precedes the next key=.
- Severity: an integer 0-10 (or Low/Medium/High/Very-High).
- The event is one line: a raw CR or LF ends it.

parse() raises ValueError for anything the spec does not allow, so a record
that forged a field or an event fails loudly.
"""
import re

KEY = re.compile(r"[A-Za-z0-9_]+")
HEADER_FIELDS = ["version", "vendor", "product", "device_version", "signature", "name", "severity"]
# Standard keys tunneldoc uses (CEF dictionary) plus the custom string/IPv6 slots and their labels.
KNOWN_KEYS = {"rt", "dvchost", "src", "suser", "cnt", "msg", "externalId", "start", "end", "deviceEventCategory",
              "c6a2", "c6a2Label"} | {"cs{}".format(i) for i in range(1, 7)} | {"cs{}Label".format(i)
                                                                                  for i in range(1, 7)}


def parse(line):
    if "\n" in line or "\r" in line:
        raise ValueError("a raw line end inside a CEF event")
    if not line.startswith("CEF:"):
        raise ValueError("not CEF: " + line[:40])
    header, i, field = [], 4, []
    while len(header) < 7:
        if i >= len(line):
            raise ValueError("the header ends after {} fields".format(len(header)))
        c = line[i]
        if c == "\\":
            if i + 1 >= len(line) or line[i + 1] not in "|\\":
                raise ValueError("undefined header escape at {}".format(i))
            field.append(line[i + 1])
            i += 2
            continue
        if c == "|":
            header.append("".join(field))
            field = []
        else:
            field.append(c)
        i += 1
    rec = dict(zip(HEADER_FIELDS, header))
    sev = rec["severity"]
    if not (sev.isdigit() and 0 <= int(sev) <= 10) and sev not in ("Low", "Medium", "High", "Very-High"):
        raise ValueError("severity " + sev)
    rec["extension"] = parse_extension(line[i:])
    return rec


def parse_extension(text):
    """Returns {key: value}; a key that appears twice is an error (a forged key)."""
    out = {}
    i = 0
    while i < len(text):
        m = KEY.match(text, i)
        if not m or m.end() >= len(text) or text[m.end()] != "=":
            raise ValueError("expected key= at {}: {!r}".format(i, text[i:i + 30]))
        key = m.group(0)
        i = m.end() + 1
        value = []
        while i < len(text):
            c = text[i]
            if c == "\\":
                if i + 1 >= len(text):
                    raise ValueError("a value ends in a lone backslash")
                e = text[i + 1]
                if e == "=":
                    value.append("=")
                elif e == "\\":
                    value.append("\\")
                elif e == "n":
                    value.append("\n")
                elif e == "r":
                    value.append("\r")
                else:
                    raise ValueError("undefined extension escape \\{}".format(e))
                i += 2
                continue
            if c == "=":
                raise ValueError("an unescaped '=' inside the value of " + key)
            if c == " ":
                nxt = KEY.match(text, i + 1)
                if nxt and nxt.end() < len(text) and text[nxt.end()] == "=":
                    i += 1
                    break
            value.append(c)
            i += 1
        if key in out:
            raise ValueError("key {} twice".format(key))
        out[key] = "".join(value)
    return out
