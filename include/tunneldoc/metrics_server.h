// metrics_server.h — the HTTP endpoint (Boost.Beast) for Prometheus and health:
//   GET <path> (default /metrics)  the registry in Prometheus text format
//   GET /healthz                   200 while healthy, 503 otherwise; a JSON body
//                                  that says why (stopping, a failing sink)
// and, when `routes` is given, the pages it serves (the status page: view.h).
// Anything else is 404; methods other than GET/HEAD are 405. Only reads:
// no route changes anything. At most kMetricsMaxConnections connections are
// open at once; more are closed at once and counted
// (tunneldoc_metrics_connections_refused_total).
//
// Access (HttpAccess): connections from addresses outside `allow` are closed
// at once; with a `token`, every request but /healthz must carry
// "Authorization: Bearer <token>" (else 401). Both are counted in
// tunneldoc_http_denied_total{reason="address"|"token"}.
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
#include <string_view>
#include <utility>
#include <vector>

#include "tunneldoc/allowlist.h"
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

// A GET or HEAD request to a route other than the metrics path and /healthz.
struct HttpRequest {
  std::string_view path;           // without the query
  std::string_view query;          // after '?', "" when none
  std::string_view if_none_match;  // the header, "" when absent
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::string etag;                                          // sent when not empty
  std::vector<std::pair<std::string, std::string>> headers;  // more headers (Content-Security-Policy, ...)
};

// Fills `response` and returns true when it serves `request`'s path.
// Called on the server's threads, for one request at a time per connection.
using HttpRoutes = std::function<bool(const HttpRequest&, HttpResponse&)>;

struct HttpAccess {
  std::vector<Cidr> allow;  // empty: every address
  std::string token;        // empty: no token needed
};

class MetricsServer {
 public:
  virtual ~MetricsServer() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual Endpoint local_endpoint() const = 0;
};

std::unique_ptr<MetricsServer> make_metrics_server(boost::asio::io_context& io, const Endpoint& endpoint,
                                                   std::string path, MetricsRegistry& registry,
                                                   std::function<Health()> healthy, std::string& error,
                                                   HttpRoutes routes = {}, HttpAccess access = {});

}  // namespace tunneldoc
