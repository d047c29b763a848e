#!/usr/bin/env python3
"""The status page and the report in a real browser (Debian's headless
Chromium, driven over the DevTools protocol on a pipe; tests/ui/browser.py).

  live    `serve` fed by util-linux `logger` (devices named by running logger
          in its own UTS namespace): the page lists the devices, peers, open
          incidents and counts; it updates without a reload when an incident
          opens and when one resolves; hostile host, group and user names are
          text, never markup; the table is there with JavaScript disabled; the
          JSON routes agree with the page; a bearer token and an allowlist
          keep others out.
  report  `scan --report` of samples/ plus hostile lines, opened from disk:
          summary, incidents, devices and timeline agree with what `scan
          --incidents` prints; evidence and remedies are there, with working
          copy buttons; nothing is fetched from the network; it fits a phone;
          keyboard and contrast basics hold.

Each scenario saves full-page screenshots (checked for being non-blank) under
--shots; --docs DIR also writes the small PNGs the documentation shows.
Usage: ui_test.py SCENARIO --binary PATH --signatures DIR --source DIR [--shots DIR] [--docs DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from browser import Browser, BrowserError, check_not_blank  # noqa: E402
from daemon_test import Daemon, check, fail, wait_for  # noqa: E402

HOSTILE_HOST = "<script>pwned=1</script>"  # no dot: logger cuts the host name at the first one
HOSTILE_GROUP = "</td><b>grp</b>"
HOSTILE_USER = "\"'><img src=x onerror=pwned=2>"
NO_PROPOSAL = "%ASA-5-713904: IP = {}, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop"
ANTI_REPLAY = ("%ASA-4-402119: IPSEC: Received an ESP packet (SPI= 0xB6E47E4C, sequence number= 0x1D) from {0} "
               "(user= {0}) to 198.51.100.1 that failed anti-replay checking.")
PHASE1_DONE = "%ASA-5-713119: Group = {0}, IP = {0}, PHASE 1 COMPLETED"
HOSTILE_LINE = "%ASA-3-713132: Group = {}, Username = {}, Cannot obtain an IP address for remote peer".format(
    HOSTILE_GROUP, HOSTILE_USER)


def send(port, host, message):
    """util-linux logger over UDP, in a UTS namespace whose host name is `host`
    (logger writes the host name into the header as a firewall does)."""
    code = ("import socket, subprocess, sys\n"
            "socket.sethostname(sys.argv[1])\n"
            "subprocess.run(['logger', '-n', '127.0.0.1', '-P', sys.argv[2], '--udp', '--rfc3164', '-t', 'asa',"
            " sys.argv[3]], check=True, timeout=10)\n")
    subprocess.run(["unshare", "--uts", sys.executable, "-c", code, host, str(port), message],
                   check=True, timeout=20)


def http(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


# The page, as a person reads it: expressions evaluated in the browser.
JS_HELPERS = """
window.td = {
  text: (sel) => Array.from(document.querySelectorAll(sel)).map(e => e.textContent.trim()),
  count: (key) => { const e = document.querySelector('[data-count="' + key + '"] dd'); return e ? +e.textContent : -1; },
  peers: () => Array.from(document.querySelectorAll('article.device')).map(a => ({
      device: a.querySelector('h3').textContent,
      peers: Array.from(a.querySelectorAll('table.peers tbody tr')).map(r => [r.querySelector('th').textContent,
                                                                            r.getAttribute('data-state')])})),
  openRows: () => Array.from(document.querySelectorAll('#open-table tbody tr[data-id]')).map(r =>
      Array.from(r.cells).map(c => c.textContent.trim())),
};
"""


def page_state(page):
    page.eval(JS_HELPERS)
    return page.eval("({open: td.count('open'), failing: td.count('failing'), recovered: td.count('recovered'),"
                     " devices: td.count('devices'), rows: td.openRows(), peers: td.peers(),"
                     " titles: td.text('#open-table td.problem')})")


def no_markup_injected(page):
    """Only the page's own script and no image: hostile values stayed text."""
    found = page.eval("({scripts: document.scripts.length, imgs: document.images.length, b: "
                      "document.querySelectorAll('main b').length, pwned: window.pwned || 0,"
                      " text: document.body.textContent})")
    check(found["scripts"] == 1, "scripts on the page: {}".format(found["scripts"]))
    check(found["imgs"] == 0 and found["b"] == 0, "markup from a log made it into the page: {}".format(found))
    check(found["pwned"] == 0, "a hostile value ran as script")
    for value in (HOSTILE_HOST, HOSTILE_GROUP, HOSTILE_USER):
        check(value in found["text"], "hostile value not shown as text: " + value)


