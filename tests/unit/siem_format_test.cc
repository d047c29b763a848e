// SIEM formats: ECS documents, CEF lines and RFC 5424 frames made from real
// diagnoses, with hostile field values (|, =, \, quotes, CR/LF, invalid
// UTF-8, 10,000 characters) that must never forge an event, a header field
// or a key. (tests/sinks/siem_test.py parses the same formats with
// independent parsers; these pin the exact bytes.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "tunneldoc/config_schema.h"
#include "tunneldoc/encoders.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/sink_spec.h"
#include "tunneldoc/transports.h"

using namespace tunneldoc;
using nlohmann::json;

namespace {

std::shared_ptr<const KnowledgeBase> kb() {
  static auto loaded = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  REQUIRE(loaded.ok());
  return loaded.kb;
}

OutputPtr diagnose(const std::string& line) {
  Recognizer recognizer(std::make_shared<const Matcher>(kb()), 2026);
  Origin origin;
  origin.source = "udp:192.0.2.1:514";
  Event event;
  REQUIRE(recognizer.recognize(line, origin, false, 1795685411004, event) != nullptr);
  return line_output(kb(), std::make_shared<const Event>(std::move(event)));
}

const std::string kUser = "ev|il=us\\er \"x\"\r\nCEF:0|forged|x|1|y|z|10|src=6.6.6.6 \xff\xfe end";
std::string hostile_line(const std::string& user) {
  return "<163>Nov 26 2026 10:00:01 hq-asa : %ASA-3-713902: Group = RA-VPN, Username = " + user +
         ", IP = 198.51.100.23, All IPSec SA proposals found unacceptable!";
}

std::string encode(Format f, Remedies r, const Output& o) {
  std::string out;
  make_encoder(f, r)->encode(o, out);
  REQUIRE(!out.empty());
  REQUIRE(out.back() == '\n');
  out.pop_back();
  return out;
}

// Splits a CEF line the way the specification reads it: 7 header fields
// separated by unescaped pipes, then space-separated key=value pairs whose
// values end at the next unescaped '=' preceded by a key.
struct Cef {
  std::vector<std::string> header;
  std::vector<std::pair<std::string, std::string>> ext;
};
Cef parse_cef(const std::string& line) {
  Cef c;
  std::string field;
  std::size_t i = 0;
  for (; i < line.size() && c.header.size() < 7; ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      field += line[++i];
    } else if (line[i] == '|') {
      c.header.push_back(field);
      field.clear();
    } else {
      field += line[i];
    }
  }
  const std::string ext = line.substr(i);
  // Positions of unescaped '=' give the keys: the word before each.
  std::vector<std::pair<std::size_t, std::size_t>> keys;  // key start, '=' position
  for (std::size_t k = 0; k < ext.size(); ++k) {
    if (ext[k] == '\\') {
      ++k;
      continue;
    }
    if (ext[k] != '=') continue;
    std::size_t start = k;
    while (start > 0 && std::isalnum(static_cast<unsigned char>(ext[start - 1]))) --start;
    keys.emplace_back(start, k);
  }
  for (std::size_t n = 0; n < keys.size(); ++n) {
    const std::size_t vstart = keys[n].second + 1;
    std::size_t vend = n + 1 < keys.size() ? keys[n + 1].first : ext.size();
    if (vend > vstart && n + 1 < keys.size() && ext[vend - 1] == ' ') --vend;
    std::string raw = ext.substr(vstart, vend - vstart), value;
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '\\' && k + 1 < raw.size()) {
        const char e = raw[++k];
        value += e == 'n' ? '\n' : e == 'r' ? '\r' : e;
      } else {
        value += raw[k];
      }
    }
    c.ext.emplace_back(ext.substr(keys[n].first, keys[n].second - keys[n].first), value);
  }
  return c;
}

