// allowlist.cc — CIDR parsing and matching.
#include "tunneldoc/allowlist.h"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace tunneldoc {
namespace {

bool parse_address(std::string_view text, bool& v6, std::uint8_t* out) {
  const std::string s(text);
  if (inet_pton(AF_INET, s.c_str(), out) == 1) {
    v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a, b, static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Cidr> {
    // fmt rather than operator+ chains: GCC 12 reports a false -Wrestrict on those at -O3.
    if (error != nullptr) *error = fmt::format("\"{}\" is not a network: {}", text, why);
    return std::nullopt;
  };
  Cidr c;
  const std::size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  if (!parse_address(addr, c.v6, c.bytes.data())) return fail("bad address");
  const int max = c.v6 ? 128 : 32;
  c.prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    int n = -1;
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), n);
    if (ec != std::errc() || p != len.data() + len.size() || n < 0 || n > max) return fail("bad prefix length");
    c.prefix = n;
  }
  // Host bits set ("10.1.2.3/8") is almost always a typo; say so.
  for (int bit = c.prefix; bit < max; ++bit) {
    if ((c.bytes[static_cast<std::size_t>(bit / 8)] >> (7 - bit % 8)) & 1) return fail("host bits are set");
  }
  return c;
}

bool Cidr::contains(bool v6_address, const std::uint8_t* address) const {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (v6_address && !v6 && std::memcmp(address, kMapped, 12) == 0)
    return prefix_equal(bytes.data(), address + 12, prefix);
  if (v6_address != v6) return false;
  return prefix_equal(bytes.data(), address, prefix);
}

std::string Cidr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

bool Allowlist::allows(bool v6, const std::uint8_t* address) const {
  if (networks_.empty()) return true;
  for (const Cidr& c : networks_) {
    if (c.contains(v6, address)) return true;
  }
  return false;
}

bool Allowlist::allows(std::string_view address) const {
  std::uint8_t bytes[16] = {};
  bool v6 = false;
  if (!parse_address(address, v6, bytes)) return false;
  return allows(v6, bytes);
}

}  // namespace tunneldoc
