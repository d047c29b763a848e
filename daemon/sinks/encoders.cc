// encoders.cc — the ecs and cef formats (json is render/json_renderer.cc).
#include "tunneldoc/encoders.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

namespace tunneldoc {

bool parse_format(std::string_view text, Format& out) {
  if (text == "json") {
    out = Format::json;
  } else if (text == "ecs") {
    out = Format::ecs;
  } else if (text == "cef") {
    out = Format::cef;
  } else {
    return false;
  }
  return true;
}

std::string_view to_string(Format f) {
  return f == Format::json ? "json" : f == Format::ecs ? "ecs" : "cef";
}

std::string valid_utf8(std::string_view s) {
  if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return std::string(s);
  // nlohmann's serializer does the validation and the U+FFFD replacement.
  const std::string quoted =
      nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

std::string_view cut_utf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  // Back up over continuation bytes to the start of the sequence that would be split.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

namespace {

using json = nlohmann::ordered_json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_ip(std::string_view s, int* family = nullptr) {
  if (s.empty() || s.size() > 45) return false;
  const std::string text(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    if (family != nullptr) *family = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    if (family != nullptr) *family = 6;
    return true;
  }
  return false;
}

// What the knowledge base says about the record's entry (signature or rule).
struct Entry {
  std::string title, diagnosis, confidence = "medium";
  std::vector<std::string> sections;
  std::string lang = "en";  // of title and diagnosis: the audience's where the entry has a translation
};

Entry entry_of(const Output& o, const Audience& audience) {
  Entry e;
  e.title = o.entry;
  if (!o.kb) return e;
  if (const Signature* s = o.kb->find_signature(o.entry)) {
    EntryText text = s->text(audience.lang);
    e = Entry{std::move(text.title), std::move(text.diagnosis), std::string(to_string(s->confidence)), s->sections};
    if (find_translation(s->translations, audience.lang) != nullptr) e.lang = audience.lang;
  } else if (const Rule* r = o.kb->find_rule(o.entry); r != nullptr && !r->title.empty()) {
    EntryText text = r->text(audience.lang);
    e = Entry{std::move(text.title), std::move(text.diagnosis), std::string(to_string(r->confidence)), r->sections};
    if (find_translation(r->translations, audience.lang) != nullptr) e.lang = audience.lang;
  }
  return e;
}

// The value of a field: the record's own, else its subject's.
std::string field_of(const Output& o, std::string_view name) {
  for (const auto& [n, v] : o.fields)
    if (n == name) return v;
  return std::string(o.subject->field(name));
}

std::vector<std::pair<std::string, std::string>> all_fields(const Output& o) {
  std::vector<std::pair<std::string, std::string>> out;
  o.subject->for_each_field([&](std::string_view n, std::string_view v) {
    for (const auto& [on, ov] : o.fields)
      if (on == n) return;
    out.emplace_back(n, v);
  });
  for (const auto& f : o.fields) out.push_back(f);
  return out;
}

// "ASA", "FTD", "PIX", "FWSM" from "ASA-5-713904"; "IOS" for FACILITY-N-MNEMONIC.
std::string product_of(std::string_view message_id) {
  for (std::string_view p : {"ASA", "FTD", "PIX", "FWSM"}) {
    if (message_id.size() > p.size() && message_id.substr(0, p.size()) == p && message_id[p.size()] == '-')
      return std::string(p);
  }
  const std::size_t a = message_id.find('-');
  if (a != std::string_view::npos && a + 2 < message_id.size() && message_id[a + 2] == '-' &&
      message_id[a + 1] >= '0' && message_id[a + 1] <= '7')
    return "IOS";
  return {};
}

std::int64_t time_of(const Output& o) {
  return o.kind == OutputKind::incident ? o.at_ms : o.subject->at_ms;
}

json remedies_of(const Output& o, const Entry& e, Remedies remedies, const Audience& audience) {
  json list = json::array();
  if (remedies == Remedies::none || !o.kb) return list;
  for (const auto& slug : e.sections)
    if (const Section* s = o.kb->find_section(slug)) list.push_back(remedy_json(*s, remedies, audience));
  return list;
}

class EcsEncoder final : public Encoder {
 public:
  EcsEncoder(Remedies remedies, Audience audience) : remedies_(remedies), audience_(std::move(audience)) {}

  void encode(const Output& o, std::string& out) override {
    const Event& subject = *o.subject;
    const Entry e = entry_of(o, audience_);
    json doc = json::object();
    doc["@timestamp"] = format_utc_ms(time_of(o));
    doc["ecs"] = {{"version", kEcsVersion}};
    doc["message"] = e.diagnosis.empty() ? e.title : e.diagnosis;

    json event = json::object();
    event["kind"] = "alert";
    event["category"] = json::array({"network"});
    const bool resolved = o.incident && o.incident->state == IncidentState::resolved;
    event["type"] = json::array({resolved ? "end" : "connection"});
    if (!subject.message_id().empty()) event["code"] = std::string(subject.message_id());
    if (subject.severity >= 0) event["severity"] = subject.severity;
    event["action"] = o.incident ? std::string(to_string(o.incident->state)) : std::string(to_string(o.kind));
    event["original"] = std::string(subject.line());
    event["created"] = format_utc_ms(subject.received_ms);
    event["module"] = "tunneldoc";
    event["dataset"] = "tunneldoc.diagnosis";
    if (o.incident) {
      event["start"] = format_utc_ms(o.incident->first_seen_ms);
      if (resolved) event["end"] = format_utc_ms(o.incident->last_seen_ms);
    }
    doc["event"] = std::move(event);

    doc["rule"] = {{"id", o.entry}, {"name", e.title}, {"ruleset", "tunneldoc"}};
    json observer = json::object();
    const std::string device = o.incident ? o.incident->device : std::string(subject.device());
    if (!device.empty()) observer["hostname"] = device;
    observer["vendor"] = "Cisco";
    if (const std::string product = product_of(subject.message_id()); !product.empty()) observer["product"] = product;
    observer["type"] = "firewall";
    doc["observer"] = std::move(observer);

    // Addresses only where they are addresses: a field that is not one would
    // be a mapping error in Elasticsearch.
    const std::string peer_ip = field_of(o, "peer_ip");
    if (is_ip(peer_ip)) doc["source"] = {{"ip", peer_ip}};
    json related_ip = json::array();
    json fields = json::object();
    for (const auto& [name, value] : all_fields(o)) {
      fields[name] = value;
      if (is_ip(value) && std::find(related_ip.begin(), related_ip.end(), json(value)) == related_ip.end())
        related_ip.push_back(value);
    }
    const std::string user = field_of(o, "user");
    if (!related_ip.empty() || !user.empty()) {
      json related = json::object();
      if (!related_ip.empty()) related["ip"] = related_ip;
      if (!user.empty()) related["user"] = json::array({user});
      doc["related"] = std::move(related);
    }
    if (!user.empty()) doc["user"] = {{"name", user}};

    json td = json::object();
    td["schema"] = kSchema;
    td["kind"] = to_string(o.kind);
    td["signature"] = o.entry;
    if (!o.rule.empty()) td["rule"] = o.rule;
    td["title"] = e.title;
    td["lang"] = e.lang;
    td["confidence"] = e.confidence;
    td["sections"] = e.sections;
    td["count"] = o.count;
    td["fields"] = std::move(fields);
    if (o.incident) {
      const IncidentInfo& i = *o.incident;
      td["incident"] = {
          {"id", i.id},
          {"state", to_string(i.state)},
          {"resolution", i.resolution == Resolution::none ? json(nullptr) : json(to_string(i.resolution))},
          {"device", i.device},
          {"peer", i.peer},
          {"class", i.incident_class},
          {"first_seen", format_utc_ms(i.first_seen_ms)},
          {"last_seen", format_utc_ms(i.last_seen_ms)}};
    }
    json evidence = json::array();
    for (const auto& ev : o.evidence) evidence.push_back({{"line", std::string(ev->line())}, {"source", ev->source()}});
    td["evidence"] = std::move(evidence);
    td["remedies"] = remedies_of(o, e, remedies_, audience_);
    doc["tunneldoc"] = std::move(td);
    out += dump(doc);
    out += '\n';
  }

 private:
  Remedies remedies_;
  Audience audience_;
};

// Field limits of the CEF implementation standard.
constexpr std::size_t kCefSignature = 1023, kCefName = 512, kCefMsg = 1023, kCefString = 4000, kCefHost = 100,
                      kCefUser = 1023;

class CefEncoder final : public Encoder {
 public:
  CefEncoder(Remedies remedies, Audience audience) : remedies_(remedies), audience_(std::move(audience)) {}

  void encode(const Output& o, std::string& out) override {
    const Event& subject = *o.subject;
    const Entry e = entry_of(o, audience_);
    const int severity = o.incident && o.incident->state == IncidentState::resolved ? 6 : subject.severity;
    out += "CEF:0|tunneldoc|tunneldoc|";
    append_cef_header(out, TUNNELDOC_VERSION, 64);
    out += '|';
    append_cef_header(out, o.entry, kCefSignature);
    out += '|';
    append_cef_header(out, e.title, kCefName);
    out += '|';
    out += std::to_string(cef_severity(severity));
    out += '|';
    bool first = true;
    auto kv = [&](std::string_view key, std::string_view value, std::size_t max) {
      if (value.empty()) return;
      if (!first) out += ' ';
      first = false;
      out += key;
      out += '=';
      append_cef_value(out, value, max);
    };
    kv("rt", std::to_string(time_of(o)), 32);
    kv("dvchost", o.incident ? std::string_view(o.incident->device) : subject.device(), kCefHost);
    const std::string peer_ip = field_of(o, "peer_ip");
    int family = 0;
    if (is_ip(peer_ip, &family)) {
      if (family == 4) {
        kv("src", peer_ip, 64);
      } else {
        kv("c6a2", peer_ip, 64);
        kv("c6a2Label", "peer", 64);
      }
    }
    kv("suser", field_of(o, "user"), kCefUser);
    kv("cnt", std::to_string(o.count), 32);
    kv("msg", e.diagnosis.empty() ? e.title : e.diagnosis, kCefMsg);
    std::string sections;
    for (const auto& s : e.sections) sections += (sections.empty() ? "" : ",") + s;
    kv("cs1", sections, kCefString);
    kv("cs1Label", "sections", 64);
    if (o.incident) {
      kv("externalId", o.incident->id, kCefString);
      kv("cs2", o.incident->id, kCefString);
      kv("cs2Label", "incident", 64);
      kv("start", std::to_string(o.incident->first_seen_ms), 32);
      kv("end", std::to_string(o.incident->last_seen_ms), 32);
    }
    kv("cs3", o.incident ? to_string(o.incident->state) : to_string(o.kind), 64);
    kv("cs3Label", o.incident ? "incident state" : "kind", 64);
    kv("cs4", e.confidence, 64);
    kv("cs4Label", "confidence", 64);
    if (remedies_ != Remedies::none && o.kb) {
      std::string text;
      for (const auto& slug : e.sections) {
        const Section* s = o.kb->find_section(slug);
        if (s == nullptr) continue;
        const SectionText section = s->text(audience_.lang);
        if (!text.empty()) text += " | ";
        text += section.title;
        for (std::size_t i = 0; i < section.steps.size() && (remedies_ == Remedies::full || i == 0); ++i)
          text += (i == 0 ? ": " : "; ") + section.steps[i];
      }
      kv("cs5", text, kCefString);
      kv("cs5Label", "remedy", 64);
    }
    kv("cs6", subject.line(), kCefString);
    kv("cs6Label", "evidence", 64);
    if (subject.message_id().size() > 0) kv("deviceEventCategory", subject.message_id(), 1023);
    out += '\n';
  }

 private:
  Remedies remedies_;
  Audience audience_;
};

}  // namespace

void append_cef_header(std::string& out, std::string_view value, std::size_t max) {
  const std::string text = valid_utf8(value);
  for (char c : cut_utf8(text, max)) {
    if (c == '\\' || c == '|') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';  // a header holds no line ends (nor other controls)
    } else {
      out += c;
    }
  }
}

void append_cef_value(std::string& out, std::string_view value, std::size_t max) {
  const std::string text = valid_utf8(value);
  for (char c : cut_utf8(text, max)) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '=':
        out += "\\=";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
    }
  }
}

int cef_severity(int s) {
  static constexpr int kMap[8] = {10, 9, 8, 7, 6, 5, 3, 1};
  return s >= 0 && s <= 7 ? kMap[s] : 5;
}

std::unique_ptr<Encoder> make_ecs_encoder(Remedies remedies, Audience audience) {
  return std::make_unique<EcsEncoder>(remedies, std::move(audience));
}

std::unique_ptr<Encoder> make_cef_encoder(Remedies remedies, Audience audience) {
  return std::make_unique<CefEncoder>(remedies, std::move(audience));
}

std::unique_ptr<Encoder> make_encoder(Format format, Remedies remedies, Audience audience) {
  switch (format) {
    case Format::ecs:
      return make_ecs_encoder(remedies, std::move(audience));
    case Format::cef:
      return make_cef_encoder(remedies, std::move(audience));
    case Format::json:
      break;
  }
  return make_json_encoder(std::move(audience), remedies);
}

}  // namespace tunneldoc
