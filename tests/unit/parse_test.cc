// Every header form of docs/design's table becomes the right LogRecord.
#include "tunneldoc/parse.h"

#include <catch2/catch.hpp>
#include <string>

using tunneldoc::HeaderForm;
using tunneldoc::parse_line;

TEST_CASE("ASA with logging timestamp and PRI", "[parse]") {
  const auto r = parse_line("<166>Nov 26 2026 10:00:01: %ASA-6-302013: Built inbound TCP connection 1");
  CHECK(r.form == HeaderForm::bsd);
  CHECK(r.facility == 20);
  CHECK(r.time.year == 2026);
  CHECK(r.time.month == 11);
  CHECK(r.time.day == 26);
  CHECK(r.time.hour == 10);
  CHECK(r.time.second == 1);
  CHECK(r.host.empty());
  CHECK(r.message_id == "ASA-6-302013");
  CHECK(r.key() == "302013");
  CHECK(r.numeric_key == 302013);
  CHECK(r.severity == 6);
  CHECK(r.text == "Built inbound TCP connection 1");
}

TEST_CASE("ASA with device-id", "[parse]") {
  const auto r = parse_line("<164>Nov 26 2026 10:00:01 hq-asa : %ASA-4-402119: IPSEC: x");
  CHECK(r.host == "hq-asa");
  CHECK(r.key() == "402119");
  CHECK(r.severity == 4);
  CHECK(r.text == "IPSEC: x");
  CHECK(r.time.to_rfc3339(1999) == "2026-11-26T10:00:01Z");
}

TEST_CASE("ASA with RFC 5424 timestamp", "[parse]") {
  const auto r = parse_line("<166>2026-11-26T10:00:01Z hq-asa : %ASA-6-722036: Group g User u IP 1.2.3.4");
  CHECK(r.form == HeaderForm::rfc3339);
  CHECK(r.host == "hq-asa");
  CHECK(r.key() == "722036");
  CHECK(r.time.has_offset);
  CHECK(r.time.to_rfc3339(0) == "2026-11-26T10:00:01Z");
}

TEST_CASE("RFC 5424 relay keeps the offset", "[parse]") {
  const auto r = parse_line("<164>1 2026-11-26T09:32:00.120+01:00 hq-asa - - - - %ASA-4-402119: IPSEC: y");
  CHECK(r.form == HeaderForm::rfc5424);
  CHECK(r.host == "hq-asa");
  CHECK(r.message_id == "ASA-4-402119");
  CHECK(r.time.millis == 120);
  CHECK(r.time.offset_minutes == 60);
  CHECK(r.time.to_rfc3339(0) == "2026-11-26T09:32:00.120+01:00");
  CHECK(r.text == "IPSEC: y");
}

TEST_CASE("RFC 5424 without a message id is keyless, text after structured data", "[parse]") {
  const auto r = parse_line(
      R"(<167>1 2026-11-26T09:32:00Z hq-asa asa 77 - [meta x="a\]b"] [IKEv1]: Group = g, IP = 1.2.3.4, QM FSM error)");
  CHECK_FALSE(r.has_key());
  CHECK(r.host == "hq-asa");
  CHECK(r.text == "[IKEv1]: Group = g, IP = 1.2.3.4, QM FSM error");
}

TEST_CASE("relayed file: rsyslog BSD and RFC 3339 forms", "[parse]") {
  auto r = parse_line("Nov 26 10:00:01 10.20.0.1 %ASA-5-713904: IP = 203.0.113.9, text");
  CHECK(r.host == "10.20.0.1");
  CHECK(r.time.year == 0);
  CHECK(r.time.to_rfc3339(2025) == "2025-11-26T10:00:01Z");
  CHECK(r.key() == "713904");
  r = parse_line("2026-11-26T10:00:01+00:00 hq-asa %ASA-5-713904: IP = 1.1.1.1, t");
  CHECK(r.host == "hq-asa");
  CHECK(r.time.has_offset);
  CHECK(r.key() == "713904");
}

