// config_schema.h — every key of the serve/tail configuration file, as a table.
//
// One row per key: where it may appear, its type, its default and what it
// does. The YAML loader (config.cc) rejects any key that has no row, and
// tunneldoc.yaml(5) is generated from the rows, so a key cannot be accepted
// without being documented. Adding a key is one row in config_schema.cc (plus
// the code that reads it).
//
// The table is static, immutable data: safe to read from any thread.
#pragma once

#include <span>
#include <string_view>

namespace tunneldoc {

struct ConfigKey {
  std::string_view section;      // "" top level; "listeners[]", "files[]", "metrics", ...
  std::string_view key;          // the YAML key
  std::string_view type;         // for people: "integer 1-64", "ADDR:PORT", "list of CIDR", ...
  std::string_view default_;     // as the man page shows it; "" when there is none (required or optional)
  std::string_view description;  // one or two sentences
};

// Every key, in the order the man page lists them (sections in order of first use).
std::span<const ConfigKey> config_schema();

// The sections in the order they first appear in config_schema(), with a
// sentence on each for the man page.
struct ConfigSection {
  std::string_view name;  // as in ConfigKey::section
  std::string_view description;
};
std::span<const ConfigSection> config_sections();

// True when `key` has a row in `section`.
bool is_config_key(std::string_view section, std::string_view key);

}  // namespace tunneldoc