std::string ext_value(const Cef& c, const std::string& key) {
  std::string found;
  int n = 0;
  for (const auto& [k, v] : c.ext) {
    if (k == key) {
      found = v;
      ++n;
    }
  }
  REQUIRE(n <= 1);
  return found;
}

}  // namespace

TEST_CASE("ECS: the fields the issue lists, from a real diagnosis", "[siem][ecs]") {
  const json d = json::parse(encode(Format::ecs, Remedies::brief,
                                    *diagnose("<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, "
                                              "Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop")));
  CHECK(d["@timestamp"] == "2026-11-26T09:20:11.000Z");
  CHECK(d["ecs"]["version"] == std::string(kEcsVersion));
  CHECK(d["event"]["kind"] == "alert");
  CHECK(d["event"]["category"] == json::array({"network"}));
  CHECK(d["event"]["code"] == "ASA-5-713904");
  CHECK(d["event"]["severity"] == 5);
  CHECK(d["event"]["action"] == "line");
  CHECK(d["event"]["original"].get<std::string>().find("NO_PROPOSAL_CHOSEN") != std::string::npos);
  CHECK(d["rule"]["id"] == "asa-713904-no-proposal-chosen");
  CHECK(!d["rule"]["name"].get<std::string>().empty());
  CHECK(d["observer"]["hostname"] == "hq-asa");
  CHECK(d["observer"]["vendor"] == "Cisco");
  CHECK(d["observer"]["product"] == "ASA");
  CHECK(d["source"]["ip"] == "203.0.113.9");
  CHECK(d["related"]["ip"] == json::array({"203.0.113.9"}));
  CHECK(!d["message"].get<std::string>().empty());
  CHECK(d["tunneldoc"]["confidence"] == "high");
  CHECK(!d["tunneldoc"]["sections"].empty());
  const json& remedy = d["tunneldoc"]["remedies"][0];
  CHECK(remedy["steps"].size() <= 1);  // brief: the first step only
  CHECK(remedy.contains("verify"));
}

TEST_CASE("ECS: a peer that is not an address never reaches source.ip", "[siem][ecs]") {
  const json d =
      json::parse(encode(Format::ecs, Remedies::none,
                         *diagnose("%ASA-4-713903: Group = 192.0.2.44x, IP = not-an-ip, Information Exchange "
                                   "processing failed")));
  CHECK_FALSE(d.contains("source"));
  CHECK(d["tunneldoc"]["remedies"].empty());
}

TEST_CASE("hostile values stay inside their field in every format", "[siem][hostile]") {
  for (const std::string& user : {kUser, std::string(10000, 'A') + "|=\\"}) {
    const OutputPtr o = diagnose(hostile_line(user));
    REQUIRE(o->subject->field("user").size() > 10);

    const std::string js = encode(Format::json, Remedies::brief, *o);
    CHECK(js.find('\n') == std::string::npos);
    CHECK(json::parse(js)["fields"]["user"].get<std::string>().substr(0, 7) == valid_utf8(user).substr(0, 7));

    const std::string ecs = encode(Format::ecs, Remedies::brief, *o);
    CHECK(ecs.find('\n') == std::string::npos);
    CHECK(ecs.find('\r') == std::string::npos);
    const json e = json::parse(ecs);
    CHECK(e["user"]["name"].get<std::string>().substr(0, 7) == valid_utf8(user).substr(0, 7));
    CHECK(e["source"]["ip"] == "198.51.100.23");

    const std::string cef = encode(Format::cef, Remedies::brief, *o);
    CHECK(cef.find('\n') == std::string::npos);
    CHECK(cef.find('\r') == std::string::npos);
    CHECK(cef.rfind("CEF:0|tunneldoc|tunneldoc|", 0) == 0);
    const Cef c = parse_cef(cef);
    REQUIRE(c.header.size() == 7);
    CHECK(c.header[4] == "asa-generic-ipsec-proposals-unacceptable");
    CHECK(c.header[6] == "7");                      // syslog severity 3 (error)
    CHECK(ext_value(c, "src") == "198.51.100.23");  // not the forged 6.6.6.6
    const std::string suser = ext_value(c, "suser");
    CHECK(suser.size() <= 1023);
    CHECK(suser.substr(0, 7) == valid_utf8(user).substr(0, 7));
    CHECK(ext_value(c, "dvchost") == "hq-asa");
    CHECK(ext_value(c, "cs6").size() <= 4000);
    for (const auto& [k, v] : c.ext)
      CHECK(k.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == std::string::npos);

    Record r;
    describe(*o, r);
    r.payload = cef;
    r.id = "0123-1";
    const std::string frame = rfc5424(r, 1, "collector", "42");
    CHECK(frame.find('\n') == std::string::npos);
    CHECK(frame.rfind("<11>1 2026-11-26T10:00:01.000Z collector tunneldoc 42 asa-generic-ipsec-proposals-unac [", 0) ==
          0);
  }
}