TEST_CASE("bare message", "[parse]") {
  const auto r = parse_line("%ASA-3-752006: Tunnel Manager failed to dispatch a KEY_ACQUIRE message.");
  CHECK(r.form == HeaderForm::none);
  CHECK_FALSE(r.time.valid());
  CHECK(r.key() == "752006");
  CHECK(r.severity == 3);
}

TEST_CASE("FTD, PIX and FWSM share the ASA key whatever the severity digit", "[parse]") {
  const auto ftd = parse_line("%FTD-5-305013: Asymmetric NAT rules");
  const auto asa = parse_line("%ASA-3-305013: Asymmetric NAT rules");
  const auto pix = parse_line("%PIX-4-305013: Asymmetric NAT rules");
  const auto fwsm = parse_line("%FWSM-2-305013: Asymmetric NAT rules");
  CHECK(ftd.key() == "305013");
  CHECK(asa.key() == "305013");
  CHECK(pix.key() == "305013");
  CHECK(fwsm.key() == "305013");
  CHECK(ftd.message_id == "FTD-5-305013");
  CHECK(ftd.severity == 5);
  CHECK(asa.severity == 3);
}

TEST_CASE("ASDM log export", "[parse]") {
  const auto r = parse_line("4|Mar 24 2010 10:21:50|713903: IP = 203.0.113.9, Error: Unable to remove PeerTblEntry");
  CHECK(r.form == HeaderForm::asdm);
  CHECK(r.severity == 4);
  CHECK(r.key() == "713903");
  CHECK(r.numeric_key == 713903);
  CHECK(r.message_id == "713903");
  CHECK(r.time.year == 2010);
  CHECK(r.time.month == 3);
  CHECK(r.text == "IP = 203.0.113.9, Error: Unable to remove PeerTblEntry");
}

TEST_CASE("IOS with sequence number and unsynchronised clock", "[parse]") {
  const auto r =
      parse_line("<189>45: *Mar  1 00:31:55.431: %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA");
  CHECK(r.form == HeaderForm::bsd);
  CHECK(r.key() == "CRYPTO-IKMP_NO_SA");
  CHECK(r.numeric_key == 0);
  CHECK(r.message_id == "CRYPTO-4-IKMP_NO_SA");
  CHECK(r.severity == 4);
  CHECK(r.time.month == 3);
  CHECK(r.time.day == 1);
  CHECK(r.time.millis == 431);
  CHECK(r.host.empty());
  CHECK(r.text == "IKE message from 198.51.100.7 has no SA");
}

TEST_CASE("IOS with zone", "[parse]") {
  const auto r =
      parse_line("000123: Nov 26 10:00:01.123 UTC: %CERM-4-TX_BW_LIMIT: Maximum Tx Bandwidth limit of 85000 Kbps");
  CHECK(r.key() == "CERM-TX_BW_LIMIT");
  CHECK(r.time.has_offset);
  CHECK(r.host.empty());
  CHECK(r.time.to_rfc3339(2026) == "2026-11-26T10:00:01.123Z");
}

TEST_CASE("ASA debug output is keyless with the whole line as text", "[parse]") {
  const std::string line =
      "[IKEv1]: Group = 192.0.2.6, IP = 192.0.2.6, QM FSM error (P2 struct &0x4a1f5c8, mess id 0x1e6a0f1)!";
  const auto r = parse_line(line);
  CHECK_FALSE(r.has_key());
  CHECK(r.text == line);
}

TEST_CASE("ASA debug behind a syslog header", "[parse]") {
  const auto r = parse_line("<167>Nov 26 2026 10:00:01 hq-asa : [IKEv1]: Group = g, IP = 1.2.3.4, x");
  CHECK_FALSE(r.has_key());
  CHECK(r.host == "hq-asa");
  CHECK(r.text == "[IKEv1]: Group = g, IP = 1.2.3.4, x");
}

