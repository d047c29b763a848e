// allowlist.h — which sender networks a listener accepts (CIDR lists).
//
// An Allowlist is built once from text ("192.0.2.0/24", "2001:db8::/32",
// "10.1.2.3") and is immutable afterwards: allows() is const and safe from
// any number of threads. An empty list allows everyone. IPv4-mapped IPv6
// senders (::ffff:192.0.2.1) are matched against the IPv4 networks.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunneldoc {

struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // network address; v4 uses the first 4
  int prefix = 0;

  // "ADDR" or "ADDR/LEN"; nullopt if it is not one. Host bits must be zero.
  static std::optional<Cidr> parse(std::string_view text, std::string* error = nullptr);
  bool contains(bool v6_address, const std::uint8_t* address) const;
  std::string to_string() const;
};

class Allowlist {
 public:
  Allowlist() = default;
  explicit Allowlist(std::vector<Cidr> networks) : networks_(std::move(networks)) {}

  // `address` is 4 bytes (v6 false) or 16 bytes (v6 true), network order.
  bool allows(bool v6, const std::uint8_t* address) const;
  // Convenience for tests and logs: a textual address.
  bool allows(std::string_view address) const;
  bool empty() const { return networks_.empty(); }
  const std::vector<Cidr>& networks() const { return networks_; }

 private:
  std::vector<Cidr> networks_;
};

}  // namespace tunneldoc
