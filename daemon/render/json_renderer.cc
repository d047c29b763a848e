// json_renderer.cc — the diagnosis record as one JSON line.
#include <fmt/format.h>

#include <algorithm>
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

// [{"platform":"asa","versions":"8.4+","commands":[...]}], "versions" null for all.
json command_groups_json(const std::vector<CommandGroup>& groups) {
  json out = json::array();
  for (const auto& g : groups) {
    out.push_back(json{{"platform", g.platform},
                       {"versions", g.versions.empty() ? json(nullptr) : json(g.versions)},
                       {"commands", g.commands}});
  }
  return out;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
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

nlohmann::ordered_json section_json(const Section& s, const Audience& audience) {
  const SectionText text = s.text(audience.lang);
  json related = json::array();
  for (const auto& r : s.related) related.push_back(r);
  return json{{"section", s.slug},
              {"title", text.title},
              {"summary", text.summary},
              {"steps", text.steps},
              {"commands", platform_json(s.all_commands(audience.versions))},
              {"command_groups", command_groups_json(s.command_groups(audience.versions))},  // by software version
              {"verify", platform_json(s.verify_commands(audience.versions))},
              {"caution", text.caution ? json(*text.caution) : json(nullptr)},
              {"related", related}};
}

bool parse_remedies(std::string_view text, Remedies& out) {
  if (text == "full") {
    out = Remedies::full;
  } else if (text == "brief") {
    out = Remedies::brief;
  } else if (text == "none") {
    out = Remedies::none;
  } else {
    return false;
  }
  return true;
}

std::string_view to_string(Remedies r) {
  return r == Remedies::full ? "full" : r == Remedies::brief ? "brief" : "none";
}

nlohmann::ordered_json remedy_json(const Section& s, Remedies remedies, const Audience& audience) {
  if (remedies == Remedies::full) return section_json(s, audience);
  const SectionText text = s.text(audience.lang);
  json steps = json::array();
  PlatformCommands commands;
  if (!s.steps.empty()) {
    steps.push_back(text.steps.empty() ? s.steps.front().text : text.steps.front());
    for (const CommandGroup& g : s.steps.front().groups) {
      if (!applies(g, audience.versions)) continue;
      auto it = std::find_if(commands.begin(), commands.end(), [&](const auto& p) { return p.first == g.platform; });
      if (it == commands.end()) it = commands.insert(commands.end(), {g.platform, {}});
      it->second.insert(it->second.end(), g.commands.begin(), g.commands.end());
    }
  }
  return json{{"section", s.slug},
              {"title", text.title},
              {"steps", steps},
              {"commands", platform_json(commands)},
              {"verify", platform_json(s.verify_commands(audience.versions))},
              {"caution", text.caution ? json(*text.caution) : json(nullptr)}};
}

namespace {
// The members of a signature or a rule: its text in the audience's language
// ("lang" says which one it is: "en" where the entry has no translation).
template <class Entry>
json entry_json(const Entry& e, const KnowledgeBase& kb, const Audience& audience) {
  json remedies = json::array();
  for (const auto& slug : e.sections) {
    if (const Section* sec = kb.find_section(slug)) remedies.push_back(section_json(*sec, audience));
  }
  const EntryText text = e.text(audience.lang);
  json j = json::object();
  j["signature"] = e.id;
  j["lang"] = find_translation(e.translations, audience.lang) != nullptr ? audience.lang : std::string("en");
  j["title"] = text.title;
  j["diagnosis"] = text.diagnosis;
  j["confidence"] = std::string(to_string(e.confidence));
  j["sections"] = e.sections;
  j["remedies"] = remedies;
  return j;
}
}  // namespace

nlohmann::ordered_json signature_json(const Signature& s, const KnowledgeBase& kb, const Audience& audience) {
  return entry_json(s, kb, audience);
}

nlohmann::ordered_json rule_json(const Rule& r, const KnowledgeBase& kb, const Audience& audience) {
  return entry_json(r, kb, audience);
}

std::string format_utc_ms(std::int64_t ms) {
  // Three per incident record: written digit by digit (fmt's parser cost more than the rest of the record).
  const std::int64_t millis = ((ms % 1000) + 1000) % 1000;
  const std::time_t secs = static_cast<std::time_t>((ms - millis) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const int year = tm.tm_year + 1900;
  if (year < 0 || year > 9999) {
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec, millis);
  }
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&](std::size_t at, int v, int digits) {
    for (int i = digits - 1; i >= 0; --i, v /= 10) out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + v % 10);
  };
  put(0, year, 4);
  put(5, tm.tm_mon + 1, 2);
  put(8, tm.tm_mday, 2);
  put(11, tm.tm_hour, 2);
  put(14, tm.tm_min, 2);
  put(17, tm.tm_sec, 2);
  put(20, static_cast<int>(millis), 3);
  return out;
}

