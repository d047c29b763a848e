// The view stage: the status store's picture (peer states, incident lists,
// timeline) and its bounds with their counters, the sink that feeds it, the
// HTML (escaping of hostile values, no external reference, the empty page)
// and the HTTP routes (JSON records, ETag/304). Records come from the real
// knowledge base through the real recognizer and correlator; time is what
// the test says, nothing sleeps.
#include "tunneldoc/view.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "temp_file.h"
#include "tunneldoc/commands.h"
#include "tunneldoc/correlator.h"
#include "tunneldoc/pipeline.h"

using namespace tunneldoc;

namespace {

std::shared_ptr<const KnowledgeBase> view_kb() {
  static auto loaded = load_checked_knowledge_base(TUNNELDOC_SIGNATURE_DIR);
  REQUIRE(loaded.ok());
  return loaded.kb;
}

constexpr std::int64_t kStart = 1'795'687'200'000;  // 2026-11-26T10:00:00Z
constexpr std::int64_t kMin = 60'000;

std::string rejected(const std::string& peer, const std::string& host = "hq-asa") {
  return "<165>Nov 26 2026 10:00:00 " + host + " : %ASA-5-713904: IP = " + peer +
         ", Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop";
}
std::string completed(const std::string& peer, const std::string& host = "hq-asa") {
  return "<165>Nov 26 2026 10:00:00 " + host + " : %ASA-5-713119: Group = " + peer + ", IP = " + peer +
         ", PHASE 1 COMPLETED";
}

// Lines received at given times, through recognizer and correlator (serve's clock).
struct Feed {
  Feed() : correlator(view_kb(), {}, metrics), recognizer(std::make_shared<const Matcher>(view_kb()), 0) {}
  std::vector<OutputPtr> line(const std::string& text, std::int64_t at) {
    Origin origin;
    origin.source = "udp:192.0.2.1:514";
    origin.host = "192.0.2.1";
    Event e;
    std::vector<OutputPtr> out;
    if (recognizer.recognize(text, origin, false, at, e)) correlator.process(std::move(e), out);
    return out;
  }
  std::vector<OutputPtr> tick(std::int64_t at) {
    std::vector<OutputPtr> out;
    correlator.tick(at, out);
    return out;
  }
  MetricsRegistry metrics;
  Correlator correlator;
  Recognizer recognizer;
};

void apply_all(StatusStore& store, const std::vector<OutputPtr>& outputs) {
  for (const OutputPtr& o : outputs) store.apply(o);
}

const PeerView* find_peer(const ViewSnapshot& s, const std::string& device, const std::string& peer) {
  for (const DeviceView& d : s.devices) {
    if (d.name != device) continue;
    for (const PeerView& p : d.peers)
      if (p.name == peer) return &p;
  }
  return nullptr;
}

std::uint64_t counter_value(MetricsRegistry& m, const std::string& name, const std::string& labels) {
  const std::string text = m.render();
  const std::string key = name + labels + " ";
  const auto at = text.find(key);
  REQUIRE(at != std::string::npos);
  return std::stoull(text.substr(at + key.size()));
}

}  // namespace

