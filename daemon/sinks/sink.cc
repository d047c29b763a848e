// sink.cc — a sink's queue, spool and two threads: encode and spool (intake),
// send, retry and release (delivery); every record counted.
#include "tunneldoc/sink.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>

#include "tunneldoc/spool.h"

namespace tunneldoc {
namespace {

constexpr std::size_t kMaxIntakeBatch = 4096;
// A trickle of records (serve: one diagnosis now and then from each I/O
// thread) is gathered for up to kLinger before the intake encodes it, and
// publishers wake the intake only when it sleeps with nothing queued or when
// kLingerBatch records are waiting: one wake-up per batch instead of two
// futex system calls per record (16 % of serve's CPU under UDP load).
constexpr auto kLinger = std::chrono::milliseconds(2);
constexpr std::size_t kLingerBatch = 256;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_ns() {
  // Never 0 (0 means healthy).
  return std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
             .count());
}

}  // namespace

void describe(const Output& o, Record& r) {
  const Event& subject = *o.subject;
  r.time_ms = o.kind == OutputKind::incident ? o.at_ms : subject.at_ms;
  r.severity = subject.severity >= 0 && subject.severity <= 7 ? static_cast<std::uint8_t>(subject.severity) : 4;
  r.msgid = o.entry;
  r.host = o.incident ? o.incident->device : std::string(subject.device());
  if (o.incident) {
    r.incident = o.incident->id;
    r.state = std::string(to_string(o.incident->state));
    if (o.incident->state == IncidentState::resolved) r.severity = 6;  // informational: it is over
  } else {
    r.incident.clear();
    r.state = std::string(to_string(o.kind));
  }
}

bool SinkTransport::write(std::string_view, std::string& error) {
  error = "this transport does not write bytes";
  return false;
}

DeliveryResult SinkTransport::deliver(std::span<const Record> records) {
  std::string buffer;
  std::size_t size = 0;
  for (const Record& r : records) size += r.payload.size() + 1;
  buffer.reserve(size);
  for (const Record& r : records) {
    buffer += r.payload;
    buffer += '\n';
  }
  DeliveryResult result;
  result.sent = write(buffer, result.error);
  if (result.sent) result.bytes = buffer.size();
  return result;
}

Sink::Sink(SinkOptions options, std::unique_ptr<Encoder> encoder, std::unique_ptr<SinkTransport> transport,
           MetricsRegistry& metrics)
    : Sink(options, std::move(encoder), std::move(transport), make_memory_spool(options.queue_capacity, options.queue_bytes),
           metrics) {}

Sink::Sink(SinkOptions options, std::unique_ptr<Encoder> encoder, std::unique_ptr<SinkTransport> transport,
           std::unique_ptr<Spool> spool, MetricsRegistry& metrics)
    : options_(std::move(options)),
      encoder_(std::move(encoder)),
      transport_(std::move(transport)),
      spool_(std::move(spool)),
      metrics_(metrics),
      delivered_(
          metrics.counter("tunneldoc_sink_records_total", "Records delivered by the sink", {{"sink", options_.name}})),
      bytes_(metrics.counter("tunneldoc_sink_bytes_total", "Bytes written by the sink", {{"sink", options_.name}})),
      errors_(metrics.counter("tunneldoc_sink_errors_total", "Failed deliveries (each attempt) and failed reopens",
                              {{"sink", options_.name}})),
      retried_(metrics.counter("tunneldoc_sink_retried_total", "Records sent again after a failed delivery",
                               {{"sink", options_.name}})),
      dead_lettered_(metrics.counter("tunneldoc_sink_dead_letter_total",
                                     "Records the destination rejected for good (written to the dead-letter file)",
                                     {{"sink", options_.name}})),
      dropped_full_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                    {{"sink", options_.name}, {"reason", "queue_full"}})),
      dropped_spool_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                     {{"sink", options_.name}, {"reason", "spool_full"}})),
      dropped_error_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                     {{"sink", options_.name}, {"reason", "write_error"}})),
      dropped_shutdown_(metrics.counter("tunneldoc_sink_dropped_total", "Records the sink lost, by reason",
                                        {{"sink", options_.name}, {"reason", "shutdown"}})) {
  std::random_device rd;
  run_id_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  linger_batch_ = std::min(kLingerBatch, options_.queue_capacity);
  register_probes(metrics);
}

