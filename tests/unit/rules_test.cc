// Correlation rules in the knowledge base: every problem found at load with its
// file and line, example sequences that keep a broken rule out of service, and
// clearing signatures whose groups must exist.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "tunneldoc/pipeline.h"

using namespace tunneldoc;
namespace fs = std::filesystem;

namespace {

// A copy of the mini knowledge base with one more file.
struct KbWith {
  explicit KbWith(const std::string& name, const std::string& yaml) {
    dir = fs::temp_directory_path() / ("tunneldoc-rules-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir);
    fs::copy(TUNNELDOC_TEST_DATA "/data/mini-kb", dir, fs::copy_options::recursive);
    std::ofstream(dir / "rules.yaml") << yaml;
  }
  ~KbWith() { fs::remove_all(dir); }
  fs::path dir;
};

std::string problems_of(const LoadResult& r) {
  std::string s;
  for (const auto& p : r.problems) s += p.to_string() + "\n";
  return s;
}

const char* kSequence = R"(rules:
  - id: two-no-sa
    type: sequence
    steps: [ikmp-no-sa, ikmp-no-sa]
    window: 1m
    title: Two missing SAs
    diagnosis: The peer keeps sending for SAs we do not have.
    confidence: high
    sections: [clear-sa]
    examples:
      - lines:
          - '<164>Nov 26 2026 10:00:01 hq : %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA'
          - '<164>Nov 26 2026 10:00:11 hq : %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA'
        expect: two-no-sa
        fields: {peer_ip: 198.51.100.7}
    counter_examples:
      - lines:
          - '<164>Nov 26 2026 10:00:01 hq : %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA'
          - '<164>Nov 26 2026 10:00:11 hq : %CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.8 has no SA'
)";

}  // namespace

TEST_CASE("a rule whose example sequences hold loads, and explain-able", "[rules]") {
  KbWith kb("good", kSequence);
  const LoadResult r = load_checked_knowledge_base(kb.dir);
  INFO(problems_of(r));
  REQUIRE(r.ok());
  REQUIRE(r.kb->find_rule("two-no-sa") != nullptr);
  CHECK(r.kb->find_rule("two-no-sa")->steps.size() == 2);
}

TEST_CASE("a rule whose example does not fire keeps the knowledge base out of service, with its line", "[rules]") {
  std::string yaml = kSequence;
  yaml.replace(yaml.find("window: 1m"), 10, "window: 5s");  // the example's lines are 10 s apart
  KbWith kb("late", yaml);
  const LoadResult r = load_checked_knowledge_base(kb.dir);
  REQUIRE_FALSE(r.ok());
  const std::string p = problems_of(r);
  CHECK(p.find("rules.yaml:11: example sequence of rule 'two-no-sa' does not yield 'two-no-sa'") != std::string::npos);
}

TEST_CASE("a counter-example that fires is a problem", "[rules]") {
  std::string yaml = kSequence;
  yaml.replace(yaml.rfind("198.51.100.8"), 12, "198.51.100.7");
  KbWith kb("counter", yaml);
  const LoadResult r = load_checked_knowledge_base(kb.dir);
  REQUIRE_FALSE(r.ok());
  CHECK(problems_of(r).find("rules.yaml:17: counter-example sequence makes rule 'two-no-sa' fire") !=
        std::string::npos);
}

TEST_CASE("every structural problem of a rule is reported with its line", "[rules]") {
  KbWith kb("broken", R"(rules:
  - id: Bad_Id
    type: sequence
    steps: [ikmp-no-sa]
    title: t
    diagnosis: d
    confidence: sure
    sections: [no-such-slug]
  - id: thresh
    type: threshold
    match: [no-such-signature]
    count: 1
    window: soon
    examples:
      - lines: ['x']
        expect: thresh
  - id: blk
    type: block
    start: [msg6]
    members: [msg6]
    colour: blue
incident_groups:
  phase1: [no-such-slug]
)");
  const LoadResult r = load_knowledge_base(kb.dir);
  REQUIRE_FALSE(r.ok());
  const std::string p = problems_of(r);
  INFO(p);
  CHECK(p.find("rules.yaml:2: rule id 'Bad_Id' must match [a-z0-9-]+") != std::string::npos);
  CHECK(p.find("rule 'Bad_Id' (sequence) needs at least two steps") != std::string::npos);
  CHECK(p.find("rule 'Bad_Id' (sequence) needs a window") != std::string::npos);
  CHECK(p.find("confidence must be high, medium or low, not 'sure'") != std::string::npos);
  CHECK(p.find("points to unknown section 'no-such-slug'") != std::string::npos);
  CHECK(p.find("rule 'Bad_Id' (sequence) has no example sequence") != std::string::npos);
  CHECK(p.find("rules.yaml:12: 'count' must be at least 2") != std::string::npos);
  CHECK(p.find("rules.yaml:13: 'window' must be a positive duration (90s, 5m, 18h), not 'soon'") != std::string::npos);
  CHECK(p.find("rule 'thresh' match names unknown signature 'no-such-signature'") != std::string::npos);
  CHECK(p.find("rules.yaml:21: unknown rule field 'colour'") != std::string::npos);
  CHECK(p.find("rule 'blk' (block) needs 'lines'") != std::string::npos);
  CHECK(p.find("incident group 'phase1' names unknown section 'no-such-slug'") != std::string::npos);
}

TEST_CASE("a clearing signature must clear something that exists", "[rules]") {
  KbWith kb("clears", R"(signatures:
  - id: up
    role: clear
    clears: [phase9]
    keys: ["713119"]
    source: message-guide
    pattern: 'PHASE 1 COMPLETED'
    title: Up
    examples:
      - line: '%ASA-5-713119: Group = x, IP = 192.0.2.1, PHASE 1 COMPLETED'
        fields: {}
  - id: nothing
    role: clear
    keys: ["713120"]
    source: message-guide
    pattern: 'PHASE 2 COMPLETED'
    title: Up 2
    examples:
      - line: '%ASA-5-713120: Group = x, IP = 192.0.2.1, PHASE 2 COMPLETED'
        fields: {}
)");
  const LoadResult r = load_knowledge_base(kb.dir);
  REQUIRE_FALSE(r.ok());
  const std::string p = problems_of(r);
  INFO(p);
  CHECK(
      p.find("rules.yaml:2: signature 'up' clears 'phase9', which is neither 'all', an incident group nor a section") !=
      std::string::npos);
  CHECK(p.find("rules.yaml:12: clearing signature 'nothing' clears nothing") != std::string::npos);
}
