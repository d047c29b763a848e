// net_client.h — one outgoing TCP or TLS connection with a deadline on every
// step, for the syslog, HEC and _bulk transports (private to daemon/sinks).
//
// The caller's thread runs the client's own io_context for each step
// (connect, write, HTTP exchange); a step that does not finish within the
// timeout is aborted and the connection closed. cancel() may be called from
// any thread: it aborts the step in progress and makes every later step fail
// at once. Used by one thread otherwise; not copyable.
#pragma once

#include <atomic>
#include <utility>  // before Boost 1.74 Asio: awaitable.hpp needs std::exchange
// clang-format off
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "tunneldoc/transports.h"

namespace tunneldoc {

class NetClient {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  explicit NetClient(NetTarget target);
  ~NetClient();
  NetClient(const NetClient&) = delete;
  NetClient& operator=(const NetClient&) = delete;

  // Loads the TLS context (CA, client certificate). False with `error`.
  bool init(std::string& error);
  // Connects (resolve, TCP, TLS handshake) unless a live connection is open.
  bool ensure_connected(std::string& error);
  bool write(std::string_view bytes, std::string& error);
  // Sends `req` and reads the response (keep-alive: the connection stays open).
  bool exchange(Request& req, Response& res, std::string& error);
  void close();
  void cancel();
  // "HOST:PORT" for messages.
  std::string where() const;

 private:
  template <class Start>
  bool run(const char* what, Start&& start, std::string& error);
  bool peer_closed() const;
  void close_now();

  NetTarget target_;
  boost::asio::io_context io_;
  boost::asio::ssl::context ssl_;
  boost::asio::ip::tcp::resolver resolver_;
  std::unique_ptr<boost::asio::ip::tcp::socket> tcp_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  boost::beast::flat_buffer buffer_;
  std::atomic<bool> cancelled_{false};
};

// A transport over one NetClient: cancel() aborts its step in progress,
// reopen() has nothing to do (a connection is made again after an error),
// deliveries carry up to 1,000 records.
class NetTransport : public SinkTransport {
 public:
  explicit NetTransport(const NetTarget& target) : client_(target) {}
  void cancel() override { client_.cancel(); }
  bool reopen(std::string&) override { return true; }
  std::size_t max_batch() const override { return 1000; }

  // A T made from `options`, its TLS context loaded; null with `error`.
  template <class T, class Options>
  static std::unique_ptr<SinkTransport> make(const Options& options, std::string& error) {
    auto t = std::make_unique<T>(options);
    if (!t->client_.init(error)) return nullptr;
    return t;
  }

 protected:
  NetClient client_;
};

}  // namespace tunneldoc