void Sink::register_probes(MetricsRegistry& metrics) {
  const Labels labels{{"sink", options_.name}};
  metrics.probe(
      "tunneldoc_sink_queued", "Records accepted and not yet delivered (memory queue and spool)", "gauge", labels,
      [this] { return static_cast<double>(queued()); }, this);
  metrics.probe(
      "tunneldoc_sink_spooled", "Records in the sink's spool (on disk with a state directory, else in memory)", "gauge",
      labels, [this] { return static_cast<double>(spool_->records()); }, this);
  metrics.probe(
      "tunneldoc_sink_spool_bytes", "Bytes the sink's spool holds (on disk, or payload bytes in memory)", "gauge",
      labels, [this] { return static_cast<double>(spooled_bytes()); }, this);
  metrics.probe(
      "tunneldoc_sink_oldest_age_seconds", "Age of the oldest record not yet delivered; 0 when none waits", "gauge",
      labels,
      [this] {
        std::int64_t oldest = spool_->oldest_queued_ms();
        {
          std::lock_guard lock(mutex_);
          if (oldest == 0 && !queue_.empty()) oldest = queue_.front().queued_ms;
        }
        return oldest == 0 ? 0.0 : std::max<double>(0, static_cast<double>(now_ms() - oldest) / 1000.0);
      },
      this);
  metrics.probe(
      "tunneldoc_sink_failing_seconds", "How long the sink has been failing to deliver; 0 when healthy", "gauge",
      labels, [this] { return std::chrono::duration<double>(failing_for()).count(); }, this);
}

Sink::~Sink() {
  if (intake_thread_.joinable() || delivery_thread_.joinable()) stop(std::chrono::steady_clock::now());
  metrics_.remove_probes(this);
}

void Sink::start() {
  intake_thread_ = std::thread([this] { intake(); });
  delivery_thread_ = std::thread([this] { deliver(); });
}

void Sink::publish(const std::vector<OutputPtr>& outputs) {
  std::size_t added = 0, dropped = 0;
  bool wake = false;
  {
    std::unique_lock lock(mutex_);
    const std::size_t before = queue_.size();
    std::int64_t now = 0;
    for (const OutputPtr& o : outputs) {
      if (!wants(options_.stream, o->kind)) continue;
      if (queue_.size() >= options_.queue_capacity) {
        if (options_.when_full == SinkOptions::WhenFull::block) {
          intake_wake_.notify_one();
          space_.wait(lock, [&] { return queue_.size() < options_.queue_capacity || stopping_; });
        } else {
          queue_.pop_front();
          ++dropped;
        }
      }
      if (now == 0) now = now_ms();
      queue_.push_back(Queued{o, ++accepted_, now});
      ++added;
    }
    wake = added != 0 && (intake_idle_ || (before < linger_batch_ && queue_.size() >= linger_batch_));
  }
  if (dropped != 0) {
    dropped_full_.inc(dropped);
    report("queue full", fmt::format("{} records, dropping the oldest (counted in tunneldoc_sink_dropped_total)",
                                     options_.queue_capacity));
  }
  if (wake) intake_wake_.notify_one();
}

void Sink::report(const char* what, const std::string& detail) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (now - last_report_ < std::chrono::seconds(60)) return;
  last_report_ = now;
  spdlog::warn("sink {}: {}: {}", options_.name, what, detail);
}

bool Sink::reopen(std::string& error) {
  if (transport_->reopen(error)) return true;
  errors_.inc();
  std::int64_t expected = 0;
  failing_since_.compare_exchange_strong(expected, steady_ns());
  std::lock_guard lock(mutex_);
  last_error_ = "reopen: " + error;
  return false;
}

std::string Sink::last_error() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

std::chrono::steady_clock::duration Sink::failing_for() const {
  const std::int64_t since = failing_since_.load();
  if (since == 0) return {};
  return std::chrono::nanoseconds(std::max<std::int64_t>(0, steady_ns() - since));
}

std::size_t Sink::queued() const {
  std::size_t n = spool_->records();
  std::lock_guard lock(mutex_);
  return n + queue_.size() + in_hand_count_;
}

std::uint64_t Sink::spooled_bytes() const {
  return spool_->bytes();
}

std::uint64_t Sink::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

std::uint64_t Sink::settled() const {
  // The oldest record that is not durable yet, minus one. The spool is read
  // under mutex_: the intake appends to it before it clears in_hand_ (under
  // mutex_), so a record is always seen in one of the two places.
  std::lock_guard lock(mutex_);
  const std::uint64_t in_memory = spool_->durable() ? 0 : spool_->oldest_seq();
  std::uint64_t floor = accepted_ + 1;
  if (!queue_.empty()) floor = std::min(floor, queue_.front().seq);
  if (in_hand_first_ != 0) floor = std::min(floor, in_hand_first_);
  if (in_memory != 0) floor = std::min(floor, in_memory);
  return floor - 1;
}

