// The diagnosis record: the design's field names, valid UTF-8, remedies from sections.
#include "tunneldoc/render.h"

#include <catch2/catch.hpp>
#include <string>

#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/pipeline.h"

using namespace tunneldoc;
using nlohmann::json;

namespace {
std::shared_ptr<const KnowledgeBase> mini() {
  static auto r = load_knowledge_base(TUNNELDOC_TEST_DATA "/data/mini-kb");
  REQUIRE(r.ok());
  return r.kb;
}

json render_line(const std::string& line, const std::string& source = "file:asa.log", std::uint64_t number = 17) {
  Recognizer recognizer(std::make_shared<const Matcher>(mini()), 2026);
  Origin origin;
  origin.source = source;
  origin.line = number;
  Event event;
  REQUIRE(recognizer.recognize(line, origin, false, 1795685411004, event) != nullptr);
  JsonRenderer renderer;
  std::string out;
  renderer.render(*line_output(mini(), std::make_shared<const Event>(std::move(event))), out);
  REQUIRE(out.back() == '\n');
  REQUIRE(out.find('\n') == out.size() - 1);  // exactly one line
  return json::parse(out);
}
}  // namespace

TEST_CASE("the record carries every field of the design", "[render]") {
  const json j = render_line(
      "<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted "
      "NO_PROPOSAL_CHOSEN notify message, drop");
  CHECK(j["schema"] == "tunneldoc.diagnosis/1");
  CHECK(j["time"] == "2026-11-26T09:20:11Z");
  CHECK(j["received"] == "2026-11-26T09:30:11.004Z");
  CHECK(j["host"] == "hq-asa");
  CHECK(j["message_id"] == "ASA-5-713904");
  CHECK(j["severity"] == 5);
  CHECK(j["signature"] == "specific-713904");
  CHECK(j["kind"] == "line");
  CHECK(j["title"] == "Specific");
  CHECK(j["diagnosis"] == "Proposals.");
  CHECK(j["confidence"] == "high");
  CHECK(j["sections"] == json::array({"psk-mismatch", "clear-sa"}));
  REQUIRE(j["remedies"].size() == 2);
  const json& psk = j["remedies"][0];
  CHECK(psk["section"] == "psk-mismatch");
  CHECK(psk["title"] == "Pre-shared key mismatch");
  CHECK(psk["steps"] == json::array({"Compare the keys.", "Re-enter the key."}));
  CHECK(psk["commands"]["asa"][1] == "ikev1 pre-shared-key <key>");
  CHECK(psk["commands"]["ios"][0] == "crypto isakmp key <key> address <peer>");
  CHECK(psk["verify"]["asa"][0] == "show crypto isakmp sa");
  CHECK(psk["caution"].is_null());
  CHECK(j["remedies"][1]["caution"] == "Clearing SAs drops every tunnel.");
  CHECK(j["fields"] == json({{"peer_ip", "203.0.113.9"}, {"what", "NO_PROPOSAL_CHOSEN"}}));
  REQUIRE(j["evidence"].size() == 1);
  CHECK(j["evidence"][0]["source"] == "file:asa.log:17");
  CHECK(j["evidence"][0]["line"].get<std::string>().rfind("<165>Nov 26", 0) == 0);
  CHECK(j["count"] == 1);
  CHECK_FALSE(j.contains("truncated"));
}

TEST_CASE("unknown time, host and severity are null", "[render]") {
  const json j = render_line("   Rekey     : no           State     : MM_WAIT_MSG6");
  CHECK(j["time"].is_null());
  CHECK(j["host"].is_null());
  CHECK(j["message_id"].is_null());
  CHECK(j["severity"].is_null());
}

TEST_CASE("invalid UTF-8 and control bytes are replaced or escaped, never dropped", "[render][bad-input]") {
  const std::string line = std::string("%ASA-5-713904: IP = 1.2.3.4, bad \xff\xfe bytes \x01 and \"quotes\" ") +
                           std::string(1, '\0') + " NO_PROPOSAL_CHOSEN";
  const json j = render_line(line);
  const std::string ev = j["evidence"][0]["line"];
  CHECK(ev.find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD
  CHECK(ev.find('\x01') != std::string::npos);
  CHECK(ev.find(std::string(1, '\0')) != std::string::npos);
  CHECK(ev.find("\"quotes\"") != std::string::npos);
  CHECK(ev.size() >= line.size());
}

TEST_CASE("append_json_string round-trips through a JSON parser", "[render]") {
  for (const std::string& s : {std::string("plain"), std::string("tab\there"), std::string("\xc3\xa9t\xc3\xa9"),
                               std::string("back\\slash"), std::string("\xe2\x82")}) {
    std::string out;
    append_json_string(out, s);
    const json j = json::parse(out);
    REQUIRE(j.is_string());
    if (s != "\xe2\x82") {
      CHECK(j.get<std::string>() == s);
    } else {
      CHECK(j.get<std::string>() == "\xEF\xBF\xBD");
    }
  }
}

TEST_CASE("times are RFC 3339 UTC with milliseconds, before 1970 too", "[render]") {
  CHECK(format_utc_ms(1795685411004) == "2026-11-26T09:30:11.004Z");
  CHECK(format_utc_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_utc_ms(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_utc_ms(951782400000) == "2000-02-29T00:00:00.000Z");
}
