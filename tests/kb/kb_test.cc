// Knowledge-base content tests: the evaluation set and the negative corpus, the
// committed coverage report, and `explain` for everything the knowledge base
// knows.
#define CATCH_CONFIG_MAIN
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "kb_eval.h"
#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/parse.h"

namespace {

const std::string kSignatures = TUNNELDOC_SIGNATURE_DIR;
const std::string kKbData = TUNNELDOC_KB_TEST_DATA;
const std::string kSourceDir = TUNNELDOC_SOURCE_DIR;

std::shared_ptr<const tunneldoc::KnowledgeBase> kb() {
  static const tunneldoc::LoadResult loaded = tunneldoc::load_knowledge_base(kSignatures);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) UNSCOPED_INFO(p.to_string());
  }
  REQUIRE(loaded.ok());
  return loaded.kb;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("eval.tsv: every line gets its expected signature", "[kb][eval]") {
  std::vector<std::string> problems;
  const auto rows = tunneldoc::kbeval::read_eval(kKbData + "/eval.tsv", problems);
  REQUIRE(problems.empty());
  REQUIRE(rows.size() >= 250);
  std::vector<std::string> none;
  tunneldoc::kbeval::Result r;
  const tunneldoc::Matcher matcher(kb());
  tunneldoc::kbeval::score(matcher, rows, "eval.tsv", r, false);
  for (const auto& m : r.mismatches) {
    UNSCOPED_INFO("eval.tsv:" << m.number << ": expected " << m.expected << ", got " << m.got << ": " << m.line);
  }
  CHECK(r.mismatches.empty());
}

TEST_CASE("eval.tsv: every expected signature exists and every slug is in the catalogue", "[kb][eval]") {
  std::vector<std::string> problems;
  const auto rows = tunneldoc::kbeval::read_eval(kKbData + "/eval.tsv", problems);
  const auto& k = *kb();
  std::set<std::string> slugs;
  for (const auto& c : k.catalogue()) slugs.insert(c.slug);
  for (const auto& row : rows) {
    INFO("eval.tsv:" << row.number);
    if (row.expected != "-") CHECK(k.find_signature(row.expected) != nullptr);
    for (const auto& s : row.slugs) CHECK(slugs.count(s) == 1);
  }
}

TEST_CASE("eval.tsv covers every signature", "[kb][eval]") {
  std::vector<std::string> problems;
  const auto rows = tunneldoc::kbeval::read_eval(kKbData + "/eval.tsv", problems);
  std::set<std::string> used;
  for (const auto& row : rows) used.insert(row.expected);
  for (const auto& sig : kb()->signatures()) {
    if (sig.synthesized) continue;                         // no lines of their own: see the fallback tests below
    if (sig.role != tunneldoc::Role::diagnosis) continue;  // clearing and observed lines: rule examples cover them
    INFO(sig.id);
    CHECK(used.count(sig.id) == 1);
  }
}

TEST_CASE("negative corpus yields no diagnosis (matcher)", "[kb][negative]") {
  std::vector<std::string> problems;
  const auto rows = tunneldoc::kbeval::read_negative(kKbData + "/negative.log", problems);
  REQUIRE(problems.empty());
  REQUIRE(rows.size() >= 300);
  tunneldoc::kbeval::Result r;
  const tunneldoc::Matcher matcher(kb());
  tunneldoc::kbeval::score(matcher, rows, "negative.log", r, true);
  for (const auto& m : r.mismatches) UNSCOPED_INFO("negative.log:" << m.number << ": " << m.got << ": " << m.line);
  CHECK(r.negative_hits == 0);
}

TEST_CASE("negative corpus yields no diagnosis (scan)", "[kb][negative]") {
  tunneldoc::ScanOptions options;
  options.files = {kKbData + "/negative.log"};
  options.signatures = kSignatures;
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(options, out, err) == 0);
  CHECK(out.str().empty());
}

TEST_CASE("scan diagnoses every eval line the matcher diagnoses", "[kb][eval]") {
  // The same lines through `scan`, which may take a faster path than the
  // per-line matcher: one JSON line per diagnosed input line, same signature.
  std::vector<std::string> problems;
  const auto rows = tunneldoc::kbeval::read_eval(kKbData + "/eval.tsv", problems);
  char name[] = "/tmp/tunneldoc-kb-eval-XXXXXX";
  const int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  std::vector<std::string> expected;
  {
    std::ofstream f(name);
    for (const auto& row : rows) {
      f << row.line << '\n';
      if (row.expected != "-") expected.push_back(row.expected);
    }
  }
  tunneldoc::ScanOptions options;
  options.files = {name};
  options.signatures = kSignatures;
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(options, out, err) == 0);
  std::remove(name);
  std::vector<std::string> got;
  std::istringstream in(out.str());
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("kind") == "line") got.push_back(j.at("signature").get<std::string>());  // correlated records aside
  }
  CHECK(got == expected);
}

