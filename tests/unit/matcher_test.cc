// Key lookup first, then that key's signatures by priority; keyless through RE2::Set.
#include "tunneldoc/matcher.h"

#include <catch2/catch.hpp>
#include <string>

#include "tunneldoc/parse.h"

using namespace tunneldoc;

namespace {
std::shared_ptr<const KnowledgeBase> mini() {
  static auto r = load_knowledge_base(TUNNELDOC_TEST_DATA "/data/mini-kb");
  REQUIRE(r.ok());
  return r.kb;
}

std::string field(const Fields& f, std::string_view name) {
  for (const auto& [k, v] : f)
    if (k == name) return std::string(v);
  return "<none>";
}
}  // namespace

TEST_CASE("a line whose key no signature uses matches nothing", "[match]") {
  const Matcher m(mini());
  Fields f;
  CHECK(m.match(parse_line("%ASA-6-302013: Built inbound TCP connection"), f) == nullptr);
  CHECK(m.match(parse_line("%SYS-5-CONFIG_I: Configured from console"), f) == nullptr);
  CHECK_FALSE(m.knows_key("302013"));
  CHECK(m.knows_key("713904"));
  CHECK(m.knows_key("CRYPTO-IKMP_NO_SA"));
}

TEST_CASE("priority decides among one key's signatures, with a fallback", "[match]") {
  const Matcher m(mini());
  Fields f;
  const Signature* s =
      m.match(parse_line("<165>Nov 26 2026 09:20:11 hq-asa : %ASA-5-713904: IP = 203.0.113.9, Received an "
                         "un-encrypted NO_PROPOSAL_CHOSEN notify message, drop"),
              f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "specific-713904");
  CHECK(field(f, "peer_ip") == "203.0.113.9");
  CHECK(field(f, "what") == "NO_PROPOSAL_CHOSEN");
  s = m.match(parse_line("%FTD-3-713904: IP = 198.51.100.2, Something unrelated"), f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "generic-713904");
  CHECK(f.size() == 1);
}

TEST_CASE("IOS mnemonics match by FACILITY-MNEMONIC whatever the severity", "[match]") {
  const Matcher m(mini());
  Fields f;
  for (const char* line :
       {"%CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA",
        "<189>45: *Mar  1 00:31:55.431: %CRYPTO-6-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA"}) {
    const Signature* s = m.match(parse_line(line), f);
    REQUIRE(s != nullptr);
    CHECK(s->id == "ikmp-no-sa");
    CHECK(field(f, "peer_ip") == "198.51.100.7");
  }
}

TEST_CASE("keyless lines go through the set; the higher priority wins", "[match]") {
  const Matcher m(mini());
  Fields f;
  const Signature* s = m.match(parse_line("   Rekey     : no           State     : MM_WAIT_MSG_6"), f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "msg6");
  CHECK(field(f, "state") == "MM_WAIT_MSG_6");
  s = m.match(parse_line("State : MM_WAIT_MSG2"), f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "keyless-low");
  CHECK(f.empty());
  CHECK(m.match(parse_line("State : MM_ACTIVE"), f) == nullptr);
}

TEST_CASE("keyed lines never reach keyless signatures", "[match]") {
  const Matcher m(mini());
  Fields f;
  CHECK(m.match(parse_line("%ASA-6-302013: State : MM_WAIT_MSG6"), f) == nullptr);
}

TEST_CASE("fields are cleared when nothing matches", "[match]") {
  const Matcher m(mini());
  Fields f{{"stale", "value"}};
  CHECK(m.match(parse_line("nothing here"), f) == nullptr);
  CHECK(f.empty());
}

TEST_CASE("a known id with an unknown wording gets the id's fallback, with lenient fields", "[match][fallback]") {
  const Matcher m(mini());
  Fields f;
  const Signature* s =
      m.match(parse_line("%CRYPTO-4-IKMP_NO_SA: IKE msg from peer=203.0.113.9 carries no SA (reworded)"), f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "ikmp-no-sa-fallback");
  CHECK(s->fallback);
  CHECK(field(f, "peer_ip") == "203.0.113.9");
  // The specific signature still wins when its wording is there.
  s = m.match(parse_line("%CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA"), f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "ikmp-no-sa");
}

TEST_CASE("the shipped fallbacks extract peer, group and user from every tag form", "[match][fallback]") {
  static auto r = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  REQUIRE(r.ok());
  const Matcher m(r.kb);
  Fields f;
  struct Case {
    const char* line;
    const char* peer;
    const char* group;
    const char* user;
  };
  const Case cases[] = {
      {"%ASA-4-713903: Group = RA-VPN, Username = jdoe, IP = 198.51.100.23, Error: something new failed",
       "198.51.100.23", "RA-VPN", "jdoe"},
      {"%ASA-4-713903: Group=RA-VPN, Username=jdoe, IP=198.51.100.23, Error: something new failed", "198.51.100.23",
       "RA-VPN", "jdoe"},
      {"%ASA-4-750003: Local:198.51.100.1:500 Remote:203.0.113.9:500 Username:branch-7 IKEv2 Negotiation aborted due "
       "to ERROR: a new reason",
       "203.0.113.9", "<none>", "branch-7"},
      {"%ASA-4-722037: Group <RA> User <jdoe> IP <198.51.100.23> SVC closing connection: Mystery failure.",
       "198.51.100.23", "RA", "jdoe"},
  };
  for (const auto& c : cases) {
    INFO(c.line);
    const Signature* s = m.match(parse_line(c.line), f);
    REQUIRE(s != nullptr);
    CHECK(s->fallback);
    CHECK(s->confidence == Confidence::low);
    CHECK(field(f, "peer_ip") == c.peer);
    CHECK(field(f, "group") == c.group);
    CHECK(field(f, "user") == c.user);
  }
  // Routine text of the generic family is not a failure: no diagnosis.
  CHECK(m.match(parse_line("%ASA-7-713906: IKE Receiver: Packet received on 198.51.100.1:500 from 203.0.113.9:500"),
                f) == nullptr);
}

TEST_CASE("a signature's groups come from its leftmost match, as an unanchored search gives them", "[match]") {
  // Patterns are compiled as ^(?s:.*?)(?:PATTERN) so that RE2 finds the match
  // in one forward pass; the lazy prefix must keep the leftmost match.
  const Matcher m(mini());
  Fields f;
  const Signature* s = m.match(parse_line("%FTD-3-713904: note IP = 198.51.100.2, then IP = 192.0.2.7, again"), f);
  REQUIRE(s != nullptr);
  CHECK(s->id == "generic-713904");
  CHECK(field(f, "peer_ip") == "198.51.100.2");
  // A line break before the match does not hide it ('.' in the prefix crosses lines).
  s = m.match(parse_line("%FTD-3-713904: first line\nIP = 192.0.2.9, second line"), f);
  REQUIRE(s != nullptr);
  CHECK(field(f, "peer_ip") == "192.0.2.9");
}
