// record.h — the LogRecord: one input line, split into header and message.
//
// A LogRecord does not own its text: every std::string_view points into the
// line it was parsed from, which must outlive the record. Records are plain
// values, cheap to copy, and safe to read from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tunneldoc {

// The event time as written in the header. Fields the header did not carry
// stay at their "unknown" values (year 0, no offset).
struct EventTime {
  int year = 0;   // 0: the header had no year (classic BSD syslog)
  int month = 0;  // 1..12; 0 when there is no timestamp at all
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millis = -1;  // -1: no fractional seconds
  bool has_offset = false;
  int offset_minutes = 0;  // east of UTC, valid when has_offset

  bool valid() const { return month != 0; }
  // RFC 3339 text. A missing year is taken from `default_year`; a missing
  // offset is written as "Z" (ASA and IOS clocks are usually UTC; the
  // operator can say otherwise with the header's own zone).
  std::string to_rfc3339(int default_year) const;
  // The same text appended to `out`, without allocating (the renderer's path).
  void append_rfc3339(std::string& out, int default_year) const;
};

// Which header family the parser recognised; exported for tests and metrics.
enum class HeaderForm : std::uint8_t {
  none,        // no header recognised: the whole line is the text
  bsd,         // [<PRI>][seq:] Mmm dd [yyyy] hh:mm:ss[.fff] [host] ...
  rfc3339,     // [<PRI>]yyyy-mm-ddThh:mm:ss... host ...
  rfc5424,     // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG
  asdm,        // SEV|Mmm dd yyyy hh:mm:ss|ID: text
  vpn_client,  // N hh:mm:ss.fff mm/dd/yy Sev=Name/N CLASS/0xCODE
  vpn3000,     // N mm/dd/yyyy hh:mm:ss.fff SEV=N CLASS/N RPT=N text
};

struct LogRecord {
  std::string_view line;  // the whole line, without CR/LF, cut at the maximum
  EventTime time;
  std::string_view host;          // device-id or relay host name; empty if none
  std::string_view message_id;    // as written: "ASA-5-713904", "CRYPTO-4-IKMP_NO_SA", "713903"
  std::uint32_t numeric_key = 0;  // the ASA id as a number (0 when the key is not numeric)
  std::string_view text;          // the message text the signatures see
  int severity = -1;              // 0..7, -1 when unknown
  int facility = -1;              // from <PRI>, -1 when absent
  HeaderForm form = HeaderForm::none;
  bool truncated = false;  // the input line was longer than the maximum and was cut

  // Lookup key: "713904", "CRYPTO-IKMP_NO_SA", "IKE/0xE3000056", "AUTH/5"; empty
  // when the line has none. Held inline because the IOS key ("CRYPTO-IKMP_NO_SA")
  // is not a substring of the line.
  std::string_view key() const { return {key_buf_, key_len_}; }
  bool has_key() const { return key_len_ != 0; }
  // Sets the key; keys longer than kMaxKey are not keys (left empty).
  void set_key(std::string_view a, std::string_view b = {});

  static constexpr std::size_t kMaxKey = 62;

 private:
  char key_buf_[kMaxKey] = {};
  std::uint8_t key_len_ = 0;
};

}  // namespace tunneldoc

namespace tunneldoc {
// Key is `a` or, when `b` is given, `a-b` (IOS FACILITY-MNEMONIC).
inline void LogRecord::set_key(std::string_view a, std::string_view b) {
  const std::size_t n = a.size() + (b.empty() ? 0 : 1 + b.size());
  if (n > kMaxKey) {
    key_len_ = 0;
    return;
  }
  std::memcpy(key_buf_, a.data(), a.size());
  if (!b.empty()) {
    key_buf_[a.size()] = '-';
    std::memcpy(key_buf_ + a.size() + 1, b.data(), b.size());
  }
  key_len_ = static_cast<std::uint8_t>(n);
}
}  // namespace tunneldoc
