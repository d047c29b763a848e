// status_pages.cc — the status page's HTTP routes, rendered at most once per
// version of the store; and the report of `scan --report`.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "tunneldoc/render.h"
#include "tunneldoc/view.h"

namespace tunneldoc {

struct StatusPages::Impl {
  Impl(const StatusStore& s, PageOptions o) : store(s), options(std::move(o)) {}

  // The snapshot and its renderings, refreshed when the store's version moves.
  void refresh() {
    const std::uint64_t v = store.version();
    if (snapshot && snapshot->version == v) return;
    snapshot = store.snapshot();
    page.clear();
    live.clear();
  }

  std::string record(const Output& o) {
    std::string out;
    renderer.render(o, out);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  const StatusStore& store;
  PageOptions options;
  std::mutex mutex;
  // Guarded by mutex:
  std::shared_ptr<const ViewSnapshot> snapshot;
  std::string page, live;
  JsonRenderer renderer;
};

StatusPages::StatusPages(const StatusStore& store, PageOptions options)
    : impl_(std::make_unique<Impl>(store, std::move(options))) {}
StatusPages::~StatusPages() = default;

bool StatusPages::handle(const HttpRequest& request, HttpResponse& response) {
  const std::string_view path = request.path;
  const bool page = path == "/" || path == "/index.html";
  const bool live = path == "/live";
  const bool list = path == "/incidents" || path == "/incidents/";
  constexpr std::string_view kOne = "/incidents/";
  const bool one = !list && path.substr(0, kOne.size()) == kOne;
  if (!page && !live && !list && !one) return false;

  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  m.refresh();
  const ViewSnapshot& s = *m.snapshot;
  response.status = 200;
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (page || live) {
    response.etag = "\"v" + std::to_string(s.version) + (page ? "p\"" : "l\"");
    response.content_type = "text/html; charset=utf-8";
    response.headers.emplace_back("Content-Security-Policy", page_security_policy() + "; frame-ancestors 'none'");
    response.headers.emplace_back("Referrer-Policy", "no-referrer");
    if (request.if_none_match == response.etag) {
      response.status = 304;
      return true;
    }
    // /?refresh=N (1-3600 s): how often the script polls, e.g. for a wall display.
    int refresh = 0;
    if (page && request.query.substr(0, 8) == "refresh=") {
      const std::string_view v = request.query.substr(8);
      std::from_chars(v.data(), v.data() + v.size(), refresh);
      refresh = std::clamp(refresh, 0, 3600);
    }
    if (refresh > 0 && refresh != m.options.refresh_seconds) {
      PageOptions o = m.options;
      o.refresh_seconds = refresh;
      response.etag.clear();
      response.body = render_page(s, o);
      return true;
    }
    std::string& cached = page ? m.page : m.live;
    if (cached.empty()) cached = page ? render_page(s, m.options) : render_live(s, m.options);
    response.body = cached;
    return true;
  }
  response.content_type = "application/json";
  if (list) {
    std::string out = "[";
    bool first = true;
    for (const auto& records : {&s.open, &s.resolved}) {
      for (const OutputPtr& r : *records) {
        out += first ? "\n" : ",\n";
        first = false;
        out += m.record(*r);
      }
    }
    out += "\n]\n";
    response.body = std::move(out);
    return true;
  }
  const std::string_view id = path.substr(kOne.size());
  for (const auto& records : {&s.open, &s.resolved}) {
    for (const OutputPtr& r : *records) {
      if (r->incident->id == id) {
        response.body = m.record(*r) + "\n";
        return true;
      }
    }
  }
  response.status = 404;
  std::string body = "{\"error\":\"no such incident\",\"id\":";
  append_json_string(body, id);
  response.body = body + "}\n";
  return true;
}

// ------------------------------------------------------------------ report

ReportBuilder::ReportBuilder(MetricsRegistry& metrics, PageOptions options)
    : store_(report_view_options(), nullptr), options_(std::move(options)) {
  options_.live = false;
  sink_ = make_view_sink(store_, metrics, 16384, SinkOptions::WhenFull::block);
  sink_->start();
}

ReportBuilder::~ReportBuilder() {
  if (sink_) sink_->stop(Deadline::max());
}

bool ReportBuilder::write(const std::filesystem::path& path, std::string& error) {
  sink_->stop(Deadline::max());
  const std::string html = render_page(*store_.snapshot(), options_);
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      error = "cannot create " + tmp.string() + ": " + std::strerror(errno);
      return false;
    }
    out.write(html.data(), static_cast<std::streamsize>(html.size()));
    out.flush();
    if (!out) {
      error = "cannot write " + tmp.string() + ": " + std::strerror(errno);
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    error = "cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message();
    std::filesystem::remove(tmp, ec);
    return false;
  }
  return true;
}

}  // namespace tunneldoc
