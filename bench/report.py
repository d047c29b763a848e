#!/usr/bin/env python3
"""Turns bench/run.sh's results.tsv into docs/performance.md (on stdout).

    bench/report.py RESULTS.tsv [SCAN_STATS.txt] > docs/performance.md
"""
import statistics
import sys
from collections import defaultdict

NOTES_BEGIN = "<!-- notes -->"


def _rate_key(label: str) -> float:
    """Sort key of a ceiling label "<senders>x<rate>" ("max" last)."""
    rate = label.split("x", 1)[1]
    return float("inf") if rate == "max" else float(rate)


def ceiling_section(res, w) -> None:
    """The loopback UDP ceiling (bench/udp_ceiling.sh): the do-nothing receiver
    and serve under the same senders, rate by rate."""
    null = {k[len("ceiling.null."):]: v[-1].split() for k, v in res.items() if k.startswith("ceiling.null.")}
    serve = {k[len("ceiling.serve."):]: v[-1].split() for k, v in res.items() if k.startswith("ceiling.serve.")}
    if not null and not serve:
        return
    w("## UDP ceiling: a do-nothing receiver against `tunneldoc serve` (`bench/udp_ceiling.sh`)\n")
    w("The same senders (`tunneldoc_syslog_sender`, several at once, each at the rate shown or as fast as it")
    w("can) send the first lines of the corpus over loopback UDP, first to `tunneldoc_udp_ceiling`, which")
    w("does nothing but `recvmmsg()` 64 datagrams at a time and count them (8 MiB receive buffer, as serve's")
    w("default), then to a fresh `tunneldoc serve`. *Lost* is sent − received; RcvbufErrors is the kernel's")
    w("count of datagrams dropped on a full receive buffer over the run (machine-wide). The ceiling is the")
    w("highest offered rate at which the do-nothing receiver loses nothing.\n")
    w("| senders × rate/s | receiver | offered lines/s | sent | received | lost | RcvbufErrors | peak RSS MiB | diagnosed / expected |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    labels = sorted(set(null) | set(serve), key=_rate_key)
    for label in labels:
        for who, rows in (("do-nothing", null), ("serve", serve)):
            if label not in rows:
                continue
            v = rows[label]
            sent, received, _inerr, rcvbuf, offered, hwm = (int(x) for x in v[:6])
            diag = f"{int(v[6]):,} / {int(v[7]):,}" if len(v) > 7 else "—"
            w(f"| {label} | {who} | {offered:,} | {sent:,} | {received:,} | {sent - received:,} | {rcvbuf:,} | "
              f"{hwm / 1024:.1f} | {diag} |")
    w("")

    def clean_upto(rows):
        """(highest offered rate of the loss-free runs below the first lossy one, lossy labels)."""
        best, lossy = None, []
        for label in labels:
            if label not in rows:
                continue
            v = rows[label]
            ok = int(v[0]) == int(v[1]) and int(v[3]) == 0
            if not ok:
                lossy.append(label)
            elif not lossy:
                best = max(best or 0, int(v[4]))
        return best, lossy

    null_best, null_lossy = clean_upto(null)
    serve_best, serve_lossy = clean_upto(serve)
    if null and not null_lossy:
        w(f"- the do-nothing receiver lost nothing at any rate tried: the ceiling is at least **{null_best:,} "
          f"lines/s**, the most the senders offered on this machine (they share its cores with the receiver)")
    elif null_best:
        w(f"- ceiling (do-nothing receiver, nothing lost): **{null_best:,} lines/s** offered; it lost datagrams "
          f"at {', '.join(null_lossy)}")
    elif null:
        w("- the do-nothing receiver lost datagrams at every rate tried: the ceiling is below the lowest rate")
    if serve_best:
        w(f"- `tunneldoc serve`: no datagram lost up to **{serve_best:,} lines/s** offered"
          + (f" ({serve_best / null_best * 100:.0f} % of the ceiling)" if null_best else "")
          + (f"; lost some at {', '.join(serve_lossy)}" if serve_lossy else "; nothing lost at any rate tried"))
    elif serve:
        w("- `tunneldoc serve` lost datagrams at every rate tried")
    w("")


def loggen_section(res, w) -> None:
    """serve under syslog-ng's loggen (bench/loggen_bench.sh)."""
    rows = [(k[len("loggen."):], v[-1].split()) for k, v in res.items() if k.startswith("loggen.")]
    if not rows:
        return
    w("## `tunneldoc serve` under syslog-ng's `loggen` (`bench/loggen_bench.sh`)\n")
    w("`loggen -R corpus -d` sends the first corpus lines whole on each connection (UDP `-i -D`, TCP `-i -S`,")
    w("TLS `-U` against `serve --tls` with a self-signed certificate), flat out or at the rate shown per")
    w("connection; *sent* is loggen's count, *received* the daemon's `tunneldoc_listener_messages_total`,")
    w("*diagnosed* its `tunneldoc_diagnoses_total` against `scan --stats`. *Resets*: connections the kernel")
    w("reset on close (TcpExt TCPAbortOnClose): loggen closes a TLS connection without reading the server's")
    w("session tickets, so what the daemon had not yet read from that connection is lost with it — a loss")
    w("with resets is the generator's abrupt close, not the daemon dropping lines. loggen's own rate is its")
    w("count over its own clock, which it reads in coarse steps (short runs overstate it); *offered* is its")
    w("count over the wall time of the run. Our own sender is in the `serve` table above.\n")
    w("| scenario | offered lines/s | loggen's rate | sent | received | lost | diagnosed / expected | RcvbufErrors | resets | peak RSS MiB |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, v in rows:
        sent, received, diag, expected, _inerr, rcvbuf, offered, hwm, lrate = (int(float(x)) for x in v[:9])
        resets = v[9] if len(v) > 9 else "?"
        w(f"| {name} | {offered:,} | {lrate:,} | {sent:,} | {received:,} | {sent - received:,} | {diag:,} / "
          f"{expected:,} | {rcvbuf:,} | {resets} | {hwm / 1024:.1f} |")
    w("")


def main() -> int:
    res = defaultdict(list)
    with open(sys.argv[1], encoding="utf-8") as fh:
        for line in fh:
            if "\t" in line:
                k, v = line.rstrip("\n").split("\t", 1)
                res[k].append(v)
    one = {k: v[-1] for k, v in res.items()}
    lines = int(one["lines"])
    size = int(one["bytes"])

    def med(name):
        vals = [tuple(float(x) for x in v.split()) for v in res.get(name, [])]
        if not vals:
            return None
        cpu = statistics.median(v[2] for v in vals) if len(vals[0]) > 2 else None
        return statistics.median(v[0] for v in vals), max(v[1] for v in vals), len(vals), cpu

    out = []
    w = out.append
    w("# Performance\n")
    w("Generated by `bench/run.sh` (do not edit by hand: run it again). Every figure below comes from one")
    w("session on one machine: throughput figures are medians of several runs, with ratios taken between")
    w("runs interleaved in the same session; callgrind instruction counts are the noise-free figure.\n")
    w("## Machine and corpus\n")
    w(f"- machine: {one.get('machine', '?')}, Linux {one.get('kernel', '?')}")
    w(f"- commit: `{one.get('commit', '?')}`, {one.get('date', '?')}; load average at the start: "
      f"{one.get('loadavg', '?')} (two other engineers build on the same two cores)")
    w(f"- corpus: `bench/gen_corpus.py -n {lines}` — {lines:,} lines, {size / 1e6:.1f} MB, ~95 % ordinary "
      f"traffic, ~5 % VPN problems from the examples of {one.get('signatures', '?')} signatures")
    w("")
    w("## Whole process: corpus file to JSON-lines file\n")
    w("| run | median wall s | lines/s | MB/s | median CPU s | lines per CPU s | peak RSS MiB | diagnoses | runs |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows, cpus = [], {}
    for name, label, matches in (("scan.baseline", "baseline: the build before this work (`BASELINE=`)"
                                  + (", its own knowledge base" if one.get("baseline.own_signatures") == "yes" else ""),
                                  "scan.baseline.matches" if "scan.baseline.matches" in one else "scan.matches"),
                                 ("scan.t1", "`tunneldoc scan --threads 1`", "scan.matches"),
                                 ("scan.same_kb", "`tunneldoc scan --threads 1`, the baseline's knowledge base "
                                  "(`SAME_SIGNATURES=`)", "scan.same_kb.matches"),
                                 ("scan.t2", "`tunneldoc scan --threads 2`", "scan.matches"),
                                 ("syslog-ng", "syslog-ng 3.38 PatternDB, `flags(no-parse)` (`bench/peers/syslog_ng.sh`)",
                                  "syslog-ng.matches"),
                                 ("syslog-ng.parse", "syslog-ng 3.38 PatternDB, syslog header parsed (`... parse`)",
                                  "syslog-ng.parse.matches"),
                                 ("rsyslog", "rsyslog 8.2302 mmnormalize (liblognorm 2.0), same rules, raw line "
                                  "(`bench/peers/rsyslog_mmnormalize.sh`)", "rsyslog.matches")):
        m = med(name)
        if m is None:
            continue
        secs, rss, n, cpu = m
        rows.append((name, secs))
        if cpu:
            cpus[name] = cpu
        rss_s = f"{rss / 1024:.1f}" if rss else "—"
        cpu_s = f"{cpu:.3f} | {lines / cpu:,.0f}" if cpu else "— | —"
        w(f"| {label} | {secs:.3f} | {lines / secs:,.0f} | {size / secs / 1e6:,.0f} | {cpu_s} | {rss_s} | "
          f"{one.get(matches, '?')} | {n} |")
    w("")
    t = dict(rows)
    if "scan.t1" in t and "scan.baseline" in t:
        own = one.get("baseline.own_signatures") == "yes"
        w(f"- this build / baseline: **{t['scan.baseline'] / t['scan.t1']:.2f}×** wall time"
          + (f", {cpus['scan.baseline'] / cpus['scan.t1']:.2f}× CPU time" if "scan.baseline" in cpus else "")
          + (f"; each with its own knowledge base: {one.get('scan.baseline.matches', '?')} records "
             f"({int(one.get('scan.baseline.output_bytes', 0)) / 1e6:.0f} MB) against "
             f"{one.get('scan.matches', '?')} ({int(one.get('scan.output_bytes', 0)) / 1e6:.0f} MB)"
             if own else f"; same output bytes: {one.get('baseline.same_output', '?')}"))
        eb, ec = med("scan.baseline.empty"), med("scan.empty")
        if eb and ec:
            w(f"- knowledge-base load alone (an empty input): baseline {eb[0]:.3f} s, this build {ec[0]:.3f} s; "
              f"corpus work without it: baseline {t['scan.baseline'] - eb[0]:.3f} s, this build "
              f"{t['scan.t1'] - ec[0]:.3f} s (**{(t['scan.t1'] - ec[0]) / (t['scan.baseline'] - eb[0]):.2f}×**)")
    if "scan.same_kb" in t and "scan.baseline" in t:
        w(f"- the same knowledge base in both builds (the baseline's, `bench/upgrade_kb.py`): this build takes "
          f"**{t['scan.same_kb'] / t['scan.baseline']:.3f}×** the baseline's wall time"
          + (f" and {cpus['scan.same_kb'] / cpus['scan.baseline']:.2f}× its CPU time" if "scan.same_kb" in cpus else "")
          + "; "
          f"{one.get('scan.baseline.matches', '?')} records "
          f"({int(one.get('scan.baseline.output_bytes', 0)) / 1e6:.0f} MB) against "
          f"{one.get('scan.same_kb.matches', '?')} ({int(one.get('scan.same_kb.output_bytes', 0)) / 1e6:.0f} MB)")
    if "scan.t1" in t:
        if "syslog-ng" in t:
            w(f"- tunneldoc (1 thread) / syslog-ng: **{t['syslog-ng'] / t['scan.t1']:.1f}×** wall time "
              f"(target ≥ 30×)" + (f", {cpus['syslog-ng'] / cpus['scan.t1']:.1f}× CPU time"
                                    if "syslog-ng" in cpus and "scan.t1" in cpus else ""))
            if "scan.t2" in t:
                w(f"- tunneldoc (2 threads) / syslog-ng: **{t['syslog-ng'] / t['scan.t2']:.1f}×**")
        if "syslog-ng.parse" in t:
            w(f"- tunneldoc (1 thread) / syslog-ng with header parsing: **{t['syslog-ng.parse'] / t['scan.t1']:.1f}×**")
        if "rsyslog" in t:
            w(f"- tunneldoc (1 thread) / rsyslog mmnormalize: **{t['rsyslog'] / t['scan.t1']:.1f}×** wall time"
              + (f", {cpus['rsyslog'] / cpus['scan.t1']:.1f}× CPU time" if "rsyslog" in cpus and "scan.t1" in cpus
                 else ""))
        if "scan.t2" in t:
            w(f"- 2 threads / 1 thread: **{t['scan.t1'] / t['scan.t2']:.2f}×**; same output as one thread: "
              f"{one.get('threads.same_output', '?')}")
        w(f"- 1 thread: **{lines / t['scan.t1'] / 1e6:.2f} M lines/s** whole process, knowledge-base load "
          f"included (target ≥ 5 M)")
    if "cpus.available.before" in one:
        w(f"- CPUs this session actually got (CPU time / wall time of two busy loops, 2.00 when idle): "
          f"{one['cpus.available.before']} before the runs, {one.get('cpus.available.after', '?')} after")
    if "scan.output_bytes" in one:
        w(f"- tunneldoc's output: {int(one['scan.output_bytes']) / 1e6:.0f} MB "
          f"({int(one['scan.output_bytes']) / max(1, int(one.get('scan.matches', 1))):,.0f} bytes a diagnosis, "
          f"remedies included); syslog-ng writes one short JSON object a match")
    w("")
    serve = [(k[len("serve."):], v[-1].split()) for k, v in res.items() if k.startswith("serve.")]
    if serve:
        w("## `tunneldoc serve` under load (loopback, `bench/serve_bench.sh`)\n")
        w("Each scenario: a fresh daemon, the first lines of the corpus from each sender; *diagnosed* is the")
        w("daemon's count of diagnosed lines (`tunneldoc_diagnoses_total`, whatever the output stream), *expected*")
        w("what `scan --stats` counts as diagnosed in the same lines; kernel counters are the deltas of")
        w("`/proc/net/snmp` Udp InErrors / RcvbufErrors over the run.\n")
        w("| scenario | offered lines/s | sent | received | lost | diagnosed / expected | InErrors | RcvbufErrors | peak RSS MiB | KB load ms |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, v in serve:
            sent, received, diag, expected, inerr, rcvbuf, offered, hwm, kb = v
            w(f"| {name} | {int(offered):,} | {int(sent):,} | {int(received):,} | {int(sent) - int(received):,} | "
              f"{int(diag):,} / {int(expected):,} | {inerr} | {rcvbuf} | {int(hwm) / 1024:.1f} | {kb} |")
        w("")
    ceiling_section(res, w)
    loggen_section(res, w)
    if "callgrind.cg-200k" in one:
        total = int(one["callgrind.cg-200k"])
        empty = int(one["callgrind.cg-empty"])
        n = min(lines, 200_000)
        w("## Instructions per line (callgrind)\n")
        w(f"`valgrind --tool=callgrind tunneldoc scan` over the first {n:,} lines of the corpus, minus the same "
          f"run over an empty file (start-up and knowledge-base load: {empty / 1e6:.1f} M instructions):\n")
        w(f"- **{(total - empty) / n:,.0f} instructions per line** on the hot path (all lines, diagnosed or not)")
        labels = [("read", "line reading (LineReader::next)"),
                  ("recognize", "parse + match + Event (Recognizer::recognize)"),
                  ("parse", "of which parse_line"),
                  ("match", "of which Matcher::match (key lookup + RE2)"),
                  ("re2", "of which RE2::Match (extraction)"),
                  ("re2_set", "of which RE2::Set::Match (which of a key's patterns, keyless lines)"),
                  ("correlate", "correlate (Correlator::process)"),
                  ("intake", "sink intake thread: encode into the spool (Sink::intake)"),
                  ("render", "of which JsonRenderer::render"),
                  ("deliver", "sink delivery thread: write (Sink::deliver)"),
                  ("malloc", "malloc, all callers"),
                  ("free", "free, all callers")]
        base_total = None
        if "callgrind.cg-baseline" in one:
            base_total = int(one["callgrind.cg-baseline"]) - int(one.get("callgrind.cg-baseline-empty", empty))
        w("")
        w("Inclusive instructions per line of each stage's function (a stage's \"of which\" rows are inside it; "
          "malloc and free are counted inside the stages too):\n")
        w("| stage | baseline | this build |" if base_total else "| stage | this build |")
        w("|---|---:|---:|" if base_total else "|---|---:|")
        if base_total:
            w(f"| **all, per line** | {base_total / n:,.0f} | {(total - empty) / n:,.0f} |")
        else:
            w(f"| **all, per line** | {(total - empty) / n:,.0f} |")
        for stage, label in labels:
            k = f"callgrind.stage.{stage}"
            if k not in one:
                continue
            name = ("&nbsp;&nbsp;" + label) if label.startswith("of which") else label
            now = f"{int(one[k]) / n:,.0f}"
            if base_total:
                b = one.get(f"callgrind.baseline.stage.{stage}")
                w(f"| {name} | {int(b) / n:,.0f} | {now} |" if b else f"| {name} | — | {now} |")
            else:
                w(f"| {name} | {now} |")
        if base_total:
            kb_b = one.get("callgrind.baseline.stage.kb_load")
            w(f"| knowledge-base load, whole (M instructions) | "
              f"{(int(kb_b) / 1e6 if kb_b else int(one.get('callgrind.cg-baseline-empty', 0)) / 1e6):,.0f} | "
              f"{int(one.get('callgrind.stage.kb_load', empty)) / 1e6:,.0f} |")
            w("")
            w(f"- baseline build: {base_total / n:,.0f} instructions per line (this build: "
              f"{(total - empty) / base_total * 100:.0f} % of it)")
        if "callgrind.cg-200k-t2" in one:
            t2 = int(one["callgrind.cg-200k-t2"])
            w(f"- with `--threads 2`: {(t2 - empty) / n:,.0f} instructions per line, all threads together "
              f"(chunking, line counting and ordered output cost {(t2 - total) / n:,.0f} more a line)")
        w("")
    sigs = [(k[len("sig.BM_Signature/"):], v) for k, v in one.items() if k.startswith("sig.")]
    micro = [(k[len("micro."):], v) for k, v in one.items() if k.startswith("micro.")]
    if micro:
        w("## Micro-benchmarks (Google Benchmark, median CPU time of 5 repetitions)\n")
        w("| benchmark | time |")
        w("|---|---:|")
        for k, v in micro:
            val, unit = v.split()
            w(f"| {k.replace('_median', '')} | {float(val):,.1f} {unit} |")
        w("")
    if sigs:
        w("## The ten costliest signatures (parse + key lookup + RE2 extraction of the first example)\n")
        w("| signature | time |")
        w("|---|---:|")
        for k, v in sigs:
            val, unit = v.split()
            w(f"| {k} | {float(val):,.0f} {unit} |")
        w("")
    if len(sys.argv) > 2:
        try:
            with open(sys.argv[2], encoding="utf-8") as fh:
                stats = fh.read().strip()
            w("## `tunneldoc scan --stats` of the corpus\n")
            w("```\n" + stats + "\n```\n")
        except OSError:
            pass
    w("## Commands\n")
    w("```sh")
    w("bench/run.sh                        # everything; LINES=, RUNS=, WORK=, SKIP_PEERS=1, SKIP_CALLGRIND=1, SKIP_SERVE=1")
    w("BASELINE=/path/to/old/tunneldoc bench/run.sh   # also an older build, interleaved, and its callgrind count")
    w("bench/serve_bench.sh build-perf/tunneldoc build-perf/bench/tunneldoc_syslog_sender corpus.log signatures /tmp/serve")
    w("bench/udp_ceiling.sh build-perf/tunneldoc build-perf/bench/tunneldoc_syslog_sender "
      "build-perf/bench/tunneldoc_udp_ceiling corpus.log signatures /tmp/ceiling   # RATES=, SENDERS=, COUNT=")
    w("bench/loggen_bench.sh build-perf/tunneldoc corpus.log signatures /tmp/loggen   # SCENARIOS=, COUNT=")
    w("bench/peers/rsyslog_mmnormalize.sh corpus.log rulebase.rb /tmp/rsyslog   # gen_corpus.py --rulebase rulebase.rb")
    w(f"python3 bench/gen_corpus.py -n {lines} -o corpus.log --patterndb patterndb.xml")
    w("/usr/bin/time -v build-perf/tunneldoc scan --threads 1 corpus.log > out.jsonl")
    w("bench/peers/syslog_ng.sh corpus.log patterndb.xml /tmp/sng   # prints seconds and matches")
    w("valgrind --tool=callgrind build-perf/tunneldoc scan corpus-200k.log > /dev/null")
    w("build-perf/bench/tunneldoc_microbench")
    w("```\n")
    try:
        with open("bench/performance-notes.md", encoding="utf-8") as fh:
            w(fh.read())
    except OSError:
        pass
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
