// Golden files: tests/golden/NAME.log scanned with the shipped knowledge base
// must give tests/golden/NAME.jsonl; NAME.all.log is scanned with --stream all
// (line, correlated and incident records: the correlator on a recorded log). The comparison covers what the parser and
// matcher decide (time, host, ids, signature, sections, fields, evidence); the
// remedy text itself belongs to the knowledge base and is checked there.
// Regenerate with TUNNELDOC_UPDATE_GOLDEN=1 after an intended change, and review the diff.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tunneldoc/commands.h"

using nlohmann::ordered_json;

namespace {
const std::string kDir = TUNNELDOC_TEST_DATA "/golden/";

std::string pinned(const std::string& scan_output) {
  std::istringstream in(scan_output);
  std::string line, out;
  while (std::getline(in, line)) {
    const auto full = ordered_json::parse(line);
    ordered_json j;
    for (const char* k : {"schema", "time", "host", "message_id", "severity", "signature", "kind", "confidence",
                          "sections", "fields", "count", "truncated", "rule", "incident"}) {
      if (full.contains(k)) j[k] = full[k];
    }
    j["remedy_sections"] = ordered_json::array();
    for (const auto& r : full["remedies"]) j["remedy_sections"].push_back(r["section"]);
    j["evidence"] = full["evidence"];
    for (auto& e : j["evidence"]) {  // make the source independent of the checkout path
      std::string s = e["source"];
      const auto at = s.find(kDir);
      if (at != std::string::npos) s.erase(at, kDir.size());
      e["source"] = s;
    }
    out += j.dump(-1, ' ', false, ordered_json::error_handler_t::strict) + "\n";
  }
  return out;
}
}  // namespace

TEST_CASE("golden files", "[golden]") {
  const bool update = std::getenv("TUNNELDOC_UPDATE_GOLDEN") != nullptr;
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kDir)) {
    if (entry.path().extension() != ".log") continue;
    ++seen;
    tunneldoc::ScanOptions o;
    o.files = {entry.path().string()};
    o.signatures = TUNNELDOC_SIGNATURE_DIR;
    o.year = 2026;
    if (entry.path().stem().extension() == ".all") o.stream = tunneldoc::Stream::all;
    std::ostringstream out, err;
    INFO(entry.path().string());
    REQUIRE(tunneldoc::run_scan(o, out, err) == 0);
    const std::string got = pinned(out.str());
    auto expected_path = entry.path();
    expected_path.replace_extension(".jsonl");
    if (update) {
      std::ofstream(expected_path) << got;
      continue;
    }
    std::ifstream in(expected_path);
    REQUIRE(in.good());
    std::stringstream expected;
    expected << in.rdbuf();
    CHECK(got == expected.str());
  }
  CHECK(seen >= 2);
}
