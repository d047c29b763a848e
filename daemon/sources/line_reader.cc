// line_reader.cc — block reads and memchr line splitting.
#include "tunneldoc/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tunneldoc {

LineReader::LineReader(int fd, std::size_t max_line, std::size_t block)
    : fd_(fd), max_line_(max_line == 0 ? 1 : max_line), buf_(block + max_line_ + 1) {}

bool LineReader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // keep the partial line at the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  for (;;) {
    const ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n > 0) {
      end_ += static_cast<std::size_t>(n);
      bytes_read_ += static_cast<std::uint64_t>(n);
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error_ = std::strerror(errno);
    eof_ = true;
    return false;
  }
}

bool LineReader::next(std::string_view& line, bool& truncated) {
  for (;;) {
    const char* start = buf_.data() + begin_;
    const std::size_t avail = end_ - begin_;
    const void* nl = std::memchr(start, '\n', avail);
    if (skipping_) {
      if (nl != nullptr) {
        begin_ += static_cast<std::size_t>(static_cast<const char*>(nl) - start) + 1;
        skipping_ = false;
      } else {
        begin_ = end_;  // drop everything, keep looking
        if (!fill()) return false;
      }
      continue;
    }
    if (nl != nullptr) {
      const auto len = static_cast<std::size_t>(static_cast<const char*>(nl) - start);
      if (len > max_line_) {
        line = std::string_view(start, max_line_);
        truncated = true;
      } else {
        line = std::string_view(start, len);
        truncated = false;
      }
      begin_ += len + 1;
      ++line_number_;
      return true;
    }
    if (avail > max_line_) {  // over-long line: emit the first max_line bytes
      line = std::string_view(start, max_line_);
      truncated = true;
      begin_ = end_;
      skipping_ = true;
      ++line_number_;
      return true;
    }
    if (!fill()) {
      if (end_ == begin_) return false;
      line = std::string_view(buf_.data() + begin_, end_ - begin_);  // last line without LF
      truncated = false;
      begin_ = end_;
      ++line_number_;
      return true;
    }
  }
}

}  // namespace tunneldoc
