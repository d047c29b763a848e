// micro_bench.cc — Google Benchmark for the per-line hot path: parse, key
// lookup on an unknown key, match with extraction, and rendering.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/render.h"

namespace {
using namespace tunneldoc;

const char* kTraffic =
    "<166>Nov 26 2026 10:00:01 hq-asa : %ASA-6-302013: Built inbound TCP connection 123456 for outside:203.0.113.9/51234 "
    "(203.0.113.9/51234) to inside:10.1.1.5/443 (10.1.1.5/443)";
const char* kVpn =
    "<164>Nov 26 2026 10:00:01 hq-asa : %ASA-4-402119: IPSEC: Received an ESP packet (SPI= 0xB6E47E4C, sequence number= "
    "0x1D) from 203.0.113.9 (user= 203.0.113.9) to 198.51.100.1 that failed anti-replay checking.";

std::shared_ptr<const KnowledgeBase> kb() {
  static auto loaded = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
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

void BM_Render(benchmark::State& state) {
  const Matcher m(kb());
  JsonRenderer renderer(kb(), {2026, {}});
  const LogRecord r = parse_line(kVpn);
  Fields f;
  const Signature* sig = m.match(r, f);
  const Evidence ev{r.line, "file:asa.log:1"};
  std::string out;
  for (auto _ : state) {
    out.clear();
    Diagnosis d;
    d.signature = sig;
    d.time = r.time;
    d.host = r.host;
    d.message_id = r.message_id;
    d.severity = r.severity;
    d.fields = &f;
    d.evidence = &ev;
    d.evidence_count = 1;
    renderer.render(d, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_Render);

void BM_LoadKnowledgeBase(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(load_knowledge_base(TUNNELDOC_SIGNATURE_DIR));
}
BENCHMARK(BM_LoadKnowledgeBase)->Unit(benchmark::kMillisecond);
}  // namespace

BENCHMARK_MAIN();
