// Spools: records come back in order after a restart, released records do
// not, a damaged tail is skipped and counted (never fatal), the cap drops the
// oldest first, and the memory spool keeps the batch being delivered.
#include "tunneldoc/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

using namespace tunneldoc;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/tunneldoc-spool-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::vector<Record> records(int first, int n, std::size_t payload = 10) {
  std::vector<Record> v;
  for (int i = first; i < first + n; ++i) {
    Record r;
    r.time_ms = 1'790'000'000'000 + i;
    r.queued_ms = 1'790'000'000'000 + i;
    r.id = "id-" + std::to_string(i);
    r.severity = static_cast<std::uint8_t>(i % 8);
    r.msgid = "sig";
    r.host = "hq-asa";
    r.incident = i % 2 ? "inc" : "";
    r.state = "open";
    r.payload = "r" + std::to_string(i) + std::string(payload, 'x');
    v.push_back(std::move(r));
  }
  return v;
}

std::vector<std::string> ids(const std::vector<Record>& v) {
  std::vector<std::string> out;
  for (const Record& r : v) out.push_back(r.id);
  return out;
}

std::vector<std::string> expected(int first, int n) {
  std::vector<std::string> out;
  for (int i = first; i < first + n; ++i) out.push_back("id-" + std::to_string(i));
  return out;
}

std::unique_ptr<Spool> open(const fs::path& dir, SpoolRecovery& rec, DiskSpoolOptions o = {}) {
  std::string error;
  auto s = open_disk_spool(dir, o, rec, error);
  INFO(error);
  REQUIRE(s != nullptr);
  return s;
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".seg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("a disk spool gives back, after a restart, what was not released, in order, whole", "[spool]") {
  TempDir dir;
  SpoolRecovery rec;
  {
    auto s = open(dir.path, rec);
    auto a = records(0, 100);
    CHECK(s->append(a) == 0);
    CHECK(s->records() == 100);
    std::vector<Record> got;
    s->read(30, 1 << 20, got);
    CHECK(ids(got) == expected(0, 30));
    s->release();
    got.clear();
    s->read(20, 1 << 20, got);  // read, not released: comes back after the restart
    CHECK(s->records() == 70);
    CHECK(s->unread() == 50);
  }
  auto s = open(dir.path, rec);
  CHECK(rec.records == 70);
  CHECK(rec.released == 30);
  CHECK(rec.corrupt_segments == 0);
  std::vector<Record> got;
  s->read(1000, 1 << 30, got);
  REQUIRE(ids(got) == expected(30, 70));
  const auto original = records(30, 1);
  CHECK(got[0].payload == original[0].payload);
  CHECK(got[0].time_ms == original[0].time_ms);
  CHECK(got[0].severity == original[0].severity);
  CHECK(got[0].msgid == "sig");
  CHECK(got[0].host == "hq-asa");
  CHECK(got[1].incident == "inc");
  CHECK(got[0].seq == 0);  // a replayed record belongs to no sequence of this run
  s->release();
  CHECK(s->records() == 0);
}

TEST_CASE("a torn or damaged segment tail is skipped, counted, and never stops the spool", "[spool]") {
  TempDir dir;
  SpoolRecovery rec;
  {
    auto s = open(dir.path, rec);
    auto a = records(0, 50);
    s->append(a);
  }
  const auto segs = segments(dir.path);
  REQUIRE(segs.size() == 1);
  const auto size = fs::file_size(segs[0]);
  SECTION("cut in the middle of the last record (a crash during a write)") {
    fs::resize_file(segs[0], size - 5);
    auto s = open(dir.path, rec);
    CHECK(rec.corrupt_segments == 1);
    CHECK(rec.records == 49);
    std::vector<Record> got;
    s->read(1000, 1 << 30, got);
    CHECK(ids(got) == expected(0, 49));
    // New records go to a new segment, after the good ones.
    auto b = records(50, 2);
    s->append(b);
    got.clear();
    s->read(1000, 1 << 30, got);
    CHECK(ids(got) == expected(50, 2));
  }
  SECTION("a flipped byte in record 20: the rest of that segment is skipped") {
    // Where record 20 starts: the spool header, then 20 framed records.
    std::uint64_t at = 8;
    for (const Record& r : records(0, 20))
      at += 8 + 17 + 6 * 4 + r.id.size() + r.msgid.size() + r.host.size() + r.incident.size() + r.state.size() +
            r.payload.size();
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at + 30));
    f.put('#');
    f.close();
    auto s = open(dir.path, rec);
    CHECK(rec.corrupt_segments == 1);
    CHECK(rec.corrupt_bytes == size - at);
    std::vector<Record> got;
    s->read(1000, 1 << 30, got);
    CHECK(ids(got) == expected(0, 20));
  }
  SECTION("garbage where a segment should be") {
    std::ofstream(dir.path / "0000000000000000.seg") << "not a spool";
    auto s = open(dir.path, rec);
    CHECK(rec.corrupt_segments == 1);
    std::vector<Record> got;
    s->read(1000, 1 << 30, got);
    CHECK(ids(got) == expected(0, 50));
  }
}

