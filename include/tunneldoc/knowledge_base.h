// knowledge_base.h — the compiled knowledge base: sections and signatures.
//
// A KnowledgeBase is built once by load_knowledge_base() and is immutable
// afterwards; share it as std::shared_ptr<const KnowledgeBase>. All const
// member functions are safe to call from any number of threads. A reload
// builds a new one; a failed load never touches the one in service.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace re2 {
class RE2;
}

namespace tunneldoc {

// Command lists per platform, in the fixed platform order of kPlatforms.
using PlatformCommands = std::vector<std::pair<std::string, std::vector<std::string>>>;
inline constexpr std::string_view kPlatforms[] = {"asa", "ios", "vpn-client", "anyconnect", "vpn3000", "pix"};

// Commands of one platform for one software version range, as written in the
// YAML key "PLATFORM [VERSIONS]": "asa <8.3", "asa 8.3", "asa 8.4+", "pix 6.x",
// "ios 12.4-15.1" ("" versions: every version). Commands that differ between
// releases are labelled so that a copied sequence runs on one version.
struct CommandGroup {
  std::string platform;
  std::string versions;  // as written; "" for all versions
  std::vector<std::string> commands;
};

// The operator's software version per platform, in the order given:
// {{"asa", "9.16"}, {"ios", "15.4(3)M"}}. A platform not listed: every version.
using SoftwareVersions = std::vector<std::pair<std::string, std::string>>;

// A release as an operator writes it: digits and dots, optionally with a
// parenthesised build and a train suffix ("9.16", "8.4(2)", "15.4(3)M2").
bool valid_software_version(std::string_view version);
// True when `version` (valid_software_version) lies in `range`, a version range
// as the loader accepts it: "<8.4" (before 8.4), "8.4+" (8.4 and later), "8.3"
// or "6.x" (that release and its builds), "12.4-15.1" (both ends included, 15.1
// with its builds). Releases compare number by number: 9.16 is after 9.2. An
// empty range holds every version.
bool version_in_range(std::string_view version, std::string_view range);
// "PLATFORM=VERSION" ("asa=9.16") added to `out`, replacing an earlier choice
// for the platform. Returns "" on success, else what is wrong with `text`.
std::string add_software_version(std::string_view text, SoftwareVersions& out);
// True when `g` holds commands for the version `chosen` names for its platform
// (every group of a platform that `chosen` does not name).
bool applies(const CommandGroup& g, const SoftwareVersions& chosen);

// Languages of the knowledge base's text. "en" is every entry's own text;
// each other language is a mapping under a key of its name on the entry
// ("zh-TW:"): a section translates its title, summary, every step and its
// caution; a signature or a rule its title and diagnosis. Commands, ids and
// message texts are never translated.
inline constexpr std::string_view kLanguages[] = {"en", "zh-TW"};
bool known_language(std::string_view lang);

// What one reader of the knowledge base wants: the language of the text and
// the software versions whose commands to show.
struct Audience {
  std::string lang = "en";
  SoftwareVersions versions;
};

// A section's text in another language.
struct SectionText {
  std::string title;
  std::string summary;
  std::vector<std::string> steps;      // one per step of the section, in step order
  std::optional<std::string> caution;  // present exactly when the section has one
};

// A signature's or a rule's text in another language.
struct EntryText {
  std::string title;
  std::string diagnosis;  // "" exactly when the entry has none (clearing, observed)
};

// Translations of one entry: (language, text), in the order written.
template <class Text>
using Translations = std::vector<std::pair<std::string, Text>>;

// The text of `lang` in `t`; null when there is none (the English is used).
template <class Text>
const Text* find_translation(const Translations<Text>& t, std::string_view lang) {
  for (const auto& [l, text] : t)
    if (l == lang) return &text;
  return nullptr;
}

struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based
  std::string to_string() const { return file + ":" + std::to_string(line); }
};

struct Step {
  std::string text;
  PlatformCommands commands;         // per platform, every version (the record's `commands`)
  std::vector<CommandGroup> groups;  // the same commands with their version labels, YAML order
};

struct Section {
  std::string slug;
  std::string title;
  std::string summary;
  std::vector<Step> steps;
  PlatformCommands verify;                  // every version
  std::vector<CommandGroup> verify_groups;  // the same with their version labels, YAML order
  std::optional<std::string> caution;
  std::vector<std::string> related;
  Translations<SectionText> translations;
  SourceLocation where;

