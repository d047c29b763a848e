// syslog_sender.cc — load generator for `tunneldoc serve` benchmarks.
//
//   tunneldoc_syslog_sender --udp 127.0.0.1:5514 --file corpus.log --count 200000 [--rate 100000]
//   tunneldoc_syslog_sender --tcp 127.0.0.1:5514 --file corpus.log --count 200000 [--connections 4]
//
// Sends the first --count lines of --file (cycled if the file is shorter):
// over UDP one datagram per line (sendmmsg batches), over TCP LF-framed on
// --connections connections (lines dealt round-robin, one thread each). With
// --rate (lines/s, over all connections) it paces itself in 1 ms steps;
// without it sends as fast as it can. Prints "sent <n> seconds <s> rate <r/s>".
// Loopback benchmarking only; no retries, no TLS.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "syslog_sender: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

sockaddr_in parse_addr(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "syslog_sender: want ADDR:PORT, got %s\n", s.c_str());
    std::exit(2);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1))));
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) != 1) die("bad address " + s);
  return a;
}

// Paces `sent` against `rate` lines/s since `start` (no-op when rate is 0).
void pace(std::uint64_t sent, double rate, Clock::time_point start) {
  if (rate <= 0) return;
  const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(sent / rate));
  if (due > Clock::now()) std::this_thread::sleep_until(due);
}

std::uint64_t send_udp(const sockaddr_in& to, const std::vector<std::string>& lines, std::uint64_t count,
                       double rate) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) die("connect");
  constexpr std::size_t kBatch = 64;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  const auto start = Clock::now();
  std::uint64_t sent = 0, errors = 0;
  while (sent < count) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, count - sent));
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& l = lines[(sent + i) % lines.size()];
      iov[i] = {const_cast<char*>(l.data()), l.size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (r < 0) {
      if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED) {
        ++errors;
        continue;
      }
      die("sendmmsg");
    }
    sent += static_cast<std::uint64_t>(r);
    pace(sent, rate, start);
  }
  ::close(fd);
  if (errors != 0) std::fprintf(stderr, "syslog_sender: %llu send retries\n", static_cast<unsigned long long>(errors));
  return sent;
}

std::uint64_t send_tcp(const sockaddr_in& to, const std::vector<std::string>& lines, std::uint64_t count,
                       double rate, int connections) {
  std::vector<std::thread> threads;
  std::vector<std::uint64_t> sent(static_cast<std::size_t>(connections), 0);
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) die("socket");
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) die("connect");
      const double my_rate = rate / connections;
      const auto start = Clock::now();
      std::string buf;
      std::uint64_t mine = 0;
      for (std::uint64_t k = static_cast<std::uint64_t>(c); k < count; k += static_cast<std::uint64_t>(connections)) {
        buf += lines[k % lines.size()];
        buf += '\n';
        ++mine;
        if (buf.size() >= 64 * 1024 || k + static_cast<std::uint64_t>(connections) >= count || my_rate > 0) {
          std::size_t off = 0;
          while (off < buf.size()) {
            const ssize_t w = ::send(fd, buf.data() + off, buf.size() - off, MSG_NOSIGNAL);
            if (w < 0) {
              if (errno == EINTR) continue;
              die("send");
            }
            off += static_cast<std::size_t>(w);
          }
          buf.clear();
          pace(mine, my_rate, start);
        }
      }
      ::shutdown(fd, SHUT_WR);
      ::close(fd);
      sent[static_cast<std::size_t>(c)] = mine;
    });
  }
  for (auto& t : threads) t.join();
  std::uint64_t total = 0;
  for (auto s : sent) total += s;
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  std::string udp, tcp, file;
  std::uint64_t count = 100000;
  double rate = 0;
  int connections = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "syslog_sender: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--udp") udp = value();
    else if (a == "--tcp") tcp = value();
    else if (a == "--file") file = value();
    else if (a == "--count") count = std::stoull(value());
    else if (a == "--rate") rate = std::stod(value());
    else if (a == "--connections") connections = std::max(1, std::stoi(value()));
    else {
      std::fprintf(stderr, "usage: %s (--udp|--tcp) ADDR:PORT --file FILE [--count N] [--rate LINES/S] "
                   "[--connections N]\n", argv[0]);
      return 2;
    }
  }
  if (file.empty() || udp.empty() == tcp.empty()) {
    std::fprintf(stderr, "syslog_sender: need --file and one of --udp / --tcp\n");
    return 2;
  }
  std::vector<std::string> lines;
  {
    std::ifstream in(file);
    std::string l;
    while (lines.size() < count && std::getline(in, l)) lines.push_back(l);
  }
  if (lines.empty()) {
    std::fprintf(stderr, "syslog_sender: %s has no lines\n", file.c_str());
    return 2;
  }
  const auto start = Clock::now();
  const std::uint64_t sent = !udp.empty() ? send_udp(parse_addr(udp), lines, count, rate)
                                          : send_tcp(parse_addr(tcp), lines, count, rate, connections);
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("sent %llu seconds %.3f rate %.0f\n", static_cast<unsigned long long>(sent), secs, sent / secs);
  return 0;
}
