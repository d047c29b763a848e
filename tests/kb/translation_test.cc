// Translations of the shipped knowledge base: every entry has every language,
// and a zh-TW rendering holds no untranslated English sentence (the rule is in
// untranslated.h and docs/knowledge-base.md).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "kb_eval.h"
#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/render.h"
#include "untranslated.h"

using namespace tunneldoc;
using nlohmann::ordered_json;

namespace {

std::shared_ptr<const KnowledgeBase> shipped() {
  static const LoadResult loaded = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) UNSCOPED_INFO(p.to_string());
  }
  REQUIRE(loaded.ok());
  return loaded.kb;
}

// Everything a translation may quote as it is.
const untranslated::Literals& literals() {
  static const untranslated::Literals all = [] {
    untranslated::Literals l;
    const KnowledgeBase& kb = *shipped();
    for (const Section& s : kb.sections()) {
      l.add(s.slug);
      l.add_quoted(s.title);
      l.add_quoted(s.summary);
      if (s.caution) l.add_quoted(*s.caution);
      for (const Step& step : s.steps) {
        l.add_quoted(step.text);
        for (const auto& g : step.groups)
          for (const auto& c : g.commands) l.add(c);
      }
      for (const auto& g : s.verify_groups)
        for (const auto& c : g.commands) l.add(c);
    }
    for (const Signature& s : kb.signatures()) {
      l.add(s.id);
      for (const auto& k : s.keys) l.add(k);
      l.add_quoted(s.title);
      l.add_quoted(s.diagnosis);
      for (const auto& e : s.examples) l.add(e.line);
      for (const auto& e : s.counter_examples) l.add(e.line);
    }
    for (const Rule& r : kb.rules()) {
      l.add(r.id);
      l.add_quoted(r.title);
      l.add_quoted(r.diagnosis);
    }
    return l;
  }();
  return all;
}

// Every prose member of a record (or of signature_json): title, diagnosis, and
// each remedy's title, summary, steps and caution.
void each_prose(const ordered_json& j, const std::function<void(const std::string&, const std::string&)>& f) {
  f("title", j.at("title").get<std::string>());
  // Clearing and observed signatures have no diagnosis ("").
  if (j.at("diagnosis").is_string() && !j.at("diagnosis").get<std::string>().empty())
    f("diagnosis", j.at("diagnosis").get<std::string>());
  for (const auto& r : j.at("remedies")) {
    const std::string at = "remedy " + r.at("section").get<std::string>();
    f(at + " title", r.at("title").get<std::string>());
    f(at + " summary", r.at("summary").get<std::string>());
    for (const auto& step : r.at("steps")) f(at + " step", step.get<std::string>());
    if (r.at("caution").is_string()) f(at + " caution", r.at("caution").get<std::string>());
  }
}

// The problems of one translated text: "" when it is fine.
std::string problem_of(const std::string& text) {
  if (!untranslated::has_cjk(text)) return "no Chinese at all";
  const std::string run = untranslated::english_run(text, literals());
  return run.empty() ? std::string() : "untranslated English: '" + run + "'";
}

}  // namespace

TEST_CASE("the untranslated-English rule: runs of English words outside literals", "[kb][translation]") {
  untranslated::Literals l;
  l.add("show crypto isakmp sa detail");
  l.add_quoted(R"(the VPN Client reports "Reason 412: The remote peer is no longer responding")");
  using untranslated::english_run;
  // Three words in a row are a name or a term; four are a sentence.
  CHECK(english_run("請開啟 Enable Transparent Tunneling 選項", l).empty());
  CHECK(english_run("請 check the route first 之後", l) == "check the route first");
  CHECK(english_run("執行 show crypto isakmp sa 確認", l).empty());  // a command without quotes
  CHECK(english_run("執行 show crypto isakmp sa and wait 確認", l) == "show crypto isakmp sa and wait");
  CHECK(english_run("Check the route to the remote network.", l) == "Check the route to the remote network");
  // Punctuation, numbers and message ids end a run.
  CHECK(english_run("IPSec over UDP (NAT / PAT) 與 %ASA-3-305006 訊息", l).empty());
  // Quoted literals are skipped; a quoted sentence that is no literal is not.
  CHECK(english_run("執行「show crypto isakmp sa」確認", l).empty());
  CHECK(english_run("VPN Client 顯示「Reason 412: The remote peer is no longer responding」", l).empty());
  CHECK(english_run("「Reason 412: ... no longer responding」", l).empty());
  CHECK(english_run("「please make sure it works」", l) == "please make sure it works");
  CHECK(untranslated::has_cjk("設定"));
  CHECK_FALSE(untranslated::has_cjk("Clear the SAs"));
}

