// main.cc — the command line. Parses arguments with CLI11 and hands over to
// the subcommand functions in commands.h; nothing else lives here.
#include <CLI/CLI.hpp>

#include <iostream>

#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  CLI::App app{"tunneldoc: diagnoses Cisco ASA, FTD and IOS IPsec VPN problems from syslog and debug output"};
  app.set_version_flag("--version", std::string("tunneldoc ") + TUNNELDOC_VERSION);
  app.require_subcommand(1);
  const std::string default_dir = tunneldoc::default_signature_dir().string();

  tunneldoc::ScanOptions scan;
  scan.signatures = default_dir;
  auto* scan_cmd = app.add_subcommand("scan", "Diagnose log files (or standard input) and print JSON lines");
  scan_cmd->add_option("files", scan.files, "Files to scan; none or '-' reads standard input");
  scan_cmd->add_option("--signatures", scan.signatures, "Knowledge-base directory")->capture_default_str();
  scan_cmd->add_flag("--stats", scan.stats, "Print counters (lines, diagnosed, unknown keys) to standard error");
  scan_cmd->add_option("--year", scan.year, "Year for timestamps without one (default: the current year)");
  scan_cmd->add_option("--max-line", scan.max_line, "Longest line kept, in bytes; longer lines are cut")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{64}, std::size_t{16} << 20));

  tunneldoc::ExplainOptions explain;
  explain.signatures = default_dir;
  auto* explain_cmd = app.add_subcommand("explain", "Explain a section slug, signature id, message id or log line");
  explain_cmd->add_option("query", explain.query, "Slug, signature id, message id (713904, CRYPTO-IKMP_NO_SA) or a log line")
      ->required();
  explain_cmd->add_option("--signatures", explain.signatures, "Knowledge-base directory")->capture_default_str();
  explain_cmd->add_flag("--json", explain.json, "Machine-readable output");

  tunneldoc::CheckOptions check;
  check.signatures = default_dir;
  auto* check_cmd = app.add_subcommand("check", "Validate a knowledge base and run its inline examples");
  check_cmd->add_option("dir", check.signatures, "Knowledge-base directory")->capture_default_str();
  check_cmd->add_flag("--coverage", check.coverage, "Print signatures and examples per section (Markdown)");

  CLI11_PARSE(app, argc, argv);

  if (*scan_cmd) return tunneldoc::run_scan(scan, std::cout, std::cerr);
  if (*explain_cmd) return tunneldoc::run_explain(explain, std::cout, std::cerr);
  if (*check_cmd) return tunneldoc::run_check(check, std::cout, std::cerr);
  return 1;
}