TEST_CASE("docs/coverage.md starts with the output of `tunneldoc check --coverage`", "[kb][coverage]") {
  // The rest of the file is the line evaluation (kb.coverage_doc_current checks all of it).
  tunneldoc::CheckOptions options;
  options.signatures = kSignatures;
  options.coverage = true;
  std::ostringstream out, err;
  REQUIRE(tunneldoc::run_check(options, out, err) == 0);
  const std::string committed = slurp(kSourceDir + "/docs/coverage.md");
  INFO("regenerate with: scripts/coverage-doc.sh");
  CHECK(committed.rfind(out.str(), 0) == 0);
}

TEST_CASE("real.tsv: every real line gets its expected signature, and each names its source", "[kb][real]") {
  std::vector<std::string> problems;
  const auto rows = tunneldoc::kbeval::read_real(kKbData + "/real.tsv", problems);
  for (const auto& p : problems) UNSCOPED_INFO(p);
  REQUIRE(problems.empty());
  REQUIRE(rows.size() >= 30);
  const tunneldoc::Matcher matcher(kb());
  const auto score = tunneldoc::kbeval::score_real(matcher, rows, "real.tsv");
  for (const auto& m : score.wrong_signature) {
    UNSCOPED_INFO("real.tsv:" << m.number << ": expected " << m.expected << ", got " << m.got << ": " << m.line);
  }
  CHECK(score.wrong_signature.empty());
  // Every line of issue 10's table is diagnosed with its section.
  CHECK(score.recall() == 1.0);
  CHECK(score.precision() == 1.0);
}

TEST_CASE("every message id has a fallback, explicit where the id carries several texts", "[kb][fallback]") {
  // Keys of VPN Client / VPN 3000 header lines (with '/') have none by design: the
  // header alone must yield nothing. A signature may opt out with no_fallback.
  std::map<std::string, std::vector<const tunneldoc::Signature*>> by_key;
  std::map<std::string, const tunneldoc::Signature*> fallback;
  for (const auto& sig : kb()->signatures()) {
    for (const auto& k : sig.keys) {
      if (sig.fallback) {
        fallback[k] = &sig;
      } else {
        by_key[k].push_back(&sig);
      }
    }
  }
  for (const auto& [key, sigs] : by_key) {
    INFO(key);
    if (key.find('/') != std::string::npos) {
      CHECK(fallback.count(key) == 0);
      continue;
    }
    if (sigs.size() == 1 && !sigs.front()->no_fallback.empty()) continue;
    REQUIRE(fallback.count(key) == 1);
    if (sigs.size() > 1) CHECK_FALSE(fallback[key]->synthesized);
  }
}

TEST_CASE("every implicit fallback answers an unknown wording of its ids, at low confidence", "[kb][fallback]") {
  const tunneldoc::Matcher matcher(kb());
  tunneldoc::Fields fields;
  int seen = 0;
  for (const auto& sig : kb()->signatures()) {
    if (!sig.synthesized) continue;
    ++seen;
    CHECK(sig.confidence == tunneldoc::Confidence::low);
    for (const auto& key : sig.keys) {
      // The id as an ASA or an IOS device would write it, with a text no pattern knows.
      const auto dash = key.find('-');
      const std::string line = key.find_first_not_of("0123456789") == std::string::npos
                                   ? "%ASA-4-" + key + ": IP = 203.0.113.9, zz wording from a future release zz"
                                   : "%" + key.substr(0, dash) + "-4-" + key.substr(dash + 1) +
                                         ": IP = 203.0.113.9, zz wording from a future release zz";
      INFO(sig.id << ": " << line);
      const tunneldoc::Signature* got = matcher.match(tunneldoc::parse_line(line), fields);
      REQUIRE(got != nullptr);
      CHECK(got->id == sig.id);
      CHECK(std::find(fields.begin(), fields.end(),
                      std::pair<std::string_view, std::string_view>("peer_ip", "203.0.113.9")) != fields.end());
    }
  }
  CHECK(seen >= 30);
}

