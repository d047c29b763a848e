// LineReader splits any byte stream into lines, cutting over-long ones.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tunneldoc/line_reader.h"

namespace {
struct Read {
  std::vector<std::string> lines;
  std::vector<bool> truncated;
};

Read read_all(const std::string& bytes, std::size_t max_line, std::size_t block) {
  std::FILE* f = std::tmpfile();
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fflush(f);
  ::lseek(fileno(f), 0, SEEK_SET);
  tunneldoc::LineReader reader(fileno(f), max_line, block);
  Read out;
  std::string_view line;
  bool truncated = false;
  while (reader.next(line, truncated)) {
    out.lines.emplace_back(line);
    out.truncated.push_back(truncated);
  }
  CHECK(reader.error().empty());
  CHECK(reader.line_number() == out.lines.size());
  std::fclose(f);
  return out;
}
}  // namespace

TEST_CASE("lines split on LF, last line without LF kept", "[line_reader]") {
  const auto r = read_all("a\nbb\r\n\nccc", 100, 4);
  REQUIRE(r.lines.size() == 4);
  CHECK(r.lines[0] == "a");
  CHECK(r.lines[1] == "bb\r");  // the parser removes the CR
  CHECK(r.lines[2].empty());
  CHECK(r.lines[3] == "ccc");
}

TEST_CASE("over-long lines are cut and the rest skipped, across block boundaries", "[line_reader][bad-input]") {
  const std::string longline(1000, 'x');
  const auto r = read_all("short\n" + longline + "\nafter\n" + longline, 64, 16);
  REQUIRE(r.lines.size() == 4);
  CHECK(r.lines[0] == "short");
  CHECK(r.lines[1] == std::string(64, 'x'));
  CHECK(r.truncated[1]);
  CHECK(r.lines[2] == "after");
  CHECK_FALSE(r.truncated[2]);
  CHECK(r.lines[3].size() == 64);
  CHECK(r.truncated[3]);
}

TEST_CASE("binary input with NUL bytes is read byte-exact", "[line_reader][bad-input]") {
  std::string bytes;
  for (int i = 0; i < 4096; ++i) bytes += static_cast<char>(i % 256);
  const auto r = read_all(bytes, 1 << 16, 100);
  std::string joined;
  for (std::size_t i = 0; i < r.lines.size(); ++i) joined += r.lines[i] + (i + 1 < r.lines.size() ? "\n" : "");
  CHECK(joined == bytes.substr(0, bytes.size() - (bytes.back() == '\n' ? 1 : 0)));
}

TEST_CASE("empty input yields no line", "[line_reader]") {
  CHECK(read_all("", 10, 10).lines.empty());
}
