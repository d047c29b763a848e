// view_bench.cc — the status page and the report (view.h): rendering 10,000
// incidents as the report's HTML, against the baseline of rendering the same
// records as JSON lines (the record every sink writes), in the same run; the
// live page at its bounds; and what feeding the store costs per record.
// The bytes of each document are reported as counters (page weight).
//
//   build/bench/tunneldoc_viewbench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "tunneldoc/correlator.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/render.h"
#include "tunneldoc/view.h"

namespace {
using namespace tunneldoc;

std::shared_ptr<const KnowledgeBase> kb() {
  static auto loaded = load_knowledge_base(
      std::getenv("TUNNELDOC_SIGNATURES") != nullptr ? std::getenv("TUNNELDOC_SIGNATURES") : TUNNELDOC_SIGNATURE_DIR);
  if (!loaded.ok()) std::abort();
  return loaded.kb;
}

// Every record of `incidents` incidents on 50 devices: four problems in turn,
// one incident in three resolved by PHASE 1 COMPLETED, a few repeats each.
const std::vector<OutputPtr>& records(int incidents) {
  static std::map<int, std::vector<OutputPtr>> cache;
  auto& out = cache[incidents];
  if (!out.empty()) return out;
  MetricsRegistry metrics;
  Correlator correlator(kb(), CorrelatorOptions{}, metrics);
  Recognizer recognizer(std::make_shared<const Matcher>(kb()), 2026);
  const char* templates[] = {
      "%ASA-5-713904: IP = {peer}, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop",
      "%ASA-4-402119: IPSEC: Received an ESP packet (SPI= 0xB6E47E4C, sequence number= 0x1D) from {peer} (user= "
      "{peer}) to 198.51.100.1 that failed anti-replay checking.",
      "%ASA-3-713132: Group = ra-users, IP = {peer}, Cannot obtain an IP address for remote peer",
      "%ASA-3-713063: IKE Peer address not configured for destination {peer}"};
  std::int64_t t = 1'795'687'200'000;
  Origin origin;
  origin.source = "udp:192.0.2.1:514";
  origin.host = "192.0.2.1";
  for (int i = 0; i < incidents; ++i) {
    const std::string peer =
        "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256);
    const std::string device = "asa-" + std::to_string(i % 50);
    std::string msg = templates[i % 4];
    for (std::size_t at; (at = msg.find("{peer}")) != std::string::npos;) msg.replace(at, 6, peer);
    for (int repeat = 0; repeat < 3; ++repeat) {
      Event e;
      t += 7;
      if (recognizer.recognize("<165>Nov 26 2026 10:00:00 " + device + " : " + msg, origin, false, t, e))
        correlator.process(std::move(e), out);
    }
    if (i % 3 == 0) {
      Event e;
      const std::string done = "<165>Nov 26 2026 10:00:00 " + device + " : %ASA-5-713119: Group = " + peer +
                               ", IP = " + peer + ", PHASE 1 COMPLETED";
      if (recognizer.recognize(done, origin, false, t, e)) correlator.process(std::move(e), out);
    }
  }
  return out;
}

std::shared_ptr<const ViewSnapshot> snapshot(int incidents, const ViewOptions& options) {
  StatusStore store(options);
  for (const OutputPtr& o : records(incidents)) store.apply(o);
  return store.snapshot();
}

// Baseline: the same incidents as JSON lines (each incident's latest record).
void BM_IncidentsJson(benchmark::State& state) {
  const auto s = snapshot(static_cast<int>(state.range(0)), report_view_options());
  std::size_t bytes = 0;
  for (auto _ : state) {
    JsonRenderer renderer;
    std::string out;
    for (const auto& list : {&s->open, &s->resolved})
      for (const OutputPtr& r : *list) renderer.render(*r, out);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["incidents"] = static_cast<double>(s->open.size() + s->resolved.size());
}
BENCHMARK(BM_IncidentsJson)->Arg(10'000)->Unit(benchmark::kMillisecond);

// The report of scan --report: every incident, its evidence, the remedies.
void BM_ReportHtml(benchmark::State& state) {
  const auto s = snapshot(static_cast<int>(state.range(0)), report_view_options());
  PageOptions o;
  o.inputs = {"asa.log"};
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string html = render_page(*s, o);
    bytes = html.size();
    benchmark::DoNotOptimize(html.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["incidents"] = static_cast<double>(s->open.size() + s->resolved.size());
}
BENCHMARK(BM_ReportHtml)->Arg(10'000)->Unit(benchmark::kMillisecond);

// The live page at the store's default bounds (500 rows, 200 detailed).
void BM_LivePage(benchmark::State& state) {
  const auto s = snapshot(static_cast<int>(state.range(0)), ViewOptions{});
  PageOptions o;
  o.live = true;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string html = render_page(*s, o);
    bytes = html.size();
    benchmark::DoNotOptimize(html.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_LivePage)->Arg(10)->Arg(10'000)->Unit(benchmark::kMillisecond);

// Feeding the store: every record of 10,000 incidents (ticks and incidents).
void BM_StoreApply(benchmark::State& state) {
  const auto& all = records(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    StatusStore store(ViewOptions{});
    for (const OutputPtr& o : all) store.apply(o);
    benchmark::DoNotOptimize(store.version());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * all.size()));
}
BENCHMARK(BM_StoreApply)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
