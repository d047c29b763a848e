// view.h — the view stage: what a person looks at instead of JSON lines.
//
// StatusStore keeps a bounded picture of the tunnels, fed like any other
// output: a Sink of stream `all` (make_view_sink) hands it every record on
// the sink's own thread, through the sink's bounded queue (drop oldest when
// full, counted per sink as for every sink). The picture: devices, their
// peers and each peer's state (failing: an incident is open; recovered: its
// last incident resolved less than `recovered_ms` ago; ok: otherwise), the
// open incidents, the recently resolved ones, and per device a timeline of
// diagnoses (counts per time bucket) over the last `window_ms`.
//
// Bounded, with a counter for everything it forgets
// (tunneldoc_view_forgotten_total{reason}): at most max_devices devices
// (least recently seen forgotten first, "device"), max_peers per device
// (the quietest peer without an open incident first, "peer"), max_open open
// incidents (least recently updated, "open"), max_resolved resolved ones
// (oldest resolution first, "resolved"), an open incident with no record for
// stale_ms ("stale": its resolved record was lost, e.g. dropped by a full
// queue), and max_buckets timeline buckets per device: beyond the window they
// are pruned; with no window (a report) two neighbouring buckets merge, so
// the timeline keeps the whole span at a coarser step. An incident's record
// shares its Events and knowledge base with the correlator (it is the
// record the correlator published), so the store adds little per incident:
// see docs/status-page.md for the figures.
//
// The HTML (render_page, render_live, render_report) is one self-contained
// document: CSS and script embedded in the binary from daemon/view/assets/
// at build time, no external reference, every value from a log escaped, and
// a Content-Security-Policy that only lets the embedded script run. The
// table, timeline and remedies are rendered on the server and need no
// script; the script adds copy buttons and, on the live page, refreshes the
// page's main part without reloading (polling /live with If-None-Match).
//
// Thread safety: every StatusStore and StatusPages member may be called from
// any thread at once. A ViewSnapshot is an immutable copy. Not copyable, not
// movable. The MetricsRegistry must outlive the store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tunneldoc/metrics.h"
#include "tunneldoc/metrics_server.h"
#include "tunneldoc/output.h"
#include "tunneldoc/sink.h"

namespace tunneldoc {

struct ViewOptions {
  std::size_t max_devices = 1000;
  std::size_t max_peers = 256;  // per device
  std::size_t max_open = 5000;
  std::size_t max_resolved = 500;
  std::size_t max_buckets = 360;               // timeline buckets per device
  std::int64_t bucket_ms = 60'000;             // timeline step (doubled when buckets merge)
  std::int64_t window_ms = 6 * 3600 * 1000LL;  // timeline span; 0: everything (a report)
  std::int64_t recovered_ms = 3600 * 1000LL;   // how long a peer shows "recovered"
  std::int64_t stale_ms = 0;                   // 0: open incidents never go stale
};

// The options of a report: everything a log holds, within large bounds.
ViewOptions report_view_options();

enum class PeerState : std::uint8_t { ok, failing, recovered };
std::string_view to_string(PeerState s);

struct PeerView {
  std::string name;  // "" when the lines name no peer
  PeerState state = PeerState::ok;
  std::size_t open = 0;  // open incidents
  std::uint64_t diagnoses = 0;
  std::int64_t last_diagnosis_ms = 0;
  std::int64_t resolved_ms = 0;  // when its last incident resolved; 0: none did
  Resolution resolution = Resolution::none;
};

struct DeviceView {
  std::string name;             // "" when nothing names the device
  std::vector<PeerView> peers;  // failing, then recovered, then ok; by name within each
  std::uint64_t diagnoses = 0;
  std::int64_t last_seen_ms = 0;
  std::int64_t bucket_ms = 0;
  std::vector<std::pair<std::int64_t, std::uint32_t>> buckets;  // start (ms), diagnoses; oldest first
};

struct ViewCounts {
  std::uint64_t diagnoses = 0;  // line and correlated records seen
  std::uint64_t incidents = 0;  // incidents seen (opened or restored)
  std::uint64_t forgotten_devices = 0, forgotten_peers = 0, forgotten_open = 0, forgotten_resolved = 0,
                forgotten_stale = 0, merged_buckets = 0;
};

struct ViewSnapshot {
  std::uint64_t version = 0;
  std::int64_t now_ms = 0;          // the store's clock: the latest record or tick
  std::int64_t since_ms = 0;        // when the store started (first tick or record)
  std::int64_t window_ms = 0;       // ViewOptions::window_ms
  std::vector<DeviceView> devices;  // by name
  std::vector<OutputPtr> open;      // latest record of each open incident, first seen first
  std::vector<OutputPtr> resolved;  // latest (resolved) record, most recently resolved first
  ViewCounts counts;
};

class StatusStore {
 public:
  // `metrics` may be null (no counters exported).
  explicit StatusStore(ViewOptions options, MetricsRegistry* metrics = nullptr);
  ~StatusStore();
  StatusStore(const StatusStore&) = delete;
  StatusStore& operator=(const StatusStore&) = delete;

