// framing_test.cc — RFC 6587 framing, CIDR allowlists and configuration, without sockets.
#include "tunneldoc/framing.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tunneldoc/allowlist.h"
#include "tunneldoc/config.h"

using tunneldoc::FrameParser;

namespace {

struct Frame {
  std::string text;
  bool truncated;
  FrameParser::Framing framing;
};

// Feeds `chunks` one after another; returns every frame, and whether the stream went bad.
std::vector<Frame> feed(FrameParser& p, const std::vector<std::string>& chunks, bool* bad = nullptr) {
  std::vector<Frame> out;
  for (const std::string& chunk : chunks) {
    std::string_view data = chunk;
    for (;;) {
      const auto r = p.parse(data);
      if (r == FrameParser::Result::good) {
        out.push_back({std::string(p.frame()), p.truncated(), p.framing()});
      } else {
        if (r == FrameParser::Result::bad && bad != nullptr) *bad = true;
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> bytewise(const std::string& s) {
  std::vector<std::string> v;
  for (char c : s) v.emplace_back(1, c);
  return v;
}

}  // namespace

TEST_CASE("LF framing splits lines and drops CR, NUL and empty lines", "[framing]") {
  FrameParser p;
  auto frames = feed(p, {"<13>one\n<13>two\r\n\n\n<13>thr", std::string("ee\0\n", 4)});
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].text == "<13>one");
  CHECK(frames[1].text == "<13>two");
  CHECK(frames[2].text == "<13>three");
  CHECK(frames[2].framing == FrameParser::Framing::lf);
}

TEST_CASE("octet counting, whole and split at every byte", "[framing]") {
  const std::string msg = "<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, drop";
  const std::string stream = std::to_string(msg.size()) + " " + msg + std::to_string(msg.size()) + " " + msg;
  SECTION("in one read") {
    FrameParser p;
    auto frames = feed(p, {stream});
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].text == msg);
    CHECK(frames[1].text == msg);
    CHECK(frames[0].framing == FrameParser::Framing::octet_counting);
  }
  SECTION("a byte at a time") {
    FrameParser p;
    auto frames = feed(p, bytewise(stream));
    REQUIRE(frames.size() == 2);
    CHECK(frames[1].text == msg);
    CHECK_FALSE(frames[1].truncated);
  }
}

TEST_CASE("octet counting and LF framing mix on one stream", "[framing]") {
  FrameParser p;
  auto frames = feed(p, {"5 <13>a<13>plain line\n", "7 <13>abc", "\n<13>next\n"});
  REQUIRE(frames.size() == 4);
  CHECK(frames[0].text == "<13>a");
  CHECK(frames[1].text == "<13>plain line");
  CHECK(frames[2].text == "<13>abc");
  CHECK(frames[2].framing == FrameParser::Framing::octet_counting);
  CHECK(frames[3].text == "<13>next");
  CHECK(frames[3].framing == FrameParser::Framing::lf);
}

TEST_CASE("a line that starts with digits is not an octet count", "[framing]") {
  FrameParser p;
  auto frames = feed(p, bytewise("20932 10/26/2007 14:37:45.430 SEV=3 AUTH/5 RPT=1863 x\n000123: Nov 26\n"));
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].text == "20932 10/26/2007 14:37:45.430 SEV=3 AUTH/5 RPT=1863 x");
  CHECK(frames[1].text == "000123: Nov 26");
}

TEST_CASE("frames longer than the maximum are cut once and the stream continues", "[framing]") {
  FrameParser p(16);
  SECTION("LF") {
    auto frames = feed(p, {std::string(40, 'x') + "\n<13>ok\n"});
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].text == std::string(16, 'x'));
    CHECK(frames[0].truncated);
    CHECK(frames[1].text == "<13>ok");
    CHECK_FALSE(frames[1].truncated);
  }
  SECTION("LF across reads") {
    auto frames = feed(p, {std::string(10, 'x'), std::string(30, 'y'), "z\n<13>ok\n"});
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].text == std::string(10, 'x') + std::string(6, 'y'));
    CHECK(frames[0].truncated);
    CHECK(p.buffered() <= 16);
  }
  SECTION("octet counting") {
    const std::string body = "<13>" + std::string(36, 'x');
    auto frames = feed(p, bytewise("40 " + body + "5 <13>k"));
    REQUIRE(frames.size() == 2);
    CHECK(frames[0].text == body.substr(0, 16));
    CHECK(frames[0].truncated);
    CHECK(frames[1].text == "<13>k");
  }
}