TEST_CASE("CEF escaping follows the specification, header and extension apart", "[siem][cef]") {
  std::string h, v;
  append_cef_header(h, "a|b\\c=d\ne", 100);
  CHECK(h == "a\\|b\\\\c=d e");
  append_cef_value(v, "a|b\\c=d\r\ne", 100);
  CHECK(v == "a|b\\\\c\\=d\\r\\ne");
  std::string cut;
  append_cef_value(cut, "\xc3\xa9\xc3\xa9\xc3\xa9", 5);  // never half a character
  CHECK(cut == "\xc3\xa9\xc3\xa9");
  std::string bad;
  append_cef_value(bad,
                   "a\xff"
                   "b",
                   100);
  CHECK(bad ==
        "a\xef\xbf\xbd"
        "b");
  CHECK(cef_severity(0) == 10);
  CHECK(cef_severity(3) == 7);
  CHECK(cef_severity(7) == 1);
}

TEST_CASE("RFC 5424: PRI, MSGID cut to 32, SD-PARAM values escaped", "[siem][syslog]") {
  Record r;
  r.time_ms = 1795685411004;  // 2026-11-26T09:30:11.004Z
  r.severity = 4;
  r.msgid = "a-signature-id-that-is-longer-than-thirty-two";
  r.host = "dev\"ice]\\";
  r.incident = "inc-1";
  r.state = "open";
  r.id = "abc-7";
  r.payload = "{\"x\":1}";
  const std::string f = rfc5424(r, 16, "collector", "99");
  CHECK(f ==
        "<132>1 2026-11-26T09:30:11.004Z collector tunneldoc 99 a-signature-id-that-is-longer-th "
        "[tunneldoc@32473 id=\"abc-7\" state=\"open\" incident=\"inc-1\" device=\"dev\\\"ice\\]\\\\\" "
        "signature=\"a-signature-id-that-is-longer-than-thirty-two\"] {\"x\":1}");
}

TEST_CASE("syslog over UDP: a message larger than a datagram is refused for good, the others are sent",
          "[siem][syslog]") {
  // A receiving socket on loopback, port chosen by the kernel.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  SyslogOptions o;
  o.transport = SyslogTransport::udp;
  o.target.host = "127.0.0.1";
  o.target.port = ntohs(addr.sin_port);
  o.max_datagram = 2000;
  std::string error;
  auto t = make_syslog_transport(o, error);
  REQUIRE(t != nullptr);
  std::vector<Record> batch(3);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].time_ms = 1795685411004;
    batch[i].msgid = "sig";
    batch[i].state = "line";
    batch[i].id = "id-" + std::to_string(i);
    batch[i].payload = i == 1 ? std::string(5000, 'x') : "small " + std::to_string(i);
  }
  const DeliveryResult r = t->deliver(batch);
  CHECK(r.sent);
  REQUIRE(r.failed.size() == 1);
  CHECK(r.failed[0].index == 1);
  CHECK(r.failed[0].permanent);
  CHECK(r.failed[0].reason.find("larger than a datagram") != std::string::npos);
  // The two others arrived, in order, one datagram each (they are queued on loopback already).
  char buf[4096];
  for (const char* want : {"small 0", "small 2"}) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    REQUIRE(n > 0);
    const std::string got(buf, static_cast<std::size_t>(n));
    CHECK(got.ends_with(std::string("] ") + want));
  }
  CHECK(::recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0);
  ::close(fd);
}

