// udp_listener.cc — syslog over UDP: one datagram is one message.
//
// One socket per I/O thread, sharing the port with SO_REUSEPORT among
// themselves only (the first binds exclusively), each with its own receive
// loop on a strand. After each completion the loop drains what the kernel already
// holds with non-blocking recvmmsg() batches (bounded), then re-arms: always,
// error or not. Each receiver owns fixed buffers (kBatch slots of 64 KiB, of
// which small datagrams touch only the first page); nothing is allocated per
// datagram unless it is diagnosed.
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>  // before Boost 1.74 Asio: awaitable.hpp needs std::exchange

#include "rate_limit.h"
#include "tunneldoc/framing.h"
#include "tunneldoc/listener.h"

namespace tunneldoc {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;

constexpr std::size_t kBufferSize = 64 * 1024;
constexpr int kDrainBatch = 256;            // per completion, before yielding to other handlers
constexpr unsigned kBatch = 16;             // datagrams per recvmmsg()
constexpr int kShutdownDrainMax = 1 << 20;  // datagrams processed at stop, at most

// Drops counted by the kernel for the given socket inodes (/proc/net/udp*).
std::uint64_t kernel_drops(const std::vector<unsigned long>& inodes) {
  std::uint64_t total = 0;
  for (const char* file : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string f[13];
      for (auto& s : f) fields >> s;
      const unsigned long inode = std::strtoul(f[9].c_str(), nullptr, 10);
      for (unsigned long i : inodes) {
        if (i == inode) total += std::strtoull(f[12].c_str(), nullptr, 10);
      }
    }
  }
  return total;
}

class UdpListener final : public Listener {
 public:
  struct Settings {
    Allowlist allow;
    std::size_t max_frame;
  };

  struct Receiver {
    explicit Receiver(asio::io_context& io) : strand(asio::make_strand(io)), socket(strand) {}
    asio::strand<asio::io_context::executor_type> strand;
    udp::socket socket;
    udp::endpoint sender;
    std::array<char, kBufferSize> buffer;
    // recvmmsg() batch: kBatch slots of kBufferSize bytes, their headers and senders.
    std::unique_ptr<char[]> slots{new char[kBatch * kBufferSize]};
    std::array<mmsghdr, kBatch> headers{};
    std::array<iovec, kBatch> iovecs{};
    std::array<sockaddr_storage, kBatch> senders{};
    unsigned long inode = 0;
    // What a reload may change; replaced and read on this receiver's strand only.
    std::shared_ptr<const Settings> settings;
  };

  UdpListener(asio::io_context& io, const ListenerConfig& config, Pipeline& pipeline, MetricsRegistry& metrics)
      : io_(io),
        config_(config),
        pipeline_(pipeline),
        metrics_(metrics),
        settings_(std::make_shared<const Settings>(Settings{Allowlist(config.allow), config.max_frame})) {}

  ~UdpListener() override { metrics_.remove_probes(this); }