  // Every step's commands per platform, in step order; with `chosen`, only the
  // commands for those versions (applies()).
  PlatformCommands all_commands(const SoftwareVersions& chosen = {}) const;
  // Every step's commands grouped by platform and version range (platform order,
  // then first appearance), for the record's `command_groups`; filtered as above.
  std::vector<CommandGroup> command_groups(const SoftwareVersions& chosen = {}) const;
  // The verify commands per platform, filtered as above.
  PlatformCommands verify_commands(const SoftwareVersions& chosen = {}) const;
  // The section's text in `lang`: the translation, else the English.
  SectionText text(std::string_view lang) const;
};

enum class Confidence { high, medium, low };
std::string_view to_string(Confidence c);

struct Example {
  std::string line;
  std::vector<std::pair<std::string, std::string>> fields;  // sorted by name
  SourceLocation where;
};

// What a signature's match means to the correlator.
enum class Role {
  diagnosis,  // a symptom: a line record, and it opens or updates an incident
  clear,      // a recovery (phase 1 completed, SA created, session up): resolves incidents
  observe,    // a fact that only correlation rules use (a show-output counter, a header line)
};
std::string_view to_string(Role r);
// Where a signature's wording comes from (validated at load): "message-guide"
// (Cisco's syslog message guides), "troubleshooting-guide" (the seed document),
// "public-fixture: PROJECT/FILE" (a log parser's test data), "public-log: WHERE"
// (a line quoted in a public post); each may carry ": DETAIL", which the last
// two require.
inline constexpr std::string_view kSourceKinds[] = {"message-guide", "troubleshooting-guide", "public-fixture",
                                                    "public-log"};

struct Signature {
  std::string id;
  std::vector<std::string> keys;  // empty when keyless
  bool keyless = false;
  // The message id is the primary key: a fallback signature applies to a line
  // of one of its keys when no other signature of that key matches. Its
  // pattern is optional (empty: any text); besides its own named groups it
  // yields peer_ip, group and user from a lenient extraction. Confidence low.
  bool fallback = false;
  // A fallback the loader made for an id that has exactly one signature and no
  // explicit fallback: the same title and sections, confidence low, and a
  // diagnosis that says the wording was not recognised. Its id is "<id>-fallback".
  bool synthesized = false;
  std::string no_fallback;           // why this signature's keys get no implicit fallback ("" : they do)
  std::vector<std::string> sources;  // where the wording comes from (kSourceKinds)
  std::string pattern;
  int priority = 0;
  std::string title;
  std::string diagnosis;
  Confidence confidence = Confidence::medium;
  std::vector<std::string> sections;
  std::vector<Example> examples;
  std::vector<Example> counter_examples;  // fields unused
  Translations<EntryText> translations;   // title and diagnosis in other languages
  SourceLocation where;
  int order = 0;  // load order, for ties in priority

  // Title and diagnosis in `lang`: the translation, else the English.
  EntryText text(std::string_view lang) const;

  Role role = Role::diagnosis;
  // clear: the incident groups (incident_groups in signatures/correlation/) or
  // section slugs this message resolves for its device and peer; "all" for every one.
  std::vector<std::string> clears;
  // diagnosis: the incident class its repeats fold into; default: its first section.
  std::string incident;

  // Compiled at load, as `^(?s:.*?)(?:pattern)`: the same leftmost match and
  // groups as `pattern` searched unanchored, found with one forward pass.
  std::shared_ptr<const re2::RE2> regex;
  std::vector<std::string> group_names;  // index = capture group number; "" if unnamed
};

// A correlation rule (signatures/correlation/*.yaml, format in
// docs/incidents.md). Rules name signatures by id; the correlator compiles them.
enum class RuleType { sequence, threshold, block, join, period };
std::string_view to_string(RuleType t);

// A comparison of one field collected by a block rule: "encaps == 0".
struct FieldCondition {
  std::string field;
  std::string op;  // ==, !=, >, >=, <, <=
  double value = 0;
};

// A recorded input sequence and what the rule must (or must not) produce.
struct RuleExample {
  std::vector<std::string> lines;
  std::string expect;  // the signature or rule id of the record it must yield; "" in a counter-example
  std::vector<std::pair<std::string, std::string>> fields;  // fields that record must carry
  SourceLocation where;
};

