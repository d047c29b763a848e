// json_renderer.cc — the diagnosis record as one JSON line.
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <ctime>

#include "tunneldoc/render.h"

namespace tunneldoc {
namespace {

using json = nlohmann::ordered_json;

json platform_json(const PlatformCommands& commands) {
  json out = json::object();
  for (const auto& [platform, list] : commands) out[platform] = list;
  return out;
}

// issue 10: [{"platform":"asa","versions":"8.4+","commands":[...]}], "versions" null for all.
json command_groups_json(const std::vector<CommandGroup>& groups) {
  json out = json::array();
  for (const auto& g : groups) {
    out.push_back(json{{"platform", g.platform},
                       {"versions", g.versions.empty() ? json(nullptr) : json(g.versions)},
                       {"commands", g.commands}});
  }
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int current_year() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return tm.tm_year + 1900;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  // Fast path: printable ASCII without quote or backslash goes out as is; the
  // rest (escapes, UTF-8 validation, U+FFFD) is nlohmann's. One table lookup a
  // byte: the evidence line is most of the bytes a diagnosis scans.
  static constexpr auto kPlain = [] {
    std::array<bool, 256> t{};
    for (int c = 0x20; c < 0x7f; ++c) t[static_cast<std::size_t>(c)] = c != '"' && c != '\\';
    return t;
  }();
  bool plain = true;
  for (char c : s) {
    if (!kPlain[static_cast<unsigned char>(c)]) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out += s;
    out += '"';
    return;
  }
  out += dump(json(std::string(s)));
}

nlohmann::ordered_json section_json(const Section& s) {
  json steps = json::array();
  for (const Step& step : s.steps) steps.push_back(step.text);
  json related = json::array();
  for (const auto& r : s.related) related.push_back(r);
  return json{{"section", s.slug},
              {"title", s.title},
              {"summary", s.summary},
              {"steps", steps},
              {"commands", platform_json(s.all_commands())},
              {"command_groups", command_groups_json(s.command_groups())},  // issue 10: by software version
              {"verify", platform_json(s.verify)},
              {"caution", s.caution ? json(*s.caution) : json(nullptr)},
              {"related", related}};
}

nlohmann::ordered_json signature_json(const Signature& s, const KnowledgeBase& kb) {
  json remedies = json::array();
  for (const auto& slug : s.sections) {
    if (const Section* sec = kb.find_section(slug)) remedies.push_back(section_json(*sec));
  }
  json j = json::object();
  j["signature"] = s.id;
  j["title"] = s.title;
  j["diagnosis"] = s.diagnosis;
  j["confidence"] = std::string(to_string(s.confidence));
  j["sections"] = s.sections;
  j["remedies"] = remedies;
  return j;
}

JsonRenderer::JsonRenderer(std::shared_ptr<const KnowledgeBase> kb, RenderOptions options)
    : kb_(std::move(kb)), options_(std::move(options)) {
  if (options_.default_year == 0) options_.default_year = current_year();
  for (const Signature& s : kb_->signatures()) {
    head_.push_back("\"signature\":" + dump(json(s.id)));
    json j = signature_json(s, *kb_);
    std::string body;
    for (const char* member : {"title", "diagnosis", "confidence", "sections", "remedies"}) {
      if (!body.empty()) body += ',';
      body += dump(json(member));
      body += ':';
      body += dump(j[member]);
    }
    body_.push_back(std::move(body));
  }
}

std::string_view JsonRenderer::received() {
  const auto now = options_.clock();
  const std::int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (ms != received_ms_ && ms >= 0 && received_ms_ >= 0 && ms / 1000 == received_ms_ / 1000 &&
      received_text_.size() == 24) {
    // Same second, "YYYY-MM-DDTHH:MM:SS.mmmZ": only the milliseconds change
    // (fmt::format each millisecond was a quarter of render() under callgrind).
    received_ms_ = ms;
    const auto m = static_cast<int>(ms % 1000);
    received_text_[20] = static_cast<char>('0' + m / 100);
    received_text_[21] = static_cast<char>('0' + m / 10 % 10);
    received_text_[22] = static_cast<char>('0' + m % 10);
  } else if (ms != received_ms_) {
    received_ms_ = ms;
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    received_text_ = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
  }
  return received_text_;
}

void JsonRenderer::render(const Diagnosis& d, std::string& out) {
  const auto order = static_cast<std::size_t>(d.signature->order);
  out += "{\"schema\":\"";
  out += kSchema;
  out += "\",\"time\":";
  if (d.time.valid()) {
    out += '"';
    d.time.append_rfc3339(out, options_.default_year);
    out += '"';
  } else {
    out += "null";
  }
  out += ",\"received\":\"";
  out += received();
  out += "\",\"host\":";
  if (d.host.empty()) {
    out += "null";
  } else {
    append_json_string(out, d.host);
  }
  out += ",\"message_id\":";
  if (d.message_id.empty()) {
    out += "null";
  } else {
    append_json_string(out, d.message_id);
  }
  out += ",\"severity\":";
  if (d.severity >= 0) {
    out += static_cast<char>('0' + d.severity);
  } else {
    out += "null";
  }
  out += ',';
  out += head_[order];
  out += ",\"kind\":\"";
  out += d.kind;
  out += "\",";
  out += body_[order];
  out += ",\"fields\":{";
  if (d.fields != nullptr) {
    bool first = true;
    for (const auto& [name, value] : *d.fields) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, name);
      out += ':';
      append_json_string(out, value);
    }
  }
  out += "},\"evidence\":[";
  for (std::size_t i = 0; i < d.evidence_count; ++i) {
    if (i != 0) out += ',';
    out += "{\"line\":";
    append_json_string(out, d.evidence[i].line);
    out += ",\"source\":";
    append_json_string(out, d.evidence[i].source);
    out += '}';
  }
  out += "],\"count\":";
  char count[16];
  out.append(count, std::to_chars(count, count + sizeof count, d.count).ptr);
  if (d.truncated) out += ",\"truncated\":true";
  out += "}\n";
}

}  // namespace tunneldoc
