// micro_bench.cc — Google Benchmark for the per-line hot path: parse (every
// header form), key lookup on an unknown key, match with extraction (every
// example of the knowledge base; keyless set), RE2 captures, rendering, and
// knowledge-base load. Whole-process figures: bench/run.sh.
#include <benchmark/benchmark.h>
#include <re2/re2.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/render.h"

namespace {
using namespace tunneldoc;

const char* kTraffic =
    "<166>Nov 26 2026 10:00:01 hq-asa : %ASA-6-302013: Built inbound TCP connection 123456 for "
    "outside:203.0.113.9/51234 "
    "(203.0.113.9/51234) to inside:10.1.1.5/443 (10.1.1.5/443)";
const char* kVpn =
    "<164>Nov 26 2026 10:00:01 hq-asa : %ASA-4-402119: IPSEC: Received an ESP packet (SPI= 0xB6E47E4C, sequence "
    "number= "
    "0x1D) from 203.0.113.9 (user= 203.0.113.9) to 198.51.100.1 that failed anti-replay checking.";

std::shared_ptr<const KnowledgeBase> kb() {
  // $TUNNELDOC_SIGNATURES pins a copy of the knowledge base (it changes while
  // people work); the source tree's by default.
  static auto loaded = load_knowledge_base(
      std::getenv("TUNNELDOC_SIGNATURES") != nullptr ? std::getenv("TUNNELDOC_SIGNATURES") : TUNNELDOC_SIGNATURE_DIR);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    std::abort();
  }
  return loaded.kb;
}

void BM_ParseTraffic(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(parse_line(kTraffic));
}
BENCHMARK(BM_ParseTraffic);

void BM_MatchUnknownKey(benchmark::State& state) {
  const Matcher m(kb());
  const LogRecord r = parse_line(kTraffic);
  Fields f;
  for (auto _ : state) benchmark::DoNotOptimize(m.match(r, f));
}
BENCHMARK(BM_MatchUnknownKey);

void BM_MatchExtract(benchmark::State& state) {
  const Matcher m(kb());
  const LogRecord r = parse_line(kVpn);
  Fields f;
  for (auto _ : state) benchmark::DoNotOptimize(m.match(r, f));
}
BENCHMARK(BM_MatchExtract);

// The line record of `line` as the correlator hands it on; null when not recognised.
OutputPtr line_record(const std::string& line, std::uint64_t number) {
  static Recognizer recognizer(std::make_shared<const Matcher>(kb()), 2026);
  Origin origin;
  origin.source = "file:asa.log";
  origin.line = number;
  Event event;
  if (recognizer.recognize(line, origin, false, 1795685411004, event) == nullptr) return nullptr;
  return line_output(kb(), std::make_shared<const Event>(std::move(event)));
}

