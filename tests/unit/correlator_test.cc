// The correlate stage on recorded sequences with a virtual clock: the incident
// life cycle, repeats folded into one alert, clearing messages, quiet
// timeouts, rules that fire on time passing, eviction, restart, and a
// knowledge-base swap. No test sleeps: time is what the events and tick() say.
#include "tunneldoc/correlator.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "temp_file.h"
#include "tunneldoc/pipeline.h"

using namespace tunneldoc;

namespace {

std::shared_ptr<const KnowledgeBase> kb() {
  static auto loaded = load_checked_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) UNSCOPED_INFO(p.to_string());
  }
  REQUIRE(loaded.ok());
  return loaded.kb;
}

constexpr std::int64_t kT0 = 1'795'687'200'000;  // 2026-11-26T10:00:00Z
constexpr std::int64_t kSecond = 1000, kMinute = 60 * kSecond;

std::string no_proposal(const std::string& peer, const std::string& host = "hq-asa") {
  return "<165>Nov 26 2026 10:00:00 " + host + " : %ASA-5-713904: IP = " + peer +
         ", Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop";
}
std::string phase1_done(const std::string& peer, const std::string& host = "hq-asa") {
  return "<165>Nov 26 2026 10:00:00 " + host + " : %ASA-5-713119: Group = " + peer + ", IP = " + peer +
         ", PHASE 1 COMPLETED";
}

// Feeds lines to a correlator as serve does: the clock is the received time.
struct Harness {
  explicit Harness(CorrelatorOptions o = {}) : correlator(kb(), o, metrics), recognizer(matcher(), 0) {}

  static std::shared_ptr<const Matcher> matcher() {
    static auto m = std::make_shared<const Matcher>(kb());
    return m;
  }

  // The line received at `at`; returns what it yields.
  std::vector<OutputPtr> feed(const std::string& line, std::int64_t at, std::uint64_t number = 0) {
    Origin origin;
    origin.source = "udp:192.0.2.1:514";
    origin.host = "192.0.2.1";
    origin.line = number;
    Event e;
    std::vector<OutputPtr> out;
    if (recognizer.recognize(line, origin, false, at, e)) correlator.process(std::move(e), out);
    all.insert(all.end(), out.begin(), out.end());
    return out;
  }
  std::vector<OutputPtr> tick(std::int64_t at) {
    std::vector<OutputPtr> out;
    correlator.tick(at, out);
    all.insert(all.end(), out.begin(), out.end());
    return out;
  }
  std::vector<OutputPtr> of(OutputKind k) const {
    std::vector<OutputPtr> v;
    for (const auto& o : all)
      if (o->kind == k) v.push_back(o);
    return v;
  }
  std::vector<IncidentState> states() const {
    std::vector<IncidentState> v;
    for (const auto& o : of(OutputKind::incident)) v.push_back(o->incident->state);
    return v;
  }

  MetricsRegistry metrics;
  Correlator correlator;
  Recognizer recognizer;
  std::vector<OutputPtr> all;
};

}  // namespace

