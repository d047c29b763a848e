// The loader validates everything and reports every problem with file and line.
#include "tunneldoc/knowledge_base.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "tunneldoc/matcher.h"

using tunneldoc::load_knowledge_base;

namespace {
const std::string kData = TUNNELDOC_TEST_DATA "/data/";

bool has_problem(const tunneldoc::LoadResult& r, const std::string& file, const std::string& text) {
  return std::any_of(r.problems.begin(), r.problems.end(), [&](const tunneldoc::LoadProblem& p) {
    return p.where.file.find(file) != std::string::npos && p.message.find(text) != std::string::npos &&
           p.where.line > 0;
  });
}
}  // namespace

TEST_CASE("a valid knowledge base loads", "[kb]") {
  const auto r = load_knowledge_base(kData + "mini-kb");
  INFO((r.problems.empty() ? std::string() : r.problems.front().to_string()));
  REQUIRE(r.ok());
  const auto& kb = *r.kb;
  CHECK(kb.sections().size() == 2);
  // Five from the YAML, and the implicit fallback of CRYPTO-IKMP_NO_SA (the
  // only key with exactly one signature; 713904 has two and no fallback).
  CHECK(kb.signatures().size() == 6);
  const auto* implicit = kb.find_signature("ikmp-no-sa-fallback");
  REQUIRE(implicit != nullptr);
  CHECK(implicit->fallback);
  CHECK(implicit->synthesized);
  CHECK(implicit->confidence == tunneldoc::Confidence::low);
  CHECK(implicit->keys == std::vector<std::string>{"CRYPTO-IKMP_NO_SA"});
  CHECK(implicit->sections == kb.find_signature("ikmp-no-sa")->sections);
  CHECK(kb.version().size() == 12);
  const auto* psk = kb.find_section("psk-mismatch");
  REQUIRE(psk != nullptr);
  CHECK(psk->steps.size() == 2);
  CHECK(psk->steps[1].commands.size() == 2);
  CHECK_FALSE(psk->caution.has_value());
  CHECK(psk->related == std::vector<std::string>{"clear-sa"});
  const auto* clear = kb.find_section("clear-sa");
  REQUIRE(clear != nullptr);
  REQUIRE(clear->caution.has_value());
  // Commands come out in the fixed platform order (asa before ios) whatever the YAML order.
  const auto all = clear->all_commands();
  REQUIRE(all.size() == 2);
  CHECK(all[0].first == "asa");
  CHECK(all[1].first == "ios");
  const auto by_key = kb.signatures_for_key("713904");
  REQUIRE(by_key.size() == 2);
  CHECK(by_key[0]->id == "specific-713904");  // higher priority first
}

TEST_CASE("every problem of a broken knowledge base is reported with file and line", "[kb][bad-input]") {
  const auto r = load_knowledge_base(kData + "broken-kb");
  REQUIRE_FALSE(r.ok());
  for (const auto& p : r.problems) INFO(p.to_string());
  CHECK(has_problem(r, "signatures.yaml", "unknown section 'no-such-section'"));
  CHECK(has_problem(r, "signatures.yaml", "signature 'bad-regex': bad pattern: invalid named capture group: (?P<unclosed"));
  // Valid only inside the wrapper the matcher compiles patterns in: still rejected.
  CHECK(has_problem(r, "signatures.yaml", "signature 'unbalanced-regex': bad pattern: unexpected ): a)|(b"));
  CHECK(has_problem(r, "signatures.yaml", "has no examples"));
  CHECK(has_problem(r, "signatures.yaml", "confidence must be high, medium or low"));
  CHECK(has_problem(r, "signatures.yaml", "duplicate signature id 'no-examples'"));
  CHECK(has_problem(r, "examples.yaml", "does not match"));
  CHECK(has_problem(r, "examples.yaml", "yields fields { peer_ip=1.2.3.4 } but expects { peer_ip=9.9.9.9 }"));
  CHECK(has_problem(r, "syntax.yaml", "YAML syntax error"));
  CHECK(has_problem(r, "signatures.yaml", "signature 'no-source' names no source for its wording"));
  CHECK(has_problem(r, "signatures.yaml", "unknown source kind 'my memory'"));
  CHECK(has_problem(r, "signatures.yaml", "a public-fixture source must say where"));
  CHECK(has_problem(r, "signatures.yaml", "fallback 'sure-fallback' must have confidence low"));
  CHECK(has_problem(r, "signatures.yaml", "message id '713042' has a second fallback ('second-fallback'"));
  CHECK(has_problem(r, "signatures.yaml", "fallback 'keyless-fallback' needs keys"));
  CHECK(has_problem(r, "sections.yaml", "bad version range 'eight' for asa"));
  CHECK(r.problems.size() >= 15);
}

