// main.cc — the command line. The subcommands and options are defined in
// daemon/app/cli.cc (the one source of --help and the man page); main only
// parses and hands over to the subcommand functions.
#include <CLI/CLI.hpp>
#include <iostream>

#include "tunneldoc/cli.h"
#include "tunneldoc/knowledge_base.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  tunneldoc::CommandLine options;
  const auto app = tunneldoc::make_cli(options, tunneldoc::default_signature_dir().string());
  CLI11_PARSE(*app, argc, argv);
  return tunneldoc::run_cli(*app, options);
}
