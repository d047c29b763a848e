// udp_sender.cc — a tiny paced UDP syslog sender for measuring the daemon's
// loss-free ingest rate (see tests/integration/udp_rate.py). Not a test.
//
//   tunneldoc_udp_sender PORT COUNT RATE      RATE datagrams/s, 0 = as fast as possible
//
// Sends to 127.0.0.1 only. ~95 % ordinary traffic (302013/302014/106023/305011)
// and ~5 % VPN problems (713904), like the design's benchmark corpus.
// Prints what it sent and the rate it achieved.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s PORT COUNT RATE\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const long count = std::atol(argv[2]);
  const double rate = std::atof(argv[3]);
  const std::vector<std::string> ordinary = {
      "<166>Nov 26 2026 10:00:01 hq-asa : %ASA-6-302013: Built inbound TCP connection 4242 for "
      "outside:198.51.100.7/51234 (198.51.100.7/51234) to inside:10.1.1.5/443 (203.0.113.5/443)",
      "<166>Nov 26 2026 10:00:01 hq-asa : %ASA-6-302014: Teardown TCP connection 4242 for outside:198.51.100.7/51234 "
      "to inside:10.1.1.5/443 duration 0:00:01 bytes 5123 TCP FINs",
      "<164>Nov 26 2026 10:00:02 hq-asa : %ASA-4-106023: Deny tcp src outside:192.0.2.99/4444 dst inside:10.1.1.9/23 "
      "by access-group \"outside_in\" [0x0, 0x0]",
      "<166>Nov 26 2026 10:00:02 hq-asa : %ASA-6-305011: Built dynamic TCP translation from inside:10.1.1.5/55001 to "
      "outside:203.0.113.5/55001",
  };
  const std::string vpn =
      "<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted "
      "NO_PROPOSAL_CHOSEN notify message, drop";
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    std::perror("connect");
    return 1;
  }
  constexpr int kBatch = 32;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  const auto start = std::chrono::steady_clock::now();
  long sent = 0, failed = 0;
  while (sent < count) {
    const int n = static_cast<int>(std::min<long>(kBatch, count - sent));
    for (int i = 0; i < n; ++i) {
      const long k = sent + i;
      const std::string& s = (k % 20 == 7) ? vpn : ordinary[static_cast<std::size_t>(k % 4)];
      iov[i].iov_base = const_cast<char*>(s.data());
      iov[i].iov_len = s.size();
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (r <= 0) {
      ++failed;
      continue;
    }
    sent += r;
    if (rate > 0) {
      const auto due = start + std::chrono::duration<double>(static_cast<double>(sent) / rate);
      while (std::chrono::steady_clock::now() < due) {
        if (due - std::chrono::steady_clock::now() > std::chrono::microseconds(200)) std::this_thread::sleep_until(due);
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("sent %ld datagrams in %.3f s: %.0f/s (%ld send errors)\n", sent, secs, static_cast<double>(sent) / secs,
              failed);
  return 0;
}
