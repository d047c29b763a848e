// rules.cc — correlation rules and incident groups: reading and checking
// (signatures/correlation/*.yaml; format in docs/incidents.md). The rules'
// example sequences are run by the correlate stage (verify_rules), because
// running them needs the matcher and the correlator.
#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "kb/loader.h"

namespace tunneldoc {

std::string_view to_string(RuleType t) {
  switch (t) {
    case RuleType::sequence:
      return "sequence";
    case RuleType::threshold:
      return "threshold";
    case RuleType::block:
      return "block";
    case RuleType::join:
      return "join";
    case RuleType::period:
      return "period";
  }
  return "sequence";
}

namespace {

// "90", "90s", "5m", "18h", "1.5h" → seconds; false on anything else.
bool parse_duration(std::string_view text, double& out) {
  if (text.empty()) return false;
  double unit = 1;
  switch (text.back()) {
    case 's':
      text.remove_suffix(1);
      break;
    case 'm':
      unit = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      unit = 3600;
      text.remove_suffix(1);
      break;
    case 'd':
      unit = 86400;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) return false;
  out = v * unit;
  return true;
}

// "== 0", "> 0", ">=3" → condition; false when malformed.
bool parse_condition(std::string_view text, FieldCondition& c) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  for (std::string_view op : {"==", "!=", ">=", "<=", ">", "<"}) {
    if (text.substr(0, op.size()) != op) continue;
    c.op = std::string(op);
    text.remove_prefix(op.size());
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), c.value);
    return ec == std::errc() && end == text.data() + text.size();
  }
  return false;
}

}  // namespace

bool KnowledgeBaseLoader::read_seconds(const std::string& file, const YAML::Node& n, const char* key, double& out,
                                       bool required) {
  std::string text;
  if (!read_string(file, n, key, text, required)) return false;
  if (!parse_duration(text, out) || out <= 0) {
    problem(file, n[key], std::string("'") + key + "' must be a positive duration (90s, 5m, 18h), not '" + text + "'");
    return false;
  }
  return true;
}

void KnowledgeBaseLoader::read_rule_examples(const std::string& file, const YAML::Node& n, const char* key,
                                             std::vector<RuleExample>& out, bool counter) {
  const YAML::Node list = n[key];
  if (!list.IsDefined() || list.IsNull()) return;
  if (!list.IsSequence()) {
    problem(file, list, std::string("'") + key + "' must be a list");
    return;
  }
  for (const auto& e : list) {
    RuleExample ex;
    ex.where = {file, e.Mark().line + 1};
    if (!e.IsMap()) {
      problem(file, e, "an example sequence is a mapping with 'lines'" + std::string(counter ? "" : " and 'expect'"));
      continue;
    }
    if (counter) {
      check_unknown_keys(file, e, {"lines"}, "counter-example");
    } else {
      check_unknown_keys(file, e, {"lines", "expect", "fields"}, "example");
      read_string(file, e, "expect", ex.expect, true);
    }
    read_string_list(file, e, "lines", ex.lines);
    if (ex.lines.empty()) problem(ex.where, "an example sequence needs at least one line");
    const YAML::Node f = e["fields"];
    if (f.IsDefined() && !f.IsNull()) {
      if (!f.IsMap()) {
        problem(file, f, "example fields must be a mapping");
      } else {
        for (const auto& kv : f) ex.fields.emplace_back(kv.first.Scalar(), kv.second.Scalar());
      }
    }
    std::sort(ex.fields.begin(), ex.fields.end());
    out.push_back(std::move(ex));
  }
}

void KnowledgeBaseLoader::load_incident_groups(const std::string& file, const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsMap()) {
    problem(file, n, "'incident_groups' maps a group name to a list of section slugs");
    return;
  }
  for (const auto& kv : n) {
    std::vector<std::string> slugs;
    const std::string name = kv.first.Scalar();
    if (!valid_id(name)) problem(file, kv.first, "incident group name '" + name + "' must match [a-z0-9-]+");
    YAML::Node holder;
    holder["list"] = YAML::Node(kv.second);
    read_string_list(file, holder, "list", slugs);
    for (const auto& slug : slugs) {
      if (!catalogue_slugs_.empty() && !catalogue_slugs_.count(slug)) {
        problem(file, kv.second, "incident group '" + name + "' names unknown section '" + slug + "'");
      }
    }
    for (const auto& [other, unused] : kb_->incident_groups_) {
      if (other == name) problem(file, kv.first, "duplicate incident group '" + name + "'");
    }
    kb_->incident_groups_.emplace_back(name, std::move(slugs));
  }
}