namespace {
std::string body_of(const json& j) {
  std::string body;
  for (const char* member : {"lang", "title", "diagnosis", "confidence", "sections", "remedies"}) {
    if (!body.empty()) body += ',';
    body += dump(json(member));
    body += ':';
    body += dump(j[member]);
  }
  return body;
}

void append_null_or(std::string& out, std::string_view s) {
  if (s.empty()) {
    out += "null";
  } else {
    append_json_string(out, s);
  }
}
}  // namespace

void JsonRenderer::prepare(const std::shared_ptr<const KnowledgeBase>& kb) {
  if (kb == kb_) return;
  kb_ = kb;
  body_.clear();
}

const std::string* JsonRenderer::body(std::string_view entry) {
  if (auto it = body_.find(entry); it != body_.end()) return &it->second;
  if (!kb_) return nullptr;
  // Rendered at an entry's first record, then reused: most of a knowledge
  // base never shows up in a given log, and a reload starts afresh.
  // remedies=brief|none: the sections' remedies cut down (a SIEM event stays small).
  auto cut = [&](json j, const std::vector<std::string>& sections) {
    if (remedies_ == Remedies::full) return j;
    json list = json::array();
    for (const auto& slug : sections) {
      const Section* sec = kb_->find_section(slug);
      if (sec != nullptr && remedies_ == Remedies::brief) list.push_back(remedy_json(*sec, remedies_, audience_));
    }
    j["remedies"] = std::move(list);
    return j;
  };
  if (const Signature* s = kb_->find_signature(entry))
    return &body_.emplace(s->id, body_of(cut(signature_json(*s, *kb_, audience_), s->sections))).first->second;
  if (const Rule* r = kb_->find_rule(entry); r != nullptr && !r->title.empty())
    return &body_.emplace(r->id, body_of(cut(rule_json(*r, *kb_, audience_), r->sections))).first->second;
  return nullptr;
}

std::string_view JsonRenderer::received(std::int64_t ms) {
  if (ms != received_ms_ && ms >= 0 && received_ms_ >= 0 && ms / 1000 == received_ms_ / 1000 &&
      received_text_.size() == 24) {
    // Same second, "YYYY-MM-DDTHH:MM:SS.mmmZ": only the milliseconds change.
    received_ms_ = ms;
    const auto m = static_cast<int>(ms % 1000);
    received_text_[20] = static_cast<char>('0' + m / 100);
    received_text_[21] = static_cast<char>('0' + m / 10 % 10);
    received_text_[22] = static_cast<char>('0' + m % 10);
  } else if (ms != received_ms_) {
    received_ms_ = ms;
    received_text_ = format_utc_ms(ms);
  }
  return received_text_;
}

