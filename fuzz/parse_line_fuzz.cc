// parse_line_fuzz.cc — parse_line() over arbitrary bytes: never crashes, and
// every record it returns keeps the contract of parse.h / record.h: views
// inside the line, a time that exists or none (issue 11 case 9), severity and
// facility in range. Also with an interest filter that declines every key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "tunneldoc/parse.h"

namespace {

using tunneldoc::LogRecord;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

int days_in(int month, int year) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && year != 0 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 28;
  return kDays[month - 1];
}

void check(const LogRecord& r, std::string_view input) {
  FUZZ_CHECK(inside(r.line, input));
  FUZZ_CHECK(inside(r.text, r.line));
  FUZZ_CHECK(inside(r.host, r.line));
  FUZZ_CHECK(inside(r.message_id, r.line));
  FUZZ_CHECK(r.severity >= -1 && r.severity <= 7);
  FUZZ_CHECK(r.facility >= -1 && r.facility <= 23);
  FUZZ_CHECK(r.key().size() <= LogRecord::kMaxKey);
  const auto& t = r.time;
  if (t.valid()) {
    FUZZ_CHECK(t.month >= 1 && t.month <= 12);
    FUZZ_CHECK(t.day >= 1 && t.day <= days_in(t.month, t.year));
    FUZZ_CHECK(t.hour >= 0 && t.hour <= 23 && t.minute >= 0 && t.minute <= 59 && t.second >= 0 && t.second <= 60);
    FUZZ_CHECK(t.millis >= -1 && t.millis <= 999);
    FUZZ_CHECK(t.year >= 0 && t.year <= 9999);
    FUZZ_CHECK(!t.has_offset || (t.offset_minutes > -24 * 60 && t.offset_minutes < 24 * 60));
    FUZZ_CHECK(t.to_rfc3339(2026).size() >= 20);
  } else {
    FUZZ_CHECK(t.to_rfc3339(2026).empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const LogRecord r = tunneldoc::parse_line(input);
  check(r, input);
  tunneldoc::ParseOptions declined;
  declined.max_line_bytes = 512;
  declined.wanted = [](const void*, const LogRecord&) { return false; };
  const LogRecord d = tunneldoc::parse_line(input, declined);
  check(d, input);
  FUZZ_CHECK(d.key() == r.key() || r.line.size() > 512);
  FUZZ_CHECK(d.line.size() <= 512);
  return 0;
}
