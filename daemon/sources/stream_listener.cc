// stream_listener.cc — syslog over TCP (RFC 6587) and TLS (RFC 5425).
//
// The asio server3 shape: an acceptor hands each connection a strand of its
// own; a Connection is enable_shared_from_this, keeps itself alive through
// the handlers it has pending, and dies when none is. A slow or silent
// connection only holds its own timer and incomplete message: it never blocks
// others.
//
// A plain TCP connection waits for readability (async_wait) and then reads
// what the kernel holds, without blocking, into its thread's buffer: an idle
// connection owns no read buffer, and at shutdown the kernel's queue can be
// read synchronously because no read with a buffer of ours is pending. TLS
// connections read through ssl::stream with a buffer of their own.
//
// Memory: each connection may hold kConnectionAllowance bytes of an incomplete
// message; beyond that it draws on the listener's max_buffered budget, and a
// connection the budget cannot serve is closed and counted. Admission: at most
// max_connections, at most max_connections_per_host per host, and the last
// reserved slots only for hosts with no connection open.
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <utility>  // before Boost 1.74 Asio: awaitable.hpp needs std::exchange

#include "rate_limit.h"
#include "tunneldoc/framing.h"
#include "tunneldoc/listener.h"

namespace tunneldoc {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr std::size_t kReadSize = 16 * 1024;      // a TLS connection's own read buffer
constexpr std::size_t kThreadBuffer = 64 * 1024;  // plain TCP reads go into the thread's buffer
constexpr int kReadsPerWakeup = 4;                // then other connections get their turn
constexpr int kShutdownReads = 1024;              // at most 64 MiB read per connection at stop

char* thread_buffer() {
  thread_local std::array<char, kThreadBuffer> buffer;
  return buffer.data();
}

bool would_block(const boost::system::error_code& ec) {
  return ec == asio::error::would_block || ec == asio::error::try_again;
}

bool is_reset(const boost::system::error_code& ec) {
  return ec == asio::error::connection_reset || ec == asio::error::connection_aborted ||
         ec == asio::error::not_connected;
}

// A sending host for the per-host limit: an IPv4 address, or an IPv6 /64
// (one site gets a /64; counting its addresses apart would be no limit).
using HostKey = std::array<unsigned char, 16>;
HostKey host_key(const asio::ip::address& a) {
  HostKey k{};
  if (a.is_v4() || (a.is_v6() && a.to_v6().is_v4_mapped())) {
    const auto v4 = a.is_v4() ? a.to_v4() : asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    const auto b = v4.to_bytes();
    std::memcpy(k.data(), b.data(), b.size());
  } else {
    const auto b = a.to_v6().to_bytes();
    std::memcpy(k.data(), b.data(), 8);
    k[15] = 6;  // never equal to an IPv4 key
  }
  return k;
}

class StreamListener;

// What a reload may change: the settings a connection is accepted and served
// with. Immutable once made; a connection keeps the ones it was accepted with.
struct Settings {
  ListenerConfig config;
  Allowlist allow;
  std::shared_ptr<ssl::context> tls;  // TLS listeners only
};

// The TLS server context for `c`; null with `error` when the certificate,
// key or CA file cannot be used.
std::shared_ptr<ssl::context> make_tls_context(const ListenerConfig& c, std::string& error) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ::SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::single_dh_use);
  // An idle TLS connection gives its record buffers back.
  ::SSL_CTX_set_mode(tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  tls->use_certificate_chain_file(c.certificate.string(), ec);
  if (ec) {
    error = "tls: cannot use certificate " + c.certificate.string() + ": " + ec.message();
    return nullptr;
  }
  tls->use_private_key_file(c.key.string(), ssl::context::pem, ec);
  if (ec) {
    error = "tls: cannot use key " + c.key.string() + ": " + ec.message();
    return nullptr;
  }
  if (::SSL_CTX_check_private_key(tls->native_handle()) != 1) {
    error = "tls: the key " + c.key.string() + " does not belong to the certificate";
    return nullptr;
  }
  if (!c.ca.empty()) {
    tls->load_verify_file(c.ca.string(), ec);
    if (ec) {
      error = "tls: cannot load CA file " + c.ca.string() + ": " + ec.message();
      return nullptr;
    }
  }
  tls->set_verify_mode(c.verify_client ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert : ssl::verify_none);
  return tls;
}

