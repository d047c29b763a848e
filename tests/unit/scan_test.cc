// `tunneldoc scan` in-process: order, sources, bad files, exit codes.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "temp_file.h"
#include "tunneldoc/commands.h"

using nlohmann::json;

namespace {
std::vector<json> lines_of(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) v.push_back(json::parse(line));
  return v;
}

tunneldoc::ScanOptions options(std::vector<std::string> files) {
  tunneldoc::ScanOptions o;
  o.files = std::move(files);
  o.signatures = TUNNELDOC_TEST_DATA "/data/mini-kb";
  o.year = 2026;
  return o;
}

const char* kNoProposal = "%ASA-5-713904: IP = 1.2.3.4, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message\n";
const char* kNoSa = "%CRYPTO-4-IKMP_NO_SA: IKE message from 198.51.100.7 has no SA\n";
const char* kTraffic = "%ASA-6-302013: Built inbound TCP connection 1\n";

// hq-asa's NO_PROPOSAL_CHOSEN from `peer` at 10:MM:00 on 2026-11-26, as syslog sends it.
std::string no_proposal_at(int minute, const std::string& peer) {
  return "<165>Nov 26 2026 10:0" + std::to_string(minute) + ":00 hq-asa : %ASA-5-713904: IP = " + peer +
         ", Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop\n";
}
}  // namespace

TEST_CASE("one record per diagnosed line, in input order, with file:PATH:LINE", "[scan]") {
  TempFile f(std::string(kTraffic) + kNoSa + kTraffic + kNoProposal + kNoProposal);
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(options({f.path}), out, err) == 0);
  const auto v = lines_of(out.str());
  REQUIRE(v.size() == 3);  // repeats are not folded in scan mode
  CHECK(v[0]["signature"] == "ikmp-no-sa");
  CHECK(v[0]["evidence"][0]["source"] == "file:" + f.path + ":2");
  CHECK(v[1]["evidence"][0]["source"] == "file:" + f.path + ":4");
  CHECK(v[2]["evidence"][0]["source"] == "file:" + f.path + ":5");
  CHECK(err.str().empty());
}

TEST_CASE("a missing file is an error on stderr and exit 1, after the other files are scanned", "[scan][bad-input]") {
  TempFile a(kNoSa), b(kNoProposal);
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(options({a.path, "/nonexistent/asa.log", b.path}), out, err) == 1);
  CHECK(lines_of(out.str()).size() == 2);
  CHECK(err.str().find("cannot open /nonexistent/asa.log") != std::string::npos);
}

TEST_CASE("a directory given as input is reported, not fatal", "[scan][bad-input]") {
  TempFile a(kNoSa);
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(options({"/tmp", a.path}), out, err) == 1);
  CHECK(lines_of(out.str()).size() == 1);
  CHECK(err.str().find("/tmp") != std::string::npos);
}

TEST_CASE("a binary file does not crash scan and yields valid JSON around it", "[scan][bad-input]") {
  std::string bytes;
  for (int i = 0; i < 200000; ++i) bytes += static_cast<char>((i * 7919) % 256);
  TempFile f(bytes + "\n" + kNoSa + std::string("\x00\xff junk\n", 8) +
             "%ASA-5-713904: IP = 1.2.3.4, \xff NO_PROPOSAL_CHOSEN\r\n");
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(options({f.path}), out, err) == 0);
  const auto v = lines_of(out.str());  // json::parse throws on invalid UTF-8
  REQUIRE(v.size() == 2);
  CHECK(v[0]["signature"] == "ikmp-no-sa");
  CHECK(v[1]["signature"] == "specific-713904");
  CHECK(v[1]["evidence"][0]["line"].get<std::string>().find("\xEF\xBF\xBD NO_PROPOSAL") != std::string::npos);
}

TEST_CASE("over-long lines are cut, marked truncated, and still diagnosed", "[scan][bad-input]") {
  TempFile f("%ASA-5-713904: IP = 1.2.3.4, NO_PROPOSAL_CHOSEN " + std::string(200000, 'x') + "\n" + kNoSa);
  auto o = options({f.path});
  o.max_line = 4096;
  o.stats = true;
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(o, out, err) == 0);
  const auto v = lines_of(out.str());
  REQUIRE(v.size() == 2);
  CHECK(v[0]["truncated"] == true);
  CHECK(v[0]["evidence"][0]["line"].get<std::string>().size() == 4096);
  CHECK(v[1]["evidence"][0]["source"].get<std::string>().substr(f.path.size() + 5) == ":2");
  CHECK(err.str().find("truncated: 1") != std::string::npos);
}