TEST_CASE("VPN Client log header line", "[parse]") {
  const auto r = parse_line("1 12:41:51.900 02/18/06 Sev=Warning/3 IKE/0xE3000056");
  CHECK(r.form == HeaderForm::vpn_client);
  CHECK(r.key() == "IKE/0xE3000056");
  CHECK(r.message_id == "IKE/0xE3000056");
  CHECK(r.severity == 4);
  CHECK(r.time.year == 2006);
  CHECK(r.time.month == 2);
  CHECK(r.time.day == 18);
  CHECK(r.text.empty());
  // The text line that follows has no key.
  CHECK_FALSE(parse_line("The received HASH payload cannot be verified").has_key());
}

TEST_CASE("VPN 3000 concentrator line", "[parse]") {
  const auto r = parse_line(
      "20932 10/26/2007 14:37:45.430 SEV=3 AUTH/5 RPT=1863 10.19.187.229 Authentication rejected: Reason = "
      "Simultaneous logins exceeded for user");
  CHECK(r.form == HeaderForm::vpn3000);
  CHECK(r.key() == "AUTH/5");
  CHECK(r.time.year == 2007);
  CHECK(r.time.hour == 14);
  CHECK(r.text == "10.19.187.229 Authentication rejected: Reason = Simultaneous logins exceeded for user");
}

TEST_CASE("show crypto isakmp sa output is keyless", "[parse]") {
  const auto r = parse_line("   Rekey     : no           State     : MM_WAIT_MSG_6");
  CHECK_FALSE(r.has_key());
  CHECK(r.form == HeaderForm::none);
  CHECK(r.text == "   Rekey     : no           State     : MM_WAIT_MSG_6");
}

TEST_CASE("CRLF and LF endings are removed", "[parse][bad-input]") {
  const auto r = parse_line("%ASA-3-713063: IKE Peer address not configured for destination 0.0.0.0\r\n");
  CHECK(r.text == "IKE Peer address not configured for destination 0.0.0.0");
  CHECK(r.line.back() == '0');
}

TEST_CASE("NUL bytes and invalid UTF-8 pass through without harm", "[parse][bad-input]") {
  const std::string line = std::string("%ASA-3-713063: IKE Peer \xff\xfe address\0 not", 39);
  const auto r = parse_line(line);
  CHECK(r.key() == "713063");
  CHECK(r.text.size() == line.size() - 15);
  const std::string binary("\x00\x01\x02%\x80\xff<1>", 9);
  const auto b = parse_line(binary);
  CHECK_FALSE(b.has_key());
  CHECK(b.line.size() == 9);
}

TEST_CASE("very long lines are cut at the maximum and marked truncated", "[parse][bad-input]") {
  const std::string line = "%ASA-4-402119: " + std::string(100000, 'x');
  tunneldoc::ParseOptions options;
  options.max_line_bytes = 1024;
  const auto r = parse_line(line, options);
  CHECK(r.truncated);
  CHECK(r.line.size() == 1024);
  CHECK(r.key() == "402119");
  const auto short_line = parse_line("%ASA-4-402119: ok", options);
  CHECK_FALSE(short_line.truncated);
  // The default maximum is 64 KiB.
  CHECK(parse_line(line).line.size() == 64 * 1024);
}

TEST_CASE("a percent sign inside text is not a message id", "[parse]") {
  CHECK_FALSE(parse_line("CPU at 50%ASA-1-2: nope").has_key());
  CHECK_FALSE(parse_line("%asa-4-402119: lowercase is not a Cisco id").has_key());
  CHECK_FALSE(parse_line("%ASA-4-: empty mnemonic").has_key());
  CHECK_FALSE(parse_line("").has_key());
  CHECK_FALSE(parse_line("<").has_key());
}

