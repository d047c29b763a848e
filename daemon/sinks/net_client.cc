// net_client.cc — an outgoing TCP/TLS connection whose every step has a deadline.
#include "net_client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

namespace tunneldoc {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

NetClient::NetClient(NetTarget target) : target_(std::move(target)), ssl_(ssl::context::tls_client), resolver_(io_) {}

NetClient::~NetClient() {
  close_now();
}

std::string NetClient::where() const {
  if (target_.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", target_.host, target_.port);
  return fmt::format("{}:{}", target_.host, target_.port);
}

bool NetClient::init(std::string& error) {
  if (!target_.tls.enabled) return true;
  const TlsClientOptions& t = target_.tls;
  boost::system::error_code ec;
  ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (t.ca.empty()) {
    ssl_.set_default_verify_paths(ec);
  } else {
    ssl_.load_verify_file(t.ca.string(), ec);
  }
  if (ec) {
    error = fmt::format("CA file {}: {}", t.ca.empty() ? "(system)" : t.ca.string(), ec.message());
    return false;
  }
  if (!t.certificate.empty()) {
    ssl_.use_certificate_chain_file(t.certificate.string(), ec);
    if (!ec) ssl_.use_private_key_file(t.key.empty() ? t.certificate.string() : t.key.string(), ssl::context::pem, ec);
    if (ec) {
      error = fmt::format("client certificate {}: {}", t.certificate.string(), ec.message());
      return false;
    }
  }
  ssl_.set_verify_mode(t.verify ? ssl::verify_peer : ssl::verify_none, ec);
  return true;
}

// Runs one asynchronous step on io_ until it completes or the timeout passes
// (then the connection is closed, which aborts it). `start` receives the
// completion handler (error_code first).
template <class Start>
bool NetClient::run(const char* what, Start&& start, std::string& error) {
  if (cancelled_) {
    error = fmt::format("{} {}: cancelled", what, where());
    close_now();
    return false;
  }
  boost::system::error_code result;
  bool done = false;
  start([&](const boost::system::error_code& ec, auto&&...) {
    result = ec;
    done = true;
  });
  io_.restart();
  io_.run_for(target_.timeout);
  bool timed_out = false;
  if (!done) {
    timed_out = true;
    close_now();  // aborts the step; its handler runs below
    resolver_.cancel();
    io_.restart();
    io_.run();
  }
  if (timed_out || result || cancelled_) {
    const std::string why = cancelled_  ? std::string("cancelled")
                            : timed_out ? fmt::format("no answer within {} ms", target_.timeout.count())
                                        : result.message();
    error = fmt::format("{} {}: {}", what, where(), why);
    close_now();
    return false;
  }
  return true;
}

bool NetClient::peer_closed() const {
  const tcp::socket* s = tls_ ? &tls_->next_layer() : tcp_.get();
  if (s == nullptr || !s->is_open()) return true;
  char c;
  const ssize_t n = ::recv(const_cast<tcp::socket*>(s)->native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // FIN: the peer closed (a restarted receiver, an idle keep-alive timeout)
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  // Unsolicited bytes: on TLS, a close_notify; syslog receivers send nothing.
  return tls_ != nullptr || tcp_ != nullptr;
}

bool NetClient::ensure_connected(std::string& error) {
  if ((tcp_ || tls_) && !peer_closed()) return true;
  close_now();
  tcp::resolver::results_type endpoints;
  if (!run(
          "resolve",
          [&](auto handler) {
            resolver_.async_resolve(target_.host, std::to_string(target_.port),
                                    [&, handler](const boost::system::error_code& ec, tcp::resolver::results_type r) {
                                      endpoints = std::move(r);
                                      handler(ec);
                                    });
          },
          error))
    return false;
  if (target_.tls.enabled) {
    tls_ = std::make_unique<ssl::stream<tcp::socket>>(io_, ssl_);
    const std::string& name = target_.tls.server_name.empty() ? target_.host : target_.tls.server_name;
    boost::system::error_code not_address;
    asio::ip::make_address(name, not_address);
    if (not_address) ::SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());  // SNI for names only
    if (target_.tls.verify) tls_->set_verify_callback(ssl::host_name_verification(name));
  } else {
    tcp_ = std::make_unique<tcp::socket>(io_);
  }
  tcp::socket& socket = tls_ ? tls_->next_layer() : *tcp_;
  if (!run(
          "connect", [&](auto handler) { asio::async_connect(socket, endpoints, handler); }, error))
    return false;
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  if (tls_ &&
      !run(
          "TLS handshake with", [&](auto handler) { tls_->async_handshake(ssl::stream_base::client, handler); }, error))
    return false;
  buffer_.clear();
  return true;
}

bool NetClient::write(std::string_view bytes, std::string& error) {
  if (!ensure_connected(error)) return false;
  const auto buffer = asio::buffer(bytes.data(), bytes.size());
  if (tls_)
    return run(
        "write to", [&](auto handler) { asio::async_write(*tls_, buffer, handler); }, error);
  return run(
      "write to", [&](auto handler) { asio::async_write(*tcp_, buffer, handler); }, error);
}

bool NetClient::exchange(Request& req, Response& res, std::string& error) {
  if (!ensure_connected(error)) return false;
  req.keep_alive(true);
  req.prepare_payload();
  res = {};
  auto steps = [&](auto& stream) {
    return run(
               "send to", [&](auto handler) { http::async_write(stream, req, handler); }, error) &&
           run(
               "response from", [&](auto handler) { http::async_read(stream, buffer_, res, handler); }, error);
  };
  const bool ok = tls_ ? steps(*tls_) : steps(*tcp_);
  if (ok && !res.keep_alive()) close_now();
  return ok;
}

void NetClient::close_now() {
  boost::system::error_code ignored;
  if (tls_) {
    tls_->next_layer().close(ignored);
    tls_.reset();
  }
  if (tcp_) {
    tcp_->close(ignored);
    tcp_.reset();
  }
}

void NetClient::close() {
  close_now();
}

void NetClient::cancel() {
  cancelled_ = true;
  // Runs on the delivery thread's next io_.run(): closes whatever is open.
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    if (tls_) tls_->next_layer().close(ignored);
    if (tcp_) tcp_->close(ignored);
    resolver_.cancel();
  });
}

}  // namespace tunneldoc
