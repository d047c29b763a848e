// metrics_server.cc — /metrics, /healthz and the status page's routes over
// HTTP/1.1 with Boost.Beast.
#include "tunneldoc/metrics_server.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <mutex>
#include <utility>  // before Boost 1.74 Asio: awaitable.hpp needs std::exchange
#include <vector>

namespace tunneldoc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct Shared {
  std::string path;
  MetricsRegistry& registry;
  std::function<Health()> healthy;
  Gauge& open;
  Counter& refused;
  HttpRoutes routes;
  Allowlist allow;
  std::string token;
  Counter& denied_address;
  Counter& denied_token;
};

// "Bearer <token>", compared in constant time.
bool authorized(const Shared& shared, std::string_view header) {
  if (shared.token.empty()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() != kScheme.size() + shared.token.size()) return false;
  bool scheme = true;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    scheme = scheme && std::tolower(static_cast<unsigned char>(header[i])) ==
                           std::tolower(static_cast<unsigned char>(kScheme[i]));
  }
  return CRYPTO_memcmp(header.data() + kScheme.size(), shared.token.data(), shared.token.size()) == 0 && scheme;
}

bool allowed(const Allowlist& allow, const tcp::endpoint& remote) {
  if (allow.empty()) return true;
  const auto a = remote.address();
  if (a.is_v4()) return allow.allows(false, a.to_v4().to_bytes().data());
  return allow.allows(true, a.to_v6().to_bytes().data());
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    shared_->open.add(1);
  }
  ~Session() { shared_->open.add(-1); }

  // Ends the session on its own strand (at stop: keep-alive clients must not hold up shutdown).
  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.socket().close(ec);
    });
  }

  void read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(request_.version());
    res->keep_alive(request_.keep_alive());
    res->set(http::field::server, "tunneldoc");
    const auto target = std::string_view(request_.target().data(), request_.target().size());
    const std::size_t question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const auto header = [&](http::field f) {
      const auto it = request_.find(f);
      return it == request_.end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
    };
    HttpResponse routed;
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      res->result(http::status::method_not_allowed);
      res->set(http::field::allow, "GET, HEAD");
      res->set(http::field::content_type, "text/plain");
      res->body() = "method not allowed\n";
    } else if (path != "/healthz" && !authorized(*shared_, header(http::field::authorization))) {
      shared_->denied_token.inc();
      res->result(http::status::unauthorized);
      res->set(http::field::www_authenticate, "Bearer realm=\"tunneldoc\"");
      res->set(http::field::content_type, "text/plain");
      res->body() = "a bearer token is required (Authorization: Bearer ...)\n";
    } else if (path == shared_->path) {
      res->result(http::status::ok);
      res->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res->body() = shared_->registry.render();
    } else if (path == "/healthz") {
      const Health h = shared_->healthy();
      res->result(h.ok ? http::status::ok : http::status::service_unavailable);
      res->set(http::field::content_type, "application/json");
      res->body() = h.body;
    } else if (shared_->routes &&
               shared_->routes(
                   HttpRequest{path,
                               question == std::string_view::npos ? std::string_view() : target.substr(question + 1),
                               header(http::field::if_none_match)},
                   routed)) {
      res->result(static_cast<http::status>(routed.status));
      if (!routed.content_type.empty()) res->set(http::field::content_type, routed.content_type);
      if (!routed.etag.empty()) res->set(http::field::etag, routed.etag);
      for (const auto& [name, value] : routed.headers) res->set(name, value);
      res->body() = std::move(routed.body);
    } else {
      res->result(http::status::not_found);
      res->set(http::field::content_type, "text/plain");
      res->body() =
          "not found; try " + shared_->path + ", /healthz" + (shared_->routes ? ", / or /incidents" : "") + "\n";
    }
    res->prepare_payload();
    if (request_.method() == http::verb::head) res->body().clear();
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !res->keep_alive()) {
        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  std::shared_ptr<const Shared> shared_;
};

class BeastMetricsServer final : public MetricsServer {
 public:
  BeastMetricsServer(asio::io_context& io, std::shared_ptr<const Shared> shared)
      : io_(io), acceptor_(asio::make_strand(io)), shared_(std::move(shared)) {}

  bool bind(const Endpoint& endpoint, std::string& error) {
    beast::error_code ec;
    const auto address = asio::ip::make_address(endpoint.address, ec);
    const tcp::endpoint ep(address, endpoint.port);
    if (!ec) acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error = "cannot listen for metrics on " + endpoint.to_string() + ": " + ec.message();
      return false;
    }
    const auto bound = acceptor_.local_endpoint();
    local_ = Endpoint{bound.address().to_string(), bound.port()};
    return true;
  }

  void start() override {
    asio::post(acceptor_.get_executor(), [this] { accept(); });
  }
  void stop() override {
    if (stopping_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(mutex_);
      for (auto& w : sessions_) {
        if (auto s = w.lock()) open.push_back(std::move(s));
      }
      sessions_.clear();
    }
    for (auto& s : open) s->close();
  }
  Endpoint local_endpoint() const override { return local_; }

 private:
  void accept() {
    if (stopping_) return;
    acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || stopping_) return;
      beast::error_code peer_ec;
      if (!ec && !shared_->allow.empty() && (!allowed(shared_->allow, socket.remote_endpoint(peer_ec)) || peer_ec)) {
        shared_->denied_address.inc();
        beast::error_code ignored;
        socket.close(ignored);
      } else if (!ec && shared_->open.value() >= static_cast<double>(kMetricsMaxConnections)) {
        // Scrapers need one connection; a client holding dozens is not one.
        shared_->refused.inc();
        beast::error_code ignored;
        socket.close(ignored);
      } else if (!ec) {
        auto session = std::make_shared<Session>(std::move(socket), shared_);
        {
          std::lock_guard lock(mutex_);
          // Forget finished sessions now and then, so the list stays small.
          if (sessions_.size() > 64)
            std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
          sessions_.push_back(session);
        }
        session->read();
      }
      accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::shared_ptr<const Shared> shared_;
  Endpoint local_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<std::weak_ptr<Session>> sessions_;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<MetricsServer> make_metrics_server(asio::io_context& io, const Endpoint& endpoint, std::string path,
                                                   MetricsRegistry& registry, std::function<Health()> healthy,
                                                   std::string& error, HttpRoutes routes, HttpAccess access) {
  const std::string help = "Requests to the HTTP endpoint refused: address outside metrics.allow, or no valid token";
  auto shared = std::make_shared<const Shared>(
      Shared{std::move(path), registry, std::move(healthy),
             registry.gauge("tunneldoc_metrics_connections_open", "Connections open to the metrics endpoint"),
             registry.counter("tunneldoc_metrics_connections_refused_total",
                              "Connections to the metrics endpoint closed at once because 32 were open"),
             std::move(routes), Allowlist(std::move(access.allow)), std::move(access.token),
             registry.counter("tunneldoc_http_denied_total", help, {{"reason", "address"}}),
             registry.counter("tunneldoc_http_denied_total", help, {{"reason", "token"}})});
  auto server = std::make_unique<BeastMetricsServer>(io, std::move(shared));
  if (!server->bind(endpoint, error)) return nullptr;
  return server;
}

}  // namespace tunneldoc