TEST_CASE("problems come in file order, the same every time, though files are parsed on several threads",
          "[kb][bad-input]") {
  const auto first = load_knowledge_base(kData + "broken-kb");
  REQUIRE_FALSE(first.ok());
  CHECK(first.matcher == nullptr);
  for (int i = 0; i < 20; ++i) {
    const auto again = load_knowledge_base(kData + "broken-kb");
    REQUIRE(again.problems.size() == first.problems.size());
    for (std::size_t j = 0; j < first.problems.size(); ++j)
      CHECK(again.problems[j].to_string() == first.problems[j].to_string());
  }
  const auto ok = load_knowledge_base(kData + "mini-kb");
  REQUIRE(ok.ok());
  REQUIRE(ok.matcher != nullptr);
  CHECK(&ok.matcher->kb() == ok.kb.get());  // the index the examples ran on, shared with its users
}

TEST_CASE("a missing directory or catalogue is a problem, not a crash", "[kb][bad-input]") {
  CHECK_FALSE(load_knowledge_base("/nonexistent/kb").ok());
  CHECK_FALSE(load_knowledge_base(kData + "..").ok());  // tests/ has no catalogue.tsv
}

TEST_CASE("the shipped knowledge base loads, covers every catalogue slug, and loads quickly enough to matter", "[kb]") {
  const auto r = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  for (const auto& p : r.problems) INFO(p.to_string());
  REQUIRE(r.ok());
  CHECK(r.kb->catalogue().size() == 65);
  for (const auto& c : r.kb->catalogue()) {
    INFO(c.slug);
    CHECK(r.kb->find_section(c.slug) != nullptr);
  }
}

TEST_CASE("commands that differ between releases are grouped by version range", "[kb][versions]") {
  const auto r = load_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  REQUIRE(r.ok());
  const auto* ts = r.kb->find_section("transform-set");
  REQUIRE(ts != nullptr);
  const auto groups = ts->command_groups();
  auto find = [&](const std::string& platform, const std::string& versions) -> const tunneldoc::CommandGroup* {
    for (const auto& g : groups)
      if (g.platform == platform && g.versions == versions) return &g;
    return nullptr;
  };
  const auto* old_asa = find("asa", "<8.4");
  const auto* new_asa = find("asa", "8.4+");
  REQUIRE(old_asa != nullptr);
  REQUIRE(new_asa != nullptr);
  // A copied 8.4+ sequence has no pre-8.4 syntax and the other way round.
  for (const auto& c : new_asa->commands) CHECK(c.find("set transform-set") == std::string::npos);
  for (const auto& c : old_asa->commands) CHECK(c.find("ikev1") == std::string::npos);
  // The record's `commands` keeps every version under the platform (compatibility).
  const auto all = ts->all_commands();
  REQUIRE_FALSE(all.empty());
  CHECK(all[0].first == "asa");
  CHECK(all[0].second.size() >= old_asa->commands.size() + new_asa->commands.size());
  // PIX 6.x commands are no longer mixed into asa.
  const auto* psk = r.kb->find_section("reenter-psk");
  REQUIRE(psk != nullptr);
  for (const auto& g : psk->command_groups()) {
    if (g.platform != "asa") continue;
    for (const auto& c : g.commands) CHECK(c.rfind("isakmp key", 0) != 0);
  }
}
