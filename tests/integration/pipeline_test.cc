// pipeline_test.cc — the pipeline every source feeds: diagnoses, host fallback,
// sources, counters, and knowledge-base swaps while worker threads run.
#include "tunneldoc/pipeline.h"

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/render.h"
#include "tunneldoc/route.h"
#include "tunneldoc/sink.h"

using namespace tunneldoc;

namespace {

// Records as the sink's thread writes them.
class MemoryTransport final : public SinkTransport {
 public:
  explicit MemoryTransport(std::string& text) : text_(text) {}
  bool write(std::string_view bytes, std::string&) override {
    text_.append(bytes);
    return true;
  }
  void cancel() override {}
  bool reopen(std::string&) override { return true; }

 private:
  std::string& text_;
};

// A sink of the given stream into memory; records() drains it first.
class MemorySink {
 public:
  MemorySink(MetricsRegistry& m, Stream stream = Stream::all)
      : sink_(SinkOptions{.name = "memory",
                          .stream = stream,
                          .queue_capacity = 1 << 20,
                          .queue_bytes = std::size_t{1} << 30,
                          .when_full = SinkOptions::WhenFull::block}, make_json_encoder(),
              std::make_unique<MemoryTransport>(text_), m),
        router_({&sink_}) {
    sink_.start();
  }
  Router& router() { return router_; }
  std::vector<nlohmann::json> records(std::string_view kind = "line") {
    sink_.stop(Deadline::max());  // everything delivered
    std::vector<nlohmann::json> out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text_.find('\n', start)) != std::string::npos; start = nl + 1) {
      auto j = nlohmann::json::parse(text_.substr(start, nl - start));
      if (kind.empty() || j["kind"] == kind) out.push_back(std::move(j));
    }
    return out;
  }

 private:
  std::string text_;
  Sink sink_;
  Router router_;
};

const char* kLine =
    "<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted "
    "NO_PROPOSAL_CHOSEN notify message, drop";
const char* kBare = "%ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop";

std::shared_ptr<const KnowledgeBase> kb() {
  static auto loaded = load_checked_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  REQUIRE(loaded.ok());
  return loaded.kb;
}

}  // namespace

TEST_CASE("the pipeline diagnoses, names the source, and falls back to the sender as host", "[pipeline]") {
  MetricsRegistry metrics;
  MemorySink sink(metrics);
  PipelineOptions options;
  options.year = 2026;
  Pipeline pipeline(kb(), sink.router(), metrics, options);
  Origin tcp;
  tcp.source = "tcp:192.0.2.1:514";
  tcp.host = "192.0.2.1";
  pipeline.process(kLine, tcp);
  pipeline.process(kBare, tcp);
  pipeline.process("<13>nothing to see", tcp);
  Origin file;
  file.source = "file:/var/log/asa.log";
  file.line = 17;
  pipeline.process(kLine, file);
  struct Ctx {
    int calls = 0;
  } ctx;
  Origin udp;
  udp.context = &ctx;
  udp.describe = [](const void* c, std::string& source, std::string& host) {
    ++static_cast<Ctx*>(const_cast<void*>(c))->calls;
    source = "udp:198.51.100.7:514";
    host = "198.51.100.7";
  };
  pipeline.process("<13>not diagnosed: describe is not called", udp);
  pipeline.process(kBare, udp);
  CHECK(ctx.calls == 1);

  auto r = sink.records();
  REQUIRE(r.size() == 4);
  CHECK(r[0]["host"] == "hq-asa");
  CHECK(r[0]["evidence"][0]["source"] == "tcp:192.0.2.1:514");
  CHECK(r[1]["host"] == "192.0.2.1");
  CHECK(r[2]["evidence"][0]["source"] == "file:/var/log/asa.log:17");
  CHECK(r[3]["host"] == "198.51.100.7");
  CHECK(r[3]["evidence"][0]["source"] == "udp:198.51.100.7:514");
  const std::string text = metrics.render();
  CHECK(text.find("tunneldoc_diagnoses_total 4\n") != std::string::npos);
  CHECK(text.find("tunneldoc_messages_processed_total 6\n") != std::string::npos);
  CHECK(text.find("tunneldoc_signature_matches_total{signature=\"asa-713904-no-proposal-chosen\"} 4\n") !=
        std::string::npos);
}

