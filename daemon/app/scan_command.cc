// scan_command.cc — `tunneldoc scan`: files or stdin through parse, match and
// render, one JSON line per diagnosed input line, in input order.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ostream>

#include <fmt/format.h>

#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/line_reader.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/render.h"

namespace tunneldoc {
namespace {

struct ScanStats {
  std::uint64_t lines = 0, diagnosed = 0, unknown_keys = 0, keyless = 0, truncated = 0, bytes = 0;
  int failed_inputs = 0;
};

constexpr std::size_t kFlushBytes = 1 << 20;

void scan_fd(int fd, std::string_view source_prefix, const ScanOptions& options, const Matcher& matcher,
             JsonRenderer& renderer, std::string& outbuf, std::ostream& out, ScanStats& stats, std::string& error) {
  LineReader reader(fd, options.max_line);
  ParseOptions popts;
  popts.max_line_bytes = options.max_line;
  Fields fields;
  std::string source;
  std::string_view line;
  bool truncated = false;
  while (reader.next(line, truncated)) {
    ++stats.lines;
    LogRecord record = parse_line(line, popts);
    record.truncated = record.truncated || truncated;
    stats.truncated += record.truncated;
    const Signature* sig = matcher.match(record, fields);
    if (sig == nullptr) {
      if (!record.has_key()) {
        ++stats.keyless;
      } else if (!matcher.knows_key(record.key())) {
        ++stats.unknown_keys;
      }
      continue;
    }
    ++stats.diagnosed;
    source.clear();
    fmt::format_to(std::back_inserter(source), "{}:{}", source_prefix, reader.line_number());
    const Evidence evidence{record.line, source};
    Diagnosis d;
    d.signature = sig;
    d.time = record.time;
    d.host = record.host;
    d.message_id = record.message_id;
    d.severity = record.severity;
    d.fields = &fields;
    d.evidence = &evidence;
    d.evidence_count = 1;
    d.truncated = record.truncated;
    renderer.render(d, outbuf);
    if (outbuf.size() >= kFlushBytes) {
      out.write(outbuf.data(), static_cast<std::streamsize>(outbuf.size()));
      outbuf.clear();
    }
  }
  stats.bytes += reader.bytes_read();
  error = reader.error();
}

}  // namespace

int run_scan(const ScanOptions& options, std::ostream& out, std::ostream& err) {
  const auto start = std::chrono::steady_clock::now();
  LoadResult loaded = load_knowledge_base(options.signatures);
  if (!loaded.ok()) {
    err << "tunneldoc: the knowledge base in " << options.signatures.string() << " does not load:\n";
    for (const auto& p : loaded.problems) err << "  " << p.to_string() << '\n';
    return 2;
  }
  const Matcher matcher(loaded.kb);
  RenderOptions ropts;
  ropts.default_year = options.year;
  JsonRenderer renderer(loaded.kb, ropts);
  std::string outbuf;
  outbuf.reserve(kFlushBytes + 64 * 1024);
  ScanStats stats;
  std::vector<std::string> files = options.files;
  if (files.empty()) files.emplace_back("-");
  for (const std::string& file : files) {
    std::string error;
    if (file == "-") {
      scan_fd(STDIN_FILENO, "stdin", options, matcher, renderer, outbuf, out, stats, error);
    } else {
      const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        err << "tunneldoc: cannot open " << file << ": " << std::strerror(errno) << '\n';
        ++stats.failed_inputs;
        continue;
      }
      scan_fd(fd, "file:" + file, options, matcher, renderer, outbuf, out, stats, error);
      ::close(fd);
    }
    if (!error.empty()) {
      err << "tunneldoc: cannot read " << (file == "-" ? std::string("standard input") : file) << ": " << error
          << '\n';
      ++stats.failed_inputs;
    }
  }
  out.write(outbuf.data(), static_cast<std::streamsize>(outbuf.size()));
  out.flush();
  if (options.stats) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    err << fmt::format(
        "lines read: {}\ndiagnosed: {}\nunknown keys: {}\nkeyless, undiagnosed: {}\ntruncated: {}\n"
        "inputs failed: {}\nbytes: {}\nseconds: {:.3f}\nlines/s: {:.0f}\n",
        stats.lines, stats.diagnosed, stats.unknown_keys, stats.keyless, stats.truncated, stats.failed_inputs,
        stats.bytes, secs, secs > 0 ? static_cast<double>(stats.lines) / secs : 0.0);
  }
  return stats.failed_inputs > 0 ? 1 : 0;
}

}  // namespace tunneldoc
