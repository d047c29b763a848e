// html.cc — the status page and the report as HTML, rendered on the server.
//
// Every value that comes from a log (device, peer, user, evidence lines,
// fields) goes through append_html_escaped; so does the knowledge base's
// text. The page's own words come from one table per language (UiText), the
// seam for translations.
#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "tunneldoc/render.h"
#include "tunneldoc/view.h"

namespace tunneldoc {
namespace assets {
// Generated at build time from daemon/view/assets/ (embed_assets.cmake).
extern const std::string_view kPageCss;
extern const std::string_view kPageJs;
}  // namespace assets

namespace {

using json = nlohmann::ordered_json;

// The page's own words.
struct UiText {
  const char* lang;
  const char* page_title;
  const char* report_title;
  const char* skip;
  const char* updated;
  const char* times_utc;
  const char* summary;
  const char* open_incidents;
  const char* failing_peers;
  const char* recovered_peers;
  const char* devices;
  const char* diagnoses;
  const char* resolved_recently;
  const char* resolved_all;
  const char* device;
  const char* peer;
  const char* problem;
  const char* confidence;
  const char* count;
  const char* first_seen;
  const char* last_seen;
  const char* remedy;
  const char* state;
  const char* resolution;
  const char* resolved_at;
  const char* no_peer;
  const char* no_device;
  const char* empty_title;
  const char* empty_since;
  const char* empty_listeners;
  const char* empty_hint;
  const char* no_open;
  const char* no_open_report;
  const char* none_yet;
  const char* no_devices;
  const char* no_resolved;
  const char* more_rows;
  const char* more_devices;
  const char* merged_bars;
  const char* more_peers;
  const char* details;
  const char* evidence;
  const char* diagnosis;
  const char* incident_class;
  const char* remedies;
  const char* steps;
  const char* commands_for;
  const char* all_versions;
  const char* verify;
  const char* caution;
  const char* copy;
  const char* copy_label;
  const char* timeline;
  const char* timeline_caption;
  const char* other_peers;
  const char* peers_of;
  const char* last_diagnosis;
  const char* state_ok;
  const char* state_failing;
  const char* state_recovered;
  const char* open_state;
  const char* resolved_state;
  const char* forgotten;
  const char* kb;
  const char* inputs;
  const char* lines_read;
  const char* lines_diagnosed;
  const char* correlated;
  const char* generated;
  const char* no_script;
  // The script's words (data attributes of <body>).
  const char* copied;
  const char* open_one;
  const char* open_many;
  const char* connection_back;
  const char* connection_lost;
};

constexpr UiText kEnglish{
    "en",
    "Tunnel status",
    "tunneldoc report",
    "Skip to the open incidents",
    "Updated",
    "Times are UTC.",
    "Summary",
    "Open incidents",
    "Failing peers",
    "Recovered peers",
    "Devices",
    "Diagnoses",
    "Recently resolved",
    "Resolved incidents",
    "Device",
    "Peer",
    "Problem",
    "Confidence",
    "Count",
    "First seen",
    "Last seen",
    "Remedy",
    "State",
    "Resolution",
    "Resolved",
    "(no peer named)",
    "(no device named)",
    "No incidents yet.",
    "Nothing has been diagnosed since {}.",
    "tunneldoc is listening on: {}.",
    "Devices and their peers appear here with the first message that tunneldoc diagnoses: point a firewall's "
    "logging host at it (docs/quick-start.md). Ordinary traffic messages are read and counted, not shown.",
    "No open incidents: every tunnel tunneldoc has seen a problem with has recovered.",
    "No incident was still open at the end of the log.",
    "None yet.",
    "No device has sent a message tunneldoc diagnoses.",
    "None resolved.",
    "… and {} more (the JSON at incidents has all of them).",
    "… and {} more devices (those with failing peers are listed first).",
    "{} incidents ({} open)",
    "… and {} more peers of this device (failing peers are listed first).",
    "Incident details",
    "Evidence",
    "Diagnosis",
    "Incident class",
    "Remedies",
    "Steps",
    "Commands",
    "all versions",
    "Verify",
    "Caution:",
    "Copy",
    "Copy the commands: {}",
    "Timeline",
    "{} to {}: incidents as bars (one lane a peer), diagnoses as ticks below.",
    "other peers",
    "Peers of {}",
    "Last diagnosis",
    "ok",
    "failing",
    "recovered",
    "open",
    "resolved",
    "Forgotten to stay within bounds: {} devices, {} peers, {} open and {} resolved incidents, {} stale.",
    "Knowledge base",
    "Inputs",
    "Lines read",
    "Diagnosed lines",
    "Correlated diagnoses",
    "Generated",
    "This page refreshes itself every 30 seconds without JavaScript; with it, every few seconds without a reload.",
    "Copied",
    "1 open incident",
    "{} open incidents",
    "Connection back.",
    "Cannot reach tunneldoc; retrying.",
};

// Traditional Chinese (Taiwan), the wording of network operations in Taiwan:
// the same placeholders, in the same order, as kEnglish.
constexpr UiText kTraditionalChinese{
    "zh-TW",
    "通道狀態",
    "tunneldoc 報告",
    "跳到未解決的事件",
    "更新時間",
    "時間皆為 UTC。",
    "摘要",
    "未解決的事件",
    "失敗的對等體",
    "已恢復的對等體",
    "裝置",
    "診斷",
    "最近解決",
    "已解決的事件",
    "裝置",
    "對等體",
    "問題",
    "可信度",
    "次數",
    "首次出現",
    "最後出現",
    "處理方式",
    "狀態",
    "解決方式",
    "解決時間",
    "（未指出對等體）",
    "（未指出裝置）",
    "尚無事件。",
    "自 {} 起沒有任何診斷。",
    "tunneldoc 正在監聽：{}。",
    "當 tunneldoc 診斷到第一則訊息時，裝置與其對等體就會出現在這裡：把防火牆的 logging host 指向它"
    "（docs/quick-start.md）。一般流量訊息只會讀取並計數，不會顯示。",
    "沒有未解決的事件：tunneldoc 曾看到問題的每條通道都已恢復。",
    "日誌結束時沒有仍未解決的事件。",
    "目前還沒有。",
    "尚無裝置送出 tunneldoc 能診斷的訊息。",
    "沒有已解決的事件。",
    "… 另有 {} 筆（incidents 的 JSON 列出全部）。",
    "… 另有 {} 台裝置（有失敗對等體的裝置排在前面）。",
    "{} 個事件（{} 個未解決）",
    "… 此裝置另有 {} 個對等體（失敗的對等體排在前面）。",
    "事件詳情",
    "證據",
    "診斷",
    "事件類別",
    "處理方式",
    "步驟",
    "指令",
    "所有版本",
    "驗證",
    "注意：",
    "複製",
    "複製指令：{}",
    "時間軸",
    "{} 至 {}：事件以長條表示（每個對等體一列），診斷以下方刻度表示。",
    "其他對等體",
    "{} 的對等體",
    "最後一次診斷",
    "正常",
    "失敗",
    "已恢復",
    "未解決",
    "已解決",
    "為維持上限而捨棄：{} 台裝置、{} 個對等體、{} 個未解決與 {} 個已解決事件、{} 個過期事件。",
    "知識庫",
    "輸入",
    "讀取行數",
    "已診斷行數",
    "關聯診斷",
    "產生時間",
    "未啟用 JavaScript 時，此頁每 30 秒自動重新整理；啟用時每隔幾秒更新，不必重新載入。",
    "已複製",
    "1 個未解決的事件",
    "{} 個未解決的事件",
    "連線已恢復。",
    "無法連上 tunneldoc，重試中。",
};

const UiText& text_for(std::string_view lang) {
  return lang == "zh-TW" ? kTraditionalChinese : kEnglish;
}

std::string b64_sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  unsigned char out[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int len = EVP_EncodeBlock(out, digest, static_cast<int>(n));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(len));
}

// "2026-11-26 09:20:11" (UTC).
std::string when(std::int64_t ms) {
  const auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

class Html {
 public:
  explicit Html(std::string& out) : out_(out) {}
  Html& raw(std::string_view s) {
    out_ += s;
    return *this;
  }
  Html& text(std::string_view s) {
    append_html_escaped(out_, s);
    return *this;
  }
  Html& num(std::uint64_t n) {
    out_ += std::to_string(n);
    return *this;
  }
  Html& time(std::int64_t ms) {
    const std::string w = when(ms);
    out_ += "<time datetime=\"";
    out_ += w.substr(0, 10);
    out_ += 'T';
    out_ += w.substr(11);
    out_ += "Z\">";
    out_ += w;
    out_ += "</time>";
    return *this;
  }
  std::string& str() { return out_; }

 private:
  std::string& out_;
};

std::string platform_label(std::string_view platform) {
  static const std::map<std::string_view, std::string_view> names = {{"asa", "ASA"},
                                                                     {"ios", "IOS"},
                                                                     {"vpn-client", "VPN Client"},
                                                                     {"anyconnect", "AnyConnect"},
                                                                     {"vpn3000", "VPN 3000"},
                                                                     {"pix", "PIX"},
                                                                     {"ftd", "FTD"}};
  const auto it = names.find(platform);
  return std::string(it != names.end() ? it->second : platform);
}

// The knowledge-base text of one record's entry, as the record shows it.
struct EntryText {
  std::string title, diagnosis, confidence;
  json remedies = json::array();
};

class EntryCache {
 public:
  explicit EntryCache(const Audience& audience) : audience_(audience) {}
  const EntryText& of(const Output& o) {
    const auto key = std::make_pair(o.kb.get(), o.entry);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    EntryText t;
    json j;
    if (o.kb) {
      if (const Signature* s = o.kb->find_signature(o.entry)) {
        j = signature_json(*s, *o.kb, audience_);
      } else if (const Rule* r = o.kb->find_rule(o.entry)) {
        j = rule_json(*r, *o.kb, audience_);
      }
    }
    if (j.is_object()) {
      t.title = j.value("title", o.entry);
      t.diagnosis = j.value("diagnosis", "");
      t.confidence = j.value("confidence", "medium");
      t.remedies = j["remedies"];
    } else {
      t.title = o.entry;  // an entry the knowledge base no longer has
      t.confidence = "medium";
    }
    return cache_.emplace(key, std::move(t)).first->second;
  }
  // Entries in first-use order, for the remedies section.
  const std::vector<std::pair<std::string, const Output*>>& order() const { return order_; }
  void use(const Output& o) {
    if (used_.insert(o.entry).second) order_.emplace_back(o.entry, &o);
  }

 private:
  const Audience& audience_;
  std::map<std::pair<const KnowledgeBase*, std::string>, EntryText> cache_;
  std::set<std::string> used_;
  std::vector<std::pair<std::string, const Output*>> order_;
};

// An id attribute from an entry id (knowledge-base ids are [a-z0-9-], but
// be safe whatever they hold).
std::string anchor(std::string_view prefix, std::string_view id) {
  std::string a(prefix);
  for (char c : id) a += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return a;
}

class Renderer {
 public:
  Renderer(const ViewSnapshot& s, const PageOptions& o) : s_(s), o_(o), t_(text_for(o.audience.lang)) {}

  void main(std::string& out) {
    Html h(out);
    // Which incidents the page details (the live page keeps it bounded).
    for (const auto& list : {&s_.open, &s_.resolved}) {
      for (const OutputPtr& r : *list) {
        if (!o_.live || detailed_.size() < o_.max_details) detailed_.insert(r->incident->id);
      }
    }
    h.raw("<p class=\"updated\">");
    if (o_.live) {
      h.raw(t_.updated).raw(" ").time(s_.now_ms).raw(". ");
    } else if (!o_.generated.empty()) {
      h.raw(t_.generated).raw(" ").text(o_.generated).raw(". ");
    }
    h.raw(t_.times_utc).raw("</p>\n");
    summary(h);
    open_table(h);
    devices(h);
    resolved_table(h);
    details(h);
    remedies(h);
    footer(h);
  }

 private:
  const char* state_word(PeerState st) const {
    return st == PeerState::failing ? t_.state_failing : st == PeerState::recovered ? t_.state_recovered : t_.state_ok;
  }

  void summary(Html& h) {
    std::size_t failing = 0, recovered = 0;
    for (const DeviceView& d : s_.devices) {
      for (const PeerView& p : d.peers) {
        failing += p.state == PeerState::failing;
        recovered += p.state == PeerState::recovered;
      }
    }
    h.raw("<section aria-labelledby=\"h-summary\">\n<h2 id=\"h-summary\">").raw(t_.summary).raw("</h2>\n");
    h.raw("<dl class=\"counts\" data-open=\"").num(s_.open.size()).raw("\">\n");
    auto item = [&](const char* label, std::uint64_t n, const char* cls, const char* key) {
      h.raw("<div class=\"count").raw(n != 0 ? cls : "").raw("\" data-count=\"").raw(key).raw("\"><dt>");
      h.raw(label).raw("</dt><dd>").num(n).raw("</dd></div>\n");
    };
    item(t_.open_incidents, s_.open.size(), " bad", "open");
    item(t_.failing_peers, failing, " bad", "failing");
    item(t_.recovered_peers, recovered, " warn", "recovered");
    item(t_.devices, s_.devices.size(), "", "devices");
    item(t_.diagnoses, s_.counts.diagnoses, "", "diagnoses");
    if (!o_.live) {
      item(t_.resolved_all, s_.resolved.size(), "", "resolved");
      item(t_.lines_read, o_.lines_read, "", "lines");
      item(t_.correlated, o_.correlated, "", "correlated");
    }
    h.raw("</dl>\n");
    if (!o_.live && !o_.inputs.empty()) {
      h.raw("<p class=\"inputs\">").raw(t_.inputs).raw(": ");
      for (std::size_t i = 0; i < o_.inputs.size(); ++i) {
        if (i != 0) h.raw(", ");
        h.raw("<code>").text(o_.inputs[i]).raw("</code>");
      }
      h.raw("</p>\n");
    }
    if (o_.live && s_.devices.empty() && s_.open.empty() && s_.resolved.empty()) {
      h.raw("<div class=\"empty\" id=\"empty\">\n<p><strong>").raw(t_.empty_title).raw("</strong> ");
      h.text(fmt::format(fmt::runtime(t_.empty_since), when(s_.since_ms != 0 ? s_.since_ms : s_.now_ms) + " UTC"));
      h.raw("</p>\n");
      if (!o_.listeners.empty()) {
        std::string joined;
        for (const std::string& l : o_.listeners) joined += (joined.empty() ? "" : ", ") + l;
        h.raw("<p>").text(fmt::format(fmt::runtime(t_.empty_listeners), joined)).raw("</p>\n");
      }
      h.raw("<p>").text(t_.empty_hint).raw("</p>\n</div>\n");
    }
    h.raw("</section>\n");
  }

  void peer_cell(Html& h, std::string_view peer) {
    if (peer.empty()) {
      h.raw("<span class=\"none\">").raw(t_.no_peer).raw("</span>");
    } else {
      h.text(peer);
    }
  }
  void device_cell(Html& h, std::string_view device) {
    if (device.empty()) {
      h.raw("<span class=\"none\">").raw(t_.no_device).raw("</span>");
    } else {
      h.text(device);
    }
  }

  void incident_rows(Html& h, const std::vector<OutputPtr>& list, bool resolved) {
    std::size_t rows = 0;
    for (const OutputPtr& r : list) {
      if (o_.live && rows == o_.max_rows) break;
      ++rows;
      const IncidentInfo& i = *r->incident;
      const EntryText& e = entries_.of(*r);
      entries_.use(*r);
      h.raw("<tr data-id=\"").text(i.id).raw("\"><td data-label=\"").raw(t_.device).raw("\">");
      device_cell(h, i.device);
      h.raw("</td><td data-label=\"").raw(t_.peer).raw("\">");
      peer_cell(h, i.peer);
      h.raw("</td><td data-label=\"").raw(t_.problem).raw("\" class=\"problem\">");
      if (detailed_.count(i.id)) {
        h.raw("<a href=\"#").raw(anchor("inc-", i.id)).raw("\">").text(e.title).raw("</a>");
      } else {
        h.text(e.title);
      }
      h.raw("</td><td data-label=\"").raw(t_.confidence).raw("\"><span class=\"conf conf-").text(e.confidence);
      h.raw("\">").text(e.confidence).raw("</span></td><td data-label=\"").raw(t_.count).raw("\" class=\"num\">");
      h.num(r->count).raw("</td><td data-label=\"").raw(t_.first_seen).raw("\">").time(i.first_seen_ms);
      h.raw("</td><td data-label=\"").raw(t_.last_seen).raw("\">").time(i.last_seen_ms).raw("</td>");
      if (resolved) {
        h.raw("<td data-label=\"").raw(t_.resolution).raw("\">").text(to_string(i.resolution)).raw(" ");
        h.time(r->at_ms).raw("</td>");
      }
      h.raw("<td data-label=\"").raw(t_.remedy).raw("\"><a href=\"#").raw(anchor("fix-", r->entry)).raw("\">");
      h.raw(t_.remedy).raw("</a></td></tr>\n");
    }
    if (rows < list.size()) {
      h.raw("<tr><td colspan=\"9\" class=\"more\">");
      h.text(fmt::format(fmt::runtime(t_.more_rows), list.size() - rows)).raw("</td></tr>\n");
    }
  }

  void table_head(Html& h, bool resolved) {
    h.raw("<thead><tr>");
    for (const char* c : {t_.device, t_.peer, t_.problem, t_.confidence, t_.count, t_.first_seen, t_.last_seen})
      h.raw("<th scope=\"col\">").raw(c).raw("</th>");
    if (resolved) h.raw("<th scope=\"col\">").raw(t_.resolution).raw("</th>");
    h.raw("<th scope=\"col\">").raw(t_.remedy).raw("</th></tr></thead>\n");
  }

  void open_table(Html& h) {
    h.raw("<section aria-labelledby=\"h-open\" id=\"open\">\n<h2 id=\"h-open\">").raw(t_.open_incidents);
    h.raw(" <span class=\"badge\">").num(s_.open.size()).raw("</span></h2>\n");
    if (s_.open.empty()) {
      const bool nothing_yet = s_.devices.empty() && s_.resolved.empty();
      h.raw("<p class=\"ok-note\">").raw(!o_.live ? t_.no_open_report : nothing_yet ? t_.none_yet : t_.no_open);
      h.raw("</p>\n</section>\n");
      return;
    }
    h.raw("<div class=\"scroll\"><table class=\"incidents\" id=\"open-table\" aria-labelledby=\"h-open\">\n");
    table_head(h, false);
    h.raw("<tbody>\n");
    incident_rows(h, s_.open, false);
    h.raw("</tbody></table></div>\n</section>\n");
  }

  void resolved_table(Html& h) {
    const char* title = o_.live ? t_.resolved_recently : t_.resolved_all;
    h.raw("<section aria-labelledby=\"h-resolved\">\n<h2 id=\"h-resolved\">").raw(title);
    h.raw(" <span class=\"badge\">").num(s_.resolved.size()).raw("</span></h2>\n");
    if (s_.resolved.empty()) {
      h.raw("<p>").raw(t_.no_resolved).raw("</p>\n</section>\n");
      return;
    }
    h.raw("<div class=\"scroll\"><table class=\"incidents\" id=\"resolved-table\" aria-labelledby=\"h-resolved\">\n");
    table_head(h, true);
    h.raw("<tbody>\n");
    incident_rows(h, s_.resolved, true);
    h.raw("</tbody></table></div>\n</section>\n");
  }

  // The time span of a timeline: the live window, or in a report each
  // device's own span (a device whose clock was never set must not squeeze
  // every other device's timeline into a corner).
  std::pair<std::int64_t, std::int64_t> span(const DeviceView& d, const std::vector<const Output*>& incidents) const {
    if (s_.window_ms > 0) return {s_.now_ms - s_.window_ms, s_.now_ms};
    std::int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const Output* r : incidents) {
      lo = std::min(lo, r->incident->first_seen_ms);
      hi = std::max({hi, r->incident->last_seen_ms, r->at_ms});
      if (r->incident->state != IncidentState::resolved) hi = std::max(hi, s_.now_ms);  // open until the end
    }
    if (!d.buckets.empty()) {
      lo = std::min(lo, d.buckets.front().first);
      hi = std::max(hi, d.buckets.back().first + d.bucket_ms);
    }
    if (lo > hi) lo = hi = s_.now_ms;
    if (hi - lo < 60'000) hi = lo + 60'000;
    return {lo, hi};
  }

  void devices(Html& h) {
    h.raw("<section aria-labelledby=\"h-devices\">\n<h2 id=\"h-devices\">").raw(t_.devices);
    h.raw(" <span class=\"badge\">").num(s_.devices.size()).raw("</span></h2>\n");
    if (s_.devices.empty()) {
      h.raw("<p>").raw(t_.no_devices).raw("</p>\n</section>\n");
      return;
    }
    // Incidents per device, for the bars.
    std::unordered_map<std::string_view, std::vector<const Output*>> by_device;
    for (const auto& list : {&s_.open, &s_.resolved})
      for (const OutputPtr& r : *list) by_device[r->incident->device].push_back(r.get());
    // Devices with a failing peer first, then with a recovered one, by name within.
    auto rank = [](const DeviceView& d) {
      int r = 2;
      for (const PeerView& p : d.peers)
        r = std::min(r, p.state == PeerState::failing ? 0 : p.state == PeerState::recovered ? 1 : 2);
      return r;
    };
    std::vector<std::pair<int, const DeviceView*>> order;
    order.reserve(s_.devices.size());
    for (const DeviceView& d : s_.devices) order.emplace_back(rank(d), &d);
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::size_t n = 0;
    for (const auto& [device_rank, device] : order) {
      if (o_.live && n == o_.max_devices) {
        h.raw("<p class=\"more\">").text(fmt::format(fmt::runtime(t_.more_devices), order.size() - n)).raw("</p>\n");
        break;
      }
      const DeviceView& d = *device;
      const std::string id = "dev-" + std::to_string(n++);
      h.raw("<article class=\"device\" aria-labelledby=\"").raw(id).raw("\">\n<h3 id=\"").raw(id).raw("\">");
      device_cell(h, d.name);
      h.raw("</h3>\n<div class=\"scroll\"><table class=\"peers\"><caption>");
      h.text(fmt::format(fmt::runtime(t_.peers_of), d.name.empty() ? std::string(t_.no_device) : d.name));
      h.raw("</caption>\n<thead><tr><th scope=\"col\">").raw(t_.peer).raw("</th><th scope=\"col\">").raw(t_.state);
      h.raw("</th><th scope=\"col\">").raw(t_.open_incidents).raw("</th><th scope=\"col\">").raw(t_.diagnoses);
      h.raw("</th><th scope=\"col\">").raw(t_.last_diagnosis).raw("</th></tr></thead>\n<tbody>\n");
      std::size_t shown = 0;
      for (const PeerView& p : d.peers) {
        if (o_.live && shown == o_.max_peers) {
          h.raw("<tr><td colspan=\"5\" class=\"more\">");
          h.text(fmt::format(fmt::runtime(t_.more_peers), d.peers.size() - shown)).raw("</td></tr>\n");
          break;
        }
        ++shown;
        h.raw("<tr data-state=\"").raw(to_string(p.state)).raw("\"><th scope=\"row\" data-label=\"").raw(t_.peer);
        h.raw("\">");
        peer_cell(h, p.name);
        h.raw("</th><td data-label=\"").raw(t_.state).raw("\"><span class=\"state state-").raw(to_string(p.state));
        h.raw("\">").raw(state_word(p.state)).raw("</span>");
        if (p.state == PeerState::recovered) {
          h.raw(" <span class=\"why\">").text(to_string(p.resolution)).raw(" ").time(p.resolved_ms).raw("</span>");
        }
        h.raw("</td><td data-label=\"").raw(t_.open_incidents).raw("\" class=\"num\">").num(p.open);
        h.raw("</td><td data-label=\"").raw(t_.diagnoses).raw("\" class=\"num\">").num(p.diagnoses);
        h.raw("</td><td data-label=\"").raw(t_.last_diagnosis).raw("\">");
        if (p.last_diagnosis_ms != 0) h.time(p.last_diagnosis_ms);
        h.raw("</td></tr>\n");
      }
      h.raw("</tbody></table></div>\n");
      const auto& incidents = by_device[d.name];
      const auto [t0, t1] = span(d, incidents);
      timeline(h, d, incidents, t0, t1);
      h.raw("</article>\n");
    }
    h.raw("</section>\n");
  }

  void timeline(Html& h, const DeviceView& d, const std::vector<const Output*>& incidents, std::int64_t t0,
                std::int64_t t1) {
    const double width = 1000.0, scale = width / static_cast<double>(t1 - t0);
    auto x = [&](std::int64_t t) { return std::clamp(static_cast<double>(t - t0) * scale, 0.0, width); };
    // One lane per peer with an incident in the span, at most 8; the rest share one.
    constexpr std::size_t kLanes = 8;
    std::vector<std::string> lanes;
    std::vector<std::pair<std::size_t, const Output*>> bars;
    for (const Output* r : incidents) {
      const IncidentInfo& i = *r->incident;
      const std::int64_t end = i.state == IncidentState::resolved ? std::max(i.last_seen_ms, r->at_ms) : s_.now_ms;
      if (end < t0 || i.first_seen_ms > t1) continue;
      auto it = std::find(lanes.begin(), lanes.end(), i.peer);
      std::size_t lane = static_cast<std::size_t>(it - lanes.begin());
      if (it == lanes.end()) {
        if (lanes.size() < kLanes) {
          lanes.push_back(i.peer);
        } else {
          lane = kLanes;
        }
      }
      bars.emplace_back(lane, r);
    }
    const bool other = std::any_of(bars.begin(), bars.end(), [](const auto& b) { return b.first == kLanes; });
    std::uint64_t ticks = 0;
    std::uint32_t most = 1;
    for (const auto& [start, count] : d.buckets) {
      if (start + d.bucket_ms < t0 || start > t1) continue;
      ticks += count;
      most = std::max(most, count);
    }
    h.raw("<figure class=\"timeline\">\n<figcaption>").raw(t_.timeline).raw(": ");
    h.text(fmt::format(fmt::runtime(t_.timeline_caption), when(t0), when(t1)));
    h.raw("</figcaption>\n");
    auto lane_row = [&](std::string_view label, bool none, std::size_t index) {
      h.raw("<div class=\"lane\"><span class=\"lbl\">");
      if (none) {
        h.raw("<span class=\"none\">").raw(label).raw("</span>");
      } else {
        h.text(label);
      }
      h.raw("</span><svg viewBox=\"0 0 1000 12\" preserveAspectRatio=\"none\" aria-hidden=\"true\">");
      // Bars that touch at this scale merge into one (a lane holds at most
      // ~250 rects however many incidents it had).
      struct Segment {
        double a, b;
        std::int64_t from, to;
        std::size_t count = 0, open = 0;
        const Output* only = nullptr;
      };
      std::vector<Segment> segments;
      for (const auto& [lane, r] : bars) {
        if (lane != index) continue;
        const IncidentInfo& i = *r->incident;
        const bool resolved = i.state == IncidentState::resolved;
        const std::int64_t end = resolved ? std::max(i.last_seen_ms, r->at_ms) : s_.now_ms;
        const double a = std::min(x(i.first_seen_ms), width - 4.0);
        segments.push_back({a, std::max(x(end), a + 4.0), i.first_seen_ms, end, 1, resolved ? 0u : 1u, r});
      }
      std::sort(segments.begin(), segments.end(), [](const Segment& p, const Segment& q) { return p.a < q.a; });
      std::vector<Segment> merged;
      for (const Segment& g : segments) {
        if (!merged.empty() && g.a <= merged.back().b + 2.0) {
          Segment& m = merged.back();
          m.b = std::max(m.b, g.b);
          m.from = std::min(m.from, g.from);
          m.to = std::max(m.to, g.to);
          m.count += g.count;
          m.open += g.open;
          m.only = nullptr;
        } else {
          merged.push_back(g);
        }
      }
      for (const Segment& g : merged) {
        h.raw(
            fmt::format("<rect class=\"{}\" data-n=\"{}\" x=\"{:.1f}\" y=\"1\" width=\"{:.1f}\" height=\"10\"><title>",
                        g.open != 0 ? "bar open" : "bar done", g.count, g.a, g.b - g.a));
        if (g.only != nullptr) {
          h.text(entries_.of(*g.only).title).raw(" (").raw(g.open != 0 ? t_.open_state : t_.resolved_state).raw(")");
        } else {
          h.text(fmt::format(fmt::runtime(t_.merged_bars), g.count, g.open));
        }
        h.raw(" ").text(when(g.from)).raw(" – ").text(when(g.to)).raw("</title></rect>");
      }
      h.raw("</svg></div>\n");
    };
    for (std::size_t i = 0; i < lanes.size(); ++i)
      lane_row(lanes[i].empty() ? t_.no_peer : lanes[i], lanes[i].empty(), i);
    if (other) lane_row(t_.other_peers, true, kLanes);
    h.raw("<div class=\"lane ticks\"><span class=\"lbl\">").raw(t_.diagnoses).raw(" (").num(ticks).raw(")</span>");
    h.raw("<svg viewBox=\"0 0 1000 12\" preserveAspectRatio=\"none\" aria-hidden=\"true\">");
    for (const auto& [start, count] : d.buckets) {
      if (start + d.bucket_ms < t0 || start > t1) continue;
      const double hgt = 3.0 + 9.0 * std::log1p(count) / std::log1p(most);
      h.raw(fmt::format("<rect class=\"tick\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"></rect>",
                        std::min(x(start), width - 2.0), 12.0 - hgt, std::max(2.0, x(start + d.bucket_ms) - x(start)),
                        hgt));
    }
    h.raw("</svg></div>\n<div class=\"axis\" aria-hidden=\"true\"><span>").text(when(t0)).raw("</span><span>");
    h.text(when(t1)).raw("</span></div>\n</figure>\n");
  }

  void details(Html& h) {
    if (detailed_.empty()) return;
    h.raw("<section aria-labelledby=\"h-details\">\n<h2 id=\"h-details\">").raw(t_.details).raw("</h2>\n");
    for (const auto& list : {&s_.open, &s_.resolved}) {
      for (const OutputPtr& r : *list) {
        const IncidentInfo& i = *r->incident;
        if (!detailed_.count(i.id)) continue;
        const EntryText& e = entries_.of(*r);
        entries_.use(*r);
        const bool open = i.state != IncidentState::resolved;
        h.raw("<article class=\"incident\" id=\"").raw(anchor("inc-", i.id)).raw("\" aria-labelledby=\"");
        h.raw(anchor("inc-h-", i.id)).raw("\">\n<details").raw(open ? " open" : "").raw(" data-key=\"");
        h.raw(anchor("inc-", i.id)).raw("\"><summary><h3 id=\"").raw(anchor("inc-h-", i.id)).raw("\">");
        h.text(e.title).raw("</h3> <span class=\"who\">");
        device_cell(h, i.device);
        h.raw(" → ");
        peer_cell(h, i.peer);
        h.raw("</span> <span class=\"state state-").raw(open ? "failing" : "recovered").raw("\">");
        h.raw(open ? t_.open_state : t_.resolved_state).raw("</span></summary>\n");
        h.raw("<p class=\"diag\">").text(e.diagnosis).raw("</p>\n<dl class=\"facts\">");
        auto fact = [&](const char* k) { h.raw("<div><dt>").raw(k).raw("</dt><dd>"); };
        fact(t_.confidence);
        h.text(e.confidence).raw("</dd></div>");
        fact(t_.count);
        h.num(r->count).raw("</dd></div>");
        fact(t_.first_seen);
        h.time(i.first_seen_ms).raw("</dd></div>");
        fact(t_.last_seen);
        h.time(i.last_seen_ms).raw("</dd></div>");
        if (!open) {
          fact(t_.resolution);
          h.text(to_string(i.resolution)).raw(" ").time(r->at_ms).raw("</dd></div>");
        }
        fact(t_.incident_class);
        h.text(i.incident_class).raw("</dd></div>");
        h.raw("<div><dt>id</dt><dd><code>").text(i.id).raw("</code></dd></div></dl>\n");
        h.raw("<h4>").raw(t_.evidence).raw("</h4>\n<ol class=\"evidence\">\n");
        for (const auto& ev : r->evidence) {
          h.raw("<li><code class=\"line\">").text(ev->line()).raw("</code> <span class=\"src\">");
          h.text(ev->source()).raw("</span></li>\n");
        }
        h.raw("</ol>\n<p class=\"fix\">").raw(t_.remedy).raw(": <a href=\"#").raw(anchor("fix-", r->entry));
        h.raw("\">").text(e.title).raw("</a></p>\n</details>\n</article>\n");
      }
    }
    h.raw("</section>\n");
  }

  void command_block(Html& h, const std::string& label, const json& commands) {
    if (!commands.is_array() || commands.empty()) return;
    const std::string id = "cmd-" + std::to_string(++blocks_);
    h.raw("<div class=\"cmd\"><div class=\"cmd-head\"><span class=\"plat\">").text(label);
    h.raw("</span><button type=\"button\" class=\"copy\" data-copy=\"").raw(id).raw("\" aria-label=\"");
    h.text(fmt::format(fmt::runtime(t_.copy_label), label)).raw("\" hidden>").raw(t_.copy).raw("</button></div>");
    h.raw("<pre id=\"").raw(id).raw("\"><code>");
    bool first = true;
    for (const auto& c : commands) {
      if (!first) h.raw("\n");
      first = false;
      h.text(c.is_string() ? c.get<std::string>() : c.dump());
    }
    h.raw("</code></pre></div>\n");
  }

  void remedies(Html& h) {
    if (entries_.order().empty()) return;
    h.raw("<section aria-labelledby=\"h-remedies\">\n<h2 id=\"h-remedies\">").raw(t_.remedies).raw("</h2>\n");
    for (const auto& [entry, o] : entries_.order()) {
      const EntryText& e = entries_.of(*o);
      h.raw("<article class=\"remedy\" id=\"").raw(anchor("fix-", entry)).raw("\" aria-labelledby=\"");
      h.raw(anchor("fix-h-", entry)).raw("\">\n<h3 id=\"").raw(anchor("fix-h-", entry)).raw("\">").text(e.title);
      h.raw("</h3>\n<p class=\"diag\">").text(e.diagnosis).raw("</p>\n");
      for (const json& r : e.remedies) {
        h.raw("<section class=\"section\">\n<h4>").text(r.value("title", "")).raw("</h4>\n");
        if (r.contains("summary") && r["summary"].is_string())
          h.raw("<p class=\"summary\">").text(r["summary"].get<std::string>()).raw("</p>\n");
        if (r.contains("caution") && r["caution"].is_string()) {
          h.raw("<p class=\"caution\" role=\"note\"><strong>").raw(t_.caution).raw("</strong> ");
          h.text(r["caution"].get<std::string>()).raw("</p>\n");
        }
        if (r.contains("steps") && !r["steps"].empty()) {
          h.raw("<h5>").raw(t_.steps).raw("</h5>\n<ol class=\"steps\">\n");
          for (const json& step : r["steps"]) {
            h.raw("<li>").text(step.is_string() ? step.get<std::string>() : step.dump()).raw("</li>\n");
          }
          h.raw("</ol>\n");
        }
        const json groups = r.value("command_groups", json::array());
        if (!groups.empty()) {
          h.raw("<h5>").raw(t_.commands_for).raw("</h5>\n<div class=\"cmds\">\n");
          for (const json& g : groups) {
            std::string label = platform_label(g.value("platform", ""));
            label += g.contains("versions") && g["versions"].is_string() ? " " + g["versions"].get<std::string>()
                                                                         : std::string(" (") + t_.all_versions + ")";
            command_block(h, label, g.value("commands", json::array()));
          }
          h.raw("</div>\n");
        }
        const json verify = r.value("verify", json::object());
        if (verify.is_object() && !verify.empty()) {
          h.raw("<h5>").raw(t_.verify).raw("</h5>\n<div class=\"cmds\">\n");
          for (const auto& [platform, list] : verify.items())
            command_block(h, std::string(t_.verify) + ": " + platform_label(platform), list);
          h.raw("</div>\n");
        }
        h.raw("</section>\n");
      }
      h.raw("</article>\n");
    }
    h.raw("</section>\n");
  }

  void footer(Html& h) {
    const ViewCounts& c = s_.counts;
    h.raw("<footer class=\"meta\">");
    if (!o_.kb_version.empty()) h.raw("<p>").raw(t_.kb).raw(": <code>").text(o_.kb_version).raw("</code></p>");
    if (c.forgotten_devices + c.forgotten_peers + c.forgotten_open + c.forgotten_resolved + c.forgotten_stale != 0) {
      h.raw("<p class=\"forgotten\">");
      h.text(fmt::format(fmt::runtime(t_.forgotten), c.forgotten_devices, c.forgotten_peers, c.forgotten_open,
                         c.forgotten_resolved, c.forgotten_stale));
      h.raw("</p>");
    }
    h.raw("</footer>\n");
  }

  const ViewSnapshot& s_;
  const PageOptions& o_;
  const UiText& t_;
  EntryCache entries_{o_.audience};
  std::set<std::string> detailed_;
  std::size_t blocks_ = 0;
};

}  // namespace

bool page_language_supported(std::string_view lang) {
  return lang == "en" || lang == "zh-TW";
}

void append_html_escaped(std::string& out, std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
            out += kReplacement;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlong forms, no surrogates) goes out
    // as is; anything else is one U+FFFD per byte.
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    }
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    ok = ok && !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
         !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
}