TEST_CASE("sink URLs: forms, query options, and secrets refused", "[siem][url]") {
  SinkSpec s;
  std::string error;
  REQUIRE(parse_sink_url("es+https://10.0.0.5:9200/tunneldoc?stream=all&remedies=none", s, error));
  CHECK(s.kind == SinkKind::es);
  CHECK(s.target.tls.enabled);
  CHECK(s.target.host == "10.0.0.5");
  CHECK(s.target.port == 9200);
  CHECK(s.index == "tunneldoc");
  CHECK(s.format == Format::ecs);
  CHECK(s.stream == Stream::all);
  CHECK(s.remedies == Remedies::none);
  CHECK(s.name == "es+https://10.0.0.5:9200/tunneldoc");
  CHECK(s.spool);

  SinkSpec u;
  REQUIRE(parse_sink_url("syslog+udp://[::1]:514?format=cef&facility=local4&name=qradar", u, error));
  CHECK(u.kind == SinkKind::syslog_udp);
  CHECK(u.target.host == "::1");
  CHECK(u.facility == 20);
  CHECK(u.format == Format::cef);
  CHECK(u.name == "qradar");
  CHECK(u.remedies == Remedies::brief);

  SinkSpec f;
  REQUIRE(parse_sink_url("file:/var/log/x.jsonl", f, error));
  CHECK(f.kind == SinkKind::file);
  CHECK(f.remedies == Remedies::full);
  CHECK_FALSE(f.spool);
  SinkSpec o;
  REQUIRE(parse_sink_url("-", o, error));
  CHECK(o.name == "stdout");

  SinkSpec h;
  CHECK_FALSE(parse_sink_url("hec+https://splunk:8088?token=abc", h, error));
  CHECK(error.find("secret") != std::string::npos);
  CHECK_FALSE(parse_sink_url("hec+https://user:pw@splunk:8088", h, error));
  CHECK_FALSE(parse_sink_url("kafka://x:1", h, error));
  CHECK_FALSE(parse_sink_url("syslog+tcp://host", h, error));
  CHECK_FALSE(parse_sink_url("-?format=xml", h, error));
  REQUIRE(parse_sink_url("hec+http://127.0.0.1:8088", h, error));
  std::vector<std::string> problems;
  validate_sink(h, problems);
  CHECK(problems.size() == 1);  // no token
  SinkSpec e;
  REQUIRE(parse_sink_url("es+http://127.0.0.1:9200/idx?format=cef", e, error));
  problems.clear();
  validate_sink(e, problems);
  CHECK(problems.size() == 1);
}

TEST_CASE("every sink option has a row in the configuration schema (and so in the man page)", "[siem][schema]") {
  for (const char* key : {"format",    "stream",      "remedies",        "name",     "ca",         "certificate",
                          "key",       "server_name", "verify",          "index",    "source",     "sourcetype",
                          "facility",  "spool",       "spool_max_bytes", "fsync",    "queue_size", "queue_bytes",
                          "timeout",   "retry_max", "grace",       "token",           "username", "password",   "api_key"}) {
    INFO(key);
    CHECK(is_sink_option(key));
    CHECK(is_config_key("sinks[]", key));
  }
  std::size_t rows = 0;
  for (const ConfigKey& k : config_schema())
    if (k.section == "sinks[]" && k.key != "url") {
      ++rows;
      CHECK(is_sink_option(k.key));
    }
  CHECK(rows == 25);
}
