// line_reader.h — split a file descriptor's bytes into lines (LF or CRLF).
//
// LineReader reads in large blocks and hands out lines as views into its own
// buffer, valid until the next call to next(). Lines longer than max_line are
// cut there and the rest of the line is skipped (reported as truncated). NUL
// bytes and invalid UTF-8 pass through untouched. Not thread-safe; it does not
// own the descriptor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tunneldoc {

class LineReader {
 public:
  explicit LineReader(int fd, std::size_t max_line = 64 * 1024, std::size_t block = 1 << 20);
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its LF (a CR before it is left for the parser).
  // Returns false at end of input or on a read error (see error()).
  bool next(std::string_view& line, bool& truncated);

  std::uint64_t line_number() const { return line_number_; }  // of the last line returned
  std::uint64_t bytes_read() const { return bytes_read_; }
  const std::string& error() const { return error_; }

 private:
  bool fill();  // false at EOF or error

  int fd_;
  std::size_t max_line_;
  std::vector<char> buf_;
  std::size_t begin_ = 0, end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;  // dropping the rest of an over-long line
  std::uint64_t line_number_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::string error_;
};

}  // namespace tunneldoc
