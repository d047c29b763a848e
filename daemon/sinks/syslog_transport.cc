// syslog_transport.cc — records as RFC 5424 messages over UDP (RFC 5426),
// TCP (RFC 6587 octet counting) or TLS (RFC 5425).
#include <fmt/format.h>
#include <unistd.h>

#include <utility>  // before Boost 1.74 Asio: awaitable.hpp needs std::exchange
// clang-format off
#include <boost/asio.hpp>
// clang-format on

#include "net_client.h"
#include "tunneldoc/encoders.h"
#include "tunneldoc/render.h"
#include "tunneldoc/transports.h"

namespace tunneldoc {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

// PRINTUSASCII (33-126), at most `max` characters; "-" when empty.
std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() == max) break;
    out += c > 32 && c < 127 ? c : '_';
  }
  return out.empty() ? "-" : out;
}

void sd_param(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "=\"";
  for (char c : valid_utf8(value)) {
    if (c == '"' || c == '\\' || c == ']') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string syslog_hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "-";
  return printable(name, 255);
}

std::string rfc5424(const Record& r, int facility, std::string_view hostname, std::string_view procid) {
  std::string out = fmt::format("<{}>1 {} {} tunneldoc {} {} [", facility * 8 + (r.severity & 7),
                                format_utc_ms(r.time_ms), hostname, procid, printable(r.msgid, 32));
  out += kSdId;
  if (!r.id.empty()) sd_param(out, "id", r.id);
  sd_param(out, "state", r.state);
  if (!r.incident.empty()) sd_param(out, "incident", r.incident);
  if (!r.host.empty()) sd_param(out, "device", r.host);
  sd_param(out, "signature", r.msgid);
  out += "] ";
  out += r.payload;
  return out;
}

namespace {

class UdpSyslog final : public SinkTransport {
 public:
  explicit UdpSyslog(SyslogOptions options)
      : options_(std::move(options)), socket_(io_), hostname_(syslog_hostname()), procid_(std::to_string(::getpid())) {}

  DeliveryResult deliver(std::span<const Record> records) override {
    DeliveryResult result;
    if (cancelled_) {
      result.error = "cancelled";
      return result;
    }
    if (!socket_.is_open() && !open(result.error)) return result;
    for (std::size_t i = 0; i < records.size(); ++i) {
      const std::string message = rfc5424(records[i], options_.facility, hostname_, procid_);
      if (message.size() > options_.max_datagram) {
        result.failed.push_back({i, true,
                                 fmt::format("{} bytes: larger than a datagram may be ({}); remedies=brief keeps "
                                             "records small",
                                             message.size(), options_.max_datagram)});
        continue;
      }
      boost::system::error_code ec;
      socket_.send(asio::buffer(message), 0, ec);
      if (ec) {
        // ECONNREFUSED (an ICMP port unreachable came back): nobody listens; send the rest later.
        if (i == 0) {
          result.error = fmt::format("send to {}: {}", where(), ec.message());
          socket_.close(ec);
          return result;
        }
        for (std::size_t j = i; j < records.size(); ++j) result.failed.push_back({j, false, ec.message()});
        break;
      }
      result.bytes += message.size();
    }
    result.sent = true;
    return result;
  }

  void cancel() override { cancelled_ = true; }
  bool reopen(std::string&) override { return true; }
  std::size_t max_batch() const override { return 1000; }

 private:
  std::string where() const { return fmt::format("{}:{}", options_.target.host, options_.target.port); }
  bool open(std::string& error) {
    udp::resolver resolver(io_);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(options_.target.host, std::to_string(options_.target.port), ec);
    if (!ec && !endpoints.empty()) {
      const udp::endpoint to = *endpoints.begin();
      socket_.open(to.protocol(), ec);
      if (!ec) socket_.connect(to, ec);  // connected: a refused datagram shows as an error
    } else if (!ec) {
      ec = asio::error::host_not_found;
    }
    if (ec) {
      error = fmt::format("{}: {}", where(), ec.message());
      socket_.close(ec);
      return false;
    }
    return true;
  }

  SyslogOptions options_;
  asio::io_context io_;
  udp::socket socket_;
  std::string hostname_, procid_;
  std::atomic<bool> cancelled_{false};
};

// RFC 6587 octet counting ("LEN SP MSG"), over TCP or TLS.
class StreamSyslog final : public NetTransport {
 public:
  explicit StreamSyslog(SyslogOptions options)
      : NetTransport(options.target),
        options_(std::move(options)),
        hostname_(syslog_hostname()),
        procid_(std::to_string(::getpid())) {}

  DeliveryResult deliver(std::span<const Record> records) override {
    DeliveryResult result;
    std::string frames;
    for (const Record& r : records) {
      const std::string message = rfc5424(r, options_.facility, hostname_, procid_);
      frames += std::to_string(message.size());
      frames += ' ';
      frames += message;
    }
    result.sent = client_.write(frames, result.error);
    if (result.sent) result.bytes = frames.size();
    return result;
  }

 private:
  SyslogOptions options_;
  std::string hostname_, procid_;
};

}  // namespace

std::unique_ptr<SinkTransport> make_syslog_transport(const SyslogOptions& options, std::string& error) {
  if (options.transport == SyslogTransport::udp) return std::make_unique<UdpSyslog>(options);
  SyslogOptions o = options;
  o.target.tls.enabled = options.transport == SyslogTransport::tls;
  return NetTransport::make<StreamSyslog>(o, error);
}

}  // namespace tunneldoc