void BM_Render(benchmark::State& state) {
  JsonRenderer renderer;
  const OutputPtr o = line_record(kVpn, 1);
  std::string out;
  for (auto _ : state) {
    out.clear();
    renderer.render(*o, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Render);

// Issue 11, case 13: the whole path (parse + match) on a normal 713904 line
// and on the worst case, `%ASA-5-713904: ` repeated 4,000 times (60 kB, no
// pattern matches). Bytes/s of the two give the per-byte cost ratio.
const std::string& worst_713904_line() {
  static const std::string line = [] {
    std::string s;
    for (int i = 0; i < 4000; ++i) s += "%ASA-5-713904: ";
    return s;
  }();
  return line;
}

void match_line_bytes(benchmark::State& state, const std::string& line) {
  const Matcher m(kb());
  Fields f;
  ParseOptions options;
  options.max_line_bytes = 64 * 1024;
  for (auto _ : state) {
    const LogRecord r = parse_line(line, options);
    benchmark::DoNotOptimize(m.match(r, f));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(line.size()));
}

void BM_Match713904Normal(benchmark::State& state) {
  match_line_bytes(state,
                   "<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted "
                   "NO_PROPOSAL_CHOSEN notify message, drop");
}
BENCHMARK(BM_Match713904Normal);

void BM_Match713904WorstCase(benchmark::State& state) {
  match_line_bytes(state, worst_713904_line());
}
BENCHMARK(BM_Match713904WorstCase);

// Every header form of docs/design, parsed in turn.
const std::vector<std::string>& header_forms() {
  static const std::vector<std::string> lines = {
      "<166>Nov 26 2026 10:00:01: %ASA-6-302013: Built inbound TCP connection 1 for outside:192.0.2.1/1 (192.0.2.1/1) "
      "to inside:10.0.0.1/2 (10.0.0.1/2)",
      "<164>Nov 26 2026 10:00:01 hq-asa : %ASA-4-402119: IPSEC: Received an ESP packet",
      "<166>2026-11-26T10:00:01Z hq-asa : %ASA-6-722036: Group g User u IP 192.0.2.1 Transmitting large packet",
      "<164>1 2026-11-26T09:32:00.120+01:00 hq-asa - - - - %ASA-4-402119: IPSEC: Received an ESP packet",
      "Nov 26 10:00:01 10.20.0.1 %ASA-5-713904: IP = 192.0.2.1, Received an un-encrypted NO_PROPOSAL_CHOSEN",
      "%ASA-3-752006: Tunnel Manager failed to dispatch a KEY_ACQUIRE message.",
      "4|Mar 24 2010 10:21:50|713903: IP = 203.0.113.9, Error: Unable to remove PeerTblEntry",
      "<189>45: *Mar  1 00:31:55.431: %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA",
      "[IKEv1]: Group = 192.0.2.6, IP = 192.0.2.6, QM FSM error (P2 struct &0x4a1f5c8, mess id 0x1e6a0f1)!",
      "20932 10/26/2007 14:37:45.430 SEV=3 AUTH/5 RPT=1863 10.19.187.229 Authentication rejected: Reason = User was "
      "not found",
  };
  return lines;
}

void BM_ParseHeaderForms(benchmark::State& state) {
  const auto& lines = header_forms();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(parse_line(lines[i]));
    if (++i == lines.size()) i = 0;
  }
}
BENCHMARK(BM_ParseHeaderForms);

// Every inline example of the knowledge base: parse, key lookup, RE2 extraction.
void BM_MatchAllExamples(benchmark::State& state) {
  const Matcher m(kb());
  std::vector<LogRecord> records;
  for (const Signature& s : kb()->signatures())
    for (const Example& e : s.examples) records.push_back(parse_line(e.line));
  Fields f;
  std::size_t i = 0, hits = 0;
  for (auto _ : state) {
    hits += m.match(records[i], f) != nullptr;
    if (++i == records.size()) i = 0;
  }
  benchmark::DoNotOptimize(hits);
}
BENCHMARK(BM_MatchAllExamples);

// A keyless line through the RE2::Set of keyless signatures.
void BM_MatchKeyless(benchmark::State& state) {
  const Matcher m(kb());
  const LogRecord r = parse_line(header_forms()[8]);
  Fields f;
  for (auto _ : state) benchmark::DoNotOptimize(m.match(r, f));
}
BENCHMARK(BM_MatchKeyless);

// The extraction alone: one RE2 with captures vs. the same RE2 without them.
void BM_Re2Captures(benchmark::State& state) {
  const Signature* sig = kb()->find_signature("asa-402119-anti-replay");
  if (sig == nullptr) return state.SkipWithError("no asa-402119-anti-replay");
  const LogRecord r = parse_line(kVpn);
  const re2::StringPiece text(r.text.data(), r.text.size());
  const int n = static_cast<int>(state.range(0)) != 0 ? sig->regex->NumberOfCapturingGroups() + 1 : 0;
  std::vector<re2::StringPiece> sub(static_cast<std::size_t>(n) + 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(sig->regex->Match(text, 0, text.size(), RE2::UNANCHORED, sub.data(), n));
  }
}
BENCHMARK(BM_Re2Captures)->Arg(0)->Arg(1);

// Every diagnosis an example yields, rendered.
void BM_RenderAllExamples(benchmark::State& state) {
  JsonRenderer renderer;
  std::vector<OutputPtr> items;
  for (const Signature& s : kb()->signatures()) {
    for (const Example& e : s.examples) {
      if (OutputPtr o = line_record(e.line, 123456); o && s.role == Role::diagnosis) items.push_back(std::move(o));
    }
  }
  std::size_t i = 0, bytes = 0;
  std::string out;
  for (auto _ : state) {
    out.clear();
    renderer.render(*items[i], out);
    bytes += out.size();
    if (++i == items.size()) i = 0;
  }
  benchmark::DoNotOptimize(bytes);
}
BENCHMARK(BM_RenderAllExamples);

void BM_EventTimeRfc3339(benchmark::State& state) {
  const LogRecord r = parse_line(header_forms()[3]);
  for (auto _ : state) benchmark::DoNotOptimize(r.time.to_rfc3339(2026));
}
BENCHMARK(BM_EventTimeRfc3339);

void BM_LoadKnowledgeBase(benchmark::State& state) {
  const char* dir = std::getenv("TUNNELDOC_SIGNATURES");
  for (auto _ : state) benchmark::DoNotOptimize(load_knowledge_base(dir != nullptr ? dir : TUNNELDOC_SIGNATURE_DIR));
}
BENCHMARK(BM_LoadKnowledgeBase)->Unit(benchmark::kMillisecond);
// Parse and match of each signature's first example, one benchmark per
// signature ("BM_Signature/<id>"): which patterns cost the most to extract.
void register_signature_benchmarks() {
  for (const Signature& s : kb()->signatures()) {
    if (s.examples.empty()) continue;
    const std::string line = s.examples.front().line;
    benchmark::RegisterBenchmark(("BM_Signature/" + s.id).c_str(), [line](benchmark::State& state) {
      static const Matcher m(kb());
      Fields f;
      for (auto _ : state) {
        const LogRecord r = parse_line(line);
        benchmark::DoNotOptimize(m.match(r, f));
      }
    });
  }
}
}  // namespace

int main(int argc, char** argv) {
  register_signature_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