TEST_CASE("view: a peer goes failing, recovered when its incident clears, ok an hour later", "[view]") {
  Feed feed;
  MetricsRegistry metrics;
  StatusStore store(ViewOptions{}, &metrics);
  apply_all(store, feed.line(rejected("203.0.113.9"), kStart));
  apply_all(store, feed.line(rejected("203.0.113.9"), kStart + kMin));
  apply_all(store, feed.line(rejected("198.51.100.7", "branch-asa"), kStart + 2 * kMin));

  auto s = store.snapshot();
  REQUIRE(s->open.size() == 2);
  CHECK(s->resolved.empty());
  REQUIRE(s->devices.size() == 2);
  CHECK(s->devices[0].name == "branch-asa");  // by name
  const PeerView* p = find_peer(*s, "hq-asa", "203.0.113.9");
  REQUIRE(p != nullptr);
  CHECK(p->state == PeerState::failing);
  CHECK(p->open == 1);
  CHECK(p->diagnoses == 2);
  CHECK(s->counts.diagnoses == 3);
  CHECK(s->open.front()->incident->device == "hq-asa");  // first seen first

  const std::uint64_t before = store.version();
  apply_all(store, feed.line(completed("203.0.113.9"), kStart + 3 * kMin));
  CHECK(store.version() > before);
  s = store.snapshot();
  REQUIRE(s->open.size() == 1);
  REQUIRE(s->resolved.size() == 1);
  CHECK(s->resolved.front()->incident->resolution == Resolution::cleared);
  p = find_peer(*s, "hq-asa", "203.0.113.9");
  CHECK(p->state == PeerState::recovered);
  CHECK(p->open == 0);
  CHECK(p->resolution == Resolution::cleared);

  store.tick(kStart + 3 * kMin + 59 * kMin);
  CHECK(find_peer(*store.snapshot(), "hq-asa", "203.0.113.9")->state == PeerState::recovered);
  const std::uint64_t v = store.version();
  store.tick(kStart + 3 * kMin + 61 * kMin);
  CHECK(store.version() > v);  // the page must change without a new record
  CHECK(find_peer(*store.snapshot(), "hq-asa", "203.0.113.9")->state == PeerState::ok);
  CHECK(find_peer(*store.snapshot(), "branch-asa", "198.51.100.7")->state == PeerState::failing);
}

TEST_CASE("view: bounds forget the least recent and count it", "[view]") {
  Feed feed;
  MetricsRegistry metrics;
  ViewOptions o;
  o.max_devices = 3;
  o.max_open = 2;
  o.max_resolved = 1;
  StatusStore store(o, &metrics);
  for (int i = 0; i < 5; ++i)
    apply_all(store, feed.line(rejected("203.0.113." + std::to_string(i), "asa-" + std::to_string(i)), kStart + i));
  auto s = store.snapshot();
  CHECK(s->devices.size() == 3);
  CHECK(s->devices.front().name == "asa-2");  // asa-0 and asa-1 forgotten
  CHECK(s->open.size() == 2);
  CHECK(s->open.front()->incident->device == "asa-3");
  CHECK(s->counts.forgotten_devices == 2);
  CHECK(s->counts.forgotten_open == 3);
  CHECK(counter_value(metrics, "tunneldoc_view_forgotten_total", "{reason=\"open\"}") == 3);
  CHECK(counter_value(metrics, "tunneldoc_view_forgotten_total", "{reason=\"device\"}") == 2);

  apply_all(store, feed.line(completed("203.0.113.3", "asa-3"), kStart + 10));
  apply_all(store, feed.line(completed("203.0.113.4", "asa-4"), kStart + 11));
  s = store.snapshot();
  CHECK(s->open.empty());
  REQUIRE(s->resolved.size() == 1);
  CHECK(s->resolved.front()->incident->device == "asa-4");
  CHECK(s->counts.forgotten_resolved == 1);
}

TEST_CASE("view: an open incident whose resolved record never came goes stale", "[view]") {
  Feed feed;
  MetricsRegistry metrics;
  ViewOptions o;
  o.stale_ms = 40 * kMin;
  StatusStore store(o, &metrics);
  apply_all(store, feed.line(rejected("203.0.113.9"), kStart));  // its resolved record is never applied
  store.tick(kStart + 39 * kMin);
  CHECK(store.snapshot()->open.size() == 1);
  store.tick(kStart + 41 * kMin);
  const auto s = store.snapshot();
  CHECK(s->open.empty());
  CHECK(s->counts.forgotten_stale == 1);
  CHECK(find_peer(*s, "hq-asa", "203.0.113.9")->open == 0);
  CHECK(counter_value(metrics, "tunneldoc_view_forgotten_total", "{reason=\"stale\"}") == 1);
}

