// What one reader sees: the language of the text (translations) and the
// commands of the operator's software version.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "temp_file.h"
#include "tunneldoc/commands.h"
#include "tunneldoc/config.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/render.h"

using namespace tunneldoc;
using nlohmann::json;

namespace {

std::shared_ptr<const KnowledgeBase> load(const std::string& dir) {
  const LoadResult r = load_knowledge_base(dir);
  for (const auto& p : r.problems) UNSCOPED_INFO(p.to_string());
  REQUIRE(r.ok());
  return r.kb;
}

std::shared_ptr<const KnowledgeBase> mini() {
  static const auto kb = load(TUNNELDOC_TEST_DATA "/data/mini-kb");
  return kb;
}

std::shared_ptr<const KnowledgeBase> shipped() {
  static const auto kb = load(TUNNELDOC_SIGNATURE_DIR);
  return kb;
}

json render(const std::shared_ptr<const KnowledgeBase>& kb, const std::string& line, const Audience& audience) {
  Recognizer recognizer(std::make_shared<const Matcher>(kb), 2026);
  Origin origin;
  origin.source = "file:asa.log";
  origin.line = 1;
  Event event;
  REQUIRE(recognizer.recognize(line, origin, false, 1795685411004, event) != nullptr);
  JsonRenderer renderer(audience);
  std::string out;
  renderer.render(*line_output(kb, std::make_shared<const Event>(std::move(event))), out);
  return json::parse(out);
}

bool has_command(const std::vector<CommandGroup>& groups, std::string_view platform, std::string_view text) {
  for (const auto& g : groups)
    if (g.platform == platform)
      for (const auto& c : g.commands)
        if (c.find(text) != std::string::npos) return true;
  return false;
}

bool has_problem(const LoadResult& r, const std::string& text, int line) {
  for (const auto& p : r.problems)
    if (p.message.find(text) != std::string::npos && p.where.line == line) return true;
  return false;
}

}  // namespace

TEST_CASE("software versions compare number by number against a range", "[audience][versions]") {
  struct Case {
    const char* version;
    const char* range;
    bool in;
  };
  const Case cases[] = {
      {"9.16", "8.4+", true},
      {"8.4", "8.4+", true},
      {"8.4(2)", "8.4+", true},
      {"8.3(2)", "8.4+", false},
      {"8.3(2)", "<8.4", true},
      {"8.2", "<8.4", true},
      {"9.16", "<8.4", false},
      {"8.4(1)", "<8.4", false},
      {"9.16", "9.2+", true},  // 16 > 2: not a string comparison
      {"9.2", "9.16+", false},
      {"8.3(1)", "8.3", true},
      {"8.30", "8.3", false},
      {"6.3(5)", "6.x", true},
      {"7.0", "6.x", false},
      {"12.4", "12.4-15.1", true},
      {"15.1(4)M", "12.4-15.1", true},
      {"15.2", "12.4-15.1", false},
      {"12.3(14)T", "12.4-15.1", false},
      {"anything", "", true},
  };
  for (const Case& c : cases) {
    INFO(c.version << " in " << c.range);
    CHECK(version_in_range(c.version, c.range) == c.in);
  }
}

TEST_CASE("a version choice is PLATFORM=VERSION, one per platform", "[audience][versions]") {
  SoftwareVersions v;
  CHECK(add_software_version("asa=9.16", v).empty());
  CHECK(add_software_version("ios=15.4(3)M2", v).empty());
  CHECK(add_software_version("asa=8.2(5)", v).empty());  // replaces the first
  CHECK(v == SoftwareVersions{{"asa", "8.2(5)"}, {"ios", "15.4(3)M2"}});
  CHECK(add_software_version("asa9.16", v).find("PLATFORM=VERSION") != std::string::npos);
  CHECK(add_software_version("fortigate=7.2", v).find("unknown platform 'fortigate'") != std::string::npos);
  CHECK(add_software_version("asa=latest", v).find("not a software version") != std::string::npos);
  CHECK(add_software_version("asa=9..1", v).find("not a software version") != std::string::npos);
  CHECK(add_software_version("asa=", v).find("not a software version") != std::string::npos);
  CHECK(v.size() == 2);
}

