// event.cc — the owning Event: one buffer, spans into it.
#include "tunneldoc/event.h"

#include <algorithm>
#include <limits>
#include <vector>

namespace tunneldoc {

Event::Span Event::append(std::string_view v) {
  const std::size_t max = std::numeric_limits<std::uint32_t>::max();
  if (text_.size() + v.size() > max) return {};
  Span s{static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(v.size())};
  text_.append(v);
  return s;
}

void Event::set_signature(std::string_view id, std::string_view incident_class) {
  signature_ = append(id);
  incident_class_ = append(incident_class);
}

std::string Event::source() const {
  std::string s(stream());
  if (line_number != 0) {
    s += ':';
    s += std::to_string(line_number);
  }
  return s;
}

void Event::begin_fields() {
  fields_ = Span{static_cast<std::uint32_t>(text_.size()), 0};
  field_count_ = 0;
}

void Event::push_field(std::string_view name, std::string_view value) {
  if (value.empty() || name.empty() || field_count_ >= kMaxFields) return;
  name = name.substr(0, kMaxFieldName);
  value = value.substr(0, kMaxFieldValue);
  const std::size_t before = text_.size();
  for (std::string_view part : {name, value}) {
    text_ += static_cast<char>(part.size() & 0xff);
    text_ += static_cast<char>(part.size() >> 8);
    text_.append(part);
  }
  fields_.size += static_cast<std::uint32_t>(text_.size() - before);
  ++field_count_;
}

std::string_view Event::field(std::string_view name) const {
  std::string_view found;
  for_each_field([&](std::string_view n, std::string_view v) {
    if (found.empty() && n == name) found = v;
  });
  return found;
}

void Event::add_field(std::string_view name, std::string_view value) {
  std::vector<std::pair<std::string, std::string>> kept;
  for_each_field([&](std::string_view n, std::string_view v) {
    if (n != name) kept.emplace_back(n, v);
  });
  kept.emplace_back(name, value);
  set_fields(kept);
}

void Event::clear() {
  std::string text = std::move(text_);  // keeps its buffer
  text.clear();
  *this = Event();
  text_ = std::move(text);
}

std::string peer_of(const Event& e) {
  if (std::string_view ip = e.field("peer_ip"); !ip.empty()) return std::string(ip);
  const std::string_view group = e.field("group"), user = e.field("user");
  if (!group.empty() && !user.empty()) return std::string(group) + "/" + std::string(user);
  return std::string(!group.empty() ? group : user);
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * static_cast<unsigned>(m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
}  // namespace

std::int64_t to_epoch_ms(const EventTime& t, int year) {
  if (!t.valid()) return -1;
  const int y = t.year != 0 ? t.year : year;
  std::int64_t s = days_from_civil(y, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
  if (t.has_offset) s -= static_cast<std::int64_t>(t.offset_minutes) * 60;
  return s * 1000 + std::max(0, t.millis);
}

int infer_year(const EventTime& t, std::int64_t now_ms) {
  const std::int64_t days = now_ms / 86400000;
  // civil_from_days, year only.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  int year = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400) + (month <= 2);
  if (t.valid() && to_epoch_ms(t, year) > now_ms + 86400000) --year;
  return year;
}

}  // namespace tunneldoc
