// udp_ceiling.cc — the do-nothing UDP receiver of bench/udp_ceiling.sh: what
// loopback UDP can deliver to one socket on this machine, the ceiling that
// `tunneldoc serve` is measured against.
//
//   tunneldoc_udp_ceiling --udp 127.0.0.1:55514 [--rcvbuf 8388608] [--batch 64]
//                         [--quiet-ms 1000] [--idle-ms 30000] [--ready-file FILE]
//
// Binds one UDP socket with the receive buffer tunneldoc asks for by default
// (listeners[].receive_buffer, 8 MiB: SO_RCVBUFFORCE, else SO_RCVBUF), then
// does nothing but recvmmsg() batches of --batch datagrams and count them. It
// stops --quiet-ms after the last datagram (once one has come), after --idle-ms
// if none comes, or on SIGTERM / SIGINT, and prints
//   "received <n> bytes <b> seconds <first to last datagram> rate <n/s> rcvbuf <granted>"
// --ready-file is written once the socket is bound (as tunneldoc serve's is).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "udp_ceiling: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s --udp ADDR:PORT [--rcvbuf BYTES] [--batch N] [--quiet-ms MS] [--idle-ms MS] "
               "[--ready-file FILE]\n",
               argv0);
  std::exit(2);
}

sockaddr_in parse_addr(const std::string& s) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "udp_ceiling: want ADDR:PORT, got %s\n", s.c_str());
    std::exit(2);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(s.substr(colon + 1))));
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    std::fprintf(stderr, "udp_ceiling: bad address %s\n", s.c_str());
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  std::string udp, ready_file;
  int rcvbuf = 8 << 20;  // tunneldoc's default listeners[].receive_buffer
  unsigned batch = 64;
  long quiet_ms = 1000, idle_ms = 30000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(argv[0]);
      return argv[++i];
    };
    if (a == "--udp") udp = value();
    else if (a == "--rcvbuf") rcvbuf = std::stoi(value());
    else if (a == "--batch") batch = static_cast<unsigned>(std::stoul(value()));
    else if (a == "--quiet-ms") quiet_ms = std::stol(value());
    else if (a == "--idle-ms") idle_ms = std::stol(value());
    else if (a == "--ready-file") ready_file = value();
    else usage(argv[0]);
  }
  if (udp.empty() || batch == 0 || batch > 1024) usage(argv[0]);

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  // SO_RCVBUFFORCE goes past net.core.rmem_max when privileged, as in tunneldoc.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
    die("SO_RCVBUF");
  }
  int granted = 0;
  socklen_t len = sizeof granted;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
  granted /= 2;  // Linux reports twice what it reserves for data
  if (granted < rcvbuf) {
    std::fprintf(stderr, "udp_ceiling: asked for a %d byte receive buffer, the kernel granted %d\n", rcvbuf, granted);
  }
  const sockaddr_in addr = parse_addr(udp);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) die("bind " + udp);
  if (!ready_file.empty()) {
    std::ofstream(ready_file) << "{\"udp\":\"" << udp << "\"}\n";
  }

  // Same slot size as tunneldoc's receivers (64 KiB; small datagrams touch one page).
  constexpr std::size_t kSlot = 64 * 1024;
  std::vector<char> buffers(static_cast<std::size_t>(batch) * kSlot);
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> msgs(batch);
  for (unsigned i = 0; i < batch; ++i) {
    iov[i] = {buffers.data() + static_cast<std::size_t>(i) * kSlot, kSlot};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  std::uint64_t count = 0, bytes = 0;
  const auto started = Clock::now();
  Clock::time_point first{}, last{};
  while (g_stop == 0) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 50);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    const auto now = Clock::now();
    if (r == 0) {
      const auto since = count != 0 ? now - last : now - started;
      if (since >= std::chrono::milliseconds(count != 0 ? quiet_ms : idle_ms)) break;
      continue;
    }
    for (;;) {
      const int n = ::recvmmsg(fd, msgs.data(), batch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) break;
        die("recvmmsg");
      }
      if (count == 0) first = Clock::now();
      count += static_cast<std::uint64_t>(n);
      for (int i = 0; i < n; ++i) bytes += msgs[static_cast<std::size_t>(i)].msg_len;
      if (static_cast<unsigned>(n) < batch) break;
    }
    last = Clock::now();
  }
  ::close(fd);
  const double secs = count != 0 ? std::chrono::duration<double>(last - first).count() : 0.0;
  std::printf("received %llu bytes %llu seconds %.3f rate %.0f rcvbuf %d\n", static_cast<unsigned long long>(count),
              static_cast<unsigned long long>(bytes), secs, secs > 0 ? static_cast<double>(count) / secs : 0.0,
              granted);
  return 0;
}