std::shared_ptr<const Settings> make_settings(const ListenerConfig& c, std::string& error) {
  auto s = std::make_shared<Settings>();
  s->config = c;
  s->allow = Allowlist(c.allow);
  if (c.transport == Transport::tls) {
    s->tls = make_tls_context(c, error);
    if (!s->tls) return nullptr;
  }
  return s;
}

// What the listener needs to know about a connection to close it at stop.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void shutdown() = 0;  // call on any thread
  virtual void begin() = 0;     // starts it on its own strand
};

// Shared-owned: connections keep it alive, so one destroyed with the
// io_context (after a forced stop) still finds its listener.
class StreamListener final : public Listener, public std::enable_shared_from_this<StreamListener> {
 public:
  StreamListener(asio::io_context& io, const ListenerConfig& config, Pipeline& pipeline, MetricsRegistry& metrics)
      : io_(io),
        config_(config),
        pipeline_(pipeline),
        metrics_(metrics),
        max_buffered_(config.max_buffered),
        acceptor_(asio::make_strand(io)) {}

  bool bind(std::string& error);
  void start() override {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
  }
  void stop() override;
  std::string name() const override { return name_; }
  Endpoint local_endpoint() const override { return local_; }
  Transport transport() const override { return config_.transport; }
  std::function<void()> reconfigure(const ListenerConfig& next, std::string& error) override;

  // For connections.
  bool stopping() const { return stopping_.load(); }
  Pipeline& pipeline() { return pipeline_; }
  ListenerCounters& counters() { return *counters_; }
  RateLimit& malformed_log() { return malformed_log_; }
  RateLimit& oversize_log() { return oversize_log_; }
  RateLimit& overflow_log() { return overflow_log_; }
  void forget(std::uint64_t id, const HostKey& host) {
    std::lock_guard lock(mutex_);
    connections_.erase(id);
    auto it = per_host_.find(host);
    if (it != per_host_.end() && --it->second == 0) per_host_.erase(it);
  }
  // Takes `n` bytes of max_buffered; false (nothing taken) if they are not free.
  bool charge(std::size_t n) {
    std::size_t used = buffered_.load(std::memory_order_relaxed);
    do {
      if (used + n > max_buffered_.load(std::memory_order_relaxed)) return false;
    } while (!buffered_.compare_exchange_weak(used, used + n, std::memory_order_relaxed));
    counters_->buffered.add(static_cast<double>(n));
    return true;
  }
  void release(std::size_t n) {
    buffered_.fetch_sub(n, std::memory_order_relaxed);
    counters_->buffered.add(-static_cast<double>(n));
  }

 private:
  void accept();
  void on_accept(const boost::system::error_code& ec, tcp::socket socket);
  static bool allowed(const Allowlist& allow, const tcp::endpoint& peer) {
    if (allow.empty()) return true;
    const auto a = peer.address();
    if (a.is_v4()) return allow.allows(false, a.to_v4().to_bytes().data());
    return allow.allows(true, a.to_v6().to_bytes().data());
  }

  asio::io_context& io_;
  ListenerConfig config_;
  Pipeline& pipeline_;
  MetricsRegistry& metrics_;
  std::atomic<std::size_t> max_buffered_;
  tcp::acceptor acceptor_;
  std::shared_ptr<const Settings> settings_;  // replaced and read on the acceptor's strand only
  Endpoint local_;
  std::string name_;
  std::unique_ptr<ListenerCounters> counters_;
  std::atomic<bool> stopping_{false};
  RateLimit denied_log_, refused_log_, errors_log_, oversize_log_, malformed_log_, overflow_log_;
  std::atomic<std::size_t> buffered_{0};
  std::mutex mutex_;
  std::uint64_t next_id_ = 0;                                           // guarded by mutex_
  std::map<std::uint64_t, std::weak_ptr<ConnectionBase>> connections_;  // guarded by mutex_
  std::map<HostKey, std::size_t> per_host_;                             // guarded by mutex_
};

