// audience.cc — what one reader sees of the knowledge base: the text in a
// language (translations on each entry) and the commands of a software version
// (command groups labelled with version ranges).
#include <algorithm>
#include <optional>

#include "tunneldoc/knowledge_base.h"

namespace tunneldoc {

namespace {

bool digit(char c) {
  return c >= '0' && c <= '9';
}

bool letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The numbers of a release in order: "15.4(3)M2" -> 15 4 3 2, "6.x" -> 6
// (wildcard: `open` set). Letters only separate numbers.
std::vector<long> numbers_of(std::string_view v, bool* open = nullptr) {
  std::vector<long> out;
  if (open != nullptr) *open = v.size() >= 2 && v.substr(v.size() - 2) == ".x";
  long n = -1;
  for (char c : v) {
    if (digit(c)) {
      n = (n < 0 ? 0 : n * 10) + (c - '0');
      if (n > 1'000'000) n = 1'000'000;
    } else if (n >= 0) {
      out.push_back(n);
      n = -1;
    }
  }
  if (n >= 0) out.push_back(n);
  return out;
}

bool starts_with(const std::vector<long>& v, const std::vector<long>& prefix) {
  return prefix.size() <= v.size() && std::equal(prefix.begin(), prefix.end(), v.begin());
}

}  // namespace

bool valid_software_version(std::string_view v) {
  if (v.empty() || v.size() > 32 || !digit(v.front())) return false;
  int open = 0, groups = 0;
  char previous = 0;
  for (char c : v) {
    if (c == '(') {
      if (open != 0 || ++groups > 1 || !digit(previous)) return false;
      open = 1;
    } else if (c == ')') {
      if (open != 1 || !digit(previous)) return false;
      open = 0;
    } else if (c == '.') {
      if (!digit(previous) || open != 0) return false;
    } else if (!digit(c) && !letter(c)) {
      return false;
    }
    previous = c;
  }
  return open == 0 && previous != '.';
}

bool version_in_range(std::string_view version, std::string_view range) {
  if (range.empty()) return true;
  const std::vector<long> v = numbers_of(version);
  if (range.front() == '<') {
    const std::vector<long> b = numbers_of(range.substr(1));
    return std::lexicographical_compare(v.begin(), v.end(), b.begin(), b.end());
  }
  if (range.back() == '+') {
    const std::vector<long> b = numbers_of(range.substr(0, range.size() - 1));
    return !std::lexicographical_compare(v.begin(), v.end(), b.begin(), b.end());
  }
  if (const auto dash = range.find('-'); dash != std::string_view::npos) {
    const std::vector<long> low = numbers_of(range.substr(0, dash));
    const std::vector<long> high = numbers_of(range.substr(dash + 1));
    const bool above_low = !std::lexicographical_compare(v.begin(), v.end(), low.begin(), low.end());
    const bool below_high =
        !std::lexicographical_compare(high.begin(), high.end(), v.begin(), v.end()) || starts_with(v, high);
    return above_low && below_high;
  }
  return starts_with(v, numbers_of(range));
}

std::string add_software_version(std::string_view text, SoftwareVersions& out) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) return "expected PLATFORM=VERSION (asa=9.16), not '" + std::string(text) + "'";
  const std::string platform(text.substr(0, eq));
  const std::string version(text.substr(eq + 1));
  if (std::find(std::begin(kPlatforms), std::end(kPlatforms), platform) == std::end(kPlatforms)) {
    return "unknown platform '" + platform + "' (asa, ios, vpn-client, anyconnect, vpn3000, pix)";
  }
  if (!valid_software_version(version)) {
    return "'" + version + "' is not a software version of " + platform + " (9.16, 8.4(2), 15.4(3)M)";
  }
  for (auto& [p, v] : out) {
    if (p == platform) {
      v = version;
      return "";
    }
  }
  out.emplace_back(platform, version);
  return "";
}

bool applies(const CommandGroup& g, const SoftwareVersions& chosen) {
  if (g.versions.empty()) return true;
  for (const auto& [platform, version] : chosen) {
    if (platform == g.platform) return version_in_range(version, g.versions);
  }
  return true;
}

bool known_language(std::string_view lang) {
  return std::find(std::begin(kLanguages), std::end(kLanguages), lang) != std::end(kLanguages);
}

std::vector<CommandGroup> Section::command_groups(const SoftwareVersions& chosen) const {
  std::vector<CommandGroup> out;
  for (std::string_view platform : kPlatforms) {
    for (const Step& step : steps) {
      for (const CommandGroup& g : step.groups) {
        if (g.platform != platform || !applies(g, chosen)) continue;
        auto it = std::find_if(out.begin(), out.end(), [&](const CommandGroup& o) {
          return o.platform == g.platform && o.versions == g.versions;
        });
        if (it == out.end()) {
          out.push_back(g);
        } else {
          it->commands.insert(it->commands.end(), g.commands.begin(), g.commands.end());
        }
      }
    }
  }
  return out;
}

namespace {
// Per platform in kPlatforms order, the commands of the groups that apply, in group order.
PlatformCommands flatten(const std::vector<const std::vector<CommandGroup>*>& lists, const SoftwareVersions& chosen) {
  PlatformCommands out;
  for (std::string_view platform : kPlatforms) {
    std::vector<std::string> list;
    for (const auto* groups : lists) {
      for (const CommandGroup& g : *groups) {
        if (g.platform == platform && applies(g, chosen)) list.insert(list.end(), g.commands.begin(), g.commands.end());
      }
    }
    if (!list.empty()) out.emplace_back(std::string(platform), std::move(list));
  }
  return out;
}
}  // namespace

PlatformCommands Section::all_commands(const SoftwareVersions& chosen) const {
  std::vector<const std::vector<CommandGroup>*> lists;
  for (const Step& step : steps) lists.push_back(&step.groups);
  return flatten(lists, chosen);
}

PlatformCommands Section::verify_commands(const SoftwareVersions& chosen) const {
  return flatten({&verify_groups}, chosen);
}

SectionText Section::text(std::string_view lang) const {
  if (const SectionText* t = find_translation(translations, lang)) return *t;
  SectionText english{title, summary, {}, caution};
  for (const Step& s : steps) english.steps.push_back(s.text);
  return english;
}

EntryText Signature::text(std::string_view lang) const {
  if (const EntryText* t = find_translation(translations, lang)) return *t;
  return {title, diagnosis};
}

EntryText Rule::text(std::string_view lang) const {
  if (const EntryText* t = find_translation(translations, lang)) return *t;
  return {title, diagnosis};
}

}  // namespace tunneldoc
