// parser.cc — header and message-id recognition for every form in docs/design.
//
// The parser works on string_views with a small cursor and never allocates.
// Strategy: find the message id (`%FAC-SEV-MNEMONIC:`) first, because it is
// the one thing all syslog forms share; what precedes it is the header. Lines
// without one are tried as ASDM export, VPN Client and VPN 3000 forms, and
// otherwise become keyless records.
#include <array>
#include <cstring>
#include <string_view>

#include "tunneldoc/parse.h"

namespace tunneldoc {
namespace {

using sv = std::string_view;

constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}
constexpr bool is_alpha(char c) {
  return is_upper(c) || (c >= 'a' && c <= 'z');
}
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t';
}
// [A-Z0-9_], the characters of a message id's facility and mnemonic; a table,
// since every keyed line scans a dozen of them.
constexpr auto kIdChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c)
    t[static_cast<std::size_t>(c)] = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  return t;
}();
constexpr bool is_id_char(char c) {
  return kIdChar[static_cast<unsigned char>(c)];
}

// A forward-only cursor over a string_view.
struct Cursor {
  sv s;
  std::size_t i = 0;

  bool done() const { return i >= s.size(); }
  char peek(std::size_t ahead = 0) const { return i + ahead < s.size() ? s[i + ahead] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i;
    return true;
  }
  bool eat(sv word) {
    if (s.substr(i, word.size()) != word) return false;
    i += word.size();
    return true;
  }
  void skip_spaces() {
    while (!done() && is_space(s[i])) ++i;
  }
  // Reads 1..max_digits digits as a number; -1 (cursor unmoved) if none.
  int number(std::size_t min_digits, std::size_t max_digits) {
    std::size_t n = 0;
    int v = 0;
    while (n < max_digits && is_digit(peek(n))) {
      v = v * 10 + (peek(n) - '0');
      ++n;
    }
    if (n < min_digits) return -1;
    i += n;
    return v;
  }
  sv token() {  // up to the next space
    const std::size_t b = i;
    while (!done() && !is_space(s[i])) ++i;
    return s.substr(b, i - b);
  }
  sv rest() const { return i < s.size() ? s.substr(i) : sv{}; }
};

// A switch on the letters instead of a loop over twelve names: bsd headers
// are the common case and the loop cost ~40 instructions for "Nov".
int month_number(sv m) {
  if (m.size() != 3) return 0;
  const char a = m[0], b = m[1], c = m[2];
  switch (a) {
    case 'J':
      if (b == 'a' && c == 'n') return 1;
      if (b == 'u' && c == 'n') return 6;
      if (b == 'u' && c == 'l') return 7;
      return 0;
    case 'F':
      return b == 'e' && c == 'b' ? 2 : 0;
    case 'M':
      if (b != 'a') return 0;
      return c == 'r' ? 3 : c == 'y' ? 5 : 0;
    case 'A':
      if (b == 'p' && c == 'r') return 4;
      if (b == 'u' && c == 'g') return 8;
      return 0;
    case 'S':
      return b == 'e' && c == 'p' ? 9 : 0;
    case 'O':
      return b == 'c' && c == 't' ? 10 : 0;
    case 'N':
      return b == 'o' && c == 'v' ? 11 : 0;
    case 'D':
      return b == 'e' && c == 'c' ? 12 : 0;
    default:
      return 0;
  }
}

// Days in `month` (1..12) of `year`; year 0 (not in the header) allows Feb 29.
int days_in_month(int month, int year) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  if (month == 2 && year != 0 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 28;
  return kDays[month - 1];
}

// A date that exists. A header that carries an impossible one (Feb 30,
// month 13, year 0000, 25:61) has its syntax accepted, so the host after it
// is still found, but its time stays unknown: a wrong time is worse than none.
bool real_date(int year, int month, int day, bool has_year) {
  if (has_year && year == 0) return false;
  return day >= 1 && day <= days_in_month(month, year);
}