TEST_CASE("10,000 repeats in 5 minutes: one open, at most one update, then one resolved", "[correlate][incidents]") {
  Harness h;
  for (int i = 0; i < 10'000; ++i) h.feed(no_proposal("203.0.113.9"), kT0 + i * 29);  // 290 s
  for (std::int64_t t = kT0; t <= kT0 + 300 * kSecond; t += kSecond) h.tick(t);
  h.feed(phase1_done("203.0.113.9"), kT0 + 301 * kSecond);

  CHECK(h.of(OutputKind::line).size() == 10'000);  // the lines stream keeps every diagnosis
  const auto incidents = h.of(OutputKind::incident);
  REQUIRE(incidents.size() >= 2);
  CHECK(incidents.front()->incident->state == IncidentState::open);
  CHECK(incidents.back()->incident->state == IncidentState::resolved);
  CHECK(incidents.back()->incident->resolution == Resolution::cleared);
  CHECK(incidents.size() <= 3);
  for (const auto& o : incidents) CHECK(o->incident->id == incidents.front()->incident->id);
  const auto& last = *incidents.back();
  CHECK(last.count == 10'000);
  CHECK(last.incident->device == "hq-asa");
  CHECK(last.incident->peer == "203.0.113.9");
  CHECK(last.incident->incident_class == "isakmp-policy");
  CHECK(last.incident->first_seen_ms == kT0);
  // Evidence: the first line, the last five, and the clearing message.
  REQUIRE(last.evidence.size() == 7);
  CHECK(last.evidence.back()->signature() == "asa-713119-phase1-completed");
  CHECK(h.correlator.open_incidents() == 0);
}

TEST_CASE("repeats after update_interval give one update per interval", "[correlate][incidents]") {
  Harness h;
  for (int minute = 0; minute < 16; ++minute) h.feed(no_proposal("203.0.113.9"), kT0 + minute * kMinute);
  // open at 0; updates at 5, 10 and 15 minutes (each at a repeat that finds the interval run out)
  CHECK(h.states() == std::vector<IncidentState>{IncidentState::open, IncidentState::update, IncidentState::update,
                                                 IncidentState::update});
  CHECK(h.of(OutputKind::incident).back()->count == 16);
}

TEST_CASE("an incident with no repeat for quiet_timeout resolves as quiet", "[correlate][incidents]") {
  CorrelatorOptions o;
  o.quiet_timeout_ms = 10 * kMinute;
  Harness h(o);
  h.feed(no_proposal("203.0.113.9"), kT0);
  CHECK(h.tick(kT0 + 10 * kMinute - 1).empty());
  const auto out = h.tick(kT0 + 10 * kMinute);
  REQUIRE(out.size() == 1);
  CHECK(out[0]->incident->state == IncidentState::resolved);
  CHECK(out[0]->incident->resolution == Resolution::quiet);
  CHECK(out[0]->at_ms == kT0 + 10 * kMinute);
  CHECK(h.correlator.open_incidents() == 0);
}

TEST_CASE("a clearing message resolves only its own device, peer and groups", "[correlate][incidents]") {
  Harness h;
  h.feed(no_proposal("203.0.113.9"), kT0);
  h.feed(no_proposal("203.0.113.10"), kT0);
  h.feed(no_proposal("203.0.113.9", "branch-asa"), kT0);
  // Another peer, another device: nothing resolves.
  h.feed(phase1_done("198.51.100.1"), kT0 + kSecond);
  h.feed(phase1_done("203.0.113.9", "other-asa"), kT0 + kSecond);
  CHECK(h.correlator.open_incidents() == 3);
  h.feed(phase1_done("203.0.113.9"), kT0 + 2 * kSecond);
  CHECK(h.correlator.open_incidents() == 2);
  // A phase-2 incident is not cleared by phase 1 completing.
  h.feed(
      "<164>Nov 26 2026 10:00:00 hq-asa : %ASA-4-402116: IPSEC: Received an ESP packet (SPI= 0x8C8B8FA0, "
      "sequence number= 0x1) from 203.0.113.9 (user= 203.0.113.9) to 198.51.100.1.  The decapsulated inner packet "
      "doesn't match the negotiated policy in the SA.  The packet specifies its destination as 10.2.2.9, its "
      "source as 10.1.1.5, and its protocol as 1.  The SA specifies its local proxy as 10.2.2.0/255.255.255.0/0/0 "
      "and its remote_proxy as 10.1.5.0/255.255.255.0/0/0.",
      kT0 + 3 * kSecond);
  REQUIRE(h.correlator.open_incidents() == 3);
  h.feed(phase1_done("203.0.113.9"), kT0 + 4 * kSecond);
  CHECK(h.correlator.open_incidents() == 3);
}

TEST_CASE("a correlated diagnosis refines its incident without counting twice", "[correlate][rules]") {
  Harness h;
  h.feed(no_proposal("203.0.113.9"), kT0);
  h.feed("<164>Nov 26 2026 10:00:00 hq-asa : %ASA-4-713903: IP = 203.0.113.9, Error: Unable to remove PeerTblEntry",
         kT0 + kSecond);
  const auto correlated = h.of(OutputKind::correlated);
  REQUIRE(correlated.size() == 1);
  CHECK(correlated[0]->entry == "corr-no-proposal-then-peer-table");
  CHECK(correlated[0]->evidence.size() == 2);
  const auto snap = h.correlator.snapshot();
  REQUIRE(snap.size() == 1);
  CHECK(snap[0]->entry == "corr-no-proposal-then-peer-table");  // the most specific diagnosis
  CHECK(snap[0]->count == 2);                                   // two lines, not three
}

TEST_CASE("sequence with absent: fires when time passes without phase 1, not when phase 1 completes",
          "[correlate][rules]") {
  const std::string queued =
      "<166>Nov 26 2026 10:00:00 hq-asa : %ASA-6-713219: IP = 203.0.113.9, Queuing KEY-ACQUIRE messages to be "
      "processed when P1 SA is complete.";
  SECTION("no phase 1: fires at the end of the window, from tick()") {
    Harness h;
    h.feed(queued, kT0);
    CHECK(h.tick(kT0 + 29 * kSecond).empty());
    const auto out = h.tick(kT0 + 30 * kSecond);
    bool fired = false;
    for (const auto& o : out)
      fired = fired || (o->kind == OutputKind::correlated && o->entry == "corr-key-acquire-without-phase1");
    CHECK(fired);
  }
  SECTION("phase 1 completes within the window: silent") {
    Harness h;
    h.feed(queued, kT0);
    h.feed(phase1_done("203.0.113.9"), kT0 + 5 * kSecond);
    h.tick(kT0 + 60 * kSecond);
    CHECK(h.of(OutputKind::correlated).empty());
  }
}

TEST_CASE("past max_tracked, the least recently used peer is evicted, resolved and counted", "[correlate][bounded]") {
  CorrelatorOptions o;
  o.max_tracked = 16;  // one per shard
  Harness h(o);
  for (int i = 0; i < 500; ++i)
    h.feed(no_proposal("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250)), kT0 + i);
  CHECK(h.correlator.open_incidents() <= 16);
  std::size_t evicted = 0;
  for (const auto& o : h.of(OutputKind::incident)) evicted += o->incident->resolution == Resolution::evicted;
  CHECK(evicted == 500 - h.correlator.open_incidents());
  CHECK(h.metrics.render().find("tunneldoc_correlator_evicted_total{what=\"incidents\"} " + std::to_string(evicted)) !=
        std::string::npos);
}

TEST_CASE("incidents and rule state share one budget of max_tracked keys", "[correlate][bounded]") {
  CorrelatorOptions o;
  o.max_tracked = 32;  // two keys per shard: one peer's incident and its sequence
  Harness h(o);
  // Each peer opens an incident and starts the NO_PROPOSAL_CHOSEN sequence: two keys.
  for (int i = 0; i < 500; ++i)
    h.feed(no_proposal("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)), kT0 + i);
  const std::string metrics = h.metrics.render();
  auto counter = [&](const std::string& what) {
    const std::string name = "tunneldoc_correlator_evicted_total{what=\"" + what + "\"} ";
    const auto at = metrics.find(name);
    REQUIRE(at != std::string::npos);
    return std::stoull(metrics.substr(at + name.size()));
  };
  const std::uint64_t incidents = counter("incidents"), rules = counter("rule_state");
  // 1,000 keys went in, at most 32 are kept: incidents and rule state together.
  CHECK(incidents + rules >= 1000 - 32);
  CHECK(h.correlator.open_incidents() + (500 - rules) <= 32);
  CHECK(incidents > 0);  // neither kind starves the other
  CHECK(rules > 0);
}

TEST_CASE("open incidents survive a restart: not forgotten, not re-opened", "[correlate][state]") {
  TempFile state("");
  std::string id;
  {
    Harness h;
    h.feed(no_proposal("203.0.113.9"), kT0);
    id = h.of(OutputKind::incident).at(0)->incident->id;
    std::string error;
    REQUIRE(h.correlator.save(state.path, error));
  }
  Harness h;
  std::string error;
  REQUIRE(h.correlator.restore(state.path, error));
  CHECK(h.correlator.open_incidents() == 1);
  h.feed(no_proposal("203.0.113.9"), kT0 + kMinute);
  CHECK(h.of(OutputKind::incident).empty());  // a repeat within the interval: no new open
  h.feed(phase1_done("203.0.113.9"), kT0 + 2 * kMinute);
  const auto incidents = h.of(OutputKind::incident);
  REQUIRE(incidents.size() == 1);
  CHECK(incidents[0]->incident->id == id);
  CHECK(incidents[0]->incident->state == IncidentState::resolved);
  CHECK(incidents[0]->count == 2);
  CHECK(incidents[0]->incident->first_seen_ms == kT0);
}

TEST_CASE("a damaged incidents file is an error, never a crash", "[correlate][state]") {
  TempFile state("{\"schema\":\"tunneldoc.incidents/1\",\"incidents\":[{\"id\":1");
  Harness h;
  std::string error;
  CHECK_FALSE(h.correlator.restore(state.path, error));
  CHECK(error.find(state.path) != std::string::npos);
  CHECK(h.correlator.open_incidents() == 0);
}

TEST_CASE("incidents carry over a knowledge-base swap", "[correlate][reload]") {
  Harness h;
  h.feed(no_proposal("203.0.113.9"), kT0);
  auto again = load_checked_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  REQUIRE(again.ok());
  h.correlator.swap_knowledge_base(again.kb);
  h.feed(phase1_done("203.0.113.9"), kT0 + kSecond);
  const auto incidents = h.of(OutputKind::incident);
  REQUIRE(incidents.size() == 2);
  CHECK(incidents[1]->incident->state == IncidentState::resolved);
}
