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

// The words explain puts around the knowledge base's text, per language.
struct Words {
  std::string_view lang, steps, verify, caution, related, confidence, message_ids, keyless, diagnosis_for, fields, rule,
      step, counts, first_line, joined_to, block_start, block_lines, carries, repeats, when, count, window, interval,
      tolerance, lines, enriches;
};
constexpr Words kWords[] = {
    {"en",
     "Steps:",
     "Verify:",
     "Caution: ",
     "Related:",
     "Confidence: ",
     "Message ids:",
     "Matches: lines without a message id",
     "Diagnosis for: ",
     "Fields:",
     "correlation rule",
     "Step ",
     "Counts",
     "First line",
     "Joined to",
     "Block starts with",
     "Block lines",
     "Carries",
     "Repeats of",
     "When: ",
     "Count: ",
     "Window: ",
     "Interval: ",
     "tolerance ",
     "Lines: ",
     "It adds what it joins to the line records of its members; it has no diagnosis of its own."},
    {"zh-TW",      "步驟：",
     "驗證：",     "注意：",
     "相關章節：", "信心程度：",
     "訊息代碼：", "比對：沒有訊息代碼的記錄行",
     "診斷對象：", "擷取欄位：",
     "關聯規則",   "步驟 ",
     "計數對象",   "第一行",
     "接續行",     "區塊起點",
     "區塊內容",   "帶入欄位",
     "重複出現",   "條件：",
     "次數：",     "時間窗：",
     "間隔：",     "容許誤差 ",
     "行數：",     "它只把合併到的內容加進成員的單行記錄，本身不產生診斷。"},
};

const Words& words_for(std::string_view lang) {
  for (const Words& l : kWords)
    if (l.lang == lang) return l;
  return kWords[0];
}

void print_commands(std::ostream& out, const PlatformCommands& commands, std::string_view indent) {
  for (const auto& [platform, list] : commands) {
    for (const auto& c : list) out << indent << platform << ": " << c << '\n';
  }
}

// Commands grouped by platform and software version: "asa 8.4+:" then the
// commands; groups for other versions than the audience's are left out.
void print_groups(std::ostream& out, const std::vector<CommandGroup>& groups, const Audience& audience,
                  std::string_view indent) {
  for (const auto& g : groups) {
    if (!applies(g, audience.versions)) continue;
    out << indent << g.platform << (g.versions.empty() ? "" : " " + g.versions) << ":\n";
    for (const auto& c : g.commands) out << indent << "  " << c << '\n';
  }
}

void print_section(std::ostream& out, const Section& s, const Audience& audience) {
  const Words& l = words_for(audience.lang);
  const SectionText text = s.text(audience.lang);
  out << s.slug << ": " << text.title << "\n\n" << text.summary << "\n\n" << l.steps << '\n';
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    out << "  " << i + 1 << ". " << text.steps[i] << '\n';
    print_groups(out, s.steps[i].groups, audience, "       ");
  }
  if (const PlatformCommands verify = s.verify_commands(audience.versions); !verify.empty()) {
    out << l.verify << '\n';
    print_commands(out, verify, "  ");
  }
  if (text.caution) out << l.caution << *text.caution << '\n';
  if (!s.related.empty()) {
    out << l.related;
    for (const auto& r : s.related) out << ' ' << r;
    out << '\n';
  }
}

void print_signature(std::ostream& out, const Signature& sig, const KnowledgeBase& kb, const Audience& audience) {
  const Words& l = words_for(audience.lang);
  const EntryText text = sig.text(audience.lang);
  out << sig.id << ": " << text.title << "\n";
  out << l.confidence << to_string(sig.confidence) << "\n";
  if (sig.keyless) {
    out << l.keyless << '\n';
  } else {
    out << l.message_ids;
    for (const auto& k : sig.keys) out << ' ' << k;
    out << '\n';
  }
  out << '\n' << text.diagnosis << '\n';
  for (const auto& slug : sig.sections) {
    if (const Section* s = kb.find_section(slug)) {
      out << "\n--- ";
      print_section(out, *s, audience);
    }
  }
}