struct Rule {
  std::string id;
  RuleType type = RuleType::sequence;
  // The record a firing rule emits. Empty for rules that only enrich the line
  // records they join (join, block with `carry`).
  std::string title;
  std::string diagnosis;
  Confidence confidence = Confidence::medium;
  std::vector<std::string> sections;
  std::string incident;  // incident class of its records; default: its first section; "none": no incident

  std::vector<std::vector<std::string>> steps;  // sequence: each step is any of these signature ids
  std::vector<std::string> absent;              // sequence: fires when none of these follows within the window
  std::vector<std::string> match;               // threshold, period: the counted signatures
  std::vector<std::string> start;               // block: opens a block; join: the first line
  std::vector<std::string> members;             // block: lines inside; join: the second line
  std::vector<FieldCondition> when;             // block: fires when all hold
  std::vector<std::string> carry;               // block: fields copied from the start into members
  std::vector<std::string> duplicate;           // block: fires when a block repeats these fields
  int count = 0;                                // threshold: events needed
  int lines = 0;                                // block, join: the span in lines after the start
  double window_seconds = 0;                    // sequence, threshold, join, block
  double suppress_seconds = 0;                  // after firing, silent this long for the same key
  double interval_seconds = 0;                  // period
  double tolerance_seconds = 0;                 // period
  int occurrences = 0;                          // period: events at the interval needed

  std::vector<RuleExample> examples;
  std::vector<RuleExample> counter_examples;
  Translations<EntryText> translations;  // title and diagnosis in other languages
  SourceLocation where;

  // Title and diagnosis in `lang`: the translation, else the English.
  EntryText text(std::string_view lang) const;
};

// Named sets of section slugs, for `clears:` (phase1, phase2, remote-access).
using IncidentGroups = std::vector<std::pair<std::string, std::vector<std::string>>>;

// One line of the guide catalogue (signatures/catalogue.tsv).
struct CatalogueEntry {
  std::string slug;
  std::string title;
  std::string kind;
  std::string triggers;
};

class KnowledgeBase {
 public:
  KnowledgeBase() = default;
  KnowledgeBase(const KnowledgeBase&) = delete;
  KnowledgeBase& operator=(const KnowledgeBase&) = delete;

  const std::vector<Section>& sections() const { return sections_; }
  const std::vector<Signature>& signatures() const { return signatures_; }
  const std::vector<CatalogueEntry>& catalogue() const { return catalogue_; }
  const Section* find_section(std::string_view slug) const;
  const Signature* find_signature(std::string_view id) const;
  const std::vector<Rule>& rules() const { return rules_; }
  const Rule* find_rule(std::string_view id) const;
  const IncidentGroups& incident_groups() const { return incident_groups_; }
  // The incident class of a diagnosis signature or a rule.
  static std::string_view incident_class(const Signature& s);
  static std::string_view incident_class(const Rule& r);
  // Signatures that list `key` among their keys, highest priority first.
  std::vector<const Signature*> signatures_for_key(std::string_view key) const;

  // A short content hash of every file loaded, for metrics and logs.
  const std::string& version() const { return version_; }
  const std::filesystem::path& directory() const { return directory_; }
  double load_milliseconds() const { return load_ms_; }

 private:
  friend class KnowledgeBaseLoader;
  std::vector<Section> sections_;
  std::vector<Signature> signatures_;
  std::vector<CatalogueEntry> catalogue_;
  std::vector<Rule> rules_;
  IncidentGroups incident_groups_;
  std::string version_;
  std::filesystem::path directory_;
  double load_ms_ = 0;
};

struct LoadProblem {
  SourceLocation where;
  std::string message;
  std::string to_string() const { return where.to_string() + ": " + message; }
};

class Matcher;  // matcher.h

struct LoadResult {
  std::shared_ptr<const KnowledgeBase> kb;  // null when problems is not empty
  std::vector<LoadProblem> problems;
  // The signature index the loader built to run the examples (null with
  // problems): share it rather than build another, its RE2 caches are warm.
  std::shared_ptr<const Matcher> matcher;
  bool ok() const { return kb != nullptr; }
};

// Loads every *.yaml below `dir` and the catalogue `dir/catalogue.tsv`,
// validates everything, compiles the patterns and runs every inline example.
// Never throws; every problem found is reported, with file and line.
LoadResult load_knowledge_base(const std::filesystem::path& dir);

// The directory to use when none is given: $TUNNELDOC_SIGNATURES, else the
// installed share directory, else ./signatures.
std::filesystem::path default_signature_dir();

}  // namespace tunneldoc