// Stream is tcp::socket or ssl::stream<tcp::socket>; all members are used on
// the connection's strand only.
template <class Stream>
class Connection final : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, tcp::socket>;

  template <class... Args>
  Connection(std::shared_ptr<StreamListener> owner, std::shared_ptr<const Settings> settings, std::uint64_t id,
             const tcp::endpoint& peer, Args&&... args)
      : owner_(std::move(owner)),
        settings_(std::move(settings)),
        id_(id),
        host_key_(host_key(peer.address())),
        stream_(std::forward<Args>(args)...),
        timer_(stream_.get_executor()),
        parser_(settings_->config.max_frame) {
    if constexpr (kTls) buffer_ = std::make_unique<std::array<char, kReadSize>>();
    host_ = peer.address().to_string();
    source_ = std::string(kTls ? "tls:" : "tcp:") + (peer.address().is_v6() ? "[" + host_ + "]" : host_) + ":" +
              std::to_string(peer.port());
    owner_->counters().open.add(1);
  }
  ~Connection() override {
    if (charged_ != 0) owner_->release(charged_);
    owner_->counters().open.add(-1);
    owner_->forget(id_, host_key_);
  }

  void start() {
    if (owner_->stopping()) {
      close();
      return;
    }
    if constexpr (kTls) {
      arm_timer(std::chrono::seconds(settings_->config.handshake_timeout_seconds));
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](const boost::system::error_code& ec) { self->on_handshake(ec); });
    } else {
      boost::system::error_code ec;
      socket().non_blocking(true, ec);
      read();
    }
  }

  // Starts the connection on its own strand.
  void begin() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->start(); });
  }

  void shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->drain_and_close(); });
  }

 private:
  tcp::socket& socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  void arm_timer(std::chrono::steady_clock::duration after) {
    timer_.expires_after(after);
    timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: there was activity
      if (self->timer_.expiry() > std::chrono::steady_clock::now()) return;
      if (!self->draining_)
        spdlog::debug("{}: {} closed after {} s of silence", self->owner_->name(), self->source_,
                      self->settings_->config.idle_timeout_seconds);
      self->end(/*stream_ended=*/false);
    });
  }

  void on_handshake(const boost::system::error_code& ec) {
    if (ec) {
      owner_->counters().malformed.inc();
      std::uint64_t suppressed = 0;
      if (owner_->malformed_log().allow(suppressed))
        spdlog::warn("{}: TLS handshake with {} failed: {} ({} similar suppressed)", owner_->name(), source_,
                     ec.message(), suppressed);
      if (is_reset(ec)) owner_->counters().reset.inc();
      close();
      return;
    }
    read();
  }

  void read() {
    if (closed_) return;
    if (!draining_) arm_timer(std::chrono::seconds(settings_->config.idle_timeout_seconds));
    if constexpr (kTls) {
      stream_.async_read_some(asio::buffer(*buffer_),
                              [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                self->on_read(ec, n);
                              });
    } else {
      socket().async_wait(tcp::socket::wait_read, [self = this->shared_from_this()](
                                                      const boost::system::error_code& ec) { self->on_readable(ec); });
    }
  }

  // TLS: a read completed.
  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (n > 0) consume(std::string_view(buffer_->data(), n));
    if (ec) {
      if (is_reset(ec)) owner_->counters().reset.inc();
      end(/*stream_ended=*/true);
      return;
    }
    read();
  }

  // Plain TCP: the socket is readable (or the wait was cancelled by close()).
  void on_readable(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec && ec != asio::error::operation_aborted) {
      if (is_reset(ec)) owner_->counters().reset.inc();
      end(/*stream_ended=*/true);
      return;
    }
    if (read_available(kReadsPerWakeup)) read();
  }

  // Plain TCP: reads what the kernel holds without blocking, `max` reads at
  // most; `*empty` is set when the kernel held no more. False when the
  // connection is closed (end of stream, error, or a broken stream).
  bool read_available(int max, bool* empty = nullptr) {
    char* buffer = thread_buffer();
    for (int i = 0; i < max && !closed_; ++i) {
      boost::system::error_code ec;
      const std::size_t n = socket().read_some(asio::buffer(buffer, kThreadBuffer), ec);
      if (n > 0) consume(std::string_view(buffer, n));
      if (would_block(ec)) {
        if (empty != nullptr) *empty = true;
        return !closed_;
      }
      if (ec) {
        if (is_reset(ec)) owner_->counters().reset.inc();
        end(/*stream_ended=*/true);
        return false;
      }
    }
    return !closed_;
  }

  void consume(std::string_view data) {
    owner_->counters().bytes.inc(data.size());
    while (!closed_) {
      const auto r = parser_.parse(data);
      if (r == FrameParser::Result::good) {
        emit();
      } else if (r == FrameParser::Result::bad) {
        owner_->counters().malformed.inc();
        std::uint64_t suppressed = 0;
        if (owner_->malformed_log().allow(suppressed))
          spdlog::warn("{}: {} sent an octet count no syslog message has; closing the connection ({} similar since)",
                       owner_->name(), source_, suppressed);
        close();
      } else {
        break;
      }
    }
    if (!closed_) account();
  }

  // Charges what the parser holds beyond the allowance to the listener's
  // budget; a connection the budget cannot serve is closed, its incomplete
  // message counted as lost.
  void account() {
    const std::size_t held = parser_.held();
    const std::size_t want = held > kConnectionAllowance ? held - kConnectionAllowance : 0;
    if (want > charged_) {
      if (!owner_->charge(want - charged_)) {
        auto& c = owner_->counters();
        c.buffer_overflows.inc();
        c.buffer_overflow_bytes.inc(parser_.buffered());
        std::uint64_t suppressed = 0;
        if (owner_->overflow_log().allow(suppressed))
          spdlog::warn(
              "{}: incomplete messages on open connections hold max_buffered ({} bytes); closed {} which needed "
              "more ({} more closed since the last report)",
              owner_->name(), settings_->config.max_buffered, source_, suppressed);
        parser_.reset();
        close();
        return;
      }
    } else if (want < charged_) {
      owner_->release(charged_ - want);
    }
    charged_ = want;
  }

  void emit() {
    owner_->counters().messages.inc();
    if (parser_.incomplete()) {
      owner_->counters().malformed.inc();  // the stream ended inside a frame
    } else if (parser_.truncated()) {
      owner_->counters().oversize.inc();
      std::uint64_t suppressed = 0;
      if (owner_->oversize_log().allow(suppressed))
        spdlog::warn("{}: {} sent a message longer than max_frame ({} bytes); it was cut ({} more cut since)",
                     owner_->name(), source_, settings_->config.max_frame, suppressed);
    }
    if (parser_.frame().empty()) return;
    Origin origin;
    origin.source = source_;
    origin.host = host_;
    owner_->pipeline().process(parser_.frame(), origin, parser_.truncated());
  }

  // The connection ends: at end of stream an unterminated last message is
  // one (senders often omit the last LF); when we close it ourselves (idle
  // timeout, shutdown) an incomplete message is delivered marked truncated and
  // counted as malformed, never dropped silently.
  void end(bool stream_ended) {
    if (closed_) return;
    if (parser_.finish(/*stream_ended=*/stream_ended)) emit();
    close();
  }

  // At shutdown: what the kernel already holds for a plain TCP connection is
  // read and processed; then the connection closes.
  void drain_and_close() {
    if (closed_ || draining_) return;
    draining_ = true;
    if constexpr (kTls) {
      // TLS records cannot be read without blocking here; let the pending
      // read deliver what has arrived, for a short while, then close.
      arm_timer(std::chrono::milliseconds(250));
    } else {
      // Only a wait is pending, no read into a buffer: reading here cannot
      // race with it. close() cancels the wait.
      timer_.cancel();
      drain_some(kShutdownReads);
    }
  }

  // Plain TCP at shutdown: what the kernel holds, in slices of
  // kReadsPerWakeup reads, each slice its own handler, so other connections
  // drain alongside and the shutdown deadline (io_context::stop) can cut in
  // between slices: what was read is processed, the rest stays unread.
  void drain_some(int left) {
    bool empty = false;
    if (!read_available(std::min(left, kReadsPerWakeup), &empty)) return;
    left -= kReadsPerWakeup;
    if (empty || left <= 0) {
      end(/*stream_ended=*/false);
      return;
    }
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), left] { self->drain_some(left); });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    timer_.cancel();
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

  std::shared_ptr<StreamListener> owner_;     // outlives every connection, even at io_context teardown
  std::shared_ptr<const Settings> settings_;  // accepted with these; a reload does not change them
  std::uint64_t id_;
  HostKey host_key_;
  Stream stream_;
  asio::steady_timer timer_;
  FrameParser parser_;
  std::unique_ptr<std::array<char, kReadSize>> buffer_;  // TLS only
  std::string source_, host_;
  std::size_t charged_ = 0;  // bytes taken from the listener's max_buffered
  bool closed_ = false;
  bool draining_ = false;  // shutting down: no new idle deadline
};

