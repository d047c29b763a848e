// explain_command.cc — `tunneldoc explain`: what the knowledge base says about a
// section slug, a signature id, a message id, or a pasted log line.
#include <chrono>
#include <ostream>

#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/render.h"

namespace tunneldoc {
namespace {

void print_commands(std::ostream& out, const PlatformCommands& commands, std::string_view indent) {
  for (const auto& [platform, list] : commands) {
    for (const auto& c : list) out << indent << platform << ": " << c << '\n';
  }
}

// Commands grouped by platform and software version: "asa 8.4+:" then the commands.
void print_groups(std::ostream& out, const std::vector<CommandGroup>& groups, std::string_view indent) {
  for (const auto& g : groups) {
    out << indent << g.platform << (g.versions.empty() ? "" : " " + g.versions) << ":\n";
    for (const auto& c : g.commands) out << indent << "  " << c << '\n';
  }
}

void print_section(std::ostream& out, const Section& s) {
  out << s.slug << ": " << s.title << "\n\n" << s.summary << "\n\nSteps:\n";
  int n = 0;
  for (const Step& step : s.steps) {
    out << "  " << ++n << ". " << step.text << '\n';
    print_groups(out, step.groups, "       ");
  }
  if (!s.verify.empty()) {
    out << "Verify:\n";
    print_commands(out, s.verify, "  ");
  }
  if (s.caution) out << "Caution: " << *s.caution << '\n';
  if (!s.related.empty()) {
    out << "Related:";
    for (const auto& r : s.related) out << ' ' << r;
    out << '\n';
  }
}

void print_signature(std::ostream& out, const Signature& sig, const KnowledgeBase& kb) {
  out << sig.id << ": " << sig.title << "\n";
  out << "Confidence: " << to_string(sig.confidence) << "\n";
  if (sig.keyless) {
    out << "Matches: lines without a message id\n";
  } else {
    out << "Message ids:";
    for (const auto& k : sig.keys) out << ' ' << k;
    out << '\n';
  }
  out << '\n' << sig.diagnosis << '\n';
  for (const auto& slug : sig.sections) {
    if (const Section* s = kb.find_section(slug)) {
      out << "\n--- ";
      print_section(out, *s);
    }
  }
}

void print_ids(std::ostream& out, const char* what, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  out << what << ':';
  for (const auto& id : ids) out << ' ' << id;
  out << '\n';
}

void print_rule(std::ostream& out, const Rule& r, const KnowledgeBase& kb) {
  out << r.id << ": correlation rule (" << to_string(r.type) << ")";
  if (!r.title.empty()) out << ": " << r.title;
  out << '\n';
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    out << "Step " << i + 1 << ':';
    for (const auto& id : r.steps[i]) out << ' ' << id;
    out << '\n';
  }
  print_ids(out, "Counts", r.match);
  print_ids(out, r.type == RuleType::join ? "First line" : "Block starts with", r.start);
  print_ids(out, r.type == RuleType::join ? "Joined to" : "Block lines", r.members);
  print_ids(out, "Carries", r.carry);
  print_ids(out, "Repeats of", r.duplicate);
  for (const auto& c : r.when) out << "When: " << c.field << ' ' << c.op << ' ' << c.value << '\n';
  if (r.count != 0) out << "Count: " << r.count << '\n';
  if (r.window_seconds > 0) out << "Window: " << r.window_seconds << " s\n";
  if (r.interval_seconds > 0)
    out << "Interval: " << r.interval_seconds << " s, tolerance " << r.tolerance_seconds << " s\n";
  if (r.lines != 0) out << "Lines: " << r.lines << '\n';
  if (r.title.empty()) {
    out << "\nIt adds what it joins to the line records of its members; it has no diagnosis of its own.\n";
    return;
  }
  out << "Confidence: " << to_string(r.confidence) << "\n\n" << r.diagnosis << '\n';
  for (const auto& slug : r.sections) {
    if (const Section* s = kb.find_section(slug)) {
      out << "\n--- ";
      print_section(out, *s);
    }
  }
}

// "%ASA-5-713904", "ASA-5-713904", "713904", "%CRYPTO-4-IKMP_NO_SA", "CRYPTO-IKMP_NO_SA"
std::string key_of(std::string_view q) {
  if (!q.empty() && q.front() == '%') q.remove_prefix(1);
  while (!q.empty() && (q.back() == ':' || q.back() == ' ')) q.remove_suffix(1);
  std::string line = "%" + std::string(q) + ":";
  const LogRecord r = parse_line(line);
  if (r.has_key()) return std::string(r.key());
  return std::string(q);
}

bool looks_like_key(std::string_view q) {
  while (!q.empty() && (q.back() == ':' || q.back() == ' ')) q.remove_suffix(1);
  while (!q.empty() && q.front() == ' ') q.remove_prefix(1);
  return !q.empty() && q.find(' ') == std::string_view::npos;
}

}  // namespace

