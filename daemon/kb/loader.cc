// loader.cc — read, validate and compile the YAML knowledge base.
//
// Every problem is collected (never only the first) with its file and line;
// yaml-cpp exceptions are caught here and turned into problems.
#include "kb/loader.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"

namespace tunneldoc {

namespace {

std::string read_file(const std::filesystem::path& p, bool& ok) {
  std::ifstream in(p, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void fnv(std::uint64_t& h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
}

// One problem as a failed result. (A nested braced initializer here trips
// GCC 12's -Wmaybe-uninitialized false positive at -O3.)
LoadResult failure(const std::filesystem::path& where, std::string message) {
  LoadResult r;
  r.problems.push_back(LoadProblem{SourceLocation{where.string(), 0}, std::move(message)});
  return r;
}

// "" when `source` names a known kind (and a detail where the kind needs one).
std::string source_problem(std::string_view source) {
  const std::size_t colon = source.find(':');
  std::string_view kind = source.substr(0, colon);
  std::string_view detail = colon == std::string_view::npos ? std::string_view() : source.substr(colon + 1);
  while (!detail.empty() && detail.front() == ' ') detail.remove_prefix(1);
  if (std::find(std::begin(kSourceKinds), std::end(kSourceKinds), kind) == std::end(kSourceKinds)) {
    return "unknown source kind '" + std::string(kind) +
           "' (message-guide, troubleshooting-guide, public-fixture: PROJECT/FILE, public-log: WHERE)";
  }
  if ((kind == "public-fixture" || kind == "public-log") && detail.empty()) {
    return "a " + std::string(kind) + " source must say where (public-fixture: PROJECT/FILE, public-log: WHERE)";
  }
  return "";
}

RE2::Options pattern_options() {
  RE2::Options options;
  // Byte-oriented matching: log lines may hold invalid UTF-8, and '.' must
  // still cross it. Pattern literals are matched byte for byte either way.
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  return options;
}

// The regex a signature's pattern is matched with: `^(?s:.*?)(?:PATTERN)`.
// It finds the same leftmost match with the same groups as PATTERN searched
// unanchored, but RE2 then runs its DFA forward only: an unanchored search
// with captures runs a second, reverse DFA to find where the match starts,
// which cost more than half of the extraction of a long 7139xx pattern
// (bench/micro_bench.cc BM_Signature). The pattern is compiled as written
// first: that alone says whether it is valid (`a)|(b` is not, yet wrapped it
// would compile) and gives errors in the author's terms.
std::shared_ptr<RE2> compile_pattern(const std::string& pattern) {
  auto re = std::make_shared<RE2>(pattern, pattern_options());
  if (!re->ok()) return re;
  auto search = std::make_shared<RE2>("^(?s:.*?)(?:" + pattern + ")", pattern_options());
  return search->ok() ? search : re;
}

// What an implicit fallback adds to the title and diagnosis of the signature
// it stands in for, per language; "en" first.
struct FallbackWords {
  std::string_view lang, title_suffix, diagnosis_prefix;
};
constexpr FallbackWords kFallbackWords[] = {
    {"en", " (by message id)",
     "The wording of this message was not recognised (another software version may word it differently), so this "
     "diagnosis goes by its message id alone. "},
    {"zh-TW", "（依訊息代碼判定）",
     "無法辨識這則訊息的文字（其他軟體版本的措辭可能不同），因此這項診斷僅根據訊息代碼做出。"},
};

bool known_platform(std::string_view p) {
  return std::find(std::begin(kPlatforms), std::end(kPlatforms), p) != std::end(kPlatforms);
}

// "8", "8.4", "6.x" -> true (a release number, optionally ending in ".x").
bool release(std::string_view v) {
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  if (v.size() > 2 && v.substr(v.size() - 2) == ".x") v.remove_suffix(2);
  return std::all_of(v.begin(), v.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.' || c == '('; }) &&
         v.find("..") == std::string_view::npos;
}

// A version range: "<8.3", "8.3", "8.4+", "6.x", "12.4-15.1".
bool valid_versions(std::string_view v) {
  if (v.empty()) return false;
  if (v.front() == '<') return release(v.substr(1));
  if (v.back() == '+') return release(v.substr(0, v.size() - 1));
  if (const auto dash = v.find('-'); dash != std::string_view::npos) {
    return release(v.substr(0, dash)) && release(v.substr(dash + 1));
  }
  return release(v);
}

}  // namespace

bool valid_id(std::string_view id) {
  if (id.empty()) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

std::string_view to_string(Confidence c) {
  switch (c) {
    case Confidence::high:
      return "high";
    case Confidence::medium:
      return "medium";
    case Confidence::low:
      return "low";
  }
  return "medium";
}

const Section* KnowledgeBase::find_section(std::string_view slug) const {
  for (const Section& s : sections_)
    if (s.slug == slug) return &s;
  return nullptr;
}

std::string_view to_string(Role r) {
  switch (r) {
    case Role::diagnosis:
      return "diagnosis";
    case Role::clear:
      return "clear";
    case Role::observe:
      return "observe";
  }
  return "diagnosis";
}

std::string_view KnowledgeBase::incident_class(const Signature& s) {
  if (!s.incident.empty()) return s.incident;
  return s.sections.empty() ? std::string_view(s.id) : std::string_view(s.sections.front());
}

std::string_view KnowledgeBase::incident_class(const Rule& r) {
  if (!r.incident.empty()) return r.incident;
  return r.sections.empty() ? std::string_view(r.id) : std::string_view(r.sections.front());
}

const Rule* KnowledgeBase::find_rule(std::string_view id) const {
  for (const Rule& r : rules_)
    if (r.id == id) return &r;
  return nullptr;
}

const Signature* KnowledgeBase::find_signature(std::string_view id) const {
  for (const Signature& s : signatures_)
    if (s.id == id) return &s;
  return nullptr;
}

std::vector<const Signature*> KnowledgeBase::signatures_for_key(std::string_view key) const {
  std::vector<const Signature*> out;
  for (const Signature& s : signatures_) {
    if (std::find(s.keys.begin(), s.keys.end(), key) != s.keys.end()) out.push_back(&s);
  }
  std::stable_sort(out.begin(), out.end(), [](const Signature* a, const Signature* b) {
    return a->priority != b->priority ? a->priority > b->priority : a->order < b->order;
  });
  return out;
}

void KnowledgeBaseLoader::check_unknown_keys(const std::string& file, const YAML::Node& n,
                                             std::initializer_list<std::string_view> allowed, std::string_view what,
                                             bool translated) {
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    if (translated && key != "en" && known_language(key)) continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      problem(file, kv.first, "unknown " + std::string(what) + " field '" + key + "'");
    }
  }
}

bool KnowledgeBaseLoader::read_string(const std::string& file, const YAML::Node& n, const char* key, std::string& out,
                                      bool required) {
  const YAML::Node v = n[key];
  if (!v.IsDefined() || v.IsNull()) {
    if (required) problem(file, n, std::string("missing '") + key + "'");
    return false;
  }
  if (!v.IsScalar()) {
    problem(file, v, std::string("'") + key + "' must be a string");
    return false;
  }
  out = v.Scalar();
  if (required && out.empty()) {
    problem(file, v, std::string("'") + key + "' is empty");
    return false;
  }
  return true;
}

void KnowledgeBaseLoader::read_confidence(const std::string& file, const YAML::Node& n, Confidence& out,
                                          bool required) {
  std::string confidence;
  if (!read_string(file, n, "confidence", confidence, required)) return;
  if (confidence == "high") {
    out = Confidence::high;
  } else if (confidence == "medium") {
    out = Confidence::medium;
  } else if (confidence == "low") {
    out = Confidence::low;
  } else {
    problem(file, n["confidence"], "confidence must be high, medium or low, not '" + confidence + "'");
  }
}

bool KnowledgeBaseLoader::read_string_list(const std::string& file, const YAML::Node& n, const char* key,
                                           std::vector<std::string>& out) {
  const YAML::Node v = n[key];
  if (!v.IsDefined() || v.IsNull()) return false;
  if (v.IsScalar()) {
    out.push_back(v.Scalar());
    return true;
  }
  if (!v.IsSequence()) {
    problem(file, v, std::string("'") + key + "' must be a list of strings");
    return false;
  }
  for (const auto& item : v) {
    if (!item.IsScalar()) {
      problem(file, item, std::string("'") + key + "' must be a list of strings");
      continue;
    }
    out.push_back(item.Scalar());
  }
  return true;
}

bool KnowledgeBaseLoader::read_platforms(const std::string& file, const YAML::Node& n, PlatformCommands& out,
                                         std::vector<CommandGroup>* groups) {
  if (!n.IsDefined() || n.IsNull()) return true;
  if (!n.IsMap()) {
    problem(file, n, "commands must map a platform to a list of commands");
    return false;
  }
  std::map<std::string, std::vector<std::string>> by_platform;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    const std::size_t space = key.find(' ');
    const std::string platform = key.substr(0, space);
    std::string versions = space == std::string::npos ? std::string() : key.substr(space + 1);
    while (!versions.empty() && versions.front() == ' ') versions.erase(0, 1);
    if (!known_platform(platform)) {
      problem(file, kv.first, "unknown platform '" + platform + "' (asa, ios, vpn-client, anyconnect, vpn3000, pix)");
      continue;
    }
    if (!versions.empty() && !valid_versions(versions)) {
      problem(file, kv.first,
              "bad version range '" + versions + "' for " + platform + " (<8.3, 8.3, 8.4+, 6.x, 12.4-15.1)");
      continue;
    }
    std::vector<std::string> cmds;
    if (kv.second.IsScalar()) {
      cmds.push_back(kv.second.Scalar());
    } else if (kv.second.IsSequence()) {
      for (const auto& c : kv.second) {
        if (c.IsScalar()) {
          cmds.push_back(c.Scalar());
        } else {
          problem(file, c, "a command must be a string");
        }
      }
    } else {
      problem(file, kv.second, "commands for '" + platform + "' must be a list of strings");
    }
    if (groups != nullptr) groups->push_back({platform, versions, cmds});
    auto& all = by_platform[platform];
    all.insert(all.end(), cmds.begin(), cmds.end());
  }
  for (std::string_view p : kPlatforms) {
    auto it = by_platform.find(std::string(p));
    if (it != by_platform.end()) out.emplace_back(it->first, std::move(it->second));
  }
  return true;
}

void KnowledgeBaseLoader::load_catalogue() {
  const auto path = dir_ / "catalogue.tsv";
  bool ok = false;
  const std::string text = read_file(path, ok);
  if (!ok) {
    problem({path.string(), 0}, "cannot read the section catalogue");
    return;
  }
  fnv(hash_, text);
  std::istringstream in(text);
  std::string row;
  int line = 0;
  while (std::getline(in, row)) {
    ++line;
    if (line == 1 || row.empty()) continue;  // header
    std::vector<std::string> cols;
    std::size_t b = 0;
    for (;;) {
      const std::size_t tab = row.find('\t', b);
      cols.push_back(row.substr(b, tab == std::string::npos ? std::string::npos : tab - b));
      if (tab == std::string::npos) break;
      b = tab + 1;
    }
    if (cols.size() < 5) {
      problem({path.string(), line}, "catalogue row needs 5 tab-separated columns");
      continue;
    }
    if (!catalogue_slugs_.insert(cols[0]).second) problem({path.string(), line}, "duplicate slug '" + cols[0] + "'");
    kb_->catalogue_.push_back({cols[0], cols[1], cols[3], cols[4]});
  }
}

void KnowledgeBaseLoader::load_section(const std::string& file, const YAML::Node& n) {
  if (!n.IsMap()) {
    problem(file, n, "a section must be a mapping");
    return;
  }
  check_unknown_keys(file, n, {"slug", "title", "summary", "steps", "verify", "caution", "related"}, "section", true);
  Section s;
  s.where = {file, n.Mark().line + 1};
  read_string(file, n, "slug", s.slug, true);
  read_string(file, n, "title", s.title, true);
  read_string(file, n, "summary", s.summary, true);
  std::string caution;
  if (read_string(file, n, "caution", caution, false) && !caution.empty()) s.caution = caution;
  read_string_list(file, n, "related", s.related);
  read_platforms(file, n["verify"], s.verify, &s.verify_groups);
  const YAML::Node steps = n["steps"];
  if (!steps.IsDefined() || !steps.IsSequence() || steps.size() == 0) {
    problem(file, n, "section '" + s.slug + "' needs a non-empty list of steps");
  } else {
    for (const auto& st : steps) {
      Step step;
      if (st.IsScalar()) {
        step.text = st.Scalar();
      } else if (st.IsMap()) {
        check_unknown_keys(file, st, {"text", "commands"}, "step");
        read_string(file, st, "text", step.text, true);
        read_platforms(file, st["commands"], step.commands, &step.groups);
      } else {
        problem(file, st, "a step is a string or a mapping with text and commands");
        continue;
      }
      s.steps.push_back(std::move(step));
    }
  }
  if (!s.slug.empty() && !catalogue_slugs_.empty() && !catalogue_slugs_.count(s.slug)) {
    problem(s.where, "section slug '" + s.slug + "' is not in the catalogue");
  }
  read_section_translations(file, n, s);
  kb_->sections_.push_back(std::move(s));
}

void KnowledgeBaseLoader::read_section_translations(const std::string& file, const YAML::Node& n, Section& s) {
  for (std::string_view lang : kLanguages) {
    const YAML::Node t = n[std::string(lang)];
    if (lang == "en" || !t.IsDefined()) continue;
    const std::string what = "section '" + s.slug + "' " + std::string(lang);
    if (!t.IsMap()) {
      problem(file, t, what + ": a translation is a mapping (title, summary, steps, caution)");
      continue;
    }
    check_unknown_keys(file, t, {"title", "summary", "steps", "caution"}, what + " translation");
    SectionText text;
    read_string(file, t, "title", text.title, true);
    read_string(file, t, "summary", text.summary, true);
    std::string caution;
    if (read_string(file, t, "caution", caution, false) && !caution.empty()) text.caution = caution;
    if (text.caution.has_value() != s.caution.has_value()) {
      problem(file, text.caution ? t["caution"] : t,
              what + (text.caution ? ": a caution the English has not" : ": the caution is not translated"));
    }
    read_string_list(file, t, "steps", text.steps);
    for (const auto& step : text.steps) {
      if (step.empty()) problem(file, t["steps"], what + ": an empty step");
    }
    if (text.steps.size() != s.steps.size()) {
      problem(file, t["steps"].IsDefined() ? t["steps"] : t,
              what + " has " + std::to_string(text.steps.size()) + " step" + (text.steps.size() == 1 ? "" : "s") +
                  ", the section " + std::to_string(s.steps.size()));
    }
    s.translations.emplace_back(std::string(lang), std::move(text));
  }
}

void KnowledgeBaseLoader::read_entry_translations(const std::string& file, const YAML::Node& n, const std::string& what,
                                                  const std::string& diagnosis, Translations<EntryText>& out) {
  for (std::string_view lang : kLanguages) {
    const YAML::Node t = n[std::string(lang)];
    if (lang == "en" || !t.IsDefined()) continue;
    const std::string where = what + " " + std::string(lang);
    if (!t.IsMap()) {
      problem(file, t, where + ": a translation is a mapping (title, diagnosis)");
      continue;
    }
    check_unknown_keys(file, t, {"title", "diagnosis"}, where + " translation");
    EntryText text;
    read_string(file, t, "title", text.title, true);
    read_string(file, t, "diagnosis", text.diagnosis, !diagnosis.empty());
    if (diagnosis.empty() && !text.diagnosis.empty())
      problem(file, t["diagnosis"], where + ": a diagnosis the English has not");
    out.emplace_back(std::string(lang), std::move(text));
  }
}

void KnowledgeBaseLoader::load_signature(const std::string& file, const YAML::Node& n) {
  if (!n.IsMap()) {
    problem(file, n, "a signature must be a mapping");
    return;
  }
  check_unknown_keys(
      file, n,
      {"id", "keys", "keyless", "fallback", "no_fallback", "source", "pattern", "priority", "title", "diagnosis",
       "confidence", "sections", "examples", "counter_examples", "role", "clears", "incident"},
      "signature", true);
  Signature s;
  s.where = {file, n.Mark().line + 1};
  read_string(file, n, "id", s.id, true);
  if (!s.id.empty() && !valid_id(s.id)) problem(s.where, "signature id '" + s.id + "' must match [a-z0-9-]+");
  read_string_list(file, n, "keys", s.keys);
  read_scalar(file, n, "keyless", s.keyless, "true or false");
  read_scalar(file, n, "fallback", s.fallback, "true or false");
  read_string(file, n, "no_fallback", s.no_fallback, false);
  read_string_list(file, n, "source", s.sources);
  if (s.sources.empty()) problem(s.where, "signature '" + s.id + "' names no source for its wording");
  for (const auto& src : s.sources) {
    if (const std::string why = source_problem(src); !why.empty()) {
      problem(file, n["source"], "signature '" + s.id + "': " + why);
    }
  }
  if (s.keyless == !s.keys.empty()) {
    problem(s.where, "signature '" + s.id + "' needs either keys or keyless: true (not both)");
  }
  for (const auto& k : s.keys) {
    if (k.empty() || k.size() > LogRecord::kMaxKey || k.find(' ') != std::string::npos) {
      problem(s.where, "signature '" + s.id + "' has an invalid key '" + k + "'");
    }
  }
  read_scalar(file, n, "priority", s.priority, "an integer");
  std::string role;
  if (read_string(file, n, "role", role, false)) {
    if (role == "clear") {
      s.role = Role::clear;
    } else if (role == "observe") {
      s.role = Role::observe;
    } else if (role != "diagnosis") {
      problem(file, n["role"], "role must be diagnosis, clear or observe, not '" + role + "'");
    }
  }
  const bool diagnoses = s.role == Role::diagnosis;
  read_string_list(file, n, "clears", s.clears);
  if (s.role == Role::clear && s.clears.empty()) problem(s.where, "clearing signature '" + s.id + "' clears nothing");
  if (s.role != Role::clear && !s.clears.empty()) problem(s.where, "only a role: clear signature clears incidents");
  if (s.fallback && !diagnoses) problem(s.where, "fallback '" + s.id + "' must be a diagnosis");
  read_string(file, n, "incident", s.incident, false);
  read_string(file, n, "title", s.title, true);
  read_string(file, n, "diagnosis", s.diagnosis, diagnoses);
  read_entry_translations(file, n, "signature '" + s.id + "'", s.diagnosis, s.translations);
  read_confidence(file, n, s.confidence, diagnoses);
  if (s.fallback && s.keyless)
    problem(s.where, "fallback '" + s.id + "' needs keys: a fallback belongs to message ids");
  if (s.fallback && s.confidence != Confidence::low) {
    problem(file, n["confidence"], "fallback '" + s.id + "' must have confidence low");
  }
  if (s.fallback && !s.no_fallback.empty()) problem(s.where, "fallback '" + s.id + "' cannot have no_fallback");
  read_string_list(file, n, "sections", s.sections);
  if (s.sections.empty() && diagnoses) problem(s.where, "signature '" + s.id + "' points to no section");
  for (const auto& slug : s.sections) {
    if (!catalogue_slugs_.empty() && !catalogue_slugs_.count(slug)) {
      problem(file, n["sections"], "signature '" + s.id + "' points to unknown section '" + slug + "'");
    }
  }
  // A fallback without a pattern takes any text of its keys.
  if (read_string(file, n, "pattern", s.pattern, !s.fallback) || s.fallback) {
    auto re = compile_pattern(s.pattern);
    if (!re->ok()) {
      problem(file, n["pattern"], "signature '" + s.id + "': bad pattern: " + re->error());
    } else {
      s.group_names.assign(static_cast<std::size_t>(re->NumberOfCapturingGroups()) + 1, "");
      for (const auto& [name, index] : re->NamedCapturingGroups())
        s.group_names[static_cast<std::size_t>(index)] = name;
      if (re->NumberOfCapturingGroups() > 32) problem(file, n["pattern"], "more than 32 capture groups");
      s.regex = std::move(re);
    }
  }
  const YAML::Node examples = n["examples"];
  if (!examples.IsDefined() || !examples.IsSequence() || examples.size() == 0) {
    problem(s.where, "signature '" + s.id + "' has no examples (at least one is required)");
  } else {
    for (const auto& e : examples) {
      Example ex;
      ex.where = {file, e.Mark().line + 1};
      if (!e.IsMap()) {
        problem(file, e, "an example is a mapping with 'line' and 'fields'");
        continue;
      }
      check_unknown_keys(file, e, {"line", "fields"}, "example");
      read_string(file, e, "line", ex.line, true);
      const YAML::Node f = e["fields"];
      if (f.IsDefined() && !f.IsNull()) {
        if (!f.IsMap()) {
          problem(file, f, "example fields must be a mapping");
        } else {
          for (const auto& kv : f) ex.fields.emplace_back(kv.first.Scalar(), kv.second.Scalar());
        }
      }
      std::sort(ex.fields.begin(), ex.fields.end());
      s.examples.push_back(std::move(ex));
    }
  }
  const YAML::Node counters = n["counter_examples"];
  if (counters.IsDefined() && counters.IsSequence()) {
    for (const auto& c : counters) {
      if (!c.IsScalar()) {
        problem(file, c, "a counter-example is a string");
        continue;
      }
      s.counter_examples.push_back({c.Scalar(), {}, {file, c.Mark().line + 1}});
    }
  }
  kb_->signatures_.push_back(std::move(s));
}

// One YAML file, read and parsed (the costly part of a load: done for all
// files at once, on a few threads, before what they say is taken in order).
struct ParsedFile {
  std::string file;
  bool read = false;
  std::string text;
  YAML::Node root;
  std::optional<LoadProblem> error;  // a syntax error
};

namespace {

void parse_file(const std::filesystem::path& path, ParsedFile& out) {
  out.file = path.string();
  out.text = read_file(path, out.read);
  if (!out.read) return;
  try {
    out.root = YAML::Load(out.text);
  } catch (const YAML::ParserException& e) {
    out.error = LoadProblem{{out.file, e.mark.line + 1}, "YAML syntax error: " + e.msg};
  } catch (const YAML::Exception& e) {
    out.error = LoadProblem{{out.file, 0}, std::string("YAML error: ") + e.what()};
  } catch (const std::exception& e) {
    out.error = LoadProblem{{out.file, 0}, std::string("cannot parse: ") + e.what()};
  }
}

// Runs work(i) for every i < n on up to hardware_concurrency threads (the
// calling one included); returns when all are done. `work` must not throw.
template <class Work>
void for_each_parallel(std::size_t n, Work&& work) {
  std::atomic<std::size_t> next{0};
  auto run = [&] {
    for (std::size_t i = next++; i < n; i = next++) work(i);
  };
  const std::size_t threads = std::min<std::size_t>(n, std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(run);
  run();
  for (auto& t : helpers) t.join();
}

}  // namespace

void KnowledgeBaseLoader::load_file(ParsedFile& parsed) {
  const std::string& file = parsed.file;
  if (!parsed.read) {
    problem({file, 0}, "cannot read file");
    return;
  }
  fnv(hash_, file);
  fnv(hash_, parsed.text);
  if (parsed.error) {
    problems_.push_back(std::move(*parsed.error));
    return;
  }
  const YAML::Node& root = parsed.root;
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    problem(file, root, "top level must be a mapping with 'sections' and/or 'signatures'");
    return;
  }
  try {
    check_unknown_keys(file, root, {"sections", "signatures", "rules", "incident_groups"}, "top-level");
    load_incident_groups(file, root["incident_groups"]);
    if (const YAML::Node rules = root["rules"]; rules.IsDefined() && !rules.IsNull()) {
      if (!rules.IsSequence()) {
        problem(file, rules, "'rules' must be a list");
      } else {
        for (const auto& item : rules) load_rule(file, item);
      }
    }
    for (const char* part : {"sections", "signatures"}) {
      const YAML::Node list = root[part];
      if (!list.IsDefined() || list.IsNull()) continue;
      if (!list.IsSequence()) {
        problem(file, list, std::string("'") + part + "' must be a list");
        continue;
      }
      for (const auto& item : list) {
        if (part[1] == 'e') {
          load_section(file, item);
        } else {
          load_signature(file, item);
        }
      }
    }
  } catch (const YAML::Exception& e) {
    problem({file, e.mark.line + 1}, std::string("YAML error: ") + e.what());
  }
}

void KnowledgeBaseLoader::cross_check() {
  std::map<std::string, SourceLocation> seen;
  for (const Section& s : kb_->sections_) {
    if (s.slug.empty()) continue;
    auto [it, inserted] = seen.emplace(s.slug, s.where);
    if (!inserted) problem(s.where, "duplicate section '" + s.slug + "' (first at " + it->second.to_string() + ")");
    for (const auto& r : s.related) {
      if (!catalogue_slugs_.empty() && !catalogue_slugs_.count(r)) {
        problem(s.where, "section '" + s.slug + "' relates to unknown section '" + r + "'");
      }
    }
  }
  check_rules();
  for (const auto& c : kb_->catalogue_) {
    if (!seen.count(c.slug))
      problem({(dir_ / "catalogue.tsv").string(), 0}, "catalogue slug '" + c.slug + "' has no section entry");
  }
  std::map<std::string, SourceLocation> ids;
  std::map<std::string, const Signature*> fallback_of;
  for (const Signature& s : kb_->signatures_) {
    if (s.fallback) {
      for (const auto& k : s.keys) {
        auto [it, inserted] = fallback_of.emplace(k, &s);
        if (!inserted) {
          problem(s.where, "message id '" + k + "' has a second fallback ('" + s.id + "'; first '" + it->second->id +
                               "' at " + it->second->where.to_string() + ")");
        }
      }
    }
    if (s.id.empty()) continue;
    auto [it, inserted] = ids.emplace(s.id, s.where);
    if (!inserted) problem(s.where, "duplicate signature id '" + s.id + "' (first at " + it->second.to_string() + ")");
  }
}

void KnowledgeBaseLoader::synthesize_fallbacks() {
  // Keys of VPN Client and VPN 3000 header lines (IKE/0xE3000056, AUTH/5) get
  // none: their header alone must yield nothing (the text line is diagnosed).
  std::map<std::string, int> signatures_of;  // non-fallback signatures per key
  std::set<std::string> explicit_fallback;
  for (const Signature& s : kb_->signatures_) {
    for (const auto& k : s.keys) {
      if (s.fallback) {
        explicit_fallback.insert(k);
      } else {
        ++signatures_of[k];
      }
    }
  }
  std::vector<Signature> made;
  for (const Signature& s : kb_->signatures_) {
    if (s.fallback || s.keyless || !s.no_fallback.empty() || !s.regex) continue;
    Signature f;
    for (const auto& k : s.keys) {
      if (k.find('/') == std::string::npos && !explicit_fallback.count(k) && signatures_of[k] == 1) f.keys.push_back(k);
    }
    if (f.keys.empty()) continue;
    f.id = s.id + "-fallback";
    f.fallback = true;
    f.synthesized = true;
    f.sources = s.sources;
    f.title = s.title + std::string(kFallbackWords[0].title_suffix);
    f.diagnosis = std::string(kFallbackWords[0].diagnosis_prefix) + s.diagnosis;
    for (const auto& [lang, text] : s.translations) {
      for (const FallbackWords& w : kFallbackWords) {
        if (w.lang != lang) continue;
        f.translations.emplace_back(lang, EntryText{text.title + std::string(w.title_suffix),
                                                    std::string(w.diagnosis_prefix) + text.diagnosis});
      }
    }
    f.confidence = Confidence::low;
    f.sections = s.sections;
    f.role = s.role;  // a clearing message reworded still clears
    f.clears = s.clears;
    f.incident = s.incident;
    f.where = s.where;
    f.regex = compile_pattern("");
    f.group_names.assign(1, "");
    made.push_back(std::move(f));
  }
  for (auto& f : made) kb_->signatures_.push_back(std::move(f));
}

void KnowledgeBaseLoader::run_examples(const KnowledgeBase& kb, const Matcher& matcher) {
  // Signatures are checked on a few threads (the matcher is thread-safe),
  // each into its own list, and the problems reported in signature order.
  const auto& sigs = kb.signatures();
  std::vector<std::vector<LoadProblem>> found(sigs.size());
  for_each_parallel(sigs.size(), [&](std::size_t i) {
    const Signature& s = sigs[i];
    auto problem = [&found, i](SourceLocation where, std::string message) {
      found[i].push_back({std::move(where), std::move(message)});
    };
    Fields fields;
    if (!s.regex) return;  // already reported as a bad pattern
    for (const Example& ex : s.examples) {
      const LogRecord r = parse_line(ex.line);
      const Signature* got = matcher.match(r, fields);
      if (got != &s) {
        const std::string what = got == nullptr ? std::string("does not match")
                                 : got->fallback && !s.fallback
                                     ? "does not match (only the id's fallback '" + got->id + "' does)"
                                     : "is matched by '" + got->id + "' instead";
        problem(ex.where, "example of '" + s.id + "' " + what + " (key '" + std::string(r.key()) + "', text '" +
                              std::string(r.text.substr(0, 120)) + "')");
        continue;
      }
      std::vector<std::pair<std::string, std::string>> actual;
      for (const auto& [k, v] : fields) {
        if (!v.empty()) actual.emplace_back(std::string(k), std::string(v));
      }
      std::sort(actual.begin(), actual.end());
      if (actual != ex.fields) {
        std::string got_text;
        for (const auto& [k, v] : actual) got_text += " " + k + "=" + v;
        std::string want_text;
        for (const auto& [k, v] : ex.fields) want_text += " " + k + "=" + v;
        problem(ex.where,
                "example of '" + s.id + "' yields fields {" + got_text + " } but expects {" + want_text + " }");
      }
    }
    for (const Example& ex : s.counter_examples) {
      const LogRecord r = parse_line(ex.line);
      if (matcher.match(r, fields) == &s) problem(ex.where, "counter-example matches '" + s.id + "'");
    }
  });
  for (auto& list : found)
    for (auto& p : list) problems_.push_back(std::move(p));
}

LoadResult KnowledgeBaseLoader::load() {
  const auto start = std::chrono::steady_clock::now();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) {
    return failure(dir_, "not a knowledge-base directory");
  }
  load_catalogue();
  std::vector<std::filesystem::path> files;
  for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".yaml") files.push_back(it->path());
  }
  if (ec) problem({dir_.string(), 0}, "cannot list directory: " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<ParsedFile> parsed(files.size());
  for_each_parallel(files.size(), [&](std::size_t i) { parse_file(files[i], parsed[i]); });
  for (auto& f : parsed) load_file(f);
  cross_check();
  synthesize_fallbacks();
  for (std::size_t i = 0; i < kb_->signatures_.size(); ++i) kb_->signatures_[i].order = static_cast<int>(i);
  kb_->directory_ = dir_;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_));
  kb_->version_ = std::string(buf, 12);
  std::shared_ptr<KnowledgeBase> kb(std::move(kb_));
  auto matcher = std::make_shared<const Matcher>(kb);
  run_examples(*kb, *matcher);  // also when there are other problems: report them all at once
  if (!problems_.empty()) return {nullptr, std::move(problems_), nullptr};
  kb->load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return {std::move(kb), {}, std::move(matcher)};
}

LoadResult load_knowledge_base(const std::filesystem::path& dir) {
  try {
    return KnowledgeBaseLoader(dir).load();
  } catch (const std::exception& e) {
    return failure(dir, std::string("unexpected error: ") + e.what());
  }
}

std::filesystem::path default_signature_dir() {
  if (const char* env = std::getenv("TUNNELDOC_SIGNATURES"); env != nullptr && *env != '\0') return env;
#ifdef TUNNELDOC_INSTALLED_SIGNATURES
  std::error_code ec;
  if (std::filesystem::is_directory(TUNNELDOC_INSTALLED_SIGNATURES, ec)) return TUNNELDOC_INSTALLED_SIGNATURES;
#endif
#ifdef TUNNELDOC_SOURCE_SIGNATURES
  std::error_code ec2;
  if (std::filesystem::is_directory(TUNNELDOC_SOURCE_SIGNATURES, ec2)) return TUNNELDOC_SOURCE_SIGNATURES;
#endif
  return "signatures";
}

}  // namespace tunneldoc
