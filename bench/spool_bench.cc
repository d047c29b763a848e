// spool_bench — how fast a sink's disk spool takes and gives back records
// (docs/siem.md, Figures): appends in batches under each fsync policy, and
// the read + release the delivery thread does. Records of 2 KB (a record
// with remedies=brief is 2-4 KB). Run from a directory on the disk the state
// directory lives on: the spool is created in ./spool-bench-XXXXXX.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tunneldoc/spool.h"

namespace {

using namespace tunneldoc;

std::vector<Record> batch(std::size_t n, std::uint64_t first) {
  std::vector<Record> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i].time_ms = v[i].queued_ms = 1'790'000'000'000;
    v[i].id = "0123456789abcdef-" + std::to_string(first + i);
    v[i].msgid = "asa-713904-no-proposal-chosen";
    v[i].host = "hq-asa";
    v[i].state = "open";
    v[i].payload.assign(2048, 'x');
  }
  return v;
}

struct Dir {
  std::filesystem::path path;
  Dir() {
    char name[] = "spool-bench-XXXXXX";
    if (::mkdtemp(name) == nullptr) std::abort();
    path = std::filesystem::absolute(name);
  }
  ~Dir() { std::filesystem::remove_all(path); }
};

std::unique_ptr<Spool> open(const Dir& d, FsyncPolicy fsync) {
  DiskSpoolOptions o;
  o.fsync = fsync;
  o.max_bytes = 8ull << 30;
  SpoolRecovery rec;
  std::string error;
  auto s = open_disk_spool(d.path, o, rec, error);
  if (!s) std::abort();
  return s;
}

// Append: batches of state.range(0) records; records/s is items_per_second.
void append(benchmark::State& state, FsyncPolicy fsync) {
  Dir d;
  auto spool = open(d, fsync);
  const auto n = static_cast<std::size_t>(state.range(0));
  std::uint64_t seq = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto records = batch(n, seq);
    seq += n;
    state.ResumeTiming();
    spool->append(records);
    if (seq >= 200'000) {  // stay within the disk: deliver what is there (untimed)
      state.PauseTiming();
      std::vector<Record> out;
      while (spool->unread() != 0) {
        out.clear();
        spool->read(4096, 1 << 30, out);
        spool->release();
      }
      seq = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n * 2048));
}

void BM_AppendFsyncBatch(benchmark::State& s) {
  append(s, FsyncPolicy::batch);
}
void BM_AppendFsyncInterval(benchmark::State& s) {
  append(s, FsyncPolicy::interval);
}
void BM_AppendFsyncNever(benchmark::State& s) {
  append(s, FsyncPolicy::never);
}
BENCHMARK(BM_AppendFsyncBatch)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_AppendFsyncInterval)->Arg(64)->UseRealTime();
BENCHMARK(BM_AppendFsyncNever)->Arg(64)->UseRealTime();

// Read + release of batches of 1,000 (what a HEC or _bulk delivery takes), ack file rewritten each time.
void BM_ReadRelease(benchmark::State& state) {
  Dir d;
  auto spool = open(d, FsyncPolicy::never);
  std::uint64_t seq = 0;
  std::vector<Record> out;
  for (auto _ : state) {
    if (spool->unread() < 1000) {
      state.PauseTiming();
      auto records = batch(50'000, seq);
      seq += 50'000;
      spool->append(records);
      state.ResumeTiming();
    }
    out.clear();
    spool->read(1000, 1 << 30, out);
    spool->release();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_ReadRelease)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
