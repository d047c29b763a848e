// Sinks: a bounded queue that drops its oldest records (counted) instead of
// holding up the publisher, a blocking mode for scan, retries with backoff
// that deliver everything in order, partial failures that resend only what
// failed, dead letters, acknowledgements, a stop() that gives up on a reader
// that never reads, and reopen failures that show.
#include "tunneldoc/sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "temp_file.h"
#include "tunneldoc/route.h"
#include "tunneldoc/spool.h"

using namespace tunneldoc;
using namespace std::chrono_literals;

namespace {

// Encodes an output as its entry and a newline.
class NameEncoder final : public Encoder {
 public:
  void encode(const Output& o, std::string& out) override { out += o.entry + "\n"; }
};

// Writes into memory; can be made to hold every write until released, or to fail.
class GateTransport final : public SinkTransport {
 public:
  bool write(std::string_view bytes, std::string& error) override {
    std::unique_lock lock(mutex_);
    ++writes_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_ || cancelled_; });
    if (cancelled_) return false;
    if (failing_) {
      error = "refused";
      return false;
    }
    text_.append(bytes);
    return true;
  }
  void cancel() override {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    cv_.notify_all();
  }
  bool reopen(std::string& error) override {
    error = "no such directory";
    return false;
  }
  void set_open(bool open) {
    std::lock_guard lock(mutex_);
    open_ = open;
    cv_.notify_all();
  }
  void set_failing(bool failing) {
    std::lock_guard lock(mutex_);
    failing_ = failing;
  }
  // Waits until the sink's thread has called write() at least n times.
  void wait_for_writes(int n = 1) {
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return writes_ >= n; }));
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true, cancelled_ = false, failing_ = false;
  int writes_ = 0;
  std::string text_;
};

// A record transport that answers each item as told: per call, the indexes
// that fail (retryable) and those rejected for good.
class ItemTransport final : public SinkTransport {
 public:
  DeliveryResult deliver(std::span<const Record> records) override {
    std::lock_guard lock(mutex_);
    DeliveryResult r;
    r.sent = true;
    std::vector<std::string> call;
    for (std::size_t i = 0; i < records.size(); ++i) {
      call.push_back(records[i].payload);
      const std::string& p = records[i].payload;
      if (p.find("bad") != std::string::npos) {
        r.failed.push_back({i, true, "mapper_parsing_exception"});
      } else if (p.find("busy") != std::string::npos && busy_left_ > 0) {
        --busy_left_;
        r.failed.push_back({i, false, "429 es_rejected_execution_exception"});
      } else {
        taken_.push_back(p);
      }
    }
    calls_.push_back(call);
    cv_.notify_all();
    return r;
  }
  void cancel() override {}
  bool reopen(std::string&) override { return true; }
  void wait_taken(std::size_t n) {
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return taken_.size() >= n; }));
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  int busy_left_ = 0;
  std::vector<std::string> taken_;
  std::vector<std::vector<std::string>> calls_;
};

std::vector<OutputPtr> outputs(int first, int n, OutputKind kind = OutputKind::incident) {
  std::vector<OutputPtr> v;
  for (int i = first; i < first + n; ++i) {
    auto o = std::make_shared<Output>();
    o->kind = kind;
    o->entry = "r" + std::to_string(i);
    o->subject = std::make_shared<const Event>();
    v.push_back(o);
  }
  return v;
}

std::vector<OutputPtr> named(std::initializer_list<const char*> names) {
  std::vector<OutputPtr> v;
  for (const char* n : names) {
    auto o = std::make_shared<Output>();
    o->kind = OutputKind::incident;
    o->entry = n;
    o->subject = std::make_shared<const Event>();
    v.push_back(o);
  }
  return v;
}

std::string lines(int first, int n) {
  std::string s;
  for (int i = first; i < first + n; ++i) s += "r" + std::to_string(i) + "\n";
  return s;
}

std::uint64_t metric(MetricsRegistry& m, const std::string& series) {
  const std::string text = m.render();
  const auto at = text.find(series + " ");
  REQUIRE(at != std::string::npos);
  return std::stoull(text.substr(at + series.size() + 1));
}

