// sink.h — where diagnoses go: JSON lines to a file or standard output.
//
// Sinks follow spdlog's base_sink: the base class keeps the counters, a
// subclass delivers. write() is thread-safe (one internal lock), never throws
// and never blocks on anything but the output itself; a failed write is
// counted and logged (rate-limited), never silent. The caller owns the sink
// and must keep it alive until every thread that writes has stopped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tunneldoc/metrics.h"

namespace tunneldoc {

class Sink {
 public:
  virtual ~Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  // `records` is one or more complete JSON lines, each ending in '\n'.
  virtual void write(std::string_view records) = 0;
  // Pushes buffered output to the operating system.
  virtual void flush() = 0;
  // Reopens the output by name (after logrotate moved it). False, with
  // `error` set, if the new file cannot be opened; the old one stays in use.
  virtual bool reopen(std::string& error) = 0;
  const std::string& name() const { return name_; }

 protected:
  Sink(std::string name, MetricsRegistry& metrics);

  Counter& records_;  // diagnoses delivered
  Counter& bytes_;
  Counter& errors_;   // failed writes
  Counter& dropped_;  // records lost to failed writes

 private:
  std::string name_;
};

// "-" writes to standard output; anything else is a file opened for append
// (created 0640 if missing). Returns null with `error` set if it cannot be opened.
std::unique_ptr<Sink> make_file_sink(const std::string& path, MetricsRegistry& metrics, std::string& error);

}  // namespace tunneldoc