def save_shot(browser, page, shots, name, max_height=3000):
    path = os.path.join(shots, name + ".png")
    png = page.screenshot(path, max_height)
    w, h, colours, top = check_not_blank(browser, png, name)
    print("screenshot {}: {}x{}, {} bytes, {} colours in a sample".format(path, w, h, len(png), colours))
    return path


def scenario_live(args, work):
    d = Daemon.serve(args, work, ["--udp", "127.0.0.1:0", "--stream", "incidents"])
    browser = Browser()
    try:
        udp = d.port("udp")
        base = d.url("/")
        page = browser.page(base + "?refresh=1", width=1280, height=900)
        # Nothing yet: the page says so, and where it listens.
        page.wait("document.querySelector('#empty') !== null", what="the empty state")
        empty = page.eval("document.querySelector('#empty').textContent")
        check("No incidents yet." in empty and "udp:127.0.0.1:{}".format(udp) in empty, "empty state: " + empty)
        save_shot(browser, page, args.shots, "live-empty")
        if args.docs:
            page.screenshot(os.path.join(args.docs, "status-page-empty.png"), 700)
        page.eval("window.notReloaded = 'yes'")

        # An incident opens: the page shows it without a reload.
        send(udp, "hq-asa", NO_PROPOSAL.format("203.0.113.9"))
        page.eval(JS_HELPERS)
        page.wait("td.count('open') === 1", what="the first incident on the page")
        s = page_state(page)
        check(s["titles"] == ["Peer rejected every IKE proposal"], "open incidents: {}".format(s["titles"]))
        check(s["rows"][0][0] == "hq-asa" and s["rows"][0][1] == "203.0.113.9", "row: {}".format(s["rows"]))
        check(page.eval("window.notReloaded") == "yes", "the page reloaded")

        # A second device.
        send(udp, "branch-asa", ANTI_REPLAY.format("198.51.100.7"))
        page.eval(JS_HELPERS)
        page.wait("td.count('open') === 2", what="two open incidents")
        s = page_state(page)
        check(sorted(p["device"] for p in s["peers"]) == ["branch-asa", "hq-asa"], "devices: {}".format(s["peers"]))
        check(sorted(s["titles"]) == ["ESP packets failed the anti-replay check", "Peer rejected every IKE proposal"],
              "titles: {}".format(s["titles"]))

        # One resolves (phase 1 completes): recovered, without a reload.
        send(udp, "hq-asa", PHASE1_DONE.format("203.0.113.9"))
        page.eval(JS_HELPERS)
        page.wait("td.count('open') === 1 && td.count('recovered') === 1", what="the incident to resolve")
        s = page_state(page)
        hq = [p for p in s["peers"] if p["device"] == "hq-asa"][0]
        check(hq["peers"] == [["203.0.113.9", "recovered"]], "hq-asa peers: {}".format(hq))
        check(s["failing"] == 1 and s["devices"] == 2, "counts: {}".format(s))
        check(page.eval("document.querySelectorAll('#resolved-table tbody tr[data-id]').length") == 1,
              "resolved table")
        check(page.eval("window.notReloaded") == "yes", "the page reloaded")
        check(page.eval("document.querySelector('#status').textContent") == "1 open incident",
              "the change was announced")
        if args.docs:
            page.screenshot(os.path.join(args.docs, "status-page.png"), 1500)

        # A hostile device, group and user: text, never markup.
        send(udp, HOSTILE_HOST, HOSTILE_LINE)
        page.eval(JS_HELPERS)
        page.wait("td.count('open') === 2", what="the hostile incident")
        s = page_state(page)
        check(sorted(p["device"] for p in s["peers"]) == sorted(["hq-asa", "branch-asa", HOSTILE_HOST]),
              "devices: {}".format(s["peers"]))
        hostile_peer = HOSTILE_GROUP + "/" + HOSTILE_USER
        check(any(r[0] == HOSTILE_HOST and r[1] == hostile_peer for r in s["rows"]),
              "the hostile row as text: {}".format(s["rows"]))
        no_markup_injected(page)
        check(page.eval("window.notReloaded") == "yes", "the page reloaded")
        check(all(u.startswith(base) for u in page.requests()), "requests: {}".format(page.requests()))
        save_shot(browser, page, args.shots, "live")

        # Without JavaScript the server-rendered table is all there.
        static = browser.page(base, width=1280, height=900, scripts=False)
        rows = static.call("Runtime.evaluate", {"expression": "document.querySelectorAll('#open-table tbody tr"
                                                "[data-id]').length", "returnByValue": True})["result"]["value"]
        check(rows == 2, "rows without JavaScript: {}".format(rows))
        static.close()

        # The JSON routes hold the same incidents as records.
        status, body, _ = http(d.url("/incidents"))
        records = json.loads(body)
        check(status == 200 and len(records) == 3, "incidents: {} {}".format(status, len(records)))
        check(all(r["schema"] == "tunneldoc.diagnosis/1" and r["kind"] == "incident" for r in records), "records")
        states = sorted(r["incident"]["state"] for r in records)
        check(states == ["open", "open", "resolved"], "states: {}".format(states))
        one = records[0]["incident"]["id"]
        status, body, _ = http(d.url("/incidents/" + one))
        check(status == 200 and json.loads(body)["incident"]["id"] == one, "one incident")
        status, _, _ = http(d.url("/incidents/ffffffffffffffff"))
        check(status == 404, "unknown incident: {}".format(status))
        status, _, headers = http(d.url("/"))
        check("script-src 'sha256-" in headers.get("Content-Security-Policy", ""), "CSP: {}".format(headers))
        req = urllib.request.Request(d.url("/"), method="POST", data=b"x")
        try:
            urllib.request.urlopen(req, timeout=5)
            fail("POST was accepted")
        except urllib.error.HTTPError as e:
            check(e.code == 405, "POST answered {}".format(e.code))
    finally:
        browser.close()
    d.stop()

    # A token: the page needs it, /healthz does not. An allowlist without us: closed.
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write("s3cret-token\n")
    conf = os.path.join(work, "token.yaml")
    with open(conf, "w") as f:
        f.write("listeners: []\nfiles: [{}]\nmetrics:\n  address: 127.0.0.1:0\n  token_file: {}\n".format(
            os.path.join(work, "none.log"), token_file))
    d = Daemon.serve(args, work, ["--config", conf], name="token")
    check(http(d.url("/"))[0] == 401, "no token")
    check(http(d.url("/incidents"), {"Authorization": "Bearer wrong-token!"})[0] == 401, "wrong token")
    check(http(d.url("/metrics"))[0] == 401, "metrics without the token")
    check(http(d.url("/"), {"Authorization": "Bearer s3cret-token"})[0] == 200, "with the token")
    check(http(d.url("/healthz"))[0] == 200, "/healthz stays open for probes")
    status, body, _ = http(d.url("/metrics"), {"Authorization": "Bearer s3cret-token"})
    check('tunneldoc_http_denied_total{reason="token"} 3' in body, "token refusals counted")
    d.stop()
    with open(conf, "w") as f:
        f.write("listeners: []\nfiles: [{}]\nmetrics:\n  address: 127.0.0.1:0\n  allow: [192.0.2.0/24]\n".format(
            os.path.join(work, "none.log")))
    d = Daemon.serve(args, work, ["--config", conf], name="allow")
    try:
        urllib.request.urlopen(d.url("/"), timeout=5)
        fail("an address outside metrics.allow got an answer")
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    d.stop()


