// correlator.h — the correlate stage: state across lines.
//
// It takes every recognised Event and hands on Outputs:
//   - the event's line record (when its signature diagnoses), after the join
//     and block rules have enriched it (a VPN Client header joined to its
//     text, the peer of a `show crypto isakmp sa` block);
//   - correlated records, when a rule of the knowledge base fires (sequence,
//     threshold, block, period; format in docs/incidents.md);
//   - incident records: one incident per (device, peer, incident class),
//     `open` at its first diagnosis, `update` at most every update_interval
//     while repeats continue, `resolved` when a clearing message arrives for
//     the same device and peer (resolution "cleared"), after quiet_timeout
//     without a repeat ("quiet"), or when evicted to stay within max_tracked
//     ("evicted").
//
// Time: the correlator has no clock of its own. Each event brings its time
// (its received time, or with `event_time` the time its header gives, as
// `scan` replays a log), and tick(now) lets time pass for timeouts; tests
// drive both and never sleep.
//
// Bounded: at most max_tracked keys, (device, peer) pairs with incidents and
// rule states together (per shard: max_tracked / 16). A (device, peer) keeps
// its incidents and the state of its device rules in one entry; a new key
// past the cap evicts the least recently used such entry (all of it) or the
// least recently used block/join state, whichever kind holds more, counted
// in tunneldoc_correlator_evicted_total{what}.
//
// Thread safety: process(), tick(), swap_knowledge_base(), snapshot() and
// save() may be called from any threads at once. State is sharded (by device
// for incidents and device rules, by input stream for block and join rules),
// each shard behind its own mutex. Outputs of one shard are appended in the
// order that shard produced them. The MetricsRegistry must outlive the
// Correlator. Not copyable, not movable.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tunneldoc/event.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/output.h"

namespace tunneldoc {

struct CorrelatorOptions {
  std::int64_t update_interval_ms = 5 * 60 * 1000;
  std::int64_t quiet_timeout_ms = 30 * 60 * 1000;
  std::size_t max_tracked = 50'000;
  std::size_t evidence_tail = 5;  // an incident keeps its first line and this many last ones
  // true: the clock is each event's own time (at_ms; scan replays a log);
  // false: its received time (serve, where device clocks may be off).
  bool event_time = false;
  // false: no incident is tracked and none is emitted, only line and
  // correlated records (a scan whose output, report and --stats want none:
  // tracking them costs a quarter of its time).
  bool incidents = true;
};

class Correlator {
 public:
  Correlator(std::shared_ptr<const KnowledgeBase> kb, CorrelatorOptions options, MetricsRegistry& metrics);
  ~Correlator();
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // Rules of `kb` from now on; incidents and the state of rules that keep
  // their id carry over.
  void swap_knowledge_base(std::shared_ptr<const KnowledgeBase> kb);

  // One recognised event. Appends what it yields to `out`. With event_time,
  // time passing between events also resolves and updates incidents here.
  void process(Event event, std::vector<OutputPtr>& out);

  // Time is now `now_ms`: quiet incidents resolve, due updates go out, rule
  // state past its window is forgotten. Appends to `out`.
  void tick(std::int64_t now_ms, std::vector<OutputPtr>& out);

  // The latest time seen (events or ticks), ms since the epoch.
  std::int64_t now() const;

  // The open incidents, as `update` records of their current state, oldest first.
  std::vector<OutputPtr> snapshot() const;
  std::size_t open_incidents() const;

  // Open incidents to `file` (JSON, written atomically) and back. restore()
  // adds them to the current state; a missing file restores nothing. False,
  // with `error`, if the file cannot be written or read.
  bool save(const std::filesystem::path& file, std::string& error) const;
  bool restore(const std::filesystem::path& file, std::string& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tunneldoc
