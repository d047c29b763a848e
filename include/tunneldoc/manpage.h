// manpage.h — tunneldoc(8) and tunneldoc.yaml(5) in roff, generated from the
// command-line definition (cli.h) and the configuration schema
// (config_schema.h), so the man pages cannot drift from --help or from what
// the configuration loader accepts.
//
// Pure functions of their arguments: no I/O but `out`, thread-compatible.
#pragma once

#include <iosfwd>
#include <string>

namespace CLI {
class App;
}

namespace tunneldoc {

// tunneldoc(8): every subcommand of `app` with each of its options (name,
// argument type, default, whether repeatable or required, help text).
void write_command_man_page(const CLI::App& app, const std::string& version, std::ostream& out);

// tunneldoc.yaml(5): every key of config_schema() with type and default.
void write_config_man_page(const std::string& version, std::ostream& out);

// `text` with roff's special characters escaped (backslash, hyphen-minus,
// a leading dot or quote), for running text and macro arguments.
std::string roff_escape(const std::string& text);

}  // namespace tunneldoc