  // One record: a line or correlated record is a diagnosis (a tick on its
  // device's timeline); an incident record opens, updates or resolves it.
  void apply(const Output& record);
  // The same for a record the caller already shares (kept without a copy).
  void apply(const OutputPtr& record);
  // Time is now `now_ms` (wall clock in serve): stale incidents are
  // forgotten, timeline buckets older than the window pruned, and peers whose
  // recovery is older than recovered_ms become ok.
  void tick(std::int64_t now_ms);

  // Changes whenever what the page shows changes.
  std::uint64_t version() const;
  std::shared_ptr<const ViewSnapshot> snapshot() const;
  const ViewOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A sink of stream `all` feeding `store` (name "view"). The store must
// outlive the sink. Its bytes are one marker a record: the records travel
// beside them as Outputs (the store keeps them with their knowledge base and
// shared evidence, which no byte encoding carries), so
// tunneldoc_sink_bytes_total{sink="view"} counts records.
std::unique_ptr<Sink> make_view_sink(StatusStore& store, MetricsRegistry& metrics, std::size_t queue_capacity = 16384,
                                     SinkOptions::WhenFull when_full = SinkOptions::WhenFull::drop_oldest);

// ------------------------------------------------------------------ HTML

struct PageOptions {
  // The language of the page's own words and of the knowledge base's text
  // (titles, diagnoses, remedies: "en" or "zh-TW"), and the software
  // versions whose commands the remedies show.
  Audience audience;
  bool live = false;  // the status page (polls /live) or a report (static)
  int refresh_seconds = 5;
  // Live page: rows of the open-incident table, incidents with details,
  // devices and peers per device shown; the rest is summarised ("and N
  // more"; the JSON routes have every incident).
  std::size_t max_rows = 500;
  std::size_t max_details = 200;
  std::size_t max_devices = 200;       // devices with a failing peer come first
  std::size_t max_peers = 50;          // per device; failing peers come first
  std::vector<std::string> listeners;  // "udp 127.0.0.1:5514", shown when nothing arrived yet
  std::string kb_version;
  // Report only.
  std::vector<std::string> inputs;  // files scanned
  std::uint64_t lines_read = 0, lines_diagnosed = 0, correlated = 0;
  std::string generated;  // when the report was written (UTC text)
};

// True when `lang` is a language the pages can be written in.
bool page_language_supported(std::string_view lang);

// The whole document.
std::string render_page(const ViewSnapshot& snapshot, const PageOptions& options);
// The inner HTML of the live page's <main> (what the script swaps in).
std::string render_live(const ViewSnapshot& snapshot, const PageOptions& options);
// The Content-Security-Policy of the documents (header or <meta>).
const std::string& page_security_policy();

// `s` with &, <, >, " and ' as entities and invalid UTF-8 or control
// characters as U+FFFD: safe as element text and as a quoted attribute.
void append_html_escaped(std::string& out, std::string_view s);

// ------------------------------------------------------------- HTTP routes

// The routes the metrics listener serves besides /metrics and /healthz:
//   GET /                 the status page
//   GET /live             its <main> part, ETag = the store's version
//   GET /incidents        the latest record of each incident the page shows
//                         (open first, then recently resolved): a JSON array
//                         of diagnosis records (docs/diagnosis-record.md)
//   GET /incidents/<id>   one of them, or 404
// Renders at most once per version of the store.
class StatusPages {
 public:
  StatusPages(const StatusStore& store, PageOptions options);
  ~StatusPages();
  StatusPages(const StatusPages&) = delete;
  StatusPages& operator=(const StatusPages&) = delete;

  // False when `request` is none of these routes.
  bool handle(const HttpRequest& request, HttpResponse& response);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------------ report

// `scan --report FILE`: a store fed by its own blocking sink (nothing lost),
// written as one self-contained HTML file at the end.
class ReportBuilder {
 public:
  ReportBuilder(MetricsRegistry& metrics, PageOptions options);
  ~ReportBuilder();
  ReportBuilder(const ReportBuilder&) = delete;
  ReportBuilder& operator=(const ReportBuilder&) = delete;

  Sink& sink() { return *sink_; }
  PageOptions& options() { return options_; }
  // Stops the sink (everything queued is applied) and writes the report to
  // `path` (through a temporary file, renamed). False with `error`.
  bool write(const std::filesystem::path& path, std::string& error);

 private:
  StatusStore store_;
  PageOptions options_;
  std::unique_ptr<Sink> sink_;
};

}  // namespace tunneldoc