void KnowledgeBaseLoader::load_rule(const std::string& file, const YAML::Node& n) {
  if (!n.IsMap()) {
    problem(file, n, "a rule must be a mapping");
    return;
  }
  check_unknown_keys(file, n, {"id",       "type",     "title",     "diagnosis",   "confidence", "sections",
                               "incident", "steps",    "absent",    "match",       "start",      "members",
                               "when",     "carry",    "duplicate", "count",       "lines",      "window",
                               "suppress", "interval", "tolerance", "occurrences", "examples",   "counter_examples"},
                     "rule", true);
  Rule r;
  r.where = {file, n.Mark().line + 1};
  read_string(file, n, "id", r.id, true);
  if (!r.id.empty() && !valid_id(r.id)) problem(r.where, "rule id '" + r.id + "' must match [a-z0-9-]+");
  std::string type;
  if (read_string(file, n, "type", type, true)) {
    bool known = false;
    for (RuleType t : {RuleType::sequence, RuleType::threshold, RuleType::block, RuleType::join, RuleType::period}) {
      if (type == to_string(t)) {
        r.type = t;
        known = true;
      }
    }
    if (!known) problem(file, n["type"], "rule type must be sequence, threshold, block, join or period");
  }
  read_string_list(file, n, "match", r.match);
  read_string_list(file, n, "absent", r.absent);
  read_string_list(file, n, "start", r.start);
  read_string_list(file, n, "members", r.members);
  read_string_list(file, n, "carry", r.carry);
  read_string_list(file, n, "duplicate", r.duplicate);
  read_string_list(file, n, "sections", r.sections);
  read_string(file, n, "incident", r.incident, false);
  if (const YAML::Node steps = n["steps"]; steps.IsDefined() && !steps.IsNull()) {
    if (!steps.IsSequence()) {
      problem(file, steps, "'steps' must be a list (each step a signature id or a list of them)");
    } else {
      for (const auto& st : steps) {
        YAML::Node holder;
        holder["step"] = YAML::Node(st);
        std::vector<std::string> ids;
        read_string_list(file, holder, "step", ids);
        r.steps.push_back(std::move(ids));
      }
    }
  }
  if (const YAML::Node when = n["when"]; when.IsDefined() && !when.IsNull()) {
    if (!when.IsMap()) {
      problem(file, when, "'when' maps a field to a comparison ('== 0', '> 0')");
    } else {
      for (const auto& kv : when) {
        FieldCondition c;
        c.field = kv.first.Scalar();
        if (!kv.second.IsScalar() || !parse_condition(kv.second.Scalar(), c)) {
          problem(file, kv.second, "condition on '" + c.field + "' must be an operator and a number ('> 0')");
          continue;
        }
        r.when.push_back(std::move(c));
      }
    }
  }
  auto read_int = [&](const char* key, int& out, int min) {
    const YAML::Node v = n[key];
    if (!v.IsDefined()) return;
    try {
      out = v.as<int>();
    } catch (const YAML::Exception&) {
      problem(file, v, std::string("'") + key + "' must be an integer");
      return;
    }
    if (out < min) problem(file, v, std::string("'") + key + "' must be at least " + std::to_string(min));
  };
  read_int("count", r.count, 2);
  read_int("lines", r.lines, 1);
  read_int("occurrences", r.occurrences, 2);
  read_seconds(file, n, "window", r.window_seconds, false);
  read_seconds(file, n, "suppress", r.suppress_seconds, false);
  read_seconds(file, n, "interval", r.interval_seconds, false);
  read_seconds(file, n, "tolerance", r.tolerance_seconds, false);

  // What each type needs.
  const std::string what = "rule '" + r.id + "' (" + std::string(to_string(r.type)) + ")";
  auto need = [&](bool ok, const std::string& message) {
    if (!ok) problem(r.where, what + " " + message);
  };
  const bool enriches =
      r.type == RuleType::join || (r.type == RuleType::block && r.when.empty() && r.duplicate.empty());
  switch (r.type) {
    case RuleType::sequence:
      need(r.steps.size() >= (r.absent.empty() ? 2u : 1u),
           r.absent.empty() ? "needs at least two steps" : "needs at least one step before 'absent'");
      need(r.window_seconds > 0, "needs a window");
      break;
    case RuleType::threshold:
      need(!r.match.empty(), "needs 'match'");
      need(r.count >= 2, "needs a count of at least 2");
      need(r.window_seconds > 0, "needs a window");
      break;
    case RuleType::block:
      need(!r.start.empty() && !r.members.empty(), "needs 'start' and 'members'");
      need(r.lines >= 1, "needs 'lines' (how far after the start a block reaches)");
      need(!enriches || !r.carry.empty(), "needs 'carry', 'when' or 'duplicate'");
      break;
    case RuleType::join:
      need(!r.start.empty() && !r.members.empty(), "needs 'start' (the first line) and 'members' (the second)");
      if (r.lines == 0) r.lines = 1;
      break;
    case RuleType::period:
      need(!r.match.empty(), "needs 'match'");
      need(r.interval_seconds > 0 && r.tolerance_seconds > 0, "needs 'interval' and 'tolerance'");
      if (r.occurrences == 0) r.occurrences = 3;
      break;
  }
  if (enriches) {
    need(r.title.empty() && r.sections.empty(),
         "only enriches the records it joins: it takes no title or sections of its own");
    for (std::string_view lang : kLanguages) {
      if (lang != "en" && n[std::string(lang)].IsDefined()) need(false, "has no text to translate");
    }
  } else {
    read_string(file, n, "title", r.title, true);
    read_string(file, n, "diagnosis", r.diagnosis, true);
    read_entry_translations(file, n, what, r.diagnosis, r.translations);
    read_confidence(file, n, r.confidence, true);
    need(!r.sections.empty(), "points to no section");
  }
  for (const auto& slug : r.sections) {
    if (!catalogue_slugs_.empty() && !catalogue_slugs_.count(slug)) {
      problem(file, n["sections"], what + " points to unknown section '" + slug + "'");
    }
  }
  read_rule_examples(file, n, "examples", r.examples, false);
  read_rule_examples(file, n, "counter_examples", r.counter_examples, true);
  if (r.examples.empty()) problem(r.where, what + " has no example sequence (at least one is required)");
  kb_->rules_.push_back(std::move(r));
}