// hh:mm:ss[.fraction]; on failure the cursor is restored. `real` is false
// for a clock that cannot be (hour 24, minute 60, second 61).
bool parse_clock(Cursor& c, EventTime& t, bool& real) {
  Cursor save = c;
  const int h = c.number(1, 2);
  if (h < 0 || !c.eat(':')) return (c = save, false);
  const int m = c.number(2, 2);
  if (m < 0 || !c.eat(':')) return (c = save, false);
  const int s = c.number(2, 2);
  if (s < 0) return (c = save, false);
  real = h <= 23 && m <= 59 && s <= 60;
  t.hour = h;
  t.minute = m;
  t.second = s;
  if (c.peek() == '.' && is_digit(c.peek(1))) {
    ++c.i;
    int ms = 0, n = 0;
    while (is_digit(c.peek())) {
      if (n < 3) ms = ms * 10 + (c.peek() - '0');
      ++n;
      ++c.i;
    }
    for (; n < 3; ++n) ms *= 10;
    t.millis = ms;
  }
  return true;
}

enum class Offset { none, ok, impossible };

// Z | +hh:mm | -hh:mm | +hhmm. An offset beyond RFC 3339's 23:59 is
// consumed but impossible.
Offset parse_offset(Cursor& c, EventTime& t) {
  if (c.eat('Z') || c.eat('z')) {
    t.has_offset = true;
    t.offset_minutes = 0;
    return Offset::ok;
  }
  const char sign = c.peek();
  if (sign != '+' && sign != '-') return Offset::none;
  Cursor save = c;
  ++c.i;
  const int h = c.number(2, 2);
  c.eat(':');
  const int m = c.number(2, 2);
  if (h < 0 || m < 0) return (c = save, Offset::none);
  if (h > 23 || m > 59) return Offset::impossible;
  t.has_offset = true;
  t.offset_minutes = (sign == '-' ? -1 : 1) * (h * 60 + m);
  return Offset::ok;
}

// yyyy-mm-dd[T ]hh:mm:ss[.f][offset]. True when the syntax matched (the
// cursor is past it); `t` is set only when the date, clock and offset exist.
bool parse_rfc3339(Cursor& c, EventTime& t) {
  Cursor save = c;
  const int y = c.number(4, 4);
  if (y < 0 || !c.eat('-')) return (c = save, false);
  const int mo = c.number(2, 2);
  if (mo < 0 || !c.eat('-')) return (c = save, false);
  const int d = c.number(2, 2);
  if (d < 0 || !(c.eat('T') || c.eat('t') || c.eat(' '))) return (c = save, false);
  EventTime out;
  bool real = false;
  if (!parse_clock(c, out, real)) return (c = save, false);
  if (parse_offset(c, out) == Offset::impossible || !real || !real_date(y, mo, d, true)) return true;
  out.year = y;
  out.month = mo;
  out.day = d;
  t = out;
  return true;
}

// Mmm dd [yyyy] hh:mm:ss[.fff] [ZONE]. True when the syntax matched; `t` is
// set only when the date and clock exist.
bool parse_bsd(Cursor& c, EventTime& t) {
  Cursor save = c;
  const int mo = month_number(c.s.substr(c.i, 3));
  if (mo == 0 || !is_space(c.peek(3))) return false;
  c.i += 3;
  c.skip_spaces();
  const int d = c.number(1, 2);
  if (d < 0 || !is_space(c.peek())) return (c = save, false);
  c.skip_spaces();
  EventTime out;
  bool has_year = false;
  if (is_digit(c.peek()) && is_digit(c.peek(1)) && is_digit(c.peek(2)) && is_digit(c.peek(3)) && is_space(c.peek(4))) {
    out.year = c.number(4, 4);
    has_year = true;
    c.skip_spaces();
  }
  bool real_clock = false;
  if (!parse_clock(c, out, real_clock)) return (c = save, false);
  const bool real = real_clock && real_date(out.year, mo, d, has_year);
  out.month = mo;
  out.day = d;
  // Optional zone: "UTC"/"GMT" always, other names only when followed by ':'
  // (IOS "show-timezone"), so that a host name is not taken for a zone.
  if (is_space(c.peek())) {
    Cursor z = c;
    z.skip_spaces();
    std::size_t n = 0;
    while (is_upper(z.peek(n))) ++n;
    const sv name = z.s.substr(z.i, n);
    if (n >= 3 && n <= 5 &&
        (z.peek(n) == ':' || ((name == "UTC" || name == "GMT") && (is_space(z.peek(n)) || z.peek(n) == '\0')))) {
      if (name == "UTC" || name == "GMT") {
        out.has_offset = true;
        out.offset_minutes = 0;
      }
      z.i += n;
      c = z;
    }
  }
  if (real) t = out;
  return true;
}