bool StreamListener::bind(std::string& error) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config_.endpoint.address, ec);
  if (ec) {
    error = "bad address " + config_.endpoint.address;
    return false;
  }
  const char* kind = to_string(config_.transport);
  settings_ = make_settings(config_, error);
  if (!settings_) return false;
  const tcp::endpoint ep(address, config_.endpoint.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = std::string("cannot listen on ") + kind + " " + config_.endpoint.to_string() + ": " + ec.message();
    if (ec == asio::error::address_in_use)
      error += " (another process holds this port; tunneldoc does not share a port with another receiver)";
    return false;
  }
  const auto bound = acceptor_.local_endpoint();
  local_ = Endpoint{bound.address().to_string(), bound.port()};
  name_ = std::string(kind) + ":" + local_.to_string();
  counters_ = std::make_unique<ListenerCounters>(metrics_, name_);
  return true;
}

std::function<void()> StreamListener::reconfigure(const ListenerConfig& next, std::string& error) {
  std::shared_ptr<const Settings> settings = make_settings(next, error);
  if (!settings) return {};
  return [self = shared_from_this(), settings = std::move(settings)] {
    asio::post(self->acceptor_.get_executor(), [self, settings] {
      self->max_buffered_.store(settings->config.max_buffered, std::memory_order_relaxed);
      self->settings_ = settings;
    });
  };
}