TEST_CASE("a chosen version leaves out the commands of other versions, in records and sections",
          "[audience][versions]") {
  const auto kb = shipped();
  const Section* ts = kb->find_section("transform-set");
  REQUIRE(ts != nullptr);
  // No choice: every group, labelled.
  CHECK(has_command(ts->command_groups(), "asa", "set transform-set"));
  CHECK(has_command(ts->command_groups(), "asa", "set ikev1 transform-set"));
  const SoftwareVersions v916{{"asa", "9.16"}};
  CHECK_FALSE(has_command(ts->command_groups(v916), "asa", "crypto map <map-name> <seq> set transform-set"));
  CHECK(has_command(ts->command_groups(v916), "asa", "set ikev1 transform-set"));
  CHECK(has_command(ts->command_groups(v916), "ios", "set transform-set"));  // other platforms untouched
  const SoftwareVersions v82{{"asa", "8.2"}};
  CHECK_FALSE(has_command(ts->command_groups(v82), "asa", "ikev1"));
  for (const auto& [platform, list] : ts->all_commands(v82)) {
    if (platform != "asa") continue;
    for (const auto& c : list) CHECK(c.find("ikev1") == std::string::npos);
  }
  // The record: commands and command_groups of the remedy follow the choice.
  Audience audience;
  audience.versions = v916;
  const json j =
      render(kb, "%ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop",
             audience);
  bool seen = false;
  for (const auto& r : j["remedies"]) {
    if (r["section"] != "transform-set") continue;
    seen = true;
    for (const auto& c : r["commands"]["asa"])
      CHECK(c.get<std::string>().find(" set transform-set") == std::string::npos);
    for (const auto& g : r["command_groups"]) CHECK(g["versions"] != "<8.4");
  }
  CHECK(seen);
}

TEST_CASE("in every section, the ASA commands of one chosen version are of that version only", "[audience][versions]") {
  // What a copied sequence must not contain: the other syntax of each change
  // the knowledge base labels (docs/knowledge-base.md, "The operator's software version").
  struct Era {
    const char* version;
    std::vector<const char*> foreign;
  };
  const Era eras[] = {
      {"8.2(5)",
       {R"((^| )ikev1( |$)|ikev2)", R"(^object network)", R"(^nat \(\w+,\w+\))", R"(anyconnect ssl)",
        R"(ssl-clientless)", R"(max-other-vpn-limit)", R"(detail anyconnect)"}},
      {"9.16",
       {R"(^crypto isakmp (enable|policy|ipsec-over-tcp))", R"(^isakmp (policy|key|nat-traversal))",
        R"((^| )set transform-set)", R"(^crypto ipsec transform-set)", R"(^pre-shared-key)",
        R"(^nat \(\w+\) 0 access-list)", R"(^global \()", R"(^svc |detail svc)", R"(permit-ipsec)",
        R"(^vpn-tunnel-protocol .*(^| )(ipsec|webvpn)( |$))", R"(max-session-limit)",
        R"(^show running-config crypto isakmp$)"}},
  };
  const auto kb = shipped();
  for (const Era& era : eras) {
    const SoftwareVersions chosen{{"asa", era.version}};
    for (const Section& s : kb->sections()) {
      std::vector<CommandGroup> groups = s.command_groups(chosen);
      for (const CommandGroup& g : s.verify_groups)
        if (applies(g, chosen)) groups.push_back(g);
      for (const CommandGroup& g : groups) {
        if (g.platform != "asa") continue;
        for (const std::string& c : g.commands) {
          for (const char* pattern : era.foreign) {
            INFO("asa " << era.version << ", section " << s.slug << ": " << c << " (matches " << pattern << ")");
            CHECK_FALSE(std::regex_search(c, std::regex(pattern, std::regex::icase)));
          }
        }
      }
    }
  }
}

TEST_CASE("explain --version-of shows only that version's commands", "[audience][versions]") {
  ExplainOptions o;
  o.signatures = TUNNELDOC_SIGNATURE_DIR;
  o.query = "transform-set";
  std::ostringstream all, chosen, err;
  REQUIRE(run_explain(o, all, err) == 0);
  CHECK(all.str().find("asa <8.4:") != std::string::npos);
  CHECK(all.str().find("asa 8.4+:") != std::string::npos);
  add_software_version("asa=9.8", o.audience.versions);
  REQUIRE(run_explain(o, chosen, err) == 0);
  CHECK(chosen.str().find("asa <8.4:") == std::string::npos);
  CHECK(chosen.str().find("asa 8.4+:") != std::string::npos);
}

TEST_CASE("records say their language; a translated entry renders in zh-TW, an untranslated one in English",
          "[audience][lang]") {
  const std::string specific =
      "%ASA-5-713904: IP = 1.2.3.4, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message";
  const json en = render(mini(), specific, {});
  CHECK(en["lang"] == "en");
  CHECK(en["title"] == "Specific");
  Audience zh;
  zh.lang = "zh-TW";
  const json j = render(mini(), specific, zh);
  CHECK(j["lang"] == "zh-TW");
  CHECK(j["title"] == "特定");
  CHECK(j["diagnosis"] == "提議。");
  REQUIRE(j["remedies"].size() == 2);
  CHECK(j["remedies"][0]["title"] == "預共用金鑰不相符");
  CHECK(j["remedies"][0]["steps"] == json::array({"比對金鑰。", "重新輸入金鑰。"}));
  CHECK(j["remedies"][0]["commands"]["asa"][1] == "ikev1 pre-shared-key <key>");  // commands stay as they are
  CHECK(j["remedies"][1]["title"] == "Clear SAs");                                // no translation: the English
  // An entry without a translation stays English and says so.
  const json generic = render(mini(), "%ASA-5-713904: IP = 1.2.3.4, anything", zh);
  CHECK(generic["lang"] == "en");
  CHECK(generic["title"] == "Generic");
}

