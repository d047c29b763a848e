// cli.h — the command line of the `tunneldoc` binary, as data.
//
// make_cli() builds the CLI11 application (every subcommand, option, default
// and help text) bound to the option structs of a CommandLine; run_cli()
// runs the subcommand that was parsed. main() is: make_cli, parse, run_cli.
// The man page generator (packaging/mangen.cc) walks the same App, so
// `--help` and tunneldoc(8) come from one definition.
//
// Lifetime: the App holds pointers into `options`, which must outlive it.
// Neither the App nor the CommandLine is thread-safe; build, parse and run
// them on one thread.
#pragma once

#include <memory>
#include <string>

#include "tunneldoc/commands.h"
#include "tunneldoc/serve.h"

namespace CLI {
class App;
}

namespace tunneldoc {

struct CommandLine {
  ScanOptions scan;
  std::string scan_stream = "lines";  // parsed into scan.stream by run_cli
  ExplainOptions explain;
  CheckOptions check;
  ServeOptions serve;
  TailOptions tail;
};

// `default_signatures` is what the --signatures options default to and what
// --help shows: default_signature_dir() for the binary; the documented search
// order for the man page.
std::unique_ptr<CLI::App> make_cli(CommandLine& options, const std::string& default_signatures);

// Runs the subcommand `app` parsed; returns the process exit code.
int run_cli(const CLI::App& app, const CommandLine& options);

}  // namespace tunneldoc