void StreamListener::accept() {
  if (stopping_) return;
  acceptor_.async_accept(asio::make_strand(io_),
                         [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         });
}

void StreamListener::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || stopping_) return;
  if (ec) {
    if (is_reset(ec)) {
      counters_->reset.inc();
      accept();
      return;
    }
    counters_->receive_errors.inc();
    std::uint64_t suppressed = 0;
    if (errors_log_.allow(suppressed)) spdlog::warn("{}: accept failed: {}", name_, ec.message());
    // Out of descriptors and similar: wait a little rather than spin.
    auto timer = std::make_shared<asio::steady_timer>(acceptor_.get_executor(), std::chrono::milliseconds(100));
    timer->async_wait([self = shared_from_this(), timer](const boost::system::error_code&) { self->accept(); });
    return;
  }
  boost::system::error_code pec;
  const tcp::endpoint peer = socket.remote_endpoint(pec);
  if (pec) {
    // Reset between the handshake and accept(): the kernel still hands it over.
    counters_->reset.inc();
    accept();
    return;
  }
  std::uint64_t suppressed = 0;
  const std::shared_ptr<const Settings> settings = settings_;
  const ListenerConfig& config = settings->config;
  if (!allowed(settings->allow, peer)) {
    counters_->denied.inc();
    if (denied_log_.allow(suppressed))
      spdlog::warn("{}: connection from {} denied by the allowlist ({} more denied since the last report)", name_,
                   peer.address().to_string(), suppressed);
    socket.close(pec);
    accept();
    return;
  }
  const HostKey key = host_key(peer.address());
  // The registry lock is never held while a connection may be destroyed
  // (its destructor takes the same lock to unregister).
  std::shared_ptr<ConnectionBase> c;
  const char* refused = nullptr;
  {
    std::lock_guard lock(mutex_);
    const std::size_t open = connections_.size();
    const auto host = per_host_.find(key);
    const std::size_t from_host = host == per_host_.end() ? 0 : host->second;
    if (open >= config.max_connections) {
      counters_->refused.inc();
      refused = "max_connections";
    } else if (from_host >= config.max_connections_per_host) {
      counters_->refused_per_host.inc();
      refused = "max_connections_per_host";
    } else if (from_host > 0 && open >= config.max_connections - effective_reserve(config)) {
      counters_->refused_reserve.inc();
      refused = "the reserve for new hosts";
    } else {
      const std::uint64_t id = next_id_++;
      if (config_.transport == Transport::tls) {
        auto t = std::make_shared<Connection<ssl::stream<tcp::socket>>>(shared_from_this(), settings, id, peer,
                                                                        std::move(socket), *settings->tls);
        connections_[id] = t;
        c = std::move(t);
      } else {
        auto t = std::make_shared<Connection<tcp::socket>>(shared_from_this(), settings, id, peer, std::move(socket));
        connections_[id] = t;
        c = std::move(t);
      }
      ++per_host_[key];
    }
  }
  if (refused != nullptr) {
    if (refused_log_.allow(suppressed))
      spdlog::warn("{}: refused a connection from {}: {} reached ({} more refused since the last report)", name_,
                   peer.address().to_string(), refused, suppressed);
    socket.close(pec);
    accept();
    return;
  }
  counters_->accepted.inc();
  c->begin();
  accept();
}