def scenario_report(args, work):
    sample = os.path.join(args.source, "samples", "asa-vpn.log")
    hostile = os.path.join(work, "hostile.log")
    with open(hostile, "w") as f:
        f.write("<163>Nov 26 2026 11:00:00 {} : %ASA-3-713063: IKE Peer address not configured for destination "
                "0.0.0.0\n".format(HOSTILE_HOST))
        f.write("<163>Nov 26 2026 11:00:05 {} : {}\n".format(HOSTILE_HOST, HOSTILE_LINE))
    report = os.path.join(work, "report.html")
    base = [args.binary, "scan", "--signatures", args.signatures, "--year", "2026"]
    r = subprocess.run(base + ["--report", report, sample, hostile], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "scan --report: {} {}".format(r.returncode, r.stderr))
    r = subprocess.run(base + ["--incidents", sample, hostile], capture_output=True, text=True, timeout=60)
    incidents = [json.loads(l) for l in r.stdout.splitlines()]
    check(len(incidents) >= 5, "incidents in the sample: {}".format(len(incidents)))
    open_ = [i for i in incidents if i["incident"]["state"] != "resolved"]
    devices = sorted({i["incident"]["device"] or "(no device named)" for i in incidents})

    browser = Browser()
    try:
        page = browser.page("file://" + report, width=1280, height=900)
        page.eval(JS_HELPERS)
        s = page_state(page)
        check(s["open"] == len(open_), "open: page {} vs scan {}".format(s["open"], len(open_)))
        check(page.eval("td.count('resolved')") == len(incidents) - len(open_), "resolved count")
        check(sorted(p["device"] for p in s["peers"]) == devices,
              "devices: {} vs {}".format(sorted(p["device"] for p in s["peers"]), devices))
        check(sorted(s["titles"]) == sorted(i["title"] for i in open_), "titles: {}".format(s["titles"]))
        check("Peer rejected every IKE proposal" in page.eval("document.body.textContent"), "a resolved title")
        # Each incident's evidence lines and its remedy.
        for i in incidents:
            anchor = "inc-" + i["incident"]["id"]
            lines = page.eval("td.text('#%s ol.evidence code.line')" % anchor)
            check(lines == [e["line"].strip() for e in i["evidence"]], "evidence of {}: {}".format(anchor, lines))
            link = page.eval("document.querySelector('#%s p.fix a').getAttribute('href')" % anchor)
            check(page.eval("document.querySelector(%s) !== null" % json.dumps(link)), "remedy " + link)
        groups = page.eval("td.text('.remedy .cmd .plat')")
        check(any(g.startswith("ASA") for g in groups) and any(g.startswith("IOS") for g in groups),
              "commands grouped by platform: {}".format(groups[:10]))
        # Every incident on its device's timeline (bars that touch are merged: data-n counts them).
        barred = page.eval("Array.from(document.querySelectorAll('figure.timeline rect.bar'))"
                           ".reduce((n, r) => n + +r.dataset.n, 0)")
        check(barred == len(incidents), "bars: {} for {} incidents".format(barred, len(incidents)))
        check(page.eval("document.querySelectorAll('figure.timeline rect.tick').length") > 0, "ticks")
        no_markup_injected(page)

        # The copy button (the embedded script ran under the page's policy).
        check(page.eval("document.querySelectorAll('button.copy:not([hidden])').length") > 0, "copy buttons")
        page.eval("document.querySelector('button.copy').click()")
        copied = page.wait("document.querySelector('button.copy').textContent === 'Copied' ? 'button' : "
                           "(window.getSelection().toString() === document.getElementById("
                           "document.querySelector('button.copy').dataset.copy).textContent ? 'selection' : '')",
                           what="the copy button to copy")
        print("copy button: copied via the {}".format(copied))
        check(all(u.startswith("file:") or u.startswith("data:") for u in page.requests()),
              "network requests: {}".format(page.requests()))

        # Keyboard: the first Tab reaches the skip link; headings do not skip levels.
        page.key("Tab", "Tab", 9)
        check(page.eval("document.activeElement.className") == "skip", "first Tab stop")
        levels = page.eval("Array.from(document.querySelectorAll('h1,h2,h3,h4,h5')).map(h => +h.tagName[1])")
        check(levels[0] == 1 and levels.count(1) == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])),
              "heading levels: {}".format(levels[:20]))
        check(page.eval("Array.from(document.querySelectorAll('button')).every(b => b.getAttribute('aria-label'))"),
              "every button has a label")
        low = page.eval(CONTRAST_JS)
        check(not low, "text below 4.5:1 contrast: {}".format(low[:5]))
        save_shot(browser, page, args.shots, "report")
        if args.docs:
            docs_report = os.path.join(work, "docs-report.html")
            subprocess.run(base + ["--report", docs_report, sample], check=True, capture_output=True, timeout=60)
            doc = browser.page("file://" + docs_report, width=1100, height=900)
            doc.screenshot(os.path.join(args.docs, "report.png"), 1500)
            doc.close()
        page.close()

        # A phone: nothing wider than the screen, the table still readable.
        phone = browser.page("file://" + report, width=390, height=844, mobile=True)
        overflow = phone.eval("document.documentElement.scrollWidth")
        check(overflow <= 392, "page wider than a phone: {} px".format(overflow))
        save_shot(browser, phone, args.shots, "report-phone")
        phone.close()
    finally:
        browser.close()