// References between rules, signatures, sections and groups, once everything is read.
void KnowledgeBaseLoader::check_rules() {
  std::map<std::string, const Signature*> sigs;
  for (const Signature& s : kb_->signatures_) sigs.emplace(s.id, &s);
  std::set<std::string> groups;
  for (const auto& [name, unused] : kb_->incident_groups_) groups.insert(name);
  std::map<std::string, SourceLocation> ids;
  for (const Rule& r : kb_->rules_) {
    if (r.id.empty()) continue;
    auto [it, inserted] = ids.emplace(r.id, r.where);
    if (!inserted) problem(r.where, "duplicate rule id '" + r.id + "' (first at " + it->second.to_string() + ")");
    if (sigs.count(r.id)) problem(r.where, "rule id '" + r.id + "' is also a signature id");
    auto check_ids = [&](const std::vector<std::string>& list, const char* part) {
      for (const auto& id : list) {
        if (!sigs.count(id)) problem(r.where, "rule '" + r.id + "' " + part + " names unknown signature '" + id + "'");
      }
    };
    for (const auto& step : r.steps) check_ids(step, "steps");
    check_ids(r.match, "match");
    check_ids(r.absent, "absent");
    if (!r.absent.empty() && r.type != RuleType::sequence) problem(r.where, "only a sequence rule takes 'absent'");
    check_ids(r.start, "start");
    check_ids(r.members, "members");
  }
  for (const Signature& s : kb_->signatures_) {
    for (const auto& c : s.clears) {
      if (c != "all" && !groups.count(c) && !(catalogue_slugs_.count(c) != 0)) {
        problem(s.where,
                "signature '" + s.id + "' clears '" + c + "', which is neither 'all', an incident group nor a section");
      }
    }
  }
}

}  // namespace tunneldoc
