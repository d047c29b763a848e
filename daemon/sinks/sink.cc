// sink.cc — a sink's bounded queue and its thread: encode, write, count.
#include "tunneldoc/sink.h"

#include <spdlog/spdlog.h>

namespace tunneldoc {
namespace {
constexpr std::size_t kMaxBatchRecords = 4096;
}

Sink::Sink(SinkOptions options, std::unique_ptr<Encoder> encoder, std::unique_ptr<SinkTransport> transport,
           MetricsRegistry& metrics)
    : options_(std::move(options)),
      encoder_(std::move(encoder)),
      transport_(std::move(transport)),
      delivered_(
          metrics.counter("tunneldoc_sink_records_total", "Records delivered by the sink", {{"sink", options_.name}})),
      bytes_(metrics.counter("tunneldoc_sink_bytes_total", "Bytes written by the sink", {{"sink", options_.name}})),
      errors_(metrics.counter("tunneldoc_sink_errors_total", "Failed writes", {{"sink", options_.name}})),
      dropped_full_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                    {{"sink", options_.name}, {"reason", "queue_full"}})),
      dropped_error_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                     {{"sink", options_.name}, {"reason", "write_error"}})),
      dropped_shutdown_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                        {{"sink", options_.name}, {"reason", "shutdown"}})),
      queued_gauge_(
          metrics.gauge("tunneldoc_sink_queued", "Records waiting in the sink's queue", {{"sink", options_.name}})) {}

Sink::~Sink() {
  if (thread_.joinable()) stop(std::chrono::steady_clock::now());
}

void Sink::start() {
  thread_ = std::thread([this] { run(); });
}

void Sink::publish(const std::vector<OutputPtr>& outputs) {
  std::size_t added = 0, dropped = 0;
  {
    std::unique_lock lock(mutex_);
    for (const OutputPtr& o : outputs) {
      if (!wants(options_.stream, o->kind)) continue;
      if (queue_.size() >= options_.queue_capacity) {
        if (options_.when_full == SinkOptions::WhenFull::block) {
          wake_.notify_one();
          space_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || stopping_; });
        } else {
          // The spool seam: with a disk spool the oldest record goes to disk
          // here instead of being lost.
          queue_.pop_front();
          ++dropped;
        }
      }
      queue_.push_back(o);
      ++added;
    }
    queued_gauge_.set(static_cast<double>(queue_.size()));
  }
  if (dropped != 0) {
    dropped_full_.inc(dropped);
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (now - last_report_ > std::chrono::seconds(60)) {
      last_report_ = now;
      spdlog::warn("sink {}: queue full ({} records), dropping the oldest (counted in tunneldoc_sink_dropped_total)",
                   options_.name, options_.queue_capacity);
    }
  }
  if (added != 0) wake_.notify_one();
}

bool Sink::reopen(std::string& error) {
  if (transport_->reopen(error)) return true;
  errors_.inc();
  healthy_ = false;
  std::lock_guard lock(mutex_);
  last_error_ = "reopen: " + error;
  return false;
}

std::string Sink::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

std::size_t Sink::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Sink::run() {
  std::deque<OutputPtr> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_ && (queue_.empty() || std::chrono::steady_clock::now() >= deadline_)) {
        dropped_shutdown_.inc(queue_.size());
        queue_.clear();
        queued_gauge_.set(0);
        finished_ = true;
        space_.notify_all();
        wake_.notify_all();
        return;
      }
      const std::size_t n = std::min(queue_.size(), kMaxBatchRecords);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
      queued_gauge_.set(static_cast<double>(queue_.size()));
    }
    space_.notify_all();
    deliver(batch);
    batch.clear();
  }
}

void Sink::deliver(std::deque<OutputPtr>& batch) {
  auto flush = [&](std::size_t records) {
    if (buffer_.empty()) return;
    std::string error;
    if (transport_->write(buffer_, error)) {
      delivered_.inc(records);
      bytes_.inc(buffer_.size());
      healthy_ = true;
    } else {
      errors_.inc();
      dropped_error_.inc(records);
      healthy_ = false;
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard lock(mutex_);
      last_error_ = error;
      if (now - last_report_ > std::chrono::seconds(60)) {
        last_report_ = now;
        spdlog::error("sink {}: write failed: {} (records are being lost; counted in tunneldoc_sink_dropped_total)",
                      options_.name, error);
      }
    }
    buffer_.clear();
  };
  std::size_t records = 0;
  for (const OutputPtr& o : batch) {
    encoder_->encode(*o, buffer_);
    ++records;
    if (buffer_.size() >= options_.batch_bytes) {
      flush(records);
      records = 0;
    }
  }
  flush(records);
}

std::size_t Sink::stop(Deadline deadline) {
  const std::uint64_t before = dropped_shutdown_.value() + dropped_error_.value();
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) return 0;
    stopping_ = true;
    deadline_ = deadline;
  }
  wake_.notify_all();
  space_.notify_all();
  {
    std::unique_lock lock(mutex_);
    if (!space_.wait_until(lock, deadline, [&] { return finished_; })) {
      lock.unlock();
      transport_->cancel();  // a write that blocks on a reader that never reads
      wake_.notify_all();
    }
  }
  thread_.join();
  return static_cast<std::size_t>(dropped_shutdown_.value() + dropped_error_.value() - before);
}

}  // namespace tunneldoc
