// parse.h — turn one line of Cisco syslog, debug or show output into a LogRecord.
//
// parse_line() is a pure function: it never throws, never allocates, and never
// rejects a line. A line it does not understand becomes a record with an empty
// key and the whole line as text, so keyless signatures still see it. It is
// safe to call from any number of threads at once.
#pragma once

#include <cstddef>
#include <string_view>

#include "tunneldoc/record.h"

namespace tunneldoc {

struct ParseOptions {
  // Lines longer than this are cut here and marked truncated (64 KiB).
  std::size_t max_line_bytes = 64 * 1024;
  // Optional interest filter, asked once the message id is known. When it
  // answers false the header (time, host, PRI) is not parsed: the record keeps
  // only line, key, message id, severity and text. Callers that will drop such
  // lines anyway (a key no signature uses) skip most of the parsing cost. The
  // filter must be safe to call from every thread that parses.
  bool (*wanted)(const void* context, const LogRecord& record) = nullptr;
  const void* wanted_context = nullptr;
};

// `line` may end in LF or CRLF; both are removed. The returned record's views
// point into `line`.
LogRecord parse_line(std::string_view line, const ParseOptions& options = {});

}  // namespace tunneldoc