TEST_CASE("view: the live timeline keeps its window; a report's keeps the whole span, coarser", "[view]") {
  Feed feed;
  ViewOptions live;
  live.window_ms = 60 * kMin;
  live.max_buckets = 60;
  StatusStore store(live);
  for (int i = 0; i < 120; ++i) apply_all(store, feed.line(rejected("203.0.113.9"), kStart + i * kMin));
  store.tick(kStart + 120 * kMin);
  auto s = store.snapshot();
  REQUIRE(s->devices.size() == 1);
  CHECK(s->devices[0].buckets.size() <= 60);
  CHECK(s->devices[0].buckets.front().first >= kStart + 59 * kMin);
  CHECK(s->devices[0].bucket_ms == kMin);

  ViewOptions whole = report_view_options();
  whole.max_buckets = 50;
  StatusStore report(whole);
  Feed feed2;
  for (int i = 0; i < 120; ++i) apply_all(report, feed2.line(rejected("203.0.113.9"), kStart + i * kMin));
  s = report.snapshot();
  const DeviceView& d = s->devices.at(0);
  CHECK(d.buckets.size() <= 50);
  CHECK(d.bucket_ms == 4 * kMin);
  CHECK(d.buckets.front().first <= kStart);
  std::uint64_t total = 0;
  for (const auto& b : d.buckets) total += b.second;
  CHECK(total == 120);  // nothing lost, only merged
}

