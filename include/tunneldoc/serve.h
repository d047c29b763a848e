// serve.h — the long-running subcommands: `tunneldoc serve` (the daemon) and
// `tunneldoc tail` (follow files), as functions main() calls.
//
// run_serve() goes through rsyslog's phases: load and check the configuration
// and the knowledge base (any error: every problem on stderr, exit 2, nothing
// bound), open the state directory (restoring open incidents) and the
// outputs, bind every socket (failure: exit 1), then run until SIGTERM or
// SIGINT. Signals are handled on the main thread, never an I/O thread.
// SIGHUP reloads the configuration file and the knowledge base (a broken one
// is rejected, every error logged, the old one keeps serving) and reopens the
// output file. On SIGTERM/SIGINT it stops accepting, processes what was
// already received, saves the open incidents, lets the sinks deliver what
// they hold and returns 0 within shutdown_timeout (5 s), even when an output
// blocks (what it could not deliver is counted as dropped).
//
// Both install signal handling for the process; call them from the main
// thread, once.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tunneldoc/knowledge_base.h"

namespace tunneldoc {

struct ServeOptions {
  std::filesystem::path config_file;  // "": the built-in defaults
  // Command-line overrides. Any --udp/--tcp/--tls replaces every listener of
  // the configuration file with the ones given.
  std::vector<std::string> udp, tcp, tls;        // ADDR:PORT each
  std::string tls_certificate, tls_key, tls_ca;  // for --tls
  std::optional<std::string> output;             // FILE or "-"
  std::vector<std::string> sinks;                // --sink URL: added to the configuration's sinks
  std::optional<std::string> metrics;            // ADDR:PORT or "off"
  std::optional<std::filesystem::path> signatures;
  std::optional<std::string> log_level;
  std::vector<std::string> files;  // --file: followed files, added to the configuration's
  std::optional<std::filesystem::path> state_file;
  std::optional<std::filesystem::path> state_dir;  // incidents across restarts
  std::optional<std::string> stream;               // of the output: incidents, lines or all
  std::string lang;                                // records' language; "": the configuration's
  SoftwareVersions versions;                       // override the configuration's, platform by platform
  std::optional<std::string> user, group;          // become them after binding (privileges.h)
  std::filesystem::path ready_file;                // written (JSON) once every socket is bound
  bool check_only = false;                         // load and check everything, bind nothing, exit
};

int run_serve(const ServeOptions& options);

struct TailOptions {
  std::vector<std::string> files;
  bool from_start = false;           // read what the files already hold
  std::filesystem::path state_file;  // "": no saved positions
  std::filesystem::path signatures;
  std::string output = "-";
  std::vector<std::string> sinks;   // --sink URL: besides the output (positions wait for them too)
  std::string stream = "lines";     // tail shows each diagnosed line by default
  std::filesystem::path state_dir;  // incidents across restarts; "" keeps none
  std::string log_level = "warn";
  int poll_interval_ms = 250;
  int year = 0;
  Audience audience;  // records' language and software versions
};

// Follows `files` like tail -F until SIGINT/SIGTERM; exit 0, 2 on a
// knowledge-base or argument error.
int run_tail(const TailOptions& options);

}  // namespace tunneldoc