TEST_CASE("an absurd octet count is bad and stays bad", "[framing]") {
  FrameParser p;
  bool bad = false;
  auto frames = feed(p, {"999999999 <13>x"}, &bad);
  CHECK(frames.empty());
  CHECK(bad);
  std::string_view more = "<13>x\n";
  CHECK(p.parse(more) == FrameParser::Result::bad);
  p.reset();
  CHECK(p.parse(more) == FrameParser::Result::good);
}

TEST_CASE("finish() delivers an unterminated last line", "[framing]") {
  FrameParser p;
  std::string_view data = "<13>last without newline";
  CHECK(p.parse(data) == FrameParser::Result::indeterminate);
  REQUIRE(p.finish());
  CHECK(p.frame() == "<13>last without newline");
  CHECK_FALSE(p.incomplete());
  FrameParser q;
  CHECK_FALSE(q.finish());
  std::string_view half = "50 <13>only part of it";
  CHECK(q.parse(half) == FrameParser::Result::indeterminate);
  REQUIRE(q.finish());
  CHECK(q.frame() == "<13>only part of it");
  CHECK(q.incomplete());
  CHECK(q.truncated());
}

TEST_CASE("a stream the receiver closes mid-frame delivers the partial frame as incomplete", "[framing]") {
  FrameParser p;
  std::string_view data = "<13>half a li";
  CHECK(p.parse(data) == FrameParser::Result::indeterminate);
  REQUIRE(p.finish(/*stream_ended=*/false));
  CHECK(p.frame() == "<13>half a li");
  CHECK(p.incomplete());
  CHECK(p.truncated());
  FrameParser q;
  std::string_view digits = "12";  // could still become an octet count
  CHECK(q.parse(digits) == FrameParser::Result::indeterminate);
  REQUIRE(q.finish(false));
  CHECK(q.frame() == "12");
  CHECK(q.incomplete());
}

TEST_CASE("the memory of one long frame is given back once it is delivered", "[framing]") {
  FrameParser p;
  auto frames = feed(p, {"<13>" + std::string(50000, 'x'), "y\n", "<13>sh"});
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].text.size() == 50005);
  CHECK(p.buffered() == 6);
  CHECK(p.held() <= FrameParser::kKeepCapacity + 64);
  p.reset();
  CHECK(p.held() <= 64);
}

TEST_CASE("trim_message strips trailing newlines", "[framing]") {
  CHECK(tunneldoc::trim_message("<13>x\r\n") == "<13>x");
  CHECK(tunneldoc::trim_message("<13>x\n\n") == "<13>x");
  CHECK(tunneldoc::trim_message("\n").empty());
}

TEST_CASE("CIDR parsing and matching", "[allowlist]") {
  using tunneldoc::Allowlist;
  using tunneldoc::Cidr;
  std::string error;
  CHECK_FALSE(Cidr::parse("10.1.2.3/8", &error));
  CHECK(error.find("host bits") != std::string::npos);
  CHECK_FALSE(Cidr::parse("10.0.0.0/33"));
  CHECK_FALSE(Cidr::parse("example.com"));
  REQUIRE(Cidr::parse("2001:db8::/32"));
  Allowlist list({*Cidr::parse("192.0.2.0/24"), *Cidr::parse("10.0.0.0/8"), *Cidr::parse("2001:db8::/32"),
                  *Cidr::parse("203.0.113.7")});
  CHECK(list.allows("192.0.2.200"));
  CHECK(list.allows("10.255.0.1"));
  CHECK(list.allows("203.0.113.7"));
  CHECK_FALSE(list.allows("203.0.113.8"));
  CHECK_FALSE(list.allows("192.0.3.1"));
  CHECK(list.allows("2001:db8:1::1"));
  CHECK_FALSE(list.allows("2001:db9::1"));
  CHECK(list.allows("::ffff:192.0.2.1"));     // IPv4-mapped
  CHECK(Allowlist().allows("198.51.100.1"));  // empty: everyone
  CHECK(Cidr::parse("0.0.0.0/0")->contains(false, std::array<std::uint8_t, 4>{1, 2, 3, 4}.data()));
}