SinkOptions quick(std::string name, std::size_t capacity = 100) {
  SinkOptions o;
  o.name = std::move(name);
  o.stream = Stream::all;
  o.queue_capacity = capacity;
  o.retry_initial = 5ms;
  o.retry_max = 20ms;
  return o;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/tunneldoc-sink-XXXXXX";
    REQUIRE(::mkdtemp(name) != nullptr);
    path = name;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::unique_ptr<Spool> disk_spool(const std::filesystem::path& dir) {
  SpoolRecovery rec;
  std::string error;
  auto s = open_disk_spool(dir, {}, rec, error);
  REQUIRE(s != nullptr);
  return s;
}

}  // namespace

TEST_CASE("a full queue drops its oldest records, counted, and never holds up the publisher", "[sink]") {
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  t.set_open(false);
  Sink sink(quick("test", 8), std::make_unique<NameEncoder>(), std::move(gate), m);
  sink.start();
  sink.publish(outputs(0, 1));  // delivered first: the thread then blocks in write()
  t.wait_for_writes();
  sink.publish(outputs(1, 40));  // returns although nothing can be written
  t.set_open(true);
  CHECK(sink.stop(std::chrono::steady_clock::now() + 10s) == 0);
  // The queue and the memory spool hold 8 each at most: the rest were dropped.
  const std::uint64_t dropped = metric(m, "tunneldoc_sink_dropped_total{sink=\"test\",reason=\"queue_full\"}");
  CHECK(dropped >= 40 - 24);
  // The first record, then the newest ones, in order; the oldest were dropped.
  const std::string text = t.text();
  CHECK(text.rfind("r0\n", 0) == 0);
  CHECK(text.size() >= 4);
  CHECK(text.substr(text.size() - 4) == "r40\n");
  CHECK(metric(m, "tunneldoc_sink_records_total{sink=\"test\"}") == 41 - dropped);
}

TEST_CASE("a sink takes only the records of its stream", "[sink]") {
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  SinkOptions o = quick("lines");
  o.stream = Stream::lines;
  Sink sink(o, std::make_unique<NameEncoder>(), std::move(gate), m);
  sink.start();
  auto batch = outputs(0, 1, OutputKind::line);
  auto more = outputs(1, 1, OutputKind::incident);
  auto corr = outputs(2, 1, OutputKind::correlated);
  batch.insert(batch.end(), more.begin(), more.end());
  batch.insert(batch.end(), corr.begin(), corr.end());
  sink.publish(batch);
  sink.stop(std::chrono::steady_clock::now() + 10s);
  CHECK(t.text() == "r0\nr2\n");
}

TEST_CASE("a blocking sink makes the publisher wait instead of dropping (scan)", "[sink]") {
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  t.set_open(false);
  SinkOptions o = quick("scan", 4);
  o.when_full = SinkOptions::WhenFull::block;
  Sink sink(o, std::make_unique<NameEncoder>(), std::move(gate), m);
  sink.start();
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    sink.publish(outputs(0, 50));
    done = true;
  });
  t.wait_for_writes();
  CHECK_FALSE(done.load());  // held back while the transport is closed
  t.set_open(true);
  publisher.join();
  sink.stop(std::chrono::steady_clock::now() + 10s);
  CHECK(t.text() == lines(0, 50));
}

TEST_CASE("a failing destination gets every record, in order, once it is back", "[sink][retry]") {
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  t.set_failing(true);
  Sink sink(quick("flaky", 1000), std::make_unique<NameEncoder>(), std::move(gate), m);
  sink.start();
  sink.publish(outputs(0, 10));
  t.wait_for_writes(3);  // failed and retried (5 ms, then 10, 20 ms apart)
  CHECK_FALSE(sink.healthy());
  CHECK(sink.last_error() == "refused");
  CHECK(sink.failing_for() > 0ms);
  sink.publish(outputs(10, 10));  // behind the failing batch
  t.set_failing(false);
  CHECK(sink.stop(std::chrono::steady_clock::now() + 10s) == 0);
  CHECK(t.text() == lines(0, 20));
  CHECK(sink.healthy());
  CHECK(metric(m, "tunneldoc_sink_errors_total{sink=\"flaky\"}") >= 3);
  CHECK(metric(m, "tunneldoc_sink_retried_total{sink=\"flaky\"}") >= 20);
  CHECK(metric(m, "tunneldoc_sink_records_total{sink=\"flaky\"}") == 20);
}

