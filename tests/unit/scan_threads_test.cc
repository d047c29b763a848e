// `tunneldoc scan --threads N`: the same output bytes and counters as one
// thread, over an input of several chunks with over-long lines, empty lines,
// CRLF and no final LF.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "temp_file.h"
#include "tunneldoc/commands.h"

namespace {
// The "received" member is the wall clock; everything else must be identical.
std::string without_received(const std::string& s) {
  static const std::string key = "\"received\":\"";
  std::string out;
  std::size_t pos = 0;
  for (std::size_t at; (at = s.find(key, pos)) != std::string::npos;) {
    out.append(s, pos, at + key.size() - pos);
    pos = s.find('"', at + key.size());
    if (pos == std::string::npos) return s;  // not JSON lines: compare as is
  }
  out.append(s, pos, std::string::npos);
  return out;
}

std::string corpus(std::size_t max_line) {
  const std::vector<std::string> lines = {
      "<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted "
      "NO_PROPOSAL_CHOSEN notify message, drop",
      "<166>Nov 26 2026 10:00:01 hq-asa : %ASA-6-302013: Built inbound TCP connection 123456 for "
      "outside:203.0.113.9/51234 (203.0.113.9/51234) to inside:10.1.1.5/443 (10.1.1.5/443)",
      "<164>Nov 26 2026 10:00:01 hq-asa : %ASA-4-402119: IPSEC: Received an ESP packet (SPI= 0xB6E47E4C, sequence "
      "number= 0x1D) from 203.0.113.9 (user= 203.0.113.9) to 198.51.100.1 that failed anti-replay checking.",
      "<189>45: *Mar  1 00:31:55.431: %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA\r",
      "[IKEv1]: Group = 192.0.2.6, IP = 192.0.2.6, QM FSM error (P2 struct &0x4a1f5c8, mess id 0x1e6a0f1)!",
      "",
      "Nov 26 10:00:01 10.20.0.1 %ASA-6-302014: Teardown TCP connection 1 for outside:192.0.2.1/1 to inside:10.0.0.1/2",
  };
  std::string out;
  std::size_t k = 0;
  while (out.size() < (3u << 20)) {  // several 1 MiB chunks
    out += lines[k % lines.size()];
    if (k % 997 == 0) {  // over-long lines, diagnosed or not, some far longer than a chunk's margin
      out += " ";
      out += std::string(max_line + (k % 3) * 100 + (k == 6979 ? (2u << 20) : 0u), 'x');
    }
    out += '\n';
    ++k;
  }
  out += lines[0];  // no final LF
  return out;
}

std::string scan(const std::string& path, int threads, std::size_t max_line, std::string* stats) {
  tunneldoc::ScanOptions o;
  o.files = {path, path};  // two inputs: line numbers restart, order kept
  o.signatures = TUNNELDOC_SIGNATURE_DIR;
  o.year = 2026;
  o.max_line = max_line;
  o.threads = threads;
  o.stats = true;
  std::ostringstream out, err;
  REQUIRE(tunneldoc::run_scan(o, out, err) == 0);
  // Counters without the timing lines.
  std::istringstream in(err.str());
  std::string line;
  stats->clear();
  while (std::getline(in, line)) {
    if (line.rfind("seconds", 0) != 0 && line.rfind("lines/s", 0) != 0) *stats += line + "\n";
  }
  return without_received(out.str());
}
}  // namespace

TEST_CASE("scan --threads N writes the same output as one thread", "[scan][threads]") {
  const std::size_t max_line = 4096;
  TempFile f(corpus(max_line));
  std::string stats1, stats;
  const std::string one = scan(f.path, 1, max_line, &stats1);
  REQUIRE(one.size() > 1000);
  CHECK(stats1.find("truncated: 0") == std::string::npos);
  for (int threads : {2, 4}) {
    INFO("threads = " << threads);
    const std::string many = scan(f.path, threads, max_line, &stats);
    CHECK(many.size() == one.size());
    CHECK(many == one);
    CHECK(stats == stats1);
  }
}
