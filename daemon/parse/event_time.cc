// event_time.cc — RFC 3339 rendering of a parsed header timestamp.
#include <fmt/format.h>

#include <cstdlib>

#include "tunneldoc/record.h"

namespace tunneldoc {

std::string EventTime::to_rfc3339(int default_year) const {
  if (!valid()) return {};
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", year != 0 ? year : default_year, month,
                                day, hour, minute, second);
  if (millis >= 0) out += fmt::format(".{:03}", millis);
  if (!has_offset || offset_minutes == 0) {
    out += 'Z';
  } else {
    const int m = std::abs(offset_minutes);
    out += fmt::format("{}{:02}:{:02}", offset_minutes < 0 ? '-' : '+', m / 60, m % 60);
  }
  return out;
}

}  // namespace tunneldoc
