// commands.h — the one-shot subcommands (scan, explain, check) as functions,
// so that main only parses the command line and tests can run them in-process.
//
// Each returns the process exit code and writes only to the streams it is
// given. None of them throws.
#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "tunneldoc/output.h"

namespace tunneldoc {

struct ScanOptions {
  std::vector<std::string> files;    // empty or "-": standard input
  std::filesystem::path signatures;  // knowledge-base directory
  bool stats = false;                // counters to `err` at the end
  int year = 0;                      // year for headers without one; 0 = current
  std::size_t max_line = 64 * 1024;
  // Worker threads; 1 processes lines on the calling thread, 0 = one per core.
  // The output is the same bytes for any number of threads.
  int threads = 1;
  // Which records: `lines` (each diagnosed line in input order, plus
  // correlated records), `incidents` (correlated records and every change of
  // an incident's state) or `all`.
  Stream stream = Stream::lines;
  // Only the incidents, each once in its final state at the end of input
  // (open, or resolved), in the order they opened.
  bool incidents = false;
  // The records' language and the software versions whose commands they show.
  Audience audience;
  // Also write an HTML report (view.h) of everything the scan found to this
  // file, in the records' language; "" writes none.
  std::filesystem::path report;
};

// Exit code: 0 when every input was read and every record written, 1 when
// an input could not be opened or read (the others are still scanned) or the
// output or the report could not be written (scanning stops), 2 when the
// knowledge base does not load.
int run_scan(const ScanOptions& options, std::ostream& out, std::ostream& err);

struct ExplainOptions {
  std::string query;  // slug, signature id, message id/key, or a log line
  std::filesystem::path signatures;
  bool json = false;
  Audience audience;  // language of the text, software versions of the commands
};

// Exit code: 0 when something in the knowledge base answers, 1 when nothing
// does, 2 when the knowledge base does not load.
int run_explain(const ExplainOptions& options, std::ostream& out, std::ostream& err);

struct CheckOptions {
  std::filesystem::path signatures;
  bool coverage = false;  // per-slug coverage table (Markdown)
};

// Exit code: 0 when the knowledge base loads and every example passes.
int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err);

}  // namespace tunneldoc