void Sink::spool_records(std::vector<Record>& records, std::uint64_t bytes) {
  if (options_.when_full == SinkOptions::WhenFull::block) {
    // Scan: wait for the delivery to make room rather than drop.
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] {
      const std::uint64_t held = spool_->records();
      const bool bytes_fit = spool_->durable() || spool_->bytes() + bytes <= options_.queue_bytes;
      return held == 0 || (held + records.size() <= options_.queue_capacity && bytes_fit) || abandon_;
    });
  }
  const std::size_t n = records.size();
  const std::size_t dropped = spool_->append(records);
  records.clear();
  if (dropped != 0) {
    (spool_->durable() ? dropped_spool_ : dropped_full_).inc(dropped);
    report(spool_->durable() ? "spool full" : "queue full",
           fmt::format("dropped the {} oldest records (counted in tunneldoc_sink_dropped_total)", dropped));
  }
  if (n != 0) {
    { std::lock_guard lock(mutex_); }  // a delivery between its check and its wait gets this
    delivery_wake_.notify_one();
  }
}

void Sink::intake() {
  std::vector<Queued> taken;
  std::vector<Record> records;
  std::size_t encoded_size = 1024;
  // A disk spool keeps the envelope for a later run's transport.
  const bool envelope = transport_->needs_envelope() || spool_->durable();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      intake_idle_ = true;
      intake_wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      intake_idle_ = false;
      if (!stopping_ && queue_.size() < linger_batch_) {
        intake_wake_.wait_for(lock, kLinger, [&] { return stopping_ || queue_.size() >= linger_batch_; });
      }
      if (queue_.empty() || abandon_) break;
      const std::size_t n = std::min({queue_.size(), kMaxIntakeBatch, options_.queue_capacity});
      for (std::size_t i = 0; i < n; ++i) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_hand_first_ = taken.front().seq;
      in_hand_count_ = taken.size();
    }
    space_.notify_all();
    // Encoded records go to the spool every batch_bytes, so that what the
    // intake holds in hand stays small next to the spool's own cap.
    std::size_t pending_bytes = 0;
    for (std::size_t i = 0; i < taken.size(); ++i) {
      const Queued& q = taken[i];
      Record r;
      if (envelope) {
        describe(*q.output, r);
        r.id = fmt::format("{:016x}-{}", run_id_, q.seq);
      }
      r.seq = q.seq;
      r.queued_ms = q.queued_ms;
      r.output = q.output;
      // Encoded in place, at the size the previous record needed: one allocation.
      r.payload.reserve(encoded_size);
      encoder_->encode(*q.output, r.payload);
      while (!r.payload.empty() && (r.payload.back() == '\n' || r.payload.back() == '\r')) r.payload.pop_back();
      encoded_size = r.payload.size() + 1;
      pending_bytes += r.payload.size();
      records.push_back(std::move(r));
      if (pending_bytes >= options_.batch_bytes || i + 1 == taken.size()) {
        spool_records(records, pending_bytes);
        pending_bytes = 0;
      }
    }
    taken.clear();
    {
      std::lock_guard lock(mutex_);  // settled() reads these
      in_hand_first_ = 0;
      in_hand_count_ = 0;
    }
  }
  std::lock_guard lock(mutex_);
  intake_done_ = true;
  delivery_wake_.notify_all();
  space_.notify_all();
}

void Sink::notify_space() {
  { std::lock_guard lock(mutex_); }  // a waiter between its check and its wait gets this
  space_.notify_all();
}

void Sink::note_failure(const std::string& error) {
  errors_.inc();
  std::int64_t expected = 0;
  failing_since_.compare_exchange_strong(expected, steady_ns());
  {
    std::lock_guard lock(mutex_);
    last_error_ = error;
  }
  report("delivery failed", error);
}