TEST_CASE("a partial failure resends only the failed records; rejected ones are dead-lettered", "[sink][retry]") {
  TempDir dir;
  MetricsRegistry m;
  auto items = std::make_unique<ItemTransport>();
  ItemTransport& t = *items;
  t.busy_left_ = 2;
  SinkOptions o = quick("bulk");
  o.dead_letter = dir.path / "dead-letter.jsonl";
  Sink sink(o, std::make_unique<NameEncoder>(), std::move(items), m);
  sink.start();
  sink.publish(named({"a", "busy-b", "bad-c", "d", "busy-e"}));
  t.wait_taken(4);
  sink.stop(std::chrono::steady_clock::now() + 10s);
  std::lock_guard lock(t.mutex_);
  CHECK(t.taken_ == std::vector<std::string>{"a", "d", "busy-b", "busy-e"});
  REQUIRE(t.calls_.size() == 2);
  CHECK(t.calls_[1] == std::vector<std::string>{"busy-b", "busy-e"});  // only what failed, in order
  CHECK(metric(m, "tunneldoc_sink_dead_letter_total{sink=\"bulk\"}") == 1);
  CHECK(metric(m, "tunneldoc_sink_retried_total{sink=\"bulk\"}") == 2);
  CHECK(metric(m, "tunneldoc_sink_records_total{sink=\"bulk\"}") == 4);
  std::ifstream in(o.dead_letter);
  std::string line;
  REQUIRE(std::getline(in, line));
  CHECK(line.find("\"record\":\"bad-c\"") != std::string::npos);
  CHECK(line.find("mapper_parsing_exception") != std::string::npos);
  CHECK_FALSE(std::getline(in, line));
}

TEST_CASE("records in a disk spool survive a destination that is down at stop, and go out at the next start",
          "[sink][spool]") {
  TempDir dir;
  {
    MetricsRegistry m;
    auto gate = std::make_unique<GateTransport>();
    gate->set_failing(true);
    Sink sink(quick("down"), std::make_unique<NameEncoder>(), std::move(gate), disk_spool(dir.path), m);
    sink.start();
    sink.publish(outputs(0, 30));
    // Stopping does not wait for the deadline: the records are on disk.
    const auto start = std::chrono::steady_clock::now();
    CHECK(sink.stop(start + 30s) == 0);
    CHECK(std::chrono::steady_clock::now() - start < 20s);
    CHECK(metric(m, "tunneldoc_sink_dropped_total{sink=\"down\",reason=\"shutdown\"}") == 0);
  }
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  Sink sink(quick("down"), std::make_unique<NameEncoder>(), std::move(gate), disk_spool(dir.path), m);
  CHECK(sink.queued() == 30);
  sink.start();
  sink.publish(outputs(30, 5));
  sink.stop(std::chrono::steady_clock::now() + 10s);
  CHECK(t.text() == lines(0, 35));
  CHECK(sink.queued() == 0);
}

TEST_CASE("settled() passes a record once it is on disk, or once delivered when it waits in memory", "[sink][acks]") {
  SECTION("memory: only delivery settles") {
    MetricsRegistry m;
    auto gate = std::make_unique<GateTransport>();
    GateTransport& t = *gate;
    t.set_open(false);
    Sink sink(quick("mem"), std::make_unique<NameEncoder>(), std::move(gate), m);
    Router router({&sink});
    sink.start();
    sink.publish(outputs(0, 5));
    const Router::Mark mark = router.mark();
    CHECK(mark == Router::Mark{5});
    t.wait_for_writes();
    CHECK_FALSE(router.durable(mark));
    t.set_open(true);
    sink.stop(std::chrono::steady_clock::now() + 10s);
    CHECK(router.durable(mark));
  }
  SECTION("disk: spooled is durable even while the destination is down") {
    TempDir dir;
    MetricsRegistry m;
    auto gate = std::make_unique<GateTransport>();
    GateTransport& t = *gate;
    t.set_open(false);
    Sink sink(quick("disk"), std::make_unique<NameEncoder>(), std::move(gate), disk_spool(dir.path), m);
    Router router({&sink});
    sink.start();
    sink.publish(outputs(0, 5));
    const Router::Mark mark = router.mark();
    t.wait_for_writes();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!router.durable(mark) && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    CHECK(router.durable(mark));
    CHECK(t.text().empty());  // not delivered: durable all the same
    t.set_open(true);
    sink.stop(std::chrono::steady_clock::now() + 10s);
  }
}