const std::string& page_security_policy() {
  static const std::string policy = "default-src 'none'; style-src 'sha256-" + b64_sha256(assets::kPageCss) +
                                    "'; script-src 'sha256-" + b64_sha256(assets::kPageJs) +
                                    "'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'";
  return policy;
}

std::string render_live(const ViewSnapshot& snapshot, const PageOptions& options) {
  std::string out;
  out.reserve(16 * 1024);
  Renderer(snapshot, options).main(out);
  return out;
}

std::string render_page(const ViewSnapshot& snapshot, const PageOptions& options) {
  const UiText& t = text_for(options.audience.lang);
  std::string out;
  out.reserve(64 * 1024);
  Html h(out);
  h.raw("<!doctype html>\n<html lang=\"").text(t.lang).raw("\">\n<head>\n<meta charset=\"utf-8\">\n");
  h.raw("<meta http-equiv=\"Content-Security-Policy\" content=\"").text(page_security_policy()).raw("\">\n");
  h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
  h.raw("<meta name=\"color-scheme\" content=\"light dark\">\n<link rel=\"icon\" href=\"data:,\">\n<title>");
  if (options.live) {
    h.raw(t.page_title).raw(" — tunneldoc");
  } else {
    h.raw(t.report_title);
    if (!options.inputs.empty()) h.raw(": ").text(options.inputs.front());
    if (options.inputs.size() > 1) h.raw(" …");
  }
  h.raw("</title>\n<style>").raw(assets::kPageCss).raw("</style>\n");
  if (options.live) h.raw("<noscript><meta http-equiv=\"refresh\" content=\"30\"></noscript>\n");
  h.raw("</head>\n<body");
  h.raw(" data-copy-label=\"").raw(t.copy).raw("\" data-copied=\"").raw(t.copied).raw("\" data-open-one=\"");
  h.raw(t.open_one).raw("\" data-open-many=\"").raw(t.open_many).raw("\" data-back=\"").raw(t.connection_back);
  h.raw("\" data-lost=\"").raw(t.connection_lost).raw("\"");
  if (options.live)
    h.raw(" data-live=\"live\" data-refresh=\"").num(static_cast<std::uint64_t>(options.refresh_seconds)).raw("\"");
  h.raw(">\n<a class=\"skip\" href=\"#open\">").raw(t.skip).raw("</a>\n<header class=\"top\"><h1>");
  h.raw(options.live ? t.page_title : t.report_title).raw("</h1>");
  if (options.live) {
    h.raw("<p class=\"sub\"><span id=\"status\" role=\"status\" aria-live=\"polite\"></span></p>");
    h.raw("<noscript><p class=\"sub\">").raw(t.no_script).raw("</p></noscript>");
  }
  h.raw("</header>\n<main id=\"main\" tabindex=\"-1\" data-version=\"").num(snapshot.version).raw("\">\n");
  Renderer(snapshot, options).main(out);
  h.raw("</main>\n<script>").raw(assets::kPageJs).raw("</script>\n</body>\n</html>\n");
  return out;
}

}  // namespace tunneldoc