// [<PRI>]: fills facility/severity; returns false if absent.
void parse_pri(Cursor& c, LogRecord& r) {
  if (c.peek() != '<') return;
  Cursor save = c;
  ++c.i;
  const int pri = c.number(1, 3);
  if (pri < 0 || pri > 191 || !c.eat('>')) {
    c = save;
    return;
  }
  r.facility = pri >> 3;
  r.severity = pri & 7;
  if (c.peek() == ':' && (is_digit(c.peek(1)) || is_alpha(c.peek(1)))) ++c.i;  // "<165>:2026-11-26T..."
}

// Parses what precedes the message (or the whole line for keyless records):
// PRI, RFC 5424 fields, IOS sequence number, timestamp, host. Leaves the cursor
// at the start of what follows the header.
void parse_header(Cursor& c, LogRecord& r, bool keyed) {
  parse_pri(c, r);
  // RFC 5424: "<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD"
  if (r.facility >= 0 && c.peek() == '1' && c.peek(1) == ' ') {
    Cursor v = c;
    v.i += 2;
    EventTime t;
    const bool stamped = parse_rfc3339(v, t);
    if (stamped || v.peek() == '-') {
      if (!stamped) ++v.i;  // NILVALUE
      r.time = t;
      r.form = HeaderForm::rfc5424;
      v.skip_spaces();
      sv host = v.token();
      r.host = host == "-" ? sv{} : host;
      for (int k = 0; k < 3 && !v.done(); ++k) {  // APP-NAME, PROCID, MSGID
        v.skip_spaces();
        v.token();
      }
      v.skip_spaces();
      if (v.peek() == '-' && (is_space(v.peek(1)) || v.peek(1) == '\0')) {
        ++v.i;
      } else {
        while (v.peek() == '[') {  // structured data; values may hold escaped ']'
          ++v.i;
          while (!v.done() && v.peek() != ']') v.i += (v.peek() == '\\') ? 2 : 1;
          v.eat(']');
        }
      }
      v.skip_spaces();
      c = v;
      return;
    }
  }
  // IOS sequence number "000123: "
  {
    std::size_t n = 0;
    while (is_digit(c.peek(n))) ++n;
    if (n > 0 && c.peek(n) == ':' && is_space(c.peek(n + 1))) {
      c.i += n + 1;
      c.skip_spaces();
      // IOS "logging origin-id hostname": "45: hq-rtr: *Mar  1 00:31:55.431: ..."
      Cursor h = c;
      sv origin = h.token();
      EventTime probe;
      if (origin.size() > 1 && origin.back() == ':' && origin.front() != '*' && !is_digit(origin.front())) {
        h.skip_spaces();
        Cursor t = h;
        if (t.peek() == '*' || t.peek() == '.') ++t.i;
        if (parse_bsd(t, probe) || parse_rfc3339(t, probe)) {
          r.host = origin.substr(0, origin.size() - 1);
          c = h;
        }
      }
    }
  }
  // IOS marks unsynchronised clocks with '*' and doubtful ones with '.'
  if ((c.peek() == '*' || c.peek() == '.') && is_alpha(c.peek(1))) ++c.i;
  if (parse_rfc3339(c, r.time)) {
    r.form = HeaderForm::rfc3339;
  } else if (parse_bsd(c, r.time)) {
    r.form = HeaderForm::bsd;
  } else {
    return;
  }
  c.eat(':');
  c.skip_spaces();
  if (keyed) {
    // Between the timestamp and the message id: the device-id or relay host,
    // possibly followed by " :" (ASA "logging device-id").
    sv host = c.token();
    while (!host.empty() && host.back() == ':') host.remove_suffix(1);
    if (!host.empty()) r.host = host;  // keep an IOS origin-id found before the time
    return;
  }
  // Keyless: take a host only in the unambiguous ASA form "host : text".
  Cursor h = c;
  sv host = h.token();
  if (!host.empty() && host[0] != '[' && h.peek() == ' ' && h.peek(1) == ':' &&
      (h.peek(2) == ' ' || h.peek(2) == '\0')) {
    r.host = host;
    h.i += 2;
    h.skip_spaces();
    c = h;
  }
}

