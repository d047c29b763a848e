// mangen.cc — writes tunneldoc.8 and tunneldoc.yaml.5 into a directory, from
// the same CLI11 definition the binary parses with (cli.h) and the
// configuration schema the loader checks keys against (config_schema.h).
//
//   tunneldoc_mangen OUTDIR
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "tunneldoc/cli.h"
#include "tunneldoc/manpage.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: tunneldoc_mangen OUTDIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  tunneldoc::CommandLine options;
  // The man page states the search order, not the path of the machine that built it.
  const auto app =
      tunneldoc::make_cli(options, "$TUNNELDOC_SIGNATURES, else " TUNNELDOC_INSTALLED_SIGNATURES ", else ./signatures");
  std::ofstream command(dir + "/tunneldoc.8");
  tunneldoc::write_command_man_page(*app, TUNNELDOC_VERSION, command);
  std::ofstream config(dir + "/tunneldoc.yaml.5");
  tunneldoc::write_config_man_page(TUNNELDOC_VERSION, config);
  command.close();
  config.close();
  if (!command || !config) {
    std::cerr << "tunneldoc_mangen: cannot write the man pages into " << dir << "\n";
    return 1;
  }
  return 0;
}