TEST_CASE("every section, signature and rule has every language", "[kb][translation]") {
  const KnowledgeBase& kb = *shipped();
  for (std::string_view lang : kLanguages) {
    if (lang == "en") continue;
    int sections = 0, signatures = 0, rules = 0;
    for (const Section& s : kb.sections()) {
      INFO(s.slug << " " << lang);
      CHECK(find_translation(s.translations, lang) != nullptr);
      ++sections;
    }
    for (const Signature& s : kb.signatures()) {
      INFO(s.id << " " << lang);
      const EntryText* t = find_translation(s.translations, lang);
      REQUIRE(t != nullptr);
      CHECK(t->diagnosis.empty() == s.diagnosis.empty());
      ++signatures;
    }
    for (const Rule& r : kb.rules()) {
      if (r.title.empty()) continue;  // enriches other records; no text of its own
      INFO(r.id << " " << lang);
      CHECK(find_translation(r.translations, lang) != nullptr);
      ++rules;
    }
    CHECK(sections == 65);
    CHECK(signatures >= 200);
    CHECK(rules >= 8);
  }
}

TEST_CASE("a zh-TW rendering of every entry holds no untranslated English sentence", "[kb][translation]") {
  const KnowledgeBase& kb = *shipped();
  Audience zh;
  zh.lang = "zh-TW";
  auto check_entry = [&](const std::string& id, const ordered_json& j) {
    CHECK(j.at("lang") == "zh-TW");
    each_prose(j, [&](const std::string& where, const std::string& text) {
      INFO(id << " " << where << ": " << text);
      CHECK(problem_of(text) == "");
    });
  };
  for (const Signature& s : kb.signatures()) check_entry(s.id, signature_json(s, kb, zh));
  for (const Rule& r : kb.rules()) {
    if (!r.title.empty()) check_entry(r.id, rule_json(r, kb, zh));
  }
  for (const Section& s : kb.sections()) {
    const ordered_json j = section_json(s, zh);
    for (const char* member : {"title", "summary", "caution"}) {
      if (!j.at(member).is_string()) continue;
      INFO(s.slug << " " << member);
      CHECK(problem_of(j.at(member)) == "");
    }
    for (const auto& step : j.at("steps")) {
      INFO(s.slug << " step: " << step);
      CHECK(problem_of(step) == "");
    }
  }
}

TEST_CASE("scan --lang zh-TW writes every diagnosis of the evaluation set in Traditional Chinese",
          "[kb][translation]") {
  std::vector<std::string> problems;
  const auto rows = kbeval::read_eval(TUNNELDOC_KB_TEST_DATA "/eval.tsv", problems);
  char name[] = "/tmp/tunneldoc-kb-zh-XXXXXX";
  const int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  {
    std::ofstream f(name);
    for (const auto& row : rows) f << row.line << '\n';
  }
  ScanOptions options;
  options.files = {name};
  options.signatures = TUNNELDOC_SIGNATURE_DIR;
  options.stream = Stream::all;
  options.audience.lang = "zh-TW";
  std::ostringstream out, err;
  CHECK(run_scan(options, out, err) == 0);
  std::remove(name);
  std::istringstream in(out.str());
  std::string line;
  int records = 0;
  while (std::getline(in, line)) {
    const auto j = ordered_json::parse(line);
    ++records;
    INFO(j.at("signature").get<std::string>());
    CHECK(j.at("lang") == "zh-TW");
    each_prose(j, [&](const std::string& where, const std::string& text) {
      INFO(where << ": " << text);
      CHECK(problem_of(text) == "");
    });
  }
  CHECK(records >= 150);
}
