// route.h — the route stage: every Output goes to every sink whose stream
// wants it (`incidents`, `lines` or `all`; see output.h).
//
// publish() never waits for a sink whose queue drops when full (serve): a
// slow or dead sink loses its own oldest records, counted, and the sources
// keep reading. Only a sink made to block when full (scan, where nothing may
// be lost and nothing is live) holds the publisher back.
//
// Thread safety: publish() may be called from any number of threads. The
// sinks must outlive the Router; the set of sinks is fixed at construction.
#pragma once

#include <cstdint>
#include <vector>

#include "tunneldoc/output.h"
#include "tunneldoc/sink.h"

namespace tunneldoc {

class Router {
 public:
  explicit Router(std::vector<Sink*> sinks) : sinks_(std::move(sinks)) {}
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Hands the batch to each sink that wants some of it, one queue lock per sink.
  void publish(const std::vector<OutputPtr>& outputs);

  const std::vector<Sink*>& sinks() const { return sinks_; }

  // Acknowledgements: a mark is each sink's accepted() now; it is durable
  // once every sink's settled() reached it — every record published before
  // the mark is then spooled on disk, delivered, or lost and counted. A
  // source that publishes from one thread (a followed file) takes a mark
  // after its lines and saves their position once the mark is durable.
  using Mark = std::vector<std::uint64_t>;
  Mark mark() const;
  bool durable(const Mark& mark) const;

 private:
  std::vector<Sink*> sinks_;
};

}  // namespace tunneldoc