TEST_CASE("endpoints", "[config]") {
  using tunneldoc::parse_endpoint;
  CHECK(parse_endpoint("127.0.0.1:5514")->port == 5514);
  CHECK(parse_endpoint("[::1]:514")->address == "::1");
  CHECK(parse_endpoint("[::1]:514")->to_string() == "[::1]:514");
  CHECK(parse_endpoint(":514")->address == "0.0.0.0");
  CHECK_FALSE(parse_endpoint("localhost:514"));
  CHECK_FALSE(parse_endpoint("127.0.0.1"));
  CHECK_FALSE(parse_endpoint("127.0.0.1:70000"));
  CHECK_FALSE(parse_endpoint("::1:514"));
}

namespace {
std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("tunneldoc-test-" + name);
  std::ofstream(p) << text;
  return p;
}
}  // namespace

TEST_CASE("configuration: defaults, a full file, and every error reported", "[config]") {
  using namespace tunneldoc;
  SECTION("no listeners key: the defaults") {
    auto r = load_config(write_temp("empty.yaml", "output: /tmp/x.jsonl\n"));
    REQUIRE(r.ok());
    REQUIRE(r.config.listeners.size() == 2);
    CHECK(r.config.listeners[0].endpoint.to_string() == "127.0.0.1:5514");
    CHECK(r.config.listeners[0].receive_buffer == 8u << 20);
    CHECK(r.config.listeners[1].max_connections == 1024);
    CHECK(r.config.listeners[1].idle_timeout_seconds == 600);
    CHECK(r.config.metrics->to_string() == "127.0.0.1:9514");
  }
  SECTION("a full file") {
    auto r = load_config(write_temp("full.yaml", R"(
listeners:
  - {type: udp, address: "0.0.0.0:514", receive_buffer: 1048576, allow: [192.0.2.0/24]}
  - {type: tcp, address: ":514", max_frame: 8192, max_connections: 10, idle_timeout: 30}
files:
  - /var/log/asa.log
  - {path: /var/log/ios.log, from_start: true}
state_file: /var/lib/tunneldoc/positions
metrics: {address: "127.0.0.1:9000", path: /m}
threads: 4
)"));
    REQUIRE(r.ok());
    REQUIRE(r.config.listeners.size() == 2);
    CHECK(r.config.listeners[0].allow.size() == 1);
    CHECK(r.config.listeners[1].max_frame == 8192);
    CHECK(r.config.files.size() == 2);
    CHECK(r.config.files[1].from_start);
    CHECK(r.config.metrics_path == "/m");
    CHECK(r.config.threads == 4);
  }
  SECTION("every problem, with its line") {
    auto r = load_config(write_temp("bad.yaml", R"(listeners:
  - {type: udp, address: "127.0.0.1"}
  - {type: carrier-pigeon, address: "127.0.0.1:1"}
  - {type: tcp, address: "127.0.0.1:1", allow: [10.0.0.1/8], max_conections: 3}
  - {type: tls, address: "127.0.0.1:6514"}
threads: 0
colour: blue
)"));
    CHECK_FALSE(r.ok());
    const std::string all = [&] {
      std::string s;
      for (auto& e : r.errors) s += e + "\n";
      return s;
    }();
    INFO(all);
    CHECK(all.find(":2: \"127.0.0.1\" is not ADDR:PORT") != std::string::npos);
    CHECK(all.find(":3: listener \"type\" must be") != std::string::npos);
    CHECK(all.find("host bits") != std::string::npos);
    CHECK(all.find("unknown option \"max_conections\"") != std::string::npos);
    CHECK(all.find("needs \"certificate\"") != std::string::npos);
    CHECK(all.find("\"threads\" must be between") != std::string::npos);
    CHECK(all.find(":7: unknown option \"colour\"") != std::string::npos);
  }
  SECTION("the packaged configuration parses: 514/udp and 514/tcp, TLS and files commented out") {
    auto r = load_config(std::filesystem::path(TUNNELDOC_SOURCE_DIR) / "packaging" / "tunneldoc.yaml");
    INFO((r.errors.empty() ? std::string() : r.errors[0]));
    REQUIRE(r.ok());
    REQUIRE(r.config.listeners.size() == 2);
    CHECK(r.config.listeners[0].transport == Transport::udp);
    CHECK(r.config.listeners[0].endpoint.to_string() == "0.0.0.0:514");
    CHECK(r.config.listeners[1].transport == Transport::tcp);
    CHECK(r.config.listeners[1].endpoint.to_string() == "0.0.0.0:514");
    CHECK(r.config.files.empty());
    CHECK(r.config.signatures.empty());  // default_signature_dir(): the installed knowledge base
  }
  SECTION("the packaged configuration's commented-out settings parse once uncommented (6514/tls, files)") {
    // Commented settings start with '#' and no space or exactly two ("#- type: tls", "#  address:");
    // prose has one ("# ...") or an aligned continuation.
    std::ifstream in(std::filesystem::path(TUNNELDOC_SOURCE_DIR) / "packaging" / "tunneldoc.yaml");
    std::string text, line;
    while (std::getline(in, line)) {
      const std::size_t hash = line.find_first_not_of(' ');
      if (hash != std::string::npos && line[hash] == '#' && hash + 1 < line.size() &&
          (line[hash + 1] != ' ' ||
           (line.compare(hash + 1, 2, "  ") == 0 && line.size() > hash + 3 && line[hash + 3] != ' ')))
        line.erase(hash, 1);
      text += line + "\n";
    }
    auto r = load_config(write_temp("uncommented.yaml", text));
    INFO((r.errors.empty() ? std::string() : r.errors[0]));
    REQUIRE(r.ok());
    REQUIRE(r.config.listeners.size() == 3);
    CHECK(r.config.listeners[2].transport == Transport::tls);
    CHECK(r.config.listeners[2].endpoint.port == 6514);
    CHECK(r.config.listeners[2].verify_client);
    CHECK(r.config.listeners[0].allow.size() == 2);
    CHECK(r.config.files.size() == 2);
    CHECK(r.config.signatures == "/usr/share/tunneldoc/signatures");
  }
  SECTION("connection limits: per host, reserve, buffer budget") {
    auto r = load_config(write_temp("limits.yaml", R"(listeners:
  - {type: tcp, address: ":514", max_connections: 100, max_connections_per_host: 5, reserved_connections: 10,
     max_buffered: 1048576}
  - {type: tcp, address: ":515", max_connections: 64}
  - {type: tcp, address: ":516", max_connections: 10, reserved_connections: 10}
)"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].find(":5: \"reserved_connections\" must be below") != std::string::npos);
    REQUIRE(r.config.listeners.size() == 3);
    const auto& l = r.config.listeners[0];
    CHECK(l.max_connections_per_host == 5);
    CHECK(effective_reserve(l) == 10);
    CHECK(l.max_buffered == 1u << 20);
    CHECK(r.config.listeners[1].max_connections_per_host == 64);
    CHECK(effective_reserve(r.config.listeners[1]) == 4);  // max_connections / 16
    ListenerConfig one;
    one.max_connections = 1;
    CHECK(effective_reserve(one) == 0);
  }
  SECTION("descriptors needed: every connection, socket and file, and a margin") {
    ServeConfig c = default_config();  // udp + tcp (1,024 connections), metrics
    c.threads = 2;
    c.files.resize(3);
    CHECK(descriptors_needed(c) == 64 + 2 * 3 + (1 + 32) + 2 + (1 + 1024));
    c.metrics.reset();
    c.listeners[1].max_connections = 10;
    CHECK(descriptors_needed(c) == 64 + 6 + 2 + 11);
  }
  SECTION("YAML syntax error") {
    auto r = load_config(write_temp("syntax.yaml", "listeners: [\n"));
    CHECK_FALSE(r.ok());
  }
  SECTION("missing file") {
    auto r = load_config("/nonexistent/tunneldoc.yaml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.errors[0].find("cannot open") != std::string::npos);
  }
  SECTION("validate: duplicate listeners, unreadable TLS files") {
    ServeConfig c = default_config();
    c.listeners.push_back(c.listeners[0]);
    ListenerConfig tls;
    tls.transport = Transport::tls;
    tls.endpoint.port = 6514;
    tls.certificate = "/nonexistent/cert.pem";
    tls.key = "/nonexistent/key.pem";
    c.listeners.push_back(tls);
    std::vector<std::string> errors;
    validate_config(c, errors);
    CHECK(errors.size() == 3);
  }
}