void Sink::dead_letter(const Record& r, const std::string& reason) {
  dead_lettered_.inc();
  report("record rejected for good", reason);
  if (options_.dead_letter.empty()) return;
  nlohmann::ordered_json j;
  j["time"] = now_ms();
  j["sink"] = options_.name;
  j["reason"] = reason;
  j["id"] = r.id;
  j["record"] = r.payload;
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const int fd = ::open(options_.dead_letter.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    spdlog::error("sink {}: cannot write the dead-letter file {}", options_.name, options_.dead_letter.string());
  if (fd >= 0) ::close(fd);
}

// Sends the records of `batch` not yet done; marks what the destination
// took or rejected for good. True when nothing is left to send.
bool Sink::send(std::vector<Record>& batch, std::vector<char>& done) {
  std::vector<std::size_t> index;
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (!done[i]) index.push_back(i);
  DeliveryResult result;
  if (index.size() == batch.size()) {
    result = transport_->deliver(batch);
  } else {
    std::vector<Record> subset;
    subset.reserve(index.size());
    for (std::size_t i : index) subset.push_back(batch[i]);
    result = transport_->deliver(subset);
  }
  if (!result.sent) {
    note_failure(result.error);
    return false;
  }
  bytes_.inc(result.bytes);
  std::vector<char> failed(index.size(), 0);
  std::string first_error;
  for (const DeliveryResult::Failed& f : result.failed) {
    if (f.index >= index.size()) continue;
    if (f.permanent) {
      done[index[f.index]] = 1;
      failed[f.index] = 2;
      dead_letter(batch[index[f.index]], f.reason);
    } else {
      failed[f.index] = 1;
      if (first_error.empty()) first_error = f.reason;
    }
  }
  std::uint64_t ok = 0;
  for (std::size_t k = 0; k < index.size(); ++k) {
    if (failed[k] == 0) {
      done[index[k]] = 1;
      ++ok;
    }
  }
  delivered_.inc(ok);
  const bool all = std::all_of(done.begin(), done.end(), [](char c) { return c != 0; });
  if (all) {
    failing_since_ = 0;
  } else {
    note_failure("some records were refused: " + first_error);
  }
  return all;
}

void Sink::deliver() {
  std::vector<Record> batch;
  std::vector<char> done;
  std::mt19937_64 rng(run_id_);
  int attempt = 0;
  const std::size_t max_batch = std::max<std::size_t>(1, transport_->max_batch());
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (abandon_) break;
    }
    if (batch.empty()) {
      spool_->read(max_batch, options_.batch_bytes, batch);
      if (batch.empty()) {
        std::unique_lock lock(mutex_);
        if ((stopping_ && intake_done_ && spool_->unread() == 0) || abandon_) break;
        delivery_wake_.wait(lock, [&] { return spool_->unread() != 0 || (stopping_ && intake_done_) || abandon_; });
        continue;
      }
      done.assign(batch.size(), 0);
      attempt = 0;
    } else {
      std::uint64_t again = 0;
      for (char d : done) again += d == 0;
      retried_.inc(again);
    }
    if (send(batch, done)) {
      spool_->release();
      batch.clear();
      notify_space();
      continue;
    }
    if (!options_.retry) {
      // Nobody waits for a retry (scan): the records are lost, counted.
      std::uint64_t lost = 0;
      for (char d : done) lost += d == 0;
      dropped_error_.inc(lost);
      spool_->release();
      batch.clear();
      notify_space();
      continue;
    }
    // Back off: full jitter over an exponentially growing window.
    const auto window =
        std::min<std::int64_t>(options_.retry_max.count(), options_.retry_initial.count() << std::min(attempt, 20));
    ++attempt;
    std::uniform_int_distribution<std::int64_t> jitter(window / 2, std::max<std::int64_t>(window / 2, window));
    const auto wake = std::chrono::steady_clock::now() + std::chrono::milliseconds(jitter(rng));
    std::unique_lock lock(mutex_);
    // Stopping with a durable spool: what failed stays on disk for the next start.
    if (abandon_ || (stopping_ && spool_->durable() && intake_done_)) break;
    delivery_wake_.wait_until(lock, std::min(wake, deadline_),
                              [&] { return abandon_ || (stopping_ && spool_->durable() && intake_done_); });
    if (abandon_ || (stopping_ && std::chrono::steady_clock::now() >= deadline_)) break;
  }
  std::lock_guard lock(mutex_);
  delivery_done_ = true;
  space_.notify_all();
}

void Sink::request_stop(Deadline deadline) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    deadline_ = deadline;
  }
  intake_wake_.notify_all();
  delivery_wake_.notify_all();
  space_.notify_all();
}

std::size_t Sink::stop(Deadline deadline) {
  if (!intake_thread_.joinable() && !delivery_thread_.joinable()) return 0;
  request_stop(deadline);
  {
    std::lock_guard lock(mutex_);
    deadline = deadline_;
  }
  {
    std::unique_lock lock(mutex_);
    if (!space_.wait_until(lock, deadline, [&] { return intake_done_ && delivery_done_; })) {
      abandon_ = true;
      lock.unlock();
      transport_->cancel();  // a delivery that waits on a destination that never answers
      intake_wake_.notify_all();
      delivery_wake_.notify_all();
      space_.notify_all();
    }
  }
  intake_thread_.join();
  delivery_thread_.join();
  std::size_t given_up = 0;
  {
    // Left in the queue (never spooled): still unsettled, so a followed file
    // reads their lines again at the next start.
    std::lock_guard lock(mutex_);
    given_up += queue_.size();
  }
  if (spool_->durable()) {
    spool_->sync();
    // Everything queued went to the spool before the intake stopped, unless it was abandoned.
    if (const std::uint64_t kept = spool_->records(); kept != 0)
      spdlog::info("sink {}: {} records stay in the spool for the next start", options_.name, kept);
  } else {
    given_up += spool_->records();
  }
  dropped_shutdown_.inc(given_up);
  return given_up;
}

}  // namespace tunneldoc