TEST_CASE("a sink that does not retry loses a failed batch, counted (scan)", "[sink]") {
  std::string error;
  auto transport = make_file_transport("/dev/full", error);
  REQUIRE(transport != nullptr);
  MetricsRegistry m;
  SinkOptions o = quick("full", 10);
  o.retry = false;
  Sink sink(o, std::make_unique<NameEncoder>(), std::move(transport), m);
  sink.start();
  sink.publish(outputs(0, 3));
  sink.stop(std::chrono::steady_clock::now() + 10s);
  CHECK_FALSE(sink.healthy());
  CHECK(metric(m, "tunneldoc_sink_dropped_total{sink=\"full\",reason=\"write_error\"}") == 3);
  CHECK(sink.last_error().find("No space left") != std::string::npos);
}

TEST_CASE("stop() gives up at its deadline on a FIFO whose reader never reads", "[sink][shutdown]") {
  std::signal(SIGPIPE, SIG_IGN);
  TempFile dir("");
  const std::string fifo = dir.path + ".fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // opens, never reads
  REQUIRE(reader >= 0);
  std::string error;
  auto transport = make_file_transport(fifo, error);
  REQUIRE(transport != nullptr);
  MetricsRegistry m;
  Sink sink(quick("fifo", 100000), std::make_unique<NameEncoder>(), std::move(transport), m);
  sink.start();
  auto big = outputs(0, 1);
  std::const_pointer_cast<Output>(big[0])->entry = std::string(1 << 20, 'x');  // more than a pipe holds
  sink.publish(big);
  sink.publish(outputs(1, 10));
  const auto start = std::chrono::steady_clock::now();
  const std::size_t abandoned = sink.stop(start + 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < 5s);  // not forever (the deadline plus one poll slice)
  CHECK(abandoned == 11);
  CHECK(metric(m, "tunneldoc_sink_dropped_total{sink=\"fifo\",reason=\"shutdown\"}") == 11);
  ::close(reader);
  ::unlink(fifo.c_str());
}

TEST_CASE("a FIFO with no reader is refused at open, with a reason", "[sink]") {
  TempFile dir("");
  const std::string fifo = dir.path + ".noreader";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::string error;
  CHECK(make_file_transport(fifo, error) == nullptr);
  CHECK(error.find("no reader") != std::string::npos);
  ::unlink(fifo.c_str());
}

TEST_CASE("a failed reopen makes the sink unhealthy and says why", "[sink]") {
  MetricsRegistry m;
  Sink sink(quick("file:/gone/x.jsonl", 10), std::make_unique<NameEncoder>(), std::make_unique<GateTransport>(), m);
  CHECK(sink.healthy());
  std::string error;
  CHECK_FALSE(sink.reopen(error));
  CHECK_FALSE(sink.healthy());
  CHECK(sink.last_error().find("no such directory") != std::string::npos);
}

TEST_CASE("records published one at a time are delivered in batches, every one, in order", "[sink][batch]") {
  // serve publishes a diagnosis at a time from each I/O thread; the intake
  // gathers them for a moment instead of waking (and delivering) per record.
  MetricsRegistry m;
  auto items = std::make_unique<ItemTransport>();
  ItemTransport& t = *items;
  Sink sink(quick("trickle", 1000), std::make_unique<NameEncoder>(), std::move(items), m);
  sink.start();
  for (int i = 0; i < 200; ++i) {
    sink.publish(outputs(i, 1));
    std::this_thread::sleep_for(100us);  // a trickle, not a burst: the intake would sleep between records
  }
  t.wait_taken(200);
  sink.stop(std::chrono::steady_clock::now() + 10s);
  std::lock_guard lock(t.mutex_);
  REQUIRE(t.taken_.size() == 200);
  for (int i = 0; i < 200; ++i) CHECK(t.taken_[static_cast<std::size_t>(i)] == "r" + std::to_string(i));
  INFO(t.calls_.size() << " deliveries");
  CHECK(t.calls_.size() < 150);  // ~200, one per record, when the intake does not linger
}