  bool bind(int sockets, std::string& error) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(config_.endpoint.address, ec);
    if (ec) {
      error = "bad address " + config_.endpoint.address;
      return false;
    }
    udp::endpoint ep(address, config_.endpoint.port);
    const int count = std::max(1, sockets);
    using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
    for (int i = 0; i < count; ++i) {
      auto r = std::make_unique<Receiver>(io_);
      r->settings = settings_;
      r->socket.open(ep.protocol(), ec);
      // The first socket binds without SO_REUSEPORT, so the bind fails if any
      // other socket holds the port (another tunneldoc, another syslog
      // daemon); only then is the port opened to our own further sockets.
      if (!ec && i > 0) r->socket.set_option(ReusePort(true), ec);
      if (!ec) set_receive_buffer(*r, config_.receive_buffer, i == 0);
      if (!ec) r->socket.bind(ep, ec);
      if (!ec && i == 0 && count > 1) r->socket.set_option(ReusePort(true), ec);
      if (ec) {
        error = "cannot bind udp " + ep.address().to_string() + ":" + std::to_string(ep.port()) + ": " + ec.message();
        if (ec == asio::error::address_in_use)
          error += " (another process holds this port; tunneldoc does not share a port with another receiver)";
        return false;
      }
      ep = r->socket.local_endpoint();  // an ephemeral port: the others share it
      struct stat st {};
      if (::fstat(r->socket.native_handle(), &st) == 0) r->inode = static_cast<unsigned long>(st.st_ino);
      receivers_.push_back(std::move(r));
    }
    local_ = Endpoint{ep.address().to_string(), ep.port()};
    name_ = "udp:" + local_.to_string();
    counters_ = std::make_unique<ListenerCounters>(metrics_, name_);
    std::vector<unsigned long> inodes;
    for (auto& r : receivers_) inodes.push_back(r->inode);
    metrics_.probe(
        "tunneldoc_udp_kernel_drops_total",
        "Datagrams the kernel dropped on our sockets (receive buffer full), from /proc/net/udp", "counter",
        {{"listener", name_}}, [inodes] { return static_cast<double>(kernel_drops(inodes)); }, this);
    return true;
  }

  void start() override {
    for (auto& r : receivers_) {
      boost::system::error_code ec;
      r->socket.non_blocking(true, ec);
      asio::post(r->strand, [this, rp = r.get()] { arm(*rp); });
    }
  }

  void stop() override {
    if (stopping_.exchange(true)) return;
    for (auto& r : receivers_) {
      asio::post(r->strand, [this, rp = r.get()] {
        // Process what the kernel already queued for us, then close.
        drain(*rp, kShutdownDrainMax);
        boost::system::error_code ec;
        rp->socket.close(ec);
      });
    }
  }

  std::string name() const override { return name_; }
  Endpoint local_endpoint() const override { return local_; }
  Transport transport() const override { return Transport::udp; }

  std::function<void()> reconfigure(const ListenerConfig& next, std::string&) override {
    auto settings = std::make_shared<const Settings>(Settings{Allowlist(next.allow), next.max_frame});
    const std::size_t receive_buffer = next.receive_buffer;
    return [this, settings, receive_buffer] {
      for (std::size_t i = 0; i < receivers_.size(); ++i) {
        Receiver* r = receivers_[i].get();
        asio::post(r->strand, [this, r, settings, receive_buffer, report = i == 0] {
          r->settings = settings;
          set_receive_buffer(*r, receive_buffer, report);
        });
      }
    };
  }

 private:
  void set_receive_buffer(Receiver& r, std::size_t size, bool report) {
    const int want = static_cast<int>(std::min<std::size_t>(size, INT32_MAX / 2));
    // SO_RCVBUFFORCE goes past net.core.rmem_max when we are privileged.
    if (::setsockopt(r.socket.native_handle(), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
      boost::system::error_code ec;
      r.socket.set_option(asio::socket_base::receive_buffer_size(want), ec);
    }
    asio::socket_base::receive_buffer_size got;
    boost::system::error_code ec;
    r.socket.get_option(got, ec);
    // Linux reports twice what it reserves for data (bookkeeping overhead).
    if (report && !ec && got.value() / 2 < want) {
      spdlog::warn(
          "udp {}: asked for a {} byte receive buffer, the kernel granted {}; raise net.core.rmem_max "
          "(sysctl -w net.core.rmem_max={}) or bursts will be dropped",
          config_.endpoint.to_string(), want, got.value() / 2, want);
    }
  }

  void arm(Receiver& r) {
    if (stopping_.load(std::memory_order_relaxed)) return;
    r.socket.async_receive_from(asio::buffer(r.buffer), r.sender,
                                [this, &r](const boost::system::error_code& ec, std::size_t n) {
                                  if (ec == asio::error::operation_aborted) return;
                                  if (ec) {
                                    counters_->receive_errors.inc();
                                    std::uint64_t suppressed = 0;
                                    if (errors_log_.allow(suppressed))
                                      spdlog::warn("{}: receive failed: {}", name_, ec.message());
                                  } else {
                                    handle(r, r.buffer.data(), n);
                                    drain(r, kDrainBatch);
                                  }
                                  arm(r);  // always re-arm
                                });
  }

  void drain(Receiver& r, int max) {
    const int fd = r.socket.native_handle();
    for (int done = 0; done < max;) {
      for (unsigned i = 0; i < kBatch; ++i) {
        r.iovecs[i] = iovec{r.slots.get() + i * kBufferSize, kBufferSize};
        r.headers[i] = mmsghdr{};
        r.headers[i].msg_hdr.msg_iov = &r.iovecs[i];
        r.headers[i].msg_hdr.msg_iovlen = 1;
        r.headers[i].msg_hdr.msg_name = &r.senders[i];
        r.headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
      const int n = ::recvmmsg(fd, r.headers.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;  // EAGAIN: the queue is empty (or the socket is closed)
      for (int i = 0; i < n; ++i) {
        const auto& h = r.headers[static_cast<std::size_t>(i)];
        const std::size_t len = std::min<std::size_t>(h.msg_hdr.msg_namelen, r.sender.capacity());
        std::memcpy(r.sender.data(), &r.senders[static_cast<std::size_t>(i)], len);
        r.sender.resize(len);  // never throws: len <= capacity()
        handle(r, r.slots.get() + static_cast<std::size_t>(i) * kBufferSize, h.msg_len);
      }
      done += n;
      if (static_cast<unsigned>(n) < kBatch) return;
    }
  }

  static void describe(const void* context, std::string& source, std::string& host) {
    const auto& r = *static_cast<const Receiver*>(context);
    host = r.sender.address().to_string();
    source = "udp:";
    if (r.sender.address().is_v6()) {
      source += "[" + host + "]";
    } else {
      source += host;
    }
    source += ":" + std::to_string(r.sender.port());
  }

  static bool allowed(const Allowlist& allow, const udp::endpoint& sender) {
    if (allow.empty()) return true;
    const auto a = sender.address();
    if (a.is_v4()) return allow.allows(false, a.to_v4().to_bytes().data());
    return allow.allows(true, a.to_v6().to_bytes().data());
  }

  void handle(Receiver& r, const char* data, std::size_t n) {
    const Settings& settings = *r.settings;
    if (!allowed(settings.allow, r.sender)) {
      counters_->denied.inc();
      std::uint64_t suppressed = 0;
      if (denied_log_.allow(suppressed)) {
        spdlog::warn("{}: datagram from {} denied by the allowlist ({} more denied since the last report)", name_,
                     r.sender.address().to_string(), suppressed);
      }
      return;
    }
    counters_->messages.inc();
    counters_->bytes.inc(n);
    std::string_view message(data, n);
    bool truncated = false;
    if (message.size() > settings.max_frame) {
      message = message.substr(0, settings.max_frame);
      truncated = true;
      counters_->oversize.inc();
    }
    message = trim_message(message);
    if (message.empty()) {
      counters_->malformed.inc();  // an empty datagram is not a message
      return;
    }
    Origin origin;
    origin.context = &r;
    origin.describe = &UdpListener::describe;
    pipeline_.process(message, origin, truncated);
  }

  asio::io_context& io_;
  ListenerConfig config_;
  Pipeline& pipeline_;
  MetricsRegistry& metrics_;
  std::shared_ptr<const Settings> settings_;  // the ones at bind
  std::vector<std::unique_ptr<Receiver>> receivers_;
  Endpoint local_;
  std::string name_;
  std::unique_ptr<ListenerCounters> counters_;
  std::atomic<bool> stopping_{false};
  RateLimit denied_log_, errors_log_;
};

}  // namespace

std::unique_ptr<Listener> make_udp_listener(asio::io_context& io, const ListenerConfig& config, int sockets,
                                            Pipeline& pipeline, MetricsRegistry& metrics, std::string& error) {
  auto l = std::make_unique<UdpListener>(io, config, pipeline, metrics);
  if (!l->bind(sockets, error)) return nullptr;
  return l;
}

}  // namespace tunneldoc