int run_explain(const ExplainOptions& options, std::ostream& out, std::ostream& err) {
  LoadResult loaded = load_checked_knowledge_base(options.signatures);
  if (!loaded.ok()) {
    err << "tunneldoc: the knowledge base in " << options.signatures.string() << " does not load:\n";
    for (const auto& p : loaded.problems) err << "  " << p.to_string() << '\n';
    return 2;
  }
  const KnowledgeBase& kb = *loaded.kb;
  const std::string& q = options.query;
  auto as_json = [&](const nlohmann::ordered_json& j) {
    out << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  };

  if (const Section* s = kb.find_section(q)) {
    if (options.json) {
      as_json(section_json(*s));
    } else {
      print_section(out, *s);
    }
    return 0;
  }
  if (const Signature* sig = kb.find_signature(q)) {
    if (options.json) {
      as_json(signature_json(*sig, kb));
    } else {
      print_signature(out, *sig, kb);
    }
    return 0;
  }
  if (const Rule* rule = kb.find_rule(q)) {
    if (options.json) {
      nlohmann::ordered_json j = rule_json(*rule, kb);
      j["type"] = std::string(to_string(rule->type));
      as_json(j);
    } else {
      print_rule(out, *rule, kb);
    }
    return 0;
  }
  // A message id or key ("713904", "%ASA-5-713904:", "IKE/0xE3000056") has no
  // space once trailing ':' and spaces are gone; anything longer is a pasted line,
  // even when it starts with '%', so that it gets the one signature that matches.
  if (looks_like_key(q)) {
    const auto sigs = kb.signatures_for_key(key_of(q));
    if (!sigs.empty()) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (std::size_t i = 0; i < sigs.size(); ++i) {
        if (options.json) {
          list.push_back(signature_json(*sigs[i], kb));
        } else {
          if (i != 0) out << "\n==========\n\n";
          print_signature(out, *sigs[i], kb);
        }
      }
      if (options.json) as_json(list);
      return 0;
    }
  }
  // A pasted log line.
  Recognizer recognizer(std::make_shared<const Matcher>(loaded.kb));
  const LogRecord r = parse_line(q);
  Event event;
  Origin origin;
  origin.source = "argument";
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (const Signature* sig = recognizer.recognize(q, origin, false, now, event)) {
    if (options.json) {
      JsonRenderer renderer;
      std::string line;
      renderer.render(*line_output(loaded.kb, std::make_shared<const Event>(std::move(event))), line);
      as_json(nlohmann::ordered_json::parse(line));
    } else {
      out << "Diagnosis for: " << r.line << "\n\n";
      if (event.field_count() != 0) {
        out << "Fields:";
        event.for_each_field([&](std::string_view k, std::string_view v) { out << ' ' << k << '=' << v; });
        out << "\n\n";
      }
      print_signature(out, *sig, kb);
    }
    return 0;
  }
  if (r.has_key()) {
    const auto sigs = kb.signatures_for_key(r.key());
    if (!sigs.empty()) {
      err << "tunneldoc: the knowledge base knows message id " << r.key() << " (";
      for (std::size_t i = 0; i < sigs.size(); ++i) err << (i ? ", " : "") << sigs[i]->id;
      err << ") but none of its signatures matches this text\n";
      return 1;
    }
  }
  err << "tunneldoc: nothing in the knowledge base matches '" << q
      << "' (try a section slug, a signature id, a message id such as 713904 or CRYPTO-IKMP_NO_SA, or a whole log "
         "line)\n";
  return 1;
}

}  // namespace tunneldoc