#ifndef TUNNELDOC_PARSE_FAST_HEADER
#define TUNNELDOC_PARSE_FAST_HEADER 1
#endif

int two_digits(const char* p) {
  return (p[0] - '0') * 10 + (p[1] - '0');
}

// The headers most ASA lines carry: "[<PRI>]Mmm dd [yyyy ]hh:mm:ss HOST[ :] "
// or "[<PRI>]Mmm dd [yyyy ]hh:mm:ss: " ("logging timestamp" with or without
// "logging device-id", and the relayed form of rsyslog / syslog-ng), `h` being
// everything before the message id. Fills exactly what parse_header(keyed)
// would, at a fixed layout; anything else (a zone, fractions, padding, a host
// that could be a zone name) returns false untouched and takes the general
// path. parse_header costs ~550 instructions for these forms, this ~120.
// Checked against the general path on the corpus and 300,000 fuzzed headers.
bool parse_common_header(sv h, LogRecord& r) {
  const std::size_t n = h.size();
  std::size_t i = 0;
  int pri = -1;
  if (n != 0 && h[0] == '<') {
    i = 1;
    pri = 0;
    while (i < 4 && i < n && is_digit(h[i])) pri = pri * 10 + (h[i++] - '0');
    if (i == 1 || i >= n || h[i] != '>' || pri > 191) return false;
    ++i;
  }
  // "Mmm dd " then an optional "yyyy " then "hh:mm:ss" and one more byte
  if (n < i + 16) return false;
  const char* p = h.data() + i;
  const int mo = month_number(sv(p, 3));
  if (mo == 0 || p[3] != ' ' || !is_digit(p[4]) || !is_digit(p[5]) || p[6] != ' ') return false;
  const int day = two_digits(p + 4);
  const char* q = p + 7;
  int year = 0;
  bool has_year = false;
  if (is_digit(q[0]) && is_digit(q[1]) && is_digit(q[2]) && is_digit(q[3]) && q[4] == ' ') {
    if (n < i + 21) return false;
    year = two_digits(q) * 100 + two_digits(q + 2);
    has_year = true;
    q += 5;
  }
  if (!is_digit(q[0]) || !is_digit(q[1]) || q[2] != ':' || !is_digit(q[3]) || !is_digit(q[4]) || q[5] != ':' ||
      !is_digit(q[6]) || !is_digit(q[7]))
    return false;
  const int hour = two_digits(q), minute = two_digits(q + 3), second = two_digits(q + 6);
  if (!real_date(year, mo, day, has_year) || hour > 23 || minute > 59 || second > 60) return false;
  const sv rest = h.substr(static_cast<std::size_t>(q + 8 - h.data()));
  sv host;
  if (rest == ": ") {
    host = rest.substr(2);
  } else if (rest.size() >= 2 && rest[0] == ' ' && ((rest[1] >= 'a' && rest[1] <= 'z') || is_digit(rest[1]))) {
    std::size_t e = 1;
    while (e < rest.size() && !is_space(rest[e])) ++e;
    host = rest.substr(1, e - 1);
    while (!host.empty() && host.back() == ':') host.remove_suffix(1);
  } else {
    return false;
  }
  if (pri >= 0) {
    r.facility = pri >> 3;
    r.severity = pri & 7;
  }
  r.time.year = year;
  r.time.month = mo;
  r.time.day = day;
  r.time.hour = hour;
  r.time.minute = minute;
  r.time.second = second;
  r.form = HeaderForm::bsd;
  r.host = host;
  return true;
}

bool is_asa_family(sv fac) {
  return fac == "ASA" || fac == "FTD" || fac == "PIX" || fac == "FWSM";
}

struct MessageId {
  std::size_t start = 0;  // index of '%'
  std::size_t end = 0;    // index of the ':' that ends it
  sv facility, mnemonic;
  int severity = -1;
};

