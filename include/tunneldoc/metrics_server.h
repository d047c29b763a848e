// metrics_server.h — the HTTP endpoint (Boost.Beast) for Prometheus and health:
//   GET <path> (default /metrics)  the registry in Prometheus text format
//   GET /healthz                   200 while healthy, 503 otherwise; a JSON body
//                                  that says why (stopping, a failing sink)
// Anything else is 404; methods other than GET/HEAD are 405. At most
// kMetricsMaxConnections connections are open at once; more are closed at
// once and counted (tunneldoc_metrics_connections_refused_total).
//
// bind() is the bind phase (nothing served yet); start() begins accepting on
// the io_context's threads; stop() closes the acceptor (open keep-alive
// connections end at their next request or 10 s timeout). The io_context and
// registry must outlive the server; `healthy` is called on I/O threads.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "tunneldoc/config.h"
#include "tunneldoc/metrics.h"

namespace boost::asio {
class io_context;
}

namespace tunneldoc {

struct Health {
  bool ok = true;
  std::string body;  // JSON, with a trailing newline
};

inline constexpr std::size_t kMetricsMaxConnections = 32;

class MetricsServer {
 public:
  virtual ~MetricsServer() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual Endpoint local_endpoint() const = 0;
};

std::unique_ptr<MetricsServer> make_metrics_server(boost::asio::io_context& io, const Endpoint& endpoint,
                                                   std::string path, MetricsRegistry& registry,
                                                   std::function<Health()> healthy, std::string& error);

}  // namespace tunneldoc