TEST_CASE("lines that look like headers but are not still parse", "[parse][bad-input]") {
  for (const char* s : {"<999>Nov 26 2026 10:00:01 x", "Nov 99 10:00:01 host text", "4|garbage", "1 2 3 4",
                        "2026-13-45T99:99:99Z h", "<1>1 - - - - - -", "000: ", "*", "Sev=Warning/3 IKE/0x1"}) {
    const auto r = parse_line(s);
    CHECK(r.line == s);
    CHECK_FALSE(r.has_key());
  }
}

TEST_CASE("FTD and ASA message ids with a message class", "[parse]") {
  const auto r = parse_line("<165>Nov 26 2026 10:00:01 ftd-1 : %FTD-vpn-5-713904: IP = 1.2.3.4, x");
  CHECK(r.key() == "713904");
  CHECK(r.severity == 5);
  CHECK(r.message_id == "FTD-vpn-5-713904");
  CHECK(r.host == "ftd-1");
  CHECK(parse_line("%ASA-session-6-302013: Built").key() == "302013");
  CHECK_FALSE(parse_line("%CRYPTO-abc-4-IKMP_NO_SA: x").has_key());  // classes are an ASA/FTD thing
}

TEST_CASE("a colon after PRI keeps the timestamp", "[parse]") {
  const auto r = parse_line("<165>:2026-11-26T15:10:19Z: %ASA-5-713904: IP = 1.2.3.4, x");
  CHECK(r.key() == "713904");
  CHECK(r.time.valid());
  CHECK(r.time.hour == 15);
}

TEST_CASE("IOS with logging origin-id hostname", "[parse]") {
  const auto r = parse_line(
      "<189>45: hq-rtr: *Mar  1 00:31:55.431: %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA");
  CHECK(r.host == "hq-rtr");
  CHECK(r.time.month == 3);
  CHECK(r.time.millis == 431);
  CHECK(r.key() == "CRYPTO-IKMP_NO_SA");
}

TEST_CASE("an interest filter that declines a key skips the header, keeps key, id and text", "[parse]") {
  tunneldoc::ParseOptions options;
  int asked = 0;
  options.wanted_context = &asked;
  options.wanted = [](const void* c, const tunneldoc::LogRecord& r) {
    ++*static_cast<int*>(const_cast<void*>(c));
    return r.numeric_key != 302013;
  };
  const char* traffic = "<166>Nov 26 2026 10:00:01 hq-asa : %ASA-6-302013: Built inbound TCP connection 1";
  auto r = parse_line(traffic, options);
  CHECK(asked == 1);
  CHECK(r.key() == "302013");
  CHECK(r.message_id == "ASA-6-302013");
  CHECK(r.severity == 6);
  CHECK(r.text == "Built inbound TCP connection 1");
  CHECK(r.host.empty());
  CHECK_FALSE(r.time.valid());
  // A wanted key gets the whole record, exactly as without a filter.
  const char* vpn = "<164>Nov 26 2026 10:00:01 hq-asa : %ASA-4-402119: IPSEC: x";
  r = parse_line(vpn, options);
  const auto plain = parse_line(vpn);
  CHECK(r.host == plain.host);
  CHECK(r.time.to_rfc3339(0) == plain.time.to_rfc3339(0));
  CHECK(r.severity == plain.severity);
  CHECK(r.facility == plain.facility);
  // Keyless lines never ask.
  parse_line("[IKEv1]: Group = g, IP = 1.2.3.4, x", options);
  CHECK(asked == 2);
}