TEST_CASE("view: the view sink applies every record it is given, in order, on its thread", "[view]") {
  Feed feed;
  MetricsRegistry metrics;
  StatusStore store(ViewOptions{}, &metrics);
  auto sink = make_view_sink(store, metrics, 16, SinkOptions::WhenFull::block);
  sink->start();
  std::vector<OutputPtr> outputs;
  for (int i = 0; i < 50; ++i) {
    auto o = feed.line(rejected("203.0.113." + std::to_string(i % 5)), kStart + i * 1000);
    outputs.insert(outputs.end(), o.begin(), o.end());
  }
  auto done = feed.line(completed("203.0.113.0"), kStart + 60'000);
  outputs.insert(outputs.end(), done.begin(), done.end());
  sink->publish(outputs);
  CHECK(sink->stop(Deadline::max()) == 0);
  const auto s = store.snapshot();
  CHECK(s->counts.diagnoses == 50);
  CHECK(s->open.size() == 4);
  CHECK(s->resolved.size() == 1);
  CHECK(counter_value(metrics, "tunneldoc_sink_records_total", "{sink=\"view\"}") == outputs.size());
}

TEST_CASE("view: HTML escaping of hostile values", "[view]") {
  std::string out;
  append_html_escaped(out, "<script>alert(\"x\")</script>'&</td>");
  CHECK(out == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;&lt;/td&gt;");
  out.clear();
  append_html_escaped(out, std::string("a\xff\xc0\xafz\x01 \xe4\xb8\xad", 10));
  CHECK(out == "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD \xe4\xb8\xad");
}

TEST_CASE("view: a page of hostile devices, peers and users holds them as text only", "[view]") {
  Feed feed;
  StatusStore store(ViewOptions{});
  const std::string host = "<script>alert(1)</script>";
  apply_all(store, feed.line("<165>Nov 26 2026 10:00:00 " + host +
                                 " : %ASA-5-713904: Group = </td><img src=x onerror=alert(2)>, IP = 192.0.2.10, Client "
                                 "is using an unsupported Transaction Mode v2 version.Tunnel terminated.",
                             kStart));
  const auto s = store.snapshot();
  REQUIRE(s->open.size() == 1);
  REQUIRE(s->devices.size() == 1);
  CHECK(s->devices[0].name == host);
  PageOptions o;
  o.live = true;
  const std::string page = render_page(*s, o);
  CHECK(page.find("<script>alert") == std::string::npos);
  CHECK(page.find("<img") == std::string::npos);
  CHECK(page.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(page.find("&lt;/td&gt;&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
  // One script element, the embedded one, allowed by the policy's hash.
  CHECK(page.find("<script>") == page.rfind("<script>"));
  CHECK(page.find("script-src &#39;sha256-") != std::string::npos);  // the policy, in a <meta>
}

TEST_CASE("view: the empty page says what is going on", "[view]") {
  StatusStore store(ViewOptions{});
  store.tick(kStart);
  PageOptions o;
  o.live = true;
  o.listeners = {"udp:127.0.0.1:5514"};
  const std::string page = render_page(*store.snapshot(), o);
  CHECK(page.find("No incidents yet.") != std::string::npos);
  CHECK(page.find("Nothing has been diagnosed since 2026-11-26 10:00:00 UTC.") != std::string::npos);
  CHECK(page.find("udp:127.0.0.1:5514") != std::string::npos);
  CHECK(page.find("None yet.") != std::string::npos);
  CHECK(page.find("has recovered") == std::string::npos);  // nothing was ever seen failing
}

TEST_CASE("view: HTTP routes serve the page, its live part with ETag, and the records as JSON", "[view]") {
  Feed feed;
  StatusStore store(ViewOptions{});
  apply_all(store, feed.line(rejected("203.0.113.9"), kStart));
  apply_all(store, feed.line(rejected("198.51.100.7"), kStart + 1));
  apply_all(store, feed.line(completed("198.51.100.7"), kStart + 2));
  PageOptions o;
  o.live = true;
  StatusPages pages(store, o);

  HttpResponse r;
  REQUIRE(pages.handle({"/", "", ""}, r));
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body.rfind("<!doctype html>", 0) == 0);
  bool csp = false;
  for (const auto& [k, v] : r.headers) csp = csp || (k == "Content-Security-Policy" && v.find("script-src") != v.npos);
  CHECK(csp);

  HttpResponse live;
  REQUIRE(pages.handle({"/live", "", ""}, live));
  CHECK(live.status == 200);
  CHECK(live.body.find("<html") == std::string::npos);
  HttpResponse again;
  REQUIRE(pages.handle({"/live", "", live.etag}, again));
  CHECK(again.status == 304);
  CHECK(again.body.empty());
  apply_all(store, feed.line(rejected("192.0.2.77"), kStart + 3));
  HttpResponse changed;
  REQUIRE(pages.handle({"/live", "", live.etag}, changed));
  CHECK(changed.status == 200);
  CHECK(changed.etag != live.etag);

  HttpResponse list;
  REQUIRE(pages.handle({"/incidents", "", ""}, list));
  CHECK(list.content_type == "application/json");
  const auto j = nlohmann::json::parse(list.body);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 3);
  CHECK(j[0]["schema"] == "tunneldoc.diagnosis/1");
  CHECK(j[0]["kind"] == "incident");
  CHECK(j[0]["incident"]["state"] == "open");
  CHECK(j[2]["incident"]["state"] == "resolved");
  CHECK_FALSE(j[0]["remedies"].empty());

  const std::string id = j[2]["incident"]["id"];
  HttpResponse one;
  REQUIRE(pages.handle({"/incidents/" + id, "", ""}, one));
  CHECK(nlohmann::json::parse(one.body)["incident"]["id"] == id);
  HttpResponse missing;
  REQUIRE(pages.handle({"/incidents/0000000000000000", "", ""}, missing));
  CHECK(missing.status == 404);
  HttpResponse other;
  CHECK_FALSE(pages.handle({"/metricz", "", ""}, other));
}

namespace {

// `scan --report` of samples/asa-vpn.log in `lang`: the report's HTML; the
// JSON lines scan wrote to standard output in `out`.
std::string sample_report(const std::string& lang, ScanOptions& o, std::string& out) {
  TempFile placeholder("");
  const std::string path = placeholder.path + ".html";
  o.signatures = TUNNELDOC_SIGNATURE_DIR;
  o.files = {std::string(TUNNELDOC_TEST_DATA) + "/../samples/asa-vpn.log"};
  o.report = path;
  o.year = 2026;
  o.audience.lang = lang;
  std::ostringstream stdout_text, err;
  REQUIRE(run_scan(o, stdout_text, err) == 0);
  out = stdout_text.str();
  std::ifstream in(path);
  REQUIRE(in);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  return html;
}

}  // namespace

TEST_CASE("view: scan --report writes one self-contained file from the sample log", "[view]") {
  ScanOptions o;
  std::string out;
  const std::string html = sample_report("en", o, out);
  CHECK_FALSE(out.empty());  // the JSON lines still go to standard output
  CHECK(html.find("Peer rejected every IKE proposal") != std::string::npos);
  CHECK(html.find("hq-asa") != std::string::npos);
  CHECK(html.find("asa-vpn.log") != std::string::npos);
  CHECK(html.find("%ASA-5-713904: IP = 203.0.113.9") != std::string::npos);  // evidence
  CHECK(html.find("class=\"copy\"") != std::string::npos);
  // Nothing to fetch: no URL with a scheme or a protocol-relative one in any attribute.
  for (const char* ref : {"src=", "http://", "https://", "href=\"//", "url("}) {
    INFO(ref);
    CHECK(html.find(ref) == std::string::npos);
  }

  o.report = "/nonexistent-dir/report.html";
  std::ostringstream out2, err2;
  CHECK(run_scan(o, out2, err2) == 1);
  CHECK(err2.str().find("cannot write the report") != std::string::npos);
}

TEST_CASE("view: scan --report --lang zh-TW writes the page and the knowledge base's text in Traditional Chinese",
          "[view]") {
  ScanOptions o;
  std::string out;
  const std::string html = sample_report("zh-TW", o, out);
  CHECK(html.find("<html lang=\"zh-TW\">") != std::string::npos);
  CHECK(html.find("tunneldoc 報告") != std::string::npos);  // the page's own words
  CHECK(html.find("未解決的事件") != std::string::npos);
  CHECK(html.find("對等體拒絕了所有 IKE 提議") != std::string::npos);  // the signature's zh-TW title
  CHECK(html.find("Peer rejected every IKE proposal") == std::string::npos);
  CHECK(html.find("data-copied=\"已複製\"") != std::string::npos);           // the script's words
  CHECK(html.find("%ASA-5-713904: IP = 203.0.113.9") != std::string::npos);  // evidence stays as logged
}

TEST_CASE("view: the live page stays bounded: peers, devices and bars beyond its limits are summarised", "[view]") {
  Feed feed;
  StatusStore store(ViewOptions{});
  for (int i = 0; i < 60; ++i) apply_all(store, feed.line(rejected("203.0.113." + std::to_string(i)), kStart + i));
  for (int i = 0; i < 3; ++i) {  // recovered devices, listed after the failing one
    apply_all(store, feed.line(rejected("198.51.100.1", "asa-" + std::to_string(i)), kStart + 100 + i));
    apply_all(store, feed.line(completed("198.51.100.1", "asa-" + std::to_string(i)), kStart + 200 + i));
  }
  PageOptions o;
  o.live = true;
  o.max_peers = 50;
  o.max_devices = 2;
  const std::string page = render_page(*store.snapshot(), o);
  CHECK(page.find("… and 10 more peers of this device (failing peers are listed first).") != std::string::npos);
  CHECK(page.find("… and 2 more devices (those with failing peers are listed first).") != std::string::npos);
  CHECK(page.find("<h3 id=\"dev-0\">hq-asa</h3>") != std::string::npos);
  // hq-asa's 60 incidents within a minute of a six-hour window: eight lanes of
  // one bar each, and the other 52 peers merged into one bar that counts them.
  CHECK(page.find("data-n=\"52\"") != std::string::npos);
  CHECK(page.find("52 incidents (52 open)") != std::string::npos);
}
