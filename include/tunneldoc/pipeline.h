// pipeline.h — what every source does with a message: parse, match, render,
// deliver to the sink, count.
//
// A Pipeline holds the knowledge base in service (an immutable Engine: the
// Matcher plus its per-signature counters) and swaps it atomically on reload:
// a message is matched entirely against the old or entirely against the new
// one. Workers are per thread (a JsonRenderer is not thread-safe); each
// caches the engine and checks one atomic generation number per message.
//
// Thread safety: Pipeline's members are safe from any thread. A Worker is used
// by one thread at a time. The sink and registry passed in must outlive the
// Pipeline; the Pipeline must outlive its Workers.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/render.h"
#include "tunneldoc/sink.h"

namespace tunneldoc {

// Where a message came from. Sources that know their sender cheaply give
// `source` and `host` directly; the UDP listener, which has a new sender per
// datagram, gives `describe`, called only when the message is diagnosed.
struct Origin {
  std::string_view source;  // "tcp:192.0.2.1:514", "file:/var/log/asa.log"
  std::string_view host;    // sender address, used when the header names no host
  std::uint64_t line = 0;   // when nonzero, ":LINE" is appended to source
  const void* context = nullptr;
  void (*describe)(const void* context, std::string& source, std::string& host) = nullptr;
};

struct Engine;  // a compiled knowledge base in service (pipeline.cc)

class Pipeline {
 public:
  Pipeline(std::shared_ptr<const KnowledgeBase> kb, Sink& sink, MetricsRegistry& metrics, int default_year = 0);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Puts a new knowledge base in service. Safe while workers run.
  void swap_knowledge_base(std::shared_ptr<const KnowledgeBase> kb);
  std::shared_ptr<const KnowledgeBase> knowledge_base() const;

  class Worker {
   public:
    explicit Worker(Pipeline& pipeline);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;
    // One message (a line, a datagram, a frame). `truncated`: cut at the maximum size.
    void process(std::string_view message, const Origin& origin, bool truncated = false);

   private:
    friend class Pipeline;
    void refresh();
    Pipeline& pipeline_;
    std::uint64_t generation_ = ~std::uint64_t{0};
    std::shared_ptr<const Engine> engine_;
    std::unique_ptr<JsonRenderer> renderer_;
    Fields fields_;
    std::string out_, source_, host_;
  };

  // The calling thread's worker, set with bind_thread(); messages from threads
  // without one go through a shared, locked worker.
  void process(std::string_view message, const Origin& origin, bool truncated = false);
  // Gives the calling thread its own worker until the returned object dies.
  std::unique_ptr<Worker> bind_thread();
  static void unbind_thread();

 private:
  friend class Worker;
  std::shared_ptr<const Engine> engine() const;

  Sink& sink_;
  MetricsRegistry& metrics_;
  int default_year_;
  Counter& diagnoses_;
  Counter& processed_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Engine> engine_;  // guarded by mutex_
  std::atomic<std::uint64_t> generation_{0};
  std::mutex fallback_mutex_;
  std::unique_ptr<Worker> fallback_;  // guarded by fallback_mutex_
};

}  // namespace tunneldoc