void print_ids(std::ostream& out, std::string_view what, const std::vector<std::string>& ids) {
  if (ids.empty()) return;
  out << what << ':';
  for (const auto& id : ids) out << ' ' << id;
  out << '\n';
}

void print_rule(std::ostream& out, const Rule& r, const KnowledgeBase& kb, const Audience& audience) {
  const Words& l = words_for(audience.lang);
  const EntryText text = r.text(audience.lang);
  out << r.id << ": " << l.rule << " (" << to_string(r.type) << ")";
  if (!text.title.empty()) out << ": " << text.title;
  out << '\n';
  for (std::size_t i = 0; i < r.steps.size(); ++i) {
    out << l.step << i + 1 << ':';
    for (const auto& id : r.steps[i]) out << ' ' << id;
    out << '\n';
  }
  print_ids(out, l.counts, r.match);
  print_ids(out, r.type == RuleType::join ? l.first_line : l.block_start, r.start);
  print_ids(out, r.type == RuleType::join ? l.joined_to : l.block_lines, r.members);
  print_ids(out, l.carries, r.carry);
  print_ids(out, l.repeats, r.duplicate);
  for (const auto& c : r.when) out << l.when << c.field << ' ' << c.op << ' ' << c.value << '\n';
  if (r.count != 0) out << l.count << r.count << '\n';
  if (r.window_seconds > 0) out << l.window << r.window_seconds << " s\n";
  if (r.interval_seconds > 0)
    out << l.interval << r.interval_seconds << " s, " << l.tolerance << r.tolerance_seconds << " s\n";
  if (r.lines != 0) out << l.lines << r.lines << '\n';
  if (r.title.empty()) {
    out << '\n' << l.enriches << '\n';
    return;
  }
  out << l.confidence << to_string(r.confidence) << "\n\n" << text.diagnosis << '\n';
  for (const auto& slug : r.sections) {
    if (const Section* s = kb.find_section(slug)) {
      out << "\n--- ";
      print_section(out, *s, audience);
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
      as_json(section_json(*s, options.audience));
    } else {
      print_section(out, *s, options.audience);
    }
    return 0;
  }
  if (const Signature* sig = kb.find_signature(q)) {
    if (options.json) {
      as_json(signature_json(*sig, kb, options.audience));
    } else {
      print_signature(out, *sig, kb, options.audience);
    }
    return 0;
  }
  if (const Rule* rule = kb.find_rule(q)) {
    if (options.json) {
      nlohmann::ordered_json j = rule_json(*rule, kb, options.audience);
      j["type"] = std::string(to_string(rule->type));
      as_json(j);
    } else {
      print_rule(out, *rule, kb, options.audience);
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
          list.push_back(signature_json(*sigs[i], kb, options.audience));
        } else {
          if (i != 0) out << "\n==========\n\n";
          print_signature(out, *sigs[i], kb, options.audience);
        }
      }
      if (options.json) as_json(list);
      return 0;
    }
  }
  // A pasted log line.
  Recognizer recognizer(loaded.matcher);
  const LogRecord r = parse_line(q);
  Event event;
  Origin origin;
  origin.source = "argument";
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  if (const Signature* sig = recognizer.recognize(q, origin, false, now, event)) {
    if (options.json) {
      JsonRenderer renderer(options.audience);
      std::string line;
      renderer.render(*line_output(loaded.kb, std::make_shared<const Event>(std::move(event))), line);
      as_json(nlohmann::ordered_json::parse(line));
    } else {
      const Words& l = words_for(options.audience.lang);
      out << l.diagnosis_for << r.line << "\n\n";
      if (event.field_count() != 0) {
        out << l.fields;
        event.for_each_field([&](std::string_view k, std::string_view v) { out << ' ' << k << '=' << v; });
        out << "\n\n";
      }
      print_signature(out, *sig, kb, options.audience);
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