void JsonRenderer::render(const Output& o, std::string& out) {
  prepare(o.kb);
  const Event& subject = *o.subject;
  out += "{\"schema\":\"";
  out += kSchema;
  out += "\",\"time\":";
  if (o.kind != OutputKind::incident && subject.time.valid()) {
    out += '"';
    subject.time.append_rfc3339(out, subject.time.year);
    out += '"';
  } else if (o.kind == OutputKind::incident) {
    out += '"';
    out += format_utc_ms(o.at_ms);
    out += '"';
  } else {
    out += "null";
  }
  out += ",\"received\":\"";
  out += received(subject.received_ms);
  out += "\",\"host\":";
  append_null_or(out, o.incident ? std::string_view(o.incident->device) : subject.device());
  out += ",\"message_id\":";
  append_null_or(out, subject.message_id());
  out += ",\"severity\":";
  if (subject.severity >= 0 && subject.severity <= 9) {
    out += static_cast<char>('0' + subject.severity);
  } else {
    out += "null";
  }
  out += ",\"signature\":";
  append_json_string(out, o.entry);
  out += ",\"kind\":\"";
  out += to_string(o.kind);
  out += "\",";
  if (const std::string* text = body(o.entry)) {
    out += *text;
  } else {
    // An entry the knowledge base no longer has (an incident restored after
    // an upgrade): the id stands in for the text.
    out += "\"lang\":";
    append_json_string(out, audience_.lang);
    out += ",\"title\":";
    append_json_string(out, o.entry);
    out += ",\"diagnosis\":null,\"confidence\":\"medium\",\"sections\":[],\"remedies\":[]";
  }
  out += ",\"fields\":{";
  bool first = true;
  auto field = [&](std::string_view name, std::string_view value) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
  };
  subject.for_each_field([&](std::string_view n, std::string_view v) {
    for (const auto& [on, ov] : o.fields)
      if (on == n) return;  // the record's own value wins
    field(n, v);
  });
  for (const auto& [n, v] : o.fields) field(n, v);
  out += "},\"evidence\":[";
  for (std::size_t i = 0; i < o.evidence.size(); ++i) {
    if (i != 0) out += ',';
    out += "{\"line\":";
    append_json_string(out, o.evidence[i]->line());
    out += ",\"source\":";
    append_json_string(out, o.evidence[i]->source());
    out += '}';
  }
  out += "],\"count\":";
  char count[24];
  out.append(count, std::to_chars(count, count + sizeof count, o.count).ptr);
  if (subject.truncated) out += ",\"truncated\":true";
  if (!o.rule.empty()) {
    out += ",\"rule\":";
    append_json_string(out, o.rule);
  }
  if (o.incident) {
    const IncidentInfo& i = *o.incident;
    out += ",\"incident\":{\"id\":";
    append_json_string(out, i.id);
    out += ",\"state\":\"";
    out += to_string(i.state);
    out += "\",\"resolution\":";
    if (i.resolution == Resolution::none) {
      out += "null";
    } else {
      out += '"';
      out += to_string(i.resolution);
      out += '"';
    }
    out += ",\"device\":";
    append_null_or(out, i.device);
    out += ",\"peer\":";
    append_null_or(out, i.peer);
    out += ",\"class\":";
    append_json_string(out, i.incident_class);
    out += ",\"first_seen\":\"";
    out += format_utc_ms(i.first_seen_ms);
    out += "\",\"last_seen\":\"";
    out += format_utc_ms(i.last_seen_ms);
    out += "\"}";
  }
  out += "}\n";
}

namespace {
class JsonEncoder final : public Encoder {
 public:
  JsonEncoder(Audience audience, Remedies remedies) : renderer_(std::move(audience), remedies) {}
  void encode(const Output& o, std::string& out) override { renderer_.render(o, out); }

 private:
  JsonRenderer renderer_;
};
}  // namespace

std::unique_ptr<Encoder> make_json_encoder(Audience audience, Remedies remedies) {
  return std::make_unique<JsonEncoder>(std::move(audience), remedies);
}

}  // namespace tunneldoc
