// file_sink.cc — JSON lines to a file (reopened on SIGHUP) or standard output.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>

#include "tunneldoc/sink.h"

namespace tunneldoc {

Sink::Sink(std::string name, MetricsRegistry& metrics)
    : records_(metrics.counter("tunneldoc_sink_records_total", "Diagnoses delivered by the sink", {{"sink", name}})),
      bytes_(metrics.counter("tunneldoc_sink_bytes_total", "Bytes written by the sink", {{"sink", name}})),
      errors_(metrics.counter("tunneldoc_sink_errors_total", "Failed writes", {{"sink", name}})),
      dropped_(metrics.counter("tunneldoc_sink_dropped_total", "Diagnoses lost to failed writes", {{"sink", name}})),
      name_(std::move(name)) {}

namespace {

class FileSink final : public Sink {
 public:
  FileSink(std::string path, int fd, bool owned, MetricsRegistry& metrics)
      : Sink(path == "-" ? std::string("stdout") : "file:" + path, metrics),
        path_(std::move(path)),
        fd_(fd),
        owned_(owned) {}
  ~FileSink() override {
    if (owned_) ::close(fd_);
  }

  void write(std::string_view records) override {
    const auto lines = static_cast<std::uint64_t>(std::count(records.begin(), records.end(), '\n'));
    std::lock_guard lock(mutex_);
    std::size_t done = 0;
    while (done < records.size()) {
      const ssize_t n = ::write(fd_, records.data() + done, records.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int e = errno;
        errors_.inc();
        dropped_.inc(lines);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_report_ > std::chrono::seconds(60)) {
          last_report_ = now;
          spdlog::error(
              "output {}: write failed: {} (diagnoses are being lost; counted in "
              "tunneldoc_sink_dropped_total)",
              name(), std::strerror(e));
        }
        return;
      }
      done += static_cast<std::size_t>(n);
    }
    records_.inc(lines);
    bytes_.inc(records.size());
  }

  void flush() override {
    // write() goes straight to the descriptor; nothing is buffered here.
  }

  bool reopen(std::string& error) override {
    if (!owned_) return true;
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      error = std::strerror(errno);
      return false;
    }
    std::lock_guard lock(mutex_);
    ::close(fd_);
    fd_ = fd;
    return true;
  }

 private:
  std::string path_;
  std::mutex mutex_;
  int fd_;  // guarded by mutex_
  bool owned_;
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace

std::unique_ptr<Sink> make_file_sink(const std::string& path, MetricsRegistry& metrics, std::string& error) {
  if (path == "-") return std::make_unique<FileSink>(path, STDOUT_FILENO, false, metrics);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = std::string("cannot open ") + path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::make_unique<FileSink>(path, fd, true, metrics);
}

}  // namespace tunneldoc
