// explain_command.cc — `tunneldoc explain`: what the knowledge base says about a
// section slug, a signature id, a message id, or a pasted log line.
#include <ostream>

#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
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
  LoadResult loaded = load_knowledge_base(options.signatures);
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
  const Matcher matcher(loaded.kb);
  const LogRecord r = parse_line(q);
  Fields fields;
  if (const Signature* sig = matcher.match(r, fields)) {
    if (options.json) {
      JsonRenderer renderer(loaded.kb);
      const Evidence evidence{r.line, "argument"};
      std::string line;
      renderer.render(line_diagnosis(r, *sig, fields, evidence), line);
      as_json(nlohmann::ordered_json::parse(line));
    } else {
      out << "Diagnosis for: " << r.line << "\n\n";
      if (!fields.empty()) {
        out << "Fields:";
        for (const auto& [k, v] : fields) out << ' ' << k << '=' << v;
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