TEST_CASE("every signature names where its wording comes from", "[kb][sources]") {
  for (const auto& sig : kb()->signatures()) {
    INFO(sig.id);
    CHECK_FALSE(sig.sources.empty());
  }
}

namespace {
int explain(const std::string& q, std::string& output) {
  tunneldoc::ExplainOptions options;
  options.query = q;
  options.signatures = kSignatures;
  std::ostringstream out, err;
  const int rc = tunneldoc::run_explain(options, out, err);
  output = out.str() + err.str();
  return rc;
}
}  // namespace

TEST_CASE("explain answers for every slug", "[kb][explain]") {
  for (const auto& c : kb()->catalogue()) {
    std::string out;
    INFO(c.slug);
    CHECK(explain(c.slug, out) == 0);
    CHECK(out.rfind(c.slug + ": ", 0) == 0);
  }
}

TEST_CASE("explain answers for every signature id and every message key", "[kb][explain]") {
  // Each explain call loads the knowledge base, so every distinct key is asked
  // once (bare, and as written in a log) and must list all its signatures.
  std::map<std::string, std::vector<std::string>> by_key;
  for (const auto& sig : kb()->signatures()) {
    std::string out;
    INFO(sig.id);
    CHECK(explain(sig.id, out) == 0);
    for (const auto& key : sig.keys) by_key[key].push_back(sig.id);
  }
  for (const auto& [key, ids] : by_key) {
    // As written in a log: %FTD-4-402119, %CRYPTO-4-IKMP_NO_SA: (VPN Client and
    // VPN 3000 keys have no written form other than the key itself).
    std::vector<std::string> queries = {key};
    const auto dash = key.find('-');
    if (key.find_first_not_of("0123456789") == std::string::npos) {
      queries.push_back("%FTD-4-" + key);
    } else if (dash != std::string::npos && key.find('/') == std::string::npos) {
      queries.push_back("%" + key.substr(0, dash) + "-4-" + key.substr(dash + 1) + ":");
    }
    for (const auto& q : queries) {
      std::string out;
      INFO(q);
      CHECK(explain(q, out) == 0);
      for (const auto& id : ids) CHECK(out.find(id + ": ") != std::string::npos);
    }
  }
}

TEST_CASE("explain diagnoses every example line as its signature", "[kb][explain]") {
  for (const auto& sig : kb()->signatures()) {
    for (const auto& ex : sig.examples) {
      if (&ex != &sig.examples.front() && &ex != &sig.examples.back()) continue;  // first and last form
      std::string out;
      INFO(sig.id << ": " << ex.line);
      CHECK(explain(ex.line, out) == 0);
      CHECK(out.find("Diagnosis for: ") == 0);
      CHECK(out.find("\n" + sig.id + ": ") != std::string::npos);
    }
  }
}

TEST_CASE("every signature has examples in at least two header forms", "[kb][examples]") {
  // A form is the header family the parser recognised, with or without <PRI>
  // and host, and the message-id family (ASA/FTD/PIX): the rows of the design's
  // table. VPN Client and VPN 3000 records have one form of their own.
  for (const auto& sig : kb()->signatures()) {
    if (sig.synthesized) continue;  // made by the loader, without examples
    std::set<std::string> forms;
    bool single_form_source = false;
    for (const auto& ex : sig.examples) {
      const tunneldoc::LogRecord r = tunneldoc::parse_line(ex.line);
      if (r.form == tunneldoc::HeaderForm::vpn3000 || r.form == tunneldoc::HeaderForm::vpn_client) {
        single_form_source = true;
      }
      const std::string id(r.message_id);
      forms.insert(std::to_string(static_cast<int>(r.form)) + "/" + id.substr(0, id.find('-')) + "/" +
                   (r.facility >= 0 ? "pri" : "") + "/" + (r.host.empty() ? "" : "host"));
    }
    INFO(sig.id);
    if (!single_form_source) CHECK(forms.size() >= 2);
  }
}

TEST_CASE("signatures that share a key have counter-examples", "[kb][examples]") {
  std::map<std::string, int> per_key;  // signatures other than fallbacks
  for (const auto& sig : kb()->signatures())
    if (!sig.fallback)
      for (const auto& k : sig.keys) ++per_key[k];
  for (const auto& sig : kb()->signatures()) {
    if (sig.fallback) continue;  // runs after the others by construction
    bool shared = false;
    for (const auto& k : sig.keys) shared = shared || per_key[k] > 1;
    INFO(sig.id);
    if (shared) CHECK(!sig.counter_examples.empty());
  }
}