// Finds "%FAC-SEV-MNEMONIC:" where FAC=[A-Z][A-Z0-9_]*, SEV=digit,
// MNEMONIC=[A-Z0-9_]+, and the '%' starts the line or follows ' ', ':' or '>'.
bool find_message_id(sv line, MessageId& out) {
  constexpr std::size_t kSearchLimit = 512;  // message ids sit in the header
  const sv head = line.substr(0, kSearchLimit);
  std::size_t from = 0;
  while (from < head.size()) {
    const void* hit = std::memchr(head.data() + from, '%', head.size() - from);
    if (hit == nullptr) return false;
    const std::size_t p = static_cast<const char*>(hit) - line.data();
    from = p + 1;
    if (p > 0 && line[p - 1] != ' ' && line[p - 1] != ':' && line[p - 1] != '>' && line[p - 1] != '\t') continue;
    std::size_t i = p + 1;
    if (i >= line.size() || !is_upper(line[i])) continue;
    const std::size_t fb = i;
    while (i < line.size() && is_id_char(line[i])) ++i;
    const sv fac = line.substr(fb, i - fb);
    // FTD and ASA can insert the message class: "%FTD-vpn-5-713904:".
    if (i + 1 < line.size() && line[i] == '-' && line[i + 1] >= 'a' && line[i + 1] <= 'z' && is_asa_family(fac)) {
      std::size_t k = i + 1;
      while (k < line.size() && line[k] >= 'a' && line[k] <= 'z') ++k;
      i = k;
    }
    if (i + 2 >= line.size() || line[i] != '-' || !is_digit(line[i + 1]) || line[i + 2] != '-') continue;
    const int sev = line[i + 1] - '0';
    i += 3;
    const std::size_t mb = i;
    while (i < line.size() && is_id_char(line[i])) ++i;
    if (i == mb || i >= line.size() || line[i] != ':') continue;
    out.start = p;
    out.end = i;
    out.facility = fac;
    out.mnemonic = line.substr(mb, i - mb);
    out.severity = sev > 7 ? -1 : sev;
    return true;
  }
  return false;
}

// True when `s` is 1 to 9 digits, with their value in `out`.
bool digits_u32(sv s, std::uint32_t& out) {
  if (s.empty() || s.size() > 9) return false;
  std::uint32_t v = 0;
  for (char ch : s) {
    if (!is_digit(ch)) return false;
    v = v * 10 + static_cast<std::uint32_t>(ch - '0');
  }
  out = v;
  return true;
}

std::uint32_t to_u32(sv s) {
  std::uint32_t v = 0;
  for (char ch : s) v = v * 10 + static_cast<std::uint32_t>(ch - '0');
  return v;
}