TEST_CASE("an implicit fallback's translation is built like its English", "[audience][lang][fallback]") {
  const Signature* f = mini()->find_signature("ikmp-no-sa-fallback");
  REQUIRE(f != nullptr);
  REQUIRE(f->synthesized);
  const EntryText* zh = find_translation(f->translations, "zh-TW");
  REQUIRE(zh != nullptr);
  CHECK(zh->title == "沒有 SA（依訊息代碼判定）");
  CHECK(f->title == "No SA (by message id)");
  CHECK(zh->diagnosis.rfind("無法辨識這則訊息的文字", 0) == 0);
  CHECK(zh->diagnosis.size() > std::string("兩端對 SA 的認知不一致。").size());
  CHECK(zh->diagnosis.substr(zh->diagnosis.size() - std::string("兩端對 SA 的認知不一致。").size()) ==
        "兩端對 SA 的認知不一致。");
  Audience audience;
  audience.lang = "zh-TW";
  const json j = render(mini(), "%CRYPTO-4-IKMP_NO_SA: a wording from another release", audience);
  CHECK(j["signature"] == "ikmp-no-sa-fallback");
  CHECK(j["lang"] == "zh-TW");
  CHECK(j["title"] == "沒有 SA（依訊息代碼判定）");
}

TEST_CASE("every translation problem is reported with file and line", "[audience][lang][bad-input]") {
  const LoadResult r = load_knowledge_base(TUNNELDOC_TEST_DATA "/data/broken-translations");
  REQUIRE_FALSE(r.ok());
  for (const auto& p : r.problems) INFO(p.to_string());
  CHECK(has_problem(r, "unknown section 'psk-mismatch' zh-TW translation field 'sumary'", 12));
  CHECK(has_problem(r, "missing 'summary'", 11));
  CHECK(has_problem(r, "section 'psk-mismatch' zh-TW has 1 step, the section 2", 14));
  CHECK(has_problem(r, "section 'psk-mismatch' zh-TW: the caution is not translated", 11));
  CHECK(has_problem(r, "section 'clear-sa' zh-TW: a caution the English has not", 24));
  CHECK(has_problem(r, "missing 'diagnosis'", 35));
  CHECK(has_problem(r, "unknown signature field 'zh-CN'", 36));
  CHECK(has_problem(r, "signature 'string-translation' zh-TW: a translation is a mapping", 49));
  CHECK(has_problem(r, "missing 'title'", 63));
}

TEST_CASE("configuration: language and versions, and their errors with lines", "[audience][config]") {
  SECTION("set") {
    TempFile f("language: zh-TW\nversions: {asa: \"9.16\", ios: \"15.4(3)M\"}\n");
    const ConfigResult r = load_config(f.path);
    INFO((r.errors.empty() ? std::string() : r.errors[0]));
    REQUIRE(r.ok());
    CHECK(r.config.audience.lang == "zh-TW");
    CHECK(r.config.audience.versions == SoftwareVersions{{"asa", "9.16"}, {"ios", "15.4(3)M"}});
  }
  SECTION("defaults") {
    TempFile f("output: \"-\"\n");
    const ConfigResult r = load_config(f.path);
    REQUIRE(r.ok());
    CHECK(r.config.audience.lang == "en");
    CHECK(r.config.audience.versions.empty());
  }
  SECTION("errors") {
    TempFile f("language: klingon\nversions:\n  asa: newest\n  fortigate: \"7.2\"\n");
    const ConfigResult r = load_config(f.path);
    std::string all;
    for (const auto& e : r.errors) all += e + "\n";
    INFO(all);
    CHECK(all.find(":1: \"language\" must be en or zh-TW") != std::string::npos);
    CHECK(all.find(":3: versions: 'newest' is not a software version of asa") != std::string::npos);
    CHECK(all.find(":4: unknown option \"fortigate\" in versions") != std::string::npos);
  }
}

TEST_CASE("scan --lang zh-TW --version-of: the records of a scan follow the audience", "[audience][scan]") {
  TempFile f("%ASA-5-713904: IP = 1.2.3.4, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message\n");
  ScanOptions o;
  o.files = {f.path};
  o.signatures = TUNNELDOC_SIGNATURE_DIR;
  o.audience.lang = "zh-TW";
  o.audience.versions = {{"asa", "8.2"}};
  std::ostringstream out, err;
  REQUIRE(run_scan(o, out, err) == 0);
  const json j = json::parse(out.str());
  CHECK(j["lang"] == "zh-TW");
  CHECK(j["title"] == "對等體拒絕了所有 IKE 提議");
  bool seen = false;
  for (const auto& r : j["remedies"]) {
    if (r["section"] != "transform-set") continue;
    seen = true;
    for (const auto& c : r["commands"]["asa"]) CHECK(c.get<std::string>().find("ikev1") == std::string::npos);
  }
  CHECK(seen);
}
