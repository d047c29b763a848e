// cli.cc — every subcommand and option of the `tunneldoc` binary (CLI11).
// The option lines are the single source of --help and of tunneldoc(8).
#include "tunneldoc/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>

namespace tunneldoc {

namespace {

// No description: --help shows PLATFORM=VERSION in the option's text (an '='
// after the type would read as a default).
const CLI::Validator kVersionChoice(
    [](std::string& text) {
      SoftwareVersions unused;
      return add_software_version(text, unused);
    },
    "");

std::vector<std::string> language_names() {
  return {std::begin(kLanguages), std::end(kLanguages)};
}

// --lang and --version-of, for the subcommands that show knowledge-base text.
void add_audience_options(CLI::App& cmd, std::string& lang, SoftwareVersions& versions) {
  cmd.add_option("--lang", lang, "Language of titles, diagnoses and remedies: en or zh-TW (Traditional Chinese)")
      ->check(CLI::IsMember(language_names()));
  cmd.add_option_function<std::vector<std::string>>(
         "--version-of",
         [&versions](const std::vector<std::string>& list) {
           for (const auto& v : list) add_software_version(v, versions);
         },
         "Show only the commands for this software version: PLATFORM=VERSION (asa=9.16, ios=15.4; repeatable)")
      ->check(kVersionChoice);
}

}  // namespace

std::unique_ptr<CLI::App> make_cli(CommandLine& options, const std::string& default_signatures) {
  auto app_ptr = std::make_unique<CLI::App>(
      "tunneldoc: diagnoses Cisco ASA, FTD and IOS IPsec VPN problems from syslog and debug output", "tunneldoc");
  CLI::App& app = *app_ptr;
  app.set_version_flag("--version", std::string("tunneldoc ") + TUNNELDOC_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // --version works after a subcommand too
  const std::string& default_dir = default_signatures;

  tunneldoc::ScanOptions& scan = options.scan;
  scan.signatures = default_dir;
  auto* scan_cmd = app.add_subcommand("scan", "Diagnose log files (or standard input) and print JSON lines");
  scan_cmd->add_option("files", scan.files, "Files to scan; none or '-' reads standard input");
  scan_cmd->add_option("--signatures", scan.signatures, "Knowledge-base directory")->capture_default_str();
  scan_cmd->add_flag("--stats", scan.stats, "Print counters (lines, diagnosed, unknown keys) to standard error");
  scan_cmd->add_option("--year", scan.year, "Year for timestamps without one (default: the current year)");
  scan_cmd->add_option("--max-line", scan.max_line, "Longest line kept, in bytes; longer lines are cut")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{64}, std::size_t{16} << 20));
  scan_cmd->add_option("--threads", scan.threads, "Worker threads (0: one per core); same output for any number")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  scan_cmd
      ->add_option("--stream", options.scan_stream,
                   "Records: lines (each diagnosis, plus correlated), incidents or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"lines", "incidents", "all"}));
  scan_cmd->add_flag("--incidents", scan.incidents, "Print only the incidents, each in its final state at the end");
  add_audience_options(*scan_cmd, scan.audience.lang, scan.audience.versions);
  scan_cmd->add_option("--report", scan.report,
                       "Also write one self-contained HTML report (incidents, timeline, evidence, remedies) to FILE");

  tunneldoc::ExplainOptions& explain = options.explain;
  explain.signatures = default_dir;
  auto* explain_cmd = app.add_subcommand("explain", "Explain a section slug, signature id, message id or log line");
  // Kept as main.cc had it, so merges stay mechanical.
  // clang-format off
  explain_cmd->add_option("query", explain.query, "Slug, signature id, message id (713904, CRYPTO-IKMP_NO_SA) or a log line")
      ->required();
  // clang-format on
  explain_cmd->add_option("--signatures", explain.signatures, "Knowledge-base directory")->capture_default_str();
  explain_cmd->add_flag("--json", explain.json, "Machine-readable output");
  add_audience_options(*explain_cmd, explain.audience.lang, explain.audience.versions);

  tunneldoc::CheckOptions& check = options.check;
  check.signatures = default_dir;
  auto* check_cmd = app.add_subcommand("check", "Validate a knowledge base and run its inline examples");
  check_cmd->add_option("dir", check.signatures, "Knowledge-base directory")->capture_default_str();
  check_cmd->add_flag("--coverage", check.coverage, "Print signatures and examples per section (Markdown)");

  tunneldoc::ServeOptions& serve = options.serve;
  auto* serve_cmd =
      app.add_subcommand("serve", "Receive syslog over UDP, TCP and TLS (and follow files) and diagnose it");
  serve_cmd->add_option("--config", serve.config_file, "YAML configuration (docs/configuration.md)");
  serve_cmd->add_option("--udp", serve.udp,
                        "Listen for UDP syslog on ADDR:PORT (repeatable; replaces configured listeners)");
  serve_cmd->add_option("--tcp", serve.tcp, "Listen for TCP syslog (RFC 6587) on ADDR:PORT (repeatable)");
  serve_cmd->add_option("--tls", serve.tls, "Listen for TLS syslog (RFC 5425) on ADDR:PORT (repeatable)");
  serve_cmd->add_option("--tls-cert", serve.tls_certificate, "PEM certificate chain for --tls");
  serve_cmd->add_option("--tls-key", serve.tls_key, "PEM private key for --tls");
  serve_cmd->add_option("--tls-ca", serve.tls_ca, "PEM CA file: require client certificates signed by it");
  serve_cmd->add_option("--output", serve.output, "Write JSON lines to FILE, or - for stdout (default -)");
  serve_cmd->add_option("--sink", serve.sinks,
                        "Also send records to URL (repeatable): file:PATH, -, syslog+udp|tcp|tls://HOST:PORT, "
                        "hec+http|https://HOST:PORT, es+http|https://HOST:PORT/INDEX; "
                        "?format=json|ecs|cef&stream=incidents|lines|all&remedies=full|brief|none");
  serve_cmd->add_option("--metrics", serve.metrics,
                        "Metrics and /healthz on ADDR:PORT, or off (default 127.0.0.1:9514)");
  serve_cmd->add_option("--signatures", serve.signatures, "Knowledge-base directory");
  serve_cmd->add_option("--file", serve.files, "Also follow this file (repeatable)");
  serve_cmd->add_option("--state-file", serve.state_file, "Where followed files' positions are kept");
  serve_cmd->add_option("--state-dir", serve.state_dir, "Directory for state kept across restarts (open incidents)");
  serve_cmd->add_option("--stream", serve.stream, "Records on the output: incidents (default), lines or all")
      ->check(CLI::IsMember({"lines", "incidents", "all"}));
  serve_cmd->add_option("--log-level", serve.log_level, "trace, debug, info, warn, error, critical or off");
  serve_cmd->add_option("--user", serve.user, "Started as root: become USER once bound (drops every capability)");
  serve_cmd->add_option("--group", serve.group, "With --user: the group to become (default: the user's)");
  serve_cmd->add_option("--ready-file", serve.ready_file, "Write the bound addresses (JSON) here once serving");
  serve_cmd->add_flag("--check-config", serve.check_only, "Check the configuration and knowledge base, then exit");
  add_audience_options(*serve_cmd, serve.lang, serve.versions);

  tunneldoc::TailOptions& tail = options.tail;
  tail.signatures = default_dir;
  auto* tail_cmd = app.add_subcommand("tail", "Follow log files like tail -F (rotation, truncation) and diagnose");
  tail_cmd->add_option("files", tail.files, "Files to follow")->required();
  tail_cmd->add_flag("--from-start", tail.from_start, "Read what the files already hold (default: start at the end)");
  tail_cmd->add_option("--state-file", tail.state_file, "Keep positions here so a restart neither skips nor repeats");
  tail_cmd->add_option("--signatures", tail.signatures, "Knowledge-base directory")->capture_default_str();
  tail_cmd->add_option("--output", tail.output, "JSON lines to FILE, or - for stdout")->capture_default_str();
  tail_cmd->add_option("--sink", tail.sinks,
                       "Also send records to URL (repeatable, as for serve); positions are saved once they hold them");
  tail_cmd->add_option("--stream", tail.stream, "Records: lines (each diagnosis, plus correlated), incidents or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"lines", "incidents", "all"}));
  tail_cmd->add_option("--state-dir", tail.state_dir, "Directory for state kept across restarts (open incidents)");
  tail_cmd->add_option("--poll-interval", tail.poll_interval_ms, "Milliseconds between checks")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  tail_cmd->add_option("--year", tail.year, "Year for timestamps without one (default: the current year)");
  tail_cmd->add_option("--log-level", tail.log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  add_audience_options(*tail_cmd, tail.audience.lang, tail.audience.versions);

  return app_ptr;
}

int run_cli(const CLI::App& app, const CommandLine& options) {
  auto got = [&](const char* name) { return app.get_subcommand(name)->parsed(); };
  if (got("scan")) {
    ScanOptions scan = options.scan;
    parse_stream(options.scan_stream, scan.stream);
    return tunneldoc::run_scan(scan, std::cout, std::cerr);
  }
  if (got("explain")) return tunneldoc::run_explain(options.explain, std::cout, std::cerr);
  if (got("check")) return tunneldoc::run_check(options.check, std::cout, std::cerr);
  if (got("serve")) return tunneldoc::run_serve(options.serve);
  if (got("tail")) return tunneldoc::run_tail(options.tail);
  return 1;
}

}  // namespace tunneldoc