sv trim_leading(sv s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

// "4|Mar 24 2010 10:21:50|713903: IP = ..."
bool parse_asdm(sv line, LogRecord& r) {
  if (line.size() < 4 || !is_digit(line[0]) || line[1] != '|') return false;
  Cursor c{line, 2};
  EventTime t;
  if (!parse_bsd(c, t) || !c.eat('|')) return false;
  const std::size_t b = c.i;
  while (is_digit(c.peek())) ++c.i;
  if (c.i == b || c.i - b > 9 || c.peek() != ':') return false;
  const sv id = line.substr(b, c.i - b);
  r.form = HeaderForm::asdm;
  r.time = t;
  r.severity = line[0] - '0' <= 7 ? line[0] - '0' : -1;
  r.message_id = id;
  r.set_key(id);
  r.numeric_key = to_u32(id);
  r.text = trim_leading(line.substr(c.i + 1));
  return true;
}

int vpn_client_severity(sv name) {
  if (name == "Critical" || name == "Fatal") return 2;
  if (name == "Error") return 3;
  if (name == "Warning") return 4;
  if (name == "Info" || name == "Informational") return 6;
  if (name == "Debug") return 7;
  return -1;
}

// "1 12:41:51.900 02/18/06 Sev=Warning/3 IKE/0xE3000056"
// "20932 10/26/2007 14:37:45.430 SEV=3 AUTH/5 RPT=1863 10.19.187.229 Authentication rejected: ..."
bool parse_vpn_client_or_3000(sv line, LogRecord& r) {
  Cursor c{line, 0};
  if (c.number(1, 9) < 0 || !is_space(c.peek())) return false;
  c.skip_spaces();
  EventTime t;
  int mo, d, y;
  bool real_clock = false;
  const bool vpn3000 = is_digit(c.peek()) && (c.peek(1) == '/' || c.peek(2) == '/');
  if (vpn3000) {
    if ((mo = c.number(1, 2)) < 0 || !c.eat('/') || (d = c.number(1, 2)) < 0 || !c.eat('/') ||
        (y = c.number(4, 4)) < 0 || !is_space(c.peek()))
      return false;
    c.skip_spaces();
    if (!parse_clock(c, t, real_clock)) return false;
  } else {
    if (!parse_clock(c, t, real_clock) || !is_space(c.peek())) return false;
    c.skip_spaces();
    if ((mo = c.number(1, 2)) < 0 || !c.eat('/') || (d = c.number(1, 2)) < 0 || !c.eat('/') || (y = c.number(2, 4)) < 0)
      return false;
    if (y < 100) y += 2000;
  }
  c.skip_spaces();
  int severity = -1;
  if (vpn3000) {
    if (!c.eat("SEV=")) return false;
    const int n = c.number(1, 2);
    if (n < 0) return false;
    severity = n <= 1 ? 3 : n == 2 ? 4 : n <= 6 ? 6 : 7;
  } else {
    if (!c.eat("Sev=")) return false;
    const std::size_t b = c.i;
    while (is_alpha(c.peek())) ++c.i;
    severity = vpn_client_severity(line.substr(b, c.i - b));
    if (c.eat('/')) c.number(1, 2);
  }
  c.skip_spaces();
  const sv id = c.token();  // CLASS/0xCODE or CLASS/N
  const std::size_t slash = id.find('/');
  if (slash == sv::npos || slash == 0 || slash + 1 == id.size()) return false;
  c.skip_spaces();
  if (vpn3000 && c.eat("RPT=")) {
    c.number(1, 9);
    c.skip_spaces();
  }
  if (real_clock && real_date(y, mo, d, true)) {
    t.year = y;
    t.month = mo;
    t.day = d;
    r.time = t;
  }
  r.form = vpn3000 ? HeaderForm::vpn3000 : HeaderForm::vpn_client;
  r.severity = severity;
  r.message_id = id;
  r.set_key(id);
  r.text = c.rest();
  return true;
}

}  // namespace

LogRecord parse_line(std::string_view line, const ParseOptions& options) {
  LogRecord r;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.size() > options.max_line_bytes) {
    line = line.substr(0, options.max_line_bytes);
    r.truncated = true;
  }
  r.line = line;

  MessageId id;
  if (find_message_id(line, id)) {
    r.message_id = line.substr(id.start + 1, id.end - id.start - 1);
    std::uint32_t numeric = 0;
    if (is_asa_family(id.facility) && digits_u32(id.mnemonic, numeric)) {
      r.set_key(id.mnemonic);
      r.numeric_key = numeric;
    } else {
      r.set_key(id.facility, id.mnemonic);
    }
    r.text = trim_leading(line.substr(id.end + 1));
    if (options.wanted == nullptr || options.wanted(options.wanted_context, r)) {
      if (!TUNNELDOC_PARSE_FAST_HEADER || !parse_common_header(line.substr(0, id.start), r)) {
        Cursor c{line.substr(0, id.start), 0};
        parse_header(c, r, /*keyed=*/true);
      }
    }
    if (id.severity >= 0) r.severity = id.severity;  // the id's digit wins over PRI
    return r;
  }
  if (!line.empty() && is_digit(line[0]) && (parse_asdm(line, r) || parse_vpn_client_or_3000(line, r))) {
    return r;
  }
  const bool truncated = r.truncated;
  r = LogRecord{};  // a failed ASDM / VPN Client attempt may have left values
  r.line = line;
  r.truncated = truncated;
  Cursor c{line, 0};
  parse_header(c, r, /*keyed=*/false);
  r.text = c.rest();
  return r;
}

}  // namespace tunneldoc