TEST_CASE("scan --stats counts lines, diagnoses and unknown keys", "[scan]") {
  TempFile f(std::string(kTraffic) + kTraffic + kNoSa + "free text\n");
  auto o = options({f.path});
  o.stats = true;
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(o, out, err) == 0);
  CHECK(err.str().find("lines read: 4") != std::string::npos);
  CHECK(err.str().find("diagnosed: 1") != std::string::npos);
  CHECK(err.str().find("unknown keys: 2") != std::string::npos);
}

TEST_CASE("scan --stats counts the diagnoses made by an id's fallback", "[scan][fallback]") {
  // The mini knowledge base's CRYPTO-IKMP_NO_SA has one signature, hence an
  // implicit fallback: a reworded line is diagnosed by it and counted apart.
  TempFile f(std::string(kNoSa) + "%CRYPTO-4-IKMP_NO_SA: IKE msg from 203.0.113.9 lacks an SA\n" +
             "%CRYPTO-4-IKMP_NO_SA: reworded again\n");
  auto o = options({f.path});
  o.stats = true;
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(o, out, err) == 0);
  const auto v = lines_of(out.str());
  REQUIRE(v.size() == 3);
  CHECK(v[0]["signature"] == "ikmp-no-sa");
  CHECK(v[1]["signature"] == "ikmp-no-sa-fallback");
  CHECK(v[1]["confidence"] == "low");
  CHECK(err.str().find("diagnosed: 3\n") != std::string::npos);
  CHECK(err.str().find("fallback (wording not recognised): 2\n") != std::string::npos);
}

TEST_CASE("a knowledge base that does not load is exit 2 with the problems listed", "[scan][bad-input]") {
  auto o = options({});
  o.signatures = TUNNELDOC_TEST_DATA "/data/broken-kb";
  std::ostringstream out, err;
  CHECK(tunneldoc::run_scan(o, out, err) == 2);
  CHECK(err.str().find("bad pattern") != std::string::npos);
  CHECK(out.str().empty());
}

TEST_CASE("scan --incidents writes a resolved incident when it resolves, the open ones at the end", "[scan][incidents]") {
  // A (198.51.100.2) opens first and is still open at the end of input; B
  // (203.0.113.9) opens later and is resolved by phase 1 completing. B's
  // record is final as soon as it resolves, so it comes out first.
  TempFile f(no_proposal_at(0, "198.51.100.2") + no_proposal_at(1, "203.0.113.9") +
             "<165>Nov 26 2026 10:02:00 hq-asa : %ASA-5-713119: Group = 203.0.113.9, IP = 203.0.113.9, PHASE 1 "
             "COMPLETED\n" +
             no_proposal_at(3, "198.51.100.2"));
  auto o = options({f.path});
  o.signatures = TUNNELDOC_SIGNATURE_DIR;
  o.incidents = true;
  std::ostringstream out, err;
  REQUIRE(tunneldoc::run_scan(o, out, err) == 0);
  const auto v = lines_of(out.str());
  REQUIRE(v.size() == 2);  // each incident once
  CHECK(v[0]["incident"]["peer"] == "203.0.113.9");
  CHECK(v[0]["incident"]["state"] == "resolved");
  CHECK(v[0]["incident"]["resolution"] == "cleared");
  CHECK(v[1]["incident"]["peer"] == "198.51.100.2");
  CHECK(v[1]["incident"]["state"] != "resolved");
}

TEST_CASE("scan --stats counts incidents although the lines stream shows none, and the lines are the same",
          "[scan][incidents]") {
  // Without --stats (or a report, or an incidents stream) a scan tracks no
  // incidents at all; with it they are tracked and counted, and the records
  // written do not change.
  TempFile f(no_proposal_at(0, "198.51.100.2") + no_proposal_at(1, "203.0.113.9") +
             no_proposal_at(2, "198.51.100.2"));
  auto o = options({f.path});
  o.signatures = TUNNELDOC_SIGNATURE_DIR;
  std::ostringstream plain, plain_err;
  REQUIRE(tunneldoc::run_scan(o, plain, plain_err) == 0);
  o.stats = true;
  std::ostringstream counted, counted_err;
  REQUIRE(tunneldoc::run_scan(o, counted, counted_err) == 0);
  CHECK(counted_err.str().find("incidents: 2\n") != std::string::npos);
  const auto a = lines_of(plain.str()), b = lines_of(counted.str());
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i]["kind"] == "line");
    CHECK(a[i]["evidence"] == b[i]["evidence"]);
    CHECK(a[i]["signature"] == b[i]["signature"]);
  }
}