# Elements whose text is below WCAG AA contrast (4.5:1) against their background.
CONTRAST_JS = """(() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 :
                     Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
                    if (c.length === 3 || c[3] > 0.5) return c; } return [255, 255, 255]; };
  const bad = [];
  for (const e of document.querySelectorAll('main *, header *')) {
    if (!Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const a = lum(rgb(getComputedStyle(e).color)), b = lum(bg(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(e.tagName + '.' + e.className + ' ' + ratio.toFixed(2));
  }
  return bad;
})()"""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--binary", required=True)
    p.add_argument("--signatures", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--shots", default=None, help="where screenshots go (default: a temporary directory)")
    p.add_argument("--docs", default=None, help="also write the documentation's PNGs here")
    args = p.parse_args()
    fn = globals().get("scenario_" + args.scenario)
    if fn is None:
        sys.exit("unknown scenario " + args.scenario)
    work = tempfile.mkdtemp(prefix="tunneldoc-ui-")
    args.shots = args.shots or work
    os.makedirs(args.shots, exist_ok=True)
    start = time.time()
    try:
        fn(args, work)
    except (AssertionError, BrowserError) as e:
        print("FAIL {}: {}".format(args.scenario, e))
        for name in sorted(os.listdir(work)):
            if name.endswith(".stderr"):
                print("--- " + name)
                print(open(os.path.join(work, name)).read()[-4000:])
        sys.exit(1)
    if args.shots != work:
        shutil.rmtree(work, ignore_errors=True)
    print("ok {} ({:.1f} s)".format(args.scenario, time.time() - start))


if __name__ == "__main__":
    main()
