// follower_test.cc — FileFollower and PositionStore on real temporary files:
// rename-and-create, copytruncate, a file appearing later, restarts.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tunneldoc/file_follower.h"

namespace fs = std::filesystem;
using tunneldoc::FileFollower;
using tunneldoc::PositionStore;

namespace {

struct TempDir {
  TempDir() {
    path = fs::temp_directory_path() / ("tunneldoc-follow-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
  static inline int n = 0;
};

void append(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::app) << text;
}

struct Collector {
  std::vector<std::string> lines;
  std::vector<std::uint64_t> numbers;
  FileFollower::LineHandler handler() {
    return [this](std::string_view l, std::uint64_t n, bool) {
      lines.emplace_back(l);
      numbers.push_back(n);
    };
  }
};

}  // namespace

TEST_CASE("starts at the end, or at the start with from_start", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "old 1\nold 2\n");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  CHECK(f.poll() == 0);
  append(log, "new 3\n");
  CHECK(f.poll() == 1);
  CHECK(c.lines == std::vector<std::string>{"new 3"});
  CHECK(c.numbers == std::vector<std::uint64_t>{3});

  Collector all;
  FileFollower g({log.string(), true, 1024}, nullptr, all.handler());
  g.poll();
  CHECK(all.lines == std::vector<std::string>{"old 1", "old 2", "new 3"});
}

TEST_CASE("an incomplete line waits for its LF", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  f.poll();
  append(log, "half");
  CHECK(f.poll() == 0);
  append(log, " and half\r\n");
  CHECK(f.poll() == 1);
  CHECK(c.lines == std::vector<std::string>{"half and half"});
}

TEST_CASE("rename-and-create rotation loses nothing", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  f.poll();
  append(log, "a\n");
  f.poll();
  append(log, "b\n");  // written before the rotation, not yet read
  fs::rename(log, d.path / "asa.log.1");
  append(d.path / "asa.log.1", "c\n");  // a writer still holding the old file
  append(log, "d\n");                   // the new file
  f.poll();
  append(log, "e\n");
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(f.rotations() == 1);
}

TEST_CASE("copytruncate is followed from the start of the file", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  f.poll();
  append(log, "one\ntwo\n");
  f.poll();
  fs::copy_file(log, d.path / "asa.log.1");
  fs::resize_file(log, 0);
  append(log, "x\n");
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"one", "two", "x"});
  CHECK(f.truncations() == 1);
}

TEST_CASE("copytruncate and a rewrite to the same size between two polls is seen", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  f.poll();
  append(log, "line-aaa\nline-bbb\n");
  f.poll();
  fs::resize_file(log, 0);
  append(log, "line-ccc\nline-ddd\nline-eee\n");  // longer than before: size alone cannot tell
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"line-aaa", "line-bbb", "line-ccc", "line-ddd", "line-eee"});
  CHECK(f.truncations() == 1);
  append(log, "line-fff\n");  // and appends after that are not mistaken for truncations
  f.poll();
  CHECK(c.lines.back() == "line-fff");
  CHECK(f.truncations() == 1);
}

TEST_CASE("a file that appears later is read from its start", "[follow]") {
  TempDir d;
  const auto log = d.path / "later.log";
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  CHECK(f.poll() == 0);
  append(log, "first\n");
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"first"});
}

TEST_CASE("positions survive a restart, also across a rotation while stopped", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  const auto state = d.path / "positions";
  append(log, "");
  {
    PositionStore store(state);
    std::string error;
    REQUIRE(store.load(error));
    Collector c;
    FileFollower f({log.string(), false, 1024}, &store, c.handler());
    f.poll();
    append(log, "1\n2\n3");  // "3" has no LF yet
    f.poll();
    REQUIRE(store.save(error));
    CHECK(c.lines == std::vector<std::string>{"1", "2"});
  }
  append(log, "\n4\n");
  SECTION("same file") {
    PositionStore store(state);
    std::string error;
    REQUIRE(store.load(error));
    Collector c;
    FileFollower f({log.string(), false, 1024}, &store, c.handler());
    f.poll();
    CHECK(c.lines == std::vector<std::string>{"3", "4"});
    CHECK(c.numbers == std::vector<std::uint64_t>{3, 4});
  }
  SECTION("rotated while stopped") {
    fs::rename(log, d.path / "asa.log.1");
    append(log, "5\n");
    PositionStore store(state);
    std::string error;
    REQUIRE(store.load(error));
    Collector c;
    FileFollower f({log.string(), false, 1024}, &store, c.handler());
    f.poll();
    CHECK(c.lines == std::vector<std::string>{"3", "4", "5"});
  }
}

namespace {
// A run of tail that follows `log` (empty at first) from its end with the
// positions in `state`, reads `text` appended to it, saves and stops.
void read_and_stop(const fs::path& log, const fs::path& state, const std::string& text) {
  append(log, "");
  PositionStore store(state);
  std::string error;
  REQUIRE(store.load(error));
  Collector c;
  FileFollower f({log.string(), false, 1024}, &store, c.handler());
  f.poll();
  append(log, text);
  f.poll();
  REQUIRE(store.save(error));
}
}  // namespace

TEST_CASE("a copytruncate while stopped is noticed even when the file grew back", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  const auto state = d.path / "positions";
  std::string error;
  read_and_stop(log, state, "old-1\nold-2\n");
  fs::resize_file(log, 0);
  append(log, "new-1\nnew-2\nnew-3\n");
  PositionStore store(state);
  REQUIRE(store.load(error));
  Collector c;
  FileFollower f({log.string(), false, 1024}, &store, c.handler());
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"new-1", "new-2", "new-3"});
}

