// loader.h — the knowledge-base loader's internals, shared by loader.cc
// (sections, signatures, catalogue) and rules.cc (correlation rules).
// Not a public header: use load_knowledge_base() from knowledge_base.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tunneldoc/knowledge_base.h"

namespace tunneldoc {

// Signature and rule ids: [a-z0-9-]+.
bool valid_id(std::string_view id);

struct ParsedFile;  // one YAML file, read and parsed (loader.cc)
class Matcher;

class KnowledgeBaseLoader {
 public:
  explicit KnowledgeBaseLoader(std::filesystem::path dir) : dir_(std::move(dir)) {}
  LoadResult load();

 private:
  void problem(const std::string& file, const YAML::Node& node, std::string message) {
    const int line = node.IsDefined() && node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    problems_.push_back({{file, line}, std::move(message)});
  }
  void problem(SourceLocation where, std::string message) {
    problems_.push_back({std::move(where), std::move(message)});
  }

  void load_catalogue();
  void load_file(ParsedFile& parsed);
  void load_section(const std::string& file, const YAML::Node& n);
  void load_signature(const std::string& file, const YAML::Node& n);
  // `translated`: the entry may also carry a mapping per language of kLanguages but "en".
  void check_unknown_keys(const std::string& file, const YAML::Node& n, std::initializer_list<std::string_view> allowed,
                          std::string_view what, bool translated = false);
  // The translations of a section (title, summary, one text per step, the caution
  // exactly when the section has one) and of a signature or rule (title, and the
  // diagnosis exactly when the entry has one; `what` names it in problems).
  void read_section_translations(const std::string& file, const YAML::Node& n, Section& s);
  void read_entry_translations(const std::string& file, const YAML::Node& n, const std::string& what,
                               const std::string& diagnosis, Translations<EntryText>& out);
  bool read_string(const std::string& file, const YAML::Node& n, const char* key, std::string& out, bool required);
  void read_confidence(const std::string& file, const YAML::Node& n, Confidence& out, bool required);
  bool read_string_list(const std::string& file, const YAML::Node& n, const char* key, std::vector<std::string>& out);
  // An optional scalar of type T; a value that is not one is a problem ("'KEY' must be WHAT").
  template <class T>
  void read_scalar(const std::string& file, const YAML::Node& n, const char* key, T& out, const char* what) {
    if (!n[key].IsDefined()) return;
    try {
      out = n[key].as<T>();
    } catch (const YAML::Exception&) {
      problem(file, n[key], std::string("'") + key + "' must be " + what);
    }
  }
  bool read_platforms(const std::string& file, const YAML::Node& n, PlatformCommands& out,
                      std::vector<CommandGroup>* groups = nullptr);
  void cross_check();
  void synthesize_fallbacks();
  // Correlation rules and incident groups (rules.cc).
  void load_rule(const std::string& file, const YAML::Node& n);
  void load_incident_groups(const std::string& file, const YAML::Node& n);
  void check_rules();
  bool read_seconds(const std::string& file, const YAML::Node& n, const char* key, double& out, bool required);
  void read_rule_examples(const std::string& file, const YAML::Node& n, const char* key, std::vector<RuleExample>& out,
                          bool counter);
  void run_examples(const KnowledgeBase& kb, const Matcher& matcher);

  std::filesystem::path dir_;
  std::vector<LoadProblem> problems_;
  std::unique_ptr<KnowledgeBase> kb_ = std::make_unique<KnowledgeBase>();
  std::set<std::string> catalogue_slugs_;
  std::uint64_t hash_ = 1469598103934665603ULL;  // FNV-1a over every file read
};

}  // namespace tunneldoc
