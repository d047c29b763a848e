// file_transport.cc — records to a file (reopened on SIGHUP), a FIFO or
// standard output, without ever blocking past a cancel().
//
// Pipes, FIFOs and terminals are written in slices the kernel accepts at
// once after poll() says there is room, so a reader that stops reading holds
// the sink's thread only until cancel(). Regular files are written directly.
// A write that fails after part of a record went out leaves a torn line: the
// next write starts with a newline so that the following record stays whole.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "tunneldoc/sink.h"

namespace tunneldoc {
namespace {

constexpr std::size_t kPipeSlice = 4096;  // PIPE_BUF: accepted whole once poll() reports room
constexpr int kPollMs = 100;

int open_output(const std::string& path, std::string& error) {
  // O_NONBLOCK: a FIFO with no reader fails (ENXIO) instead of hanging here.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0640);
  if (fd < 0 && errno == ENXIO) {
    error = "cannot open " + path + ": it is a FIFO with no reader";
    return -1;
  }
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  return fd;
}

class FileTransport final : public SinkTransport {
 public:
  bool needs_envelope() const override { return false; }
  FileTransport(std::string path, int fd, bool owned) : path_(std::move(path)), fd_(fd), owned_(owned) {}
  ~FileTransport() override {
    if (owned_) ::close(fd_);
    if (pending_ >= 0) ::close(pending_);
  }

  bool write(std::string_view bytes, std::string& error) override {
    {
      std::lock_guard lock(pending_mutex_);
      if (pending_ >= 0) {
        ::close(fd_);
        fd_ = pending_;
        pending_ = -1;
        torn_ = false;
      }
    }
    if (torn_) {
      if (!write_all("\n", error)) return false;
      torn_ = false;
    }
    return write_all(bytes, error);
  }

  void cancel() override { cancelled_ = true; }

  bool reopen(std::string& error) override {
    if (!owned_) return true;
    const int fd = open_output(path_, error);
    if (fd < 0) return false;
    std::lock_guard lock(pending_mutex_);
    if (pending_ >= 0) ::close(pending_);
    pending_ = fd;  // the writer switches before its next write
    return true;
  }

 private:
  // Sets torn_ when part of `bytes` went out before a failure.
  bool write_all(std::string_view bytes, std::string& error) {
    struct stat st {};
    const bool regular = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    std::size_t done = 0;
    while (done < bytes.size()) {
      if (cancelled_) {
        error = "cancelled at shutdown (the reader was not reading)";
        torn_ = torn_ || done != 0;
        return false;
      }
      std::size_t n = bytes.size() - done;
      if (!regular) {
        pollfd p{fd_, POLLOUT, 0};
        const int r = ::poll(&p, 1, kPollMs);
        if (r == 0 || (r < 0 && errno == EINTR)) continue;
        if (r < 0) {
          error = std::strerror(errno);
          torn_ = torn_ || done != 0;
          return false;
        }
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
          error = (p.revents & POLLHUP) ? "the reader went away" : "the output failed";
          torn_ = torn_ || done != 0;
          return false;
        }
        n = std::min(n, kPipeSlice);
      }
      const ssize_t w = ::write(fd_, bytes.data() + done, n);
      if (w < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        error = std::strerror(errno);
        torn_ = torn_ || done != 0;
        return false;
      }
      done += static_cast<std::size_t>(w);
    }
    return true;
  }

  std::string path_;
  int fd_;  // the writer's
  bool owned_;
  bool torn_ = false;  // the writer's
  std::mutex pending_mutex_;
  int pending_ = -1;  // guarded by pending_mutex_: a reopened descriptor not yet in use
  std::atomic<bool> cancelled_{false};
};

}  // namespace

std::unique_ptr<SinkTransport> make_file_transport(const std::string& path, std::string& error) {
  if (path == "-") return std::make_unique<FileTransport>(path, STDOUT_FILENO, false);
  const int fd = open_output(path, error);
  if (fd < 0) return nullptr;
  return std::make_unique<FileTransport>(path, fd, true);
}

}  // namespace tunneldoc