TEST_CASE("a full disk spool drops its oldest records first and says how many", "[spool]") {
  TempDir dir;
  SpoolRecovery rec;
  DiskSpoolOptions o;
  o.max_bytes = 1 << 20;
  o.segment_bytes = 64 << 10;
  auto s = open(dir.path, rec, o);
  std::size_t dropped = 0;
  int appended = 0;
  for (int i = 0; i < 100; ++i) {
    auto batch = records(appended, 100, 100);  // ~16 KB a batch
    appended += 100;
    dropped += s->append(batch);
  }
  CHECK(dropped > 0);
  CHECK(s->bytes() <= o.max_bytes);
  CHECK(s->records() + dropped == 10000u);
  std::vector<Record> got;
  s->read(100000, 1ull << 40, got);
  REQUIRE(got.size() == s->records());
  // The newest survive, in order.
  CHECK(got.back().id == "id-9999");
  CHECK(got.front().id == "id-" + std::to_string(dropped));
}

TEST_CASE("released segments are deleted and the ack survives a restart", "[spool]") {
  TempDir dir;
  SpoolRecovery rec;
  DiskSpoolOptions o;
  o.segment_bytes = 64 << 10;
  {
    auto s = open(dir.path, rec, o);
    for (int i = 0; i < 20; ++i) {
      auto b = records(i * 100, 100, 100);
      s->append(b);
    }
    CHECK(segments(dir.path).size() > 3);
    std::vector<Record> got;
    s->read(1500, 1ull << 40, got);
    s->release();
    CHECK(segments(dir.path).size() <= 3);
  }
  auto s = open(dir.path, rec, o);
  CHECK(rec.records == 500);
  std::vector<Record> got;
  s->read(100000, 1ull << 40, got);
  CHECK(ids(got) == expected(1500, 500));
}

TEST_CASE("read() stops at max_bytes but always yields one record", "[spool]") {
  TempDir dir;
  SpoolRecovery rec;
  auto s = open(dir.path, rec);
  auto a = records(0, 10, 1000);
  s->append(a);
  std::vector<Record> got;
  s->read(100, 10, got);  // smaller than one record
  CHECK(got.size() == 1);
  got.clear();
  s->read(100, 3500, got);
  CHECK(got.size() == 3);
}

TEST_CASE("a memory spool drops the oldest unread record, never the batch being delivered", "[spool]") {
  auto s = make_memory_spool(5);
  auto a = records(0, 3);
  CHECK(s->append(a) == 0);
  std::vector<Record> inflight;
  s->read(2, 1 << 20, inflight);  // id-0, id-1 being delivered
  auto b = records(3, 6);
  CHECK(s->append(b) == 4);  // 9 held, cap 5: id-2..id-5 go
  std::vector<Record> rest;
  s->read(100, 1 << 20, rest);
  CHECK(ids(rest) == expected(6, 3));
  CHECK(s->oldest_seq() == 0);
  CHECK_FALSE(s->durable());
  s->release();
  CHECK(s->records() == 0);
}

TEST_CASE("a memory spool is capped in payload bytes too, and always keeps the newest record", "[spool]") {
  auto s = make_memory_spool(1000, 250);  // records of 102 bytes ("r0" and 100 x): two fit
  auto a = records(0, 2, 100);
  CHECK(s->append(a) == 0);
  CHECK(s->bytes() == 204);
  std::vector<Record> inflight;
  s->read(1, 1 << 20, inflight);  // id-0 being delivered: its bytes still count
  CHECK(inflight.at(0).payload.size() == 102);
  auto b = records(2, 2, 100);
  CHECK(s->append(b) == 2);  // 408 held, cap 250: id-1 and id-2 go, id-0 is in delivery
  CHECK(s->bytes() == 204);
  std::vector<Record> rest;
  s->read(100, 1 << 20, rest);
  CHECK(ids(rest) == expected(3, 1));
  s->release();
  CHECK(s->bytes() == 0);
  CHECK(s->records() == 0);
  auto big = records(4, 1, 1000);  // larger than the cap alone: kept
  CHECK(s->append(big) == 0);
  CHECK(s->records() == 1);
}

TEST_CASE("fsync policies are named batch, interval and never", "[spool]") {
  FsyncPolicy p;
  CHECK(parse_fsync_policy("batch", p));
  CHECK(p == FsyncPolicy::batch);
  CHECK(parse_fsync_policy("never", p));
  CHECK(p == FsyncPolicy::never);
  CHECK_FALSE(parse_fsync_policy("always", p));
}
