// Sinks: a bounded queue that drops its oldest records (counted) instead of
// holding up the publisher, a blocking mode for scan, a stop() that gives up
// on a reader that never reads, and reopen failures that show.
#include "tunneldoc/sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>

#include "temp_file.h"

using namespace tunneldoc;
using namespace std::chrono_literals;

namespace {

// Encodes an output as its entry and a newline.
class NameEncoder final : public Encoder {
 public:
  void encode(const Output& o, std::string& out) override { out += o.entry + "\n"; }
};

// Writes into memory; can be made to hold every write until released.
class GateTransport final : public SinkTransport {
 public:
  bool write(std::string_view bytes, std::string&) override {
    std::unique_lock lock(mutex_);
    ++writes_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_ || cancelled_; });
    if (cancelled_) return false;
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
  // Waits until the sink's thread is inside a write.
  void wait_for_write() {
    std::unique_lock lock(mutex_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return writes_ > 0; }));
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = true, cancelled_ = false;
  int writes_ = 0;
  std::string text_;
};

std::vector<OutputPtr> outputs(int first, int n, OutputKind kind = OutputKind::incident) {
  std::vector<OutputPtr> v;
  for (int i = first; i < first + n; ++i) {
    auto o = std::make_shared<Output>();
    o->kind = kind;
    o->entry = "r" + std::to_string(i);
    v.push_back(o);
  }
  return v;
}

std::uint64_t metric(MetricsRegistry& m, const std::string& series) {
  const std::string text = m.render();
  const auto at = text.find(series + " ");
  REQUIRE(at != std::string::npos);
  return std::stoull(text.substr(at + series.size() + 1));
}

}  // namespace

TEST_CASE("a full queue drops its oldest records, counted, and never holds up the publisher", "[sink]") {
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  t.set_open(false);
  SinkOptions o{"test", Stream::all, 8, SinkOptions::WhenFull::drop_oldest};
  Sink sink(o, std::make_unique<NameEncoder>(), std::move(gate), m);
  sink.start();
  sink.publish(outputs(0, 1));  // taken by the thread, which then blocks in write()
  t.wait_for_write();
  sink.publish(outputs(1, 20));  // returns although nothing can be written
  CHECK(sink.queued() == 8);
  CHECK(metric(m, "tunneldoc_sink_dropped_total{sink=\"test\",reason=\"queue_full\"}") == 12);
  t.set_open(true);
  CHECK(sink.stop(std::chrono::steady_clock::now() + 10s) == 0);
  // The first record, then the newest eight; r1..r12 were dropped.
  CHECK(t.text() == "r0\nr13\nr14\nr15\nr16\nr17\nr18\nr19\nr20\n");
  CHECK(metric(m, "tunneldoc_sink_records_total{sink=\"test\"}") == 9);
}

TEST_CASE("a sink takes only the records of its stream", "[sink]") {
  MetricsRegistry m;
  auto gate = std::make_unique<GateTransport>();
  GateTransport& t = *gate;
  Sink sink({"lines", Stream::lines, 100}, std::make_unique<NameEncoder>(), std::move(gate), m);
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
  Sink sink({"scan", Stream::all, 4, SinkOptions::WhenFull::block}, std::make_unique<NameEncoder>(), std::move(gate),
            m);
  sink.start();
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    sink.publish(outputs(0, 50));
    done = true;
  });
  t.wait_for_write();
  CHECK_FALSE(done.load());  // held back while the transport is closed
  t.set_open(true);
  publisher.join();
  sink.stop(std::chrono::steady_clock::now() + 10s);
  std::string want;
  for (int i = 0; i < 50; ++i) want += "r" + std::to_string(i) + "\n";
  CHECK(t.text() == want);
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
  Sink sink({"fifo", Stream::all, 100000}, std::make_unique<NameEncoder>(), std::move(transport), m);
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
  CHECK(metric(m, "tunneldoc_sink_dropped_total{sink=\"fifo\",reason=\"shutdown\"}") +
            metric(m, "tunneldoc_sink_dropped_total{sink=\"fifo\",reason=\"write_error\"}") ==
        11);
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
  Sink sink({"file:/gone/x.jsonl", Stream::all, 10}, std::make_unique<NameEncoder>(), std::make_unique<GateTransport>(),
            m);
  CHECK(sink.healthy());
  std::string error;
  CHECK_FALSE(sink.reopen(error));
  CHECK_FALSE(sink.healthy());
  CHECK(sink.last_error().find("no such directory") != std::string::npos);
}

TEST_CASE("writes to a full device fail, are counted as lost, and mark the sink unhealthy", "[sink]") {
  std::string error;
  auto transport = make_file_transport("/dev/full", error);
  REQUIRE(transport != nullptr);
  MetricsRegistry m;
  Sink sink({"full", Stream::all, 10}, std::make_unique<NameEncoder>(), std::move(transport), m);
  sink.start();
  sink.publish(outputs(0, 3));
  sink.stop(std::chrono::steady_clock::now() + 10s);
  CHECK_FALSE(sink.healthy());
  CHECK(metric(m, "tunneldoc_sink_dropped_total{sink=\"full\",reason=\"write_error\"}") == 3);
  CHECK(sink.last_error().find("No space left") != std::string::npos);
}