TEST_CASE("diagnoses by an id's fallback are counted per message id", "[pipeline][fallback]") {
  MetricsRegistry metrics;
  MemorySink sink(metrics);
  PipelineOptions options;
  options.year = 2026;
  Pipeline pipeline(kb(), sink.router(), metrics, options);
  Origin tcp;
  tcp.source = "tcp:192.0.2.1:514";
  pipeline.process(kLine, tcp);  // a known wording: not a fallback
  pipeline.process(
      "%ASA-4-750003: Local:198.51.100.1:500 Remote:203.0.113.9:500 Username:branch-7 IKEv2 "
      "Negotiation aborted due to ERROR: a reason of a future release",
      tcp);
  pipeline.process(
      "%FTD-4-750003: Local:198.51.100.1:500 Remote:203.0.113.9:500 Username:branch-7 IKEv2 "
      "Negotiation aborted due to ERROR: another new reason",
      tcp);
  pipeline.process("%ASA-4-713903: IP = 203.0.113.9, Error: a new failure text", tcp);
  REQUIRE(sink.records().size() == 4);
  const std::string text = metrics.render();
  CHECK(text.find("tunneldoc_fallback_diagnoses_total{message_id=\"750003\"} 2\n") != std::string::npos);
  CHECK(text.find("tunneldoc_fallback_diagnoses_total{message_id=\"713903\"} 1\n") != std::string::npos);
  CHECK(text.find("tunneldoc_fallback_diagnoses_total{message_id=\"713904\"} 0\n") != std::string::npos);
}

TEST_CASE("knowledge-base swaps while workers run lose no message", "[pipeline]") {
  MetricsRegistry metrics;
  MemorySink sink(metrics);
  PipelineOptions options;
  options.year = 2026;
  Pipeline pipeline(kb(), sink.router(), metrics, options);
  // Loaded beforehand, so the swaps land while the workers are processing;
  // each worker runs until the last swap is done and 1,000 messages beyond.
  std::vector<std::shared_ptr<const KnowledgeBase>> next;
  for (int i = 0; i < 3; ++i) {
    auto again = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
    REQUIRE(again.ok());
    next.push_back(again.kb);
  }
  std::atomic<int> swaps{0};
  std::atomic<bool> go{false};
  std::array<std::atomic<long>, 2> processed{};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto worker = pipeline.bind_thread();
      while (!go) std::this_thread::yield();
      Origin o;
      o.source = "tcp:192.0.2.1:514";
      o.host = "192.0.2.1";
      for (long i = 0, after_last = 0; after_last < 1000; ++i) {
        const bool last_done = swaps.load() == 3;
        pipeline.process(i % 2 ? kLine : "<13>noise", o);
        ++processed[static_cast<std::size_t>(t)];
        if (last_done) ++after_last;
      }
    });
  }
  go = true;
  for (auto& kb : next) {
    // Each swap lands while both workers are processing: they have moved on
    // by 500 messages since the previous one.
    const long a = processed[0], b = processed[1];
    while (processed[0] < a + 500 || processed[1] < b + 500) std::this_thread::yield();
    pipeline.swap_knowledge_base(kb);
    ++swaps;
  }
  for (auto& t : threads) t.join();
  const long diagnosable = processed[0] / 2 + processed[1] / 2;  // every odd message
  CHECK(static_cast<long>(sink.records().size()) == diagnosable);
  CHECK(metrics.render().find("tunneldoc_signature_matches_total{signature=\"asa-713904-no-proposal-chosen\"} " +
                              std::to_string(diagnosable) + "\n") != std::string::npos);
  CHECK(pipeline.knowledge_base() == next.back());
}

TEST_CASE("metrics render in Prometheus text format", "[metrics]") {
  MetricsRegistry m;
  m.counter("x_total", "Things", {{"listener", "udp:127.0.0.1:1"}}).inc(3);
  CHECK(&m.counter("x_total", "Things", {{"listener", "udp:127.0.0.1:1"}}) ==
        &m.counter("x_total", "Things", {{"listener", "udp:127.0.0.1:1"}}));
  m.gauge("g", "A gauge").set(1.5);
  int owner = 0;
  m.probe(
      "p_total", "Probed", "counter", {{"a", "quote\"d"}}, [] { return 7.0; }, &owner);
  const std::string text = m.render();
  CHECK(text.find("# HELP x_total Things\n# TYPE x_total counter\nx_total{listener=\"udp:127.0.0.1:1\"} 3\n") !=
        std::string::npos);
  CHECK(text.find("g 1.5\n") != std::string::npos);
  CHECK(text.find("p_total{a=\"quote\\\"d\"} 7\n") != std::string::npos);
  m.remove_probes(&owner);
  CHECK(m.render().find("p_total{") == std::string::npos);
}