TEST_CASE("a corrupt state file is an error", "[follow]") {
  TempDir d;
  append(d.path / "positions", "this is not a position\n");
  PositionStore store(d.path / "positions");
  std::string error;
  CHECK_FALSE(store.load(error));
  CHECK(error.find(":1:") != std::string::npos);
}

// ---- Issue 11: bounded batches, no fragment at start, copytruncate with the same tail ----

TEST_CASE("starting at the end in the middle of a line delivers that line whole, not a fragment", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "old 1\nold 2\nhalf of a li");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  CHECK(f.poll() == 0);
  append(log, "ne\nnext\n");
  CHECK(f.poll() == 2);
  CHECK(c.lines == std::vector<std::string>{"half of a line", "next"});
  CHECK(c.numbers == std::vector<std::uint64_t>{3, 4});
}

TEST_CASE("a poll delivers one bounded batch, and positions saved after each batch resume exactly there", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  const auto state = d.path / "positions";
  std::string text;
  for (int i = 1; i <= 5000; ++i) text += "line " + std::to_string(i) + "\n";
  append(log, text);
  std::string error;
  {
    PositionStore store(state);
    REQUIRE(store.load(error));
    Collector c;
    FileFollower::Options o{log.string(), true, 1024};
    o.batch_lines = 1000;
    FileFollower f(o, &store, c.handler());
    CHECK(f.poll() == 1000);
    CHECK(f.behind());
    CHECK(f.poll() == 1000);
    CHECK(f.behind());
    REQUIRE(store.save(error, false));
    CHECK(c.lines.back() == "line 2000");
    // Killed here: the next run must start at line 2001, not repeat a whole file.
  }
  PositionStore store(state);
  REQUIRE(store.load(error));
  Collector c;
  FileFollower::Options o{log.string(), true, 1024};
  o.batch_lines = 1000;
  FileFollower f(o, &store, c.handler());
  std::size_t polls = 0;
  do {
    f.poll();
    ++polls;
  } while (f.behind() && polls < 10);
  CHECK(polls <= 4);  // three full batches; the last may need one empty poll to see the end
  REQUIRE(c.lines.size() == 3000);
  CHECK(c.lines.front() == "line 2001");
  CHECK(c.numbers.front() == 2001);
  CHECK(c.lines.back() == "line 5000");
}

TEST_CASE("a poll reads a bounded number of bytes, also while counting lines before a start at the end", "[follow]") {
  TempDir d;
  const auto log = d.path / "big.log";
  const std::string line(99, 'x');
  std::string text;
  for (int i = 0; i < 40000; ++i) text += line + "\n";  // 4 MB without a line to deliver
  append(log, text);
  Collector c;
  FileFollower::Options o{log.string(), false, 1024};
  o.count_bytes = 1 << 20;
  FileFollower f(o, nullptr, c.handler());
  int polls = 1;
  f.poll();
  while (f.behind() && polls < 100) {
    f.poll();
    ++polls;
  }
  CHECK(polls >= 4);
  CHECK(c.lines.empty());
  append(log, "new\n");
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"new"});
  CHECK(c.numbers == std::vector<std::uint64_t>{40001});

  Collector all;
  FileFollower::Options from_start{log.string(), true, 1024};
  from_start.batch_bytes = 256 * 1024;
  FileFollower g(from_start, nullptr, all.handler());
  g.poll();
  CHECK(g.behind());
  CHECK(all.lines.size() < 40001);
}

namespace {
// 100 lines of one length that differ at their start and end with the same 32 bytes.
std::string same_tail_lines(const std::string& tag) {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    char head[32];
    std::snprintf(head, sizeof head, "%s-%03d ", tag.c_str(), i);
    text += std::string(head) + "Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop\n";
  }
  return text;
}
}  // namespace

TEST_CASE("copytruncate rewritten to the same size with the same last 32 bytes is caught by the head", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "");
  Collector c;
  FileFollower f({log.string(), false, 1024}, nullptr, c.handler());
  f.poll();
  const std::string before = same_tail_lines("old");
  const std::string after = same_tail_lines("new");
  REQUIRE(before.size() == after.size());
  REQUIRE(before.substr(before.size() - 32) == after.substr(after.size() - 32));
  append(log, before);
  CHECK(f.poll() == 100);
  fs::resize_file(log, 0);
  append(log, after);
  CHECK(f.poll() == 100);
  CHECK(f.truncations() == 1);
  REQUIRE(c.lines.size() == 200);
  CHECK(c.lines[100].rfind("new-000 ", 0) == 0);
}

TEST_CASE("the same copytruncate while stopped is caught by the saved head fingerprint", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  const auto state = d.path / "positions";
  std::string error;
  read_and_stop(log, state, same_tail_lines("old"));
  fs::resize_file(log, 0);
  append(log, same_tail_lines("new"));
  PositionStore store(state);
  REQUIRE(store.load(error));
  Collector c;
  FileFollower f({log.string(), false, 1024}, &store, c.handler());
  f.poll();
  CHECK(c.lines.size() == 100);
  CHECK(f.truncations() == 1);
}

TEST_CASE("a state file written by the previous version (v1, no head) still loads", "[follow]") {
  TempDir d;
  const auto log = d.path / "asa.log";
  append(log, "1\n2\n");
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  append(d.path / "positions",
         "# tunneldoc file positions v1: device inode offset line fingerprint(hex, - if none) path\n" +
             std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " 2 1 310a " + log.string() + "\n");
  PositionStore store(d.path / "positions");
  std::string error;
  REQUIRE(store.load(error));
  Collector c;
  FileFollower f({log.string(), false, 1024}, &store, c.handler());
  f.poll();
  CHECK(c.lines == std::vector<std::string>{"2"});
  CHECK(c.numbers == std::vector<std::uint64_t>{2});
}