void StreamListener::stop() {
  if (stopping_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
  });
  std::vector<std::shared_ptr<ConnectionBase>> open;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, weak] : connections_) {
      if (auto c = weak.lock()) open.push_back(std::move(c));
    }
  }
  for (auto& c : open) c->shutdown();
}

}  // namespace

namespace {
// The Listener the caller owns; the listener itself is shared with its connections.
class StreamListenerHandle final : public Listener {
 public:
  explicit StreamListenerHandle(std::shared_ptr<StreamListener> impl) : impl_(std::move(impl)) {}
  ~StreamListenerHandle() override { impl_->stop(); }
  void start() override { impl_->start(); }
  void stop() override { impl_->stop(); }
  std::string name() const override { return impl_->name(); }
  Endpoint local_endpoint() const override { return impl_->local_endpoint(); }
  Transport transport() const override { return impl_->transport(); }
  std::function<void()> reconfigure(const ListenerConfig& next, std::string& error) override {
    return impl_->reconfigure(next, error);
  }

 private:
  std::shared_ptr<StreamListener> impl_;
};
}  // namespace

std::unique_ptr<Listener> make_stream_listener(asio::io_context& io, const ListenerConfig& config, Pipeline& pipeline,
                                               MetricsRegistry& metrics, std::string& error) {
  auto l = std::make_shared<StreamListener>(io, config, pipeline, metrics);
  if (!l->bind(error)) return nullptr;
  return std::make_unique<StreamListenerHandle>(std::move(l));
}

}  // namespace tunneldoc