// Issue 11, case 9: an impossible date or offset must not become a wrong
// time. The header is still recognised (host, key) but the time stays unknown.
TEST_CASE("impossible dates and offsets leave the time unknown, the rest of the header is kept", "[parse][bad-input]") {
  struct Case {
    const char* line;
    const char* host;
  };
  const Case cases[] = {
      {"<165>Feb 30 2026 09:20:11 hq-asa : %ASA-5-713904: x", "hq-asa"},          // fast path
      {"<165>Feb 29 2026 09:20:11 hq-asa : %ASA-5-713904: x", "hq-asa"},          // 2026 is not a leap year
      {"<165>Apr 31 09:20:11 hq-asa : %ASA-5-713904: x", "hq-asa"},               // no year, still impossible
      {"<165>Nov 26 0000 09:20:11 hq-asa : %ASA-5-713904: x", "hq-asa"},          // year 0 is no year
      {"<165>Feb 30 2026 09:20:11.250 UTC hq-asa : %ASA-5-713904: x", "hq-asa"},  // general path
      {"<166>2026-02-30T10:00:01Z hq-asa : %ASA-6-722036: x", "hq-asa"},
      {"<166>2026-11-26T10:00:01+99:99 hq-asa : %ASA-6-722036: x", "hq-asa"},
      {"<166>2026-11-26T10:00:01-24:00 hq-asa : %ASA-6-722036: x", "hq-asa"},
      {"<164>1 2026-11-31T09:32:00.120+01:00 hq-asa - - - - %ASA-4-402119: IPSEC: y", "hq-asa"},
      {"<164>1 2026-11-26T09:32:00+01:75 hq-asa - - - - %ASA-4-402119: IPSEC: y", "hq-asa"},
      {"2026-06-31T10:00:01+00:00 relay %ASA-4-402119: IPSEC: y", "relay"},
      {"<164>1 2026-13-01T09:32:00Z hq-asa - - - - %ASA-4-402119: IPSEC: y", "hq-asa"},  // month 13
      {"<165>Nov 26 2026 25:61:00 hq-asa : %ASA-5-713904: x", "hq-asa"},                 // hour 25
      {"<165>Nov 00 2026 09:20:11 hq-asa : %ASA-5-713904: x", "hq-asa"},                 // day 0
  };
  for (const Case& c : cases) {
    INFO(c.line);
    const auto r = parse_line(c.line);
    CHECK_FALSE(r.time.valid());
    CHECK(r.time.to_rfc3339(2026).empty());
    CHECK(r.host == c.host);
    CHECK(r.has_key());
    CHECK(r.form != HeaderForm::none);
  }
  // VPN Client and VPN 3000 forms: month 13, Feb 30.
  const auto client = parse_line("1 12:41:51.900 13/18/06 Sev=Warning/3 IKE/0xE3000056");
  CHECK(client.form == HeaderForm::vpn_client);
  CHECK(client.key() == "IKE/0xE3000056");
  CHECK_FALSE(client.time.valid());
  const auto v3k =
      parse_line("20932 02/30/2007 14:37:45.430 SEV=3 AUTH/5 RPT=1863 10.19.187.229 Authentication rejected");
  CHECK(v3k.form == HeaderForm::vpn3000);
  CHECK_FALSE(v3k.time.valid());
  const auto asdm = parse_line("4|Feb 30 2010 10:21:50|713903: IP = 203.0.113.9, Error: x");
  CHECK(asdm.form == HeaderForm::asdm);
  CHECK(asdm.key() == "713903");
  CHECK_FALSE(asdm.time.valid());
}

TEST_CASE("real edge dates and offsets still parse", "[parse]") {
  CHECK(parse_line("<165>Feb 29 2028 09:20:11 hq-asa : %ASA-5-713904: x").time.to_rfc3339(0) == "2028-02-29T09:20:11Z");
  CHECK(parse_line("<165>Feb 29 09:20:11 hq-asa : %ASA-5-713904: x").time.day == 29);  // no year: may be a leap year
  CHECK(parse_line("<165>Feb 29 2000 09:20:11 hq-asa : %ASA-5-713904: x").time.valid());
  CHECK_FALSE(parse_line("<165>Feb 29 1900 09:20:11 hq-asa : %ASA-5-713904: x").time.valid());
  CHECK(parse_line("<166>2026-12-31T23:59:60-23:59 hq-asa : %ASA-6-722036: x").time.to_rfc3339(0) ==
        "2026-12-31T23:59:60-23:59");
  CHECK(parse_line("<166>2026-04-30T10:00:01+14:00 hq-asa : %ASA-6-722036: x").time.offset_minutes == 14 * 60);
}
