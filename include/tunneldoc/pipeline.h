// pipeline.h — the processing path that `scan` and `serve` share:
// parse → match → Event → correlate → route.
//
// Recognizer: parse and match one message into an owning Event (the first
//   half, which `scan --threads` runs on several threads at once).
// Pipeline: what every `serve` source calls: a Recognizer per thread, then
//   the Correlator, then the Router. Publishing never waits for a sink.
//
// The knowledge base in service is an immutable Engine (matcher and
// per-signature counters) swapped atomically on reload: a message is matched
// entirely against the old or entirely against the new one, and the
// correlator's rules follow the same swap.
//
// Thread safety: a Recognizer is used by one thread at a time. Pipeline's
// members are safe from any thread; each thread that calls process() often
// should bind_thread() for its own Recognizer (others share a locked one).
// The Router and MetricsRegistry must outlive the Pipeline.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tunneldoc/correlator.h"
#include "tunneldoc/event.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/output.h"
#include "tunneldoc/route.h"

namespace tunneldoc {

// Where a message came from. Sources that know their sender cheaply give
// `source` and `host` directly; the UDP listener, which has a new sender per
// datagram, gives `describe`, called only when the message is recognised.
struct Origin {
  std::string_view source;  // "tcp:192.0.2.1:514", "file:/var/log/asa.log"
  std::string_view host;    // sender address, used when the header names no host
  std::uint64_t line = 0;   // when nonzero, the line number within `source`
  const void* context = nullptr;
  void (*describe)(const void* context, std::string& source, std::string& host) = nullptr;
};

// Per-line counters of the recognise step (scan --stats).
struct LineStats {
  std::uint64_t lines = 0, recognised = 0, diagnosed = 0, unknown_keys = 0, keyless = 0, truncated = 0;
  std::uint64_t fallback = 0;  // diagnosed by a message id's fallback: a wording no pattern knows
  void add(const LineStats& o);
};

// Loads the knowledge base and runs its correlation rules' example
// sequences (they need the matcher and the correlator, so the loader alone
// cannot); every failing example is a problem with its file and line.
LoadResult load_checked_knowledge_base(const std::filesystem::path& dir);

// Runs every rule example of `kb` (load_checked_knowledge_base's second half)
// with `matcher` (built from `kb` when null).
std::vector<LoadProblem> verify_rules(const std::shared_ptr<const KnowledgeBase>& kb,
                                      std::shared_ptr<const Matcher> matcher = nullptr);

class Recognizer {
 public:
  // `year` for headers without one; 0: inferred from the received time.
  // The matcher is shared (it is immutable and thread-safe).
  explicit Recognizer(std::shared_ptr<const Matcher> matcher, int year = 0);
  Recognizer(const Recognizer&) = delete;
  Recognizer& operator=(const Recognizer&) = delete;

  // The signature that recognises `message`, with `event` holding it; null
  // when none does (`event` is then left as it was: most lines are not
  // recognised, and they cost nothing more). `stats`, when given,
  // counts the line.
  const Signature* recognize(std::string_view message, const Origin& origin, bool truncated, std::int64_t received_ms,
                             Event& event, LineStats* stats = nullptr);

  const Matcher& matcher() const { return *matcher_; }
  // The message key ("713904") of the last message recognised.
  const std::string& key() const { return key_; }

 private:
  std::shared_ptr<const Matcher> matcher_;
  std::string key_;
  int year_;
  Fields fields_;
  std::string source_, host_;
};

struct PipelineOptions {
  int year = 0;  // for headers without one; 0: inferred from the received time
  CorrelatorOptions correlate;
  // The received time of a message, ms since the epoch (injectable for tests).
  std::function<std::int64_t()> clock = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
};

struct Engine;  // a compiled knowledge base in service (pipeline.cc)

class Pipeline {
 public:
  Pipeline(std::shared_ptr<const KnowledgeBase> kb, Router& router, MetricsRegistry& metrics,
           PipelineOptions options = {});
  // The same with the loader's matcher (LoadResult::matcher), which keeps its
  // knowledge base alive: no second index is built.
  Pipeline(std::shared_ptr<const Matcher> matcher, Router& router, MetricsRegistry& metrics,
           PipelineOptions options = {});
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Puts a new knowledge base in service. Safe while workers run.
  void swap_knowledge_base(std::shared_ptr<const KnowledgeBase> kb);
  void swap_knowledge_base(std::shared_ptr<const Matcher> matcher);
  std::shared_ptr<const KnowledgeBase> knowledge_base() const;

  // One message (a line, a datagram, a frame). `truncated`: cut at the maximum size.
  void process(std::string_view message, const Origin& origin, bool truncated = false);
  // Lets time pass (the clock's now): quiet incidents resolve, updates go out.
  void tick();

  Correlator& correlator() { return correlator_; }

  class Worker;
  // Gives the calling thread its own worker until the returned object dies.
  std::unique_ptr<Worker> bind_thread();
  static void unbind_thread();

 private:
  friend class Worker;
  std::shared_ptr<const Engine> engine() const;

  Router& router_;
  MetricsRegistry& metrics_;
  PipelineOptions options_;
  Counter& processed_;
  Counter& diagnoses_;
  Correlator correlator_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Engine> engine_;  // guarded by mutex_
  std::atomic<std::uint64_t> generation_{0};
  std::mutex fallback_mutex_;
  std::unique_ptr<Worker> fallback_;  // guarded by fallback_mutex_
};

class Pipeline::Worker {
 public:
  explicit Worker(Pipeline& pipeline);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  void process(std::string_view message, const Origin& origin, bool truncated);

 private:
  friend class Pipeline;
  void refresh();
  Pipeline& pipeline_;
  std::uint64_t generation_ = ~std::uint64_t{0};
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<Recognizer> recognizer_;
  Event event_;
  std::vector<OutputPtr> outputs_;
};

}  // namespace tunneldoc
