// sink.h — the sinks stage: where records leave tunneldoc.
//
// A Sink is an Encoder (Output → one line: json, ecs or cef), a Spool (where
// encoded records wait: on disk in the state directory, or in memory; see
// spool.h) and a SinkTransport (records → a file, standard output, a syslog
// server, Splunk HEC, Elasticsearch _bulk), with two threads of its own:
//
//   publishers ─▶ queue (bounded, OutputPtr) ─▶ intake thread: encode, append
//   to the spool ─▶ delivery thread: send the spool's oldest batch, release it
//   once the transport took it, else retry it with exponential backoff.
//
// The intake gathers a trickle of records for up to 2 ms (or until 256 wait)
// before it encodes them: a record may wait that long more, and the threads
// wake once per batch rather than once per record.
//
// publish() never waits unless the sink was made with WhenFull::block (scan):
// a full queue drops its oldest records, counted in
// tunneldoc_sink_dropped_total{reason="queue_full"}; a full spool drops its
// oldest (reason "spool_full"). Delivery is at least once and in order: a
// batch stays at the head of the spool until every record in it was taken
// or rejected for good (dead-lettered, counted); only the records that
// failed are sent again. A failing transport never blocks publishers or
// other sinks.
//
// Acknowledgements: every record the sink accepts gets the next sequence
// number (accepted()); settled() is the highest number up to which every
// record is durable — appended to a disk spool, delivered, or lost and
// counted. A source that can read again (a followed file) saves its position
// only once settled() passed what it published (see route.h: Router::mark).
//
// Life cycle: construct (the transport is already open), start(), publish()
// from any threads, reopen() on SIGHUP (from any thread), stop(deadline):
// the queue goes into the spool, the transport gets until the deadline to
// take the spool; then the transport is cancelled and both threads joined.
// What a memory spool still holds then is given up (counted, reason
// "shutdown"); a disk spool keeps it for the next start.
//
// Thread safety: every member may be called from any thread; encoding
// happens only on the intake thread, sending only on the delivery thread.
// The Encoder, Spool and SinkTransport belong to the sink. The
// MetricsRegistry must outlive the sink.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tunneldoc/metrics.h"
#include "tunneldoc/output.h"

namespace tunneldoc {

using Deadline = std::chrono::steady_clock::time_point;

// One encoded record, with what transports put around it (a syslog header,
// an HEC envelope, a _bulk action). This is what a spool keeps.
struct Record {
  std::int64_t time_ms = 0;    // when what it reports happened (an incident: its change of state)
  std::int64_t queued_ms = 0;  // when the sink accepted it
  std::uint64_t seq = 0;       // the sink's acceptance number in this run; 0 when replayed from disk
  std::string id;              // unique and stable across replays (the _id of an Elasticsearch document)
  std::uint8_t severity = 5;   // syslog severity 0-7
  std::string msgid;           // the signature or rule id
  std::string host;            // the device it is about
  std::string incident;        // the incident id, "" when none
  std::string state;           // open|update|resolved for an incident, else the kind (line, correlated)
  std::string payload;         // the encoded record: one line, without its line end
  // The Output it was encoded from, for transports inside the process (a
  // status view); kept only in memory: null when replayed from a disk spool.
  OutputPtr output;
};

// The envelope of `o` (everything but id, seq, queued_ms and payload).
void describe(const Output& o, Record& r);

// Output → bytes. Used by one thread at a time.
class Encoder {
 public:
  virtual ~Encoder() = default;
  // Appends one encoded record followed by a line feed. The record itself
  // never contains a raw CR or LF.
  virtual void encode(const Output& output, std::string& out) = 0;
};

// What a transport made of a batch.
struct DeliveryResult {
  bool sent = false;  // the destination took the request (items below may still have failed)
  std::string error;  // why not; or what the failed items said
  struct Failed {
    std::size_t index;  // into the batch handed to deliver()
    bool permanent;     // rejected for good (dead-lettered); else sent again later
    std::string reason;
  };
  std::vector<Failed> failed;  // items rejected within a request that was taken
  std::uint64_t bytes = 0;     // bytes put on the wire
};

// Records → somewhere. write()/deliver() are called by the sink's delivery
// thread only; reopen() and cancel() may be called from any thread while a
// delivery is in progress.
class SinkTransport {
 public:
  virtual ~SinkTransport() = default;
  // Byte transports (file, stdout) implement write(): delivers all of
  // `bytes` (whole lines), or returns false with `error`.
  virtual bool write(std::string_view bytes, std::string& error);
  // Record transports (syslog, HEC, _bulk) override deliver(). The default
  // writes each payload and a line feed with write().
  virtual DeliveryResult deliver(std::span<const Record> records);
  // Makes the delivery in progress, and every later one, give up soon
  // (shutdown of a sink whose destination never answers).
  virtual void cancel() = 0;
  // Opens the destination again by name (after logrotate). False, with
  // `error`, if it cannot; the old one stays in use.
  virtual bool reopen(std::string& error) = 0;
  // The most records one deliver() should carry.
  virtual std::size_t max_batch() const { return 4096; }
  // Whether deliver() reads a Record's envelope (id, msgid, host, incident,
  // state); byte transports and the view do not, and a memory spool then
  // skips filling it.
  virtual bool needs_envelope() const { return true; }
};

// "-" is standard output; anything else a file opened for append (created
// 0640). A FIFO is opened without waiting for a reader. Null with `error`
// set when it cannot be opened.
std::unique_ptr<SinkTransport> make_file_transport(const std::string& path, std::string& error);

class Spool;

struct SinkOptions {
  std::string name;  // metric label: "stdout", "file:/var/log/tunneldoc.jsonl", "hec+https://splunk:8088"
  Stream stream = Stream::incidents;
  std::size_t queue_capacity = 16384;  // records (and the capacity of a memory spool)
  std::size_t queue_bytes = 64u << 20;  // encoded bytes a memory spool holds, at most
  enum class WhenFull { drop_oldest, block } when_full = WhenFull::drop_oldest;
  std::size_t batch_bytes = 256 * 1024;  // encoded bytes handed to one delivery, at most
  // false: a failed delivery loses its records (counted, reason
  // "write_error") instead of retrying them (scan: there is nobody to wait for).
  bool retry = true;
  std::chrono::milliseconds retry_initial{500};
  std::chrono::milliseconds retry_max{60'000};
  // Records rejected for good are appended here (JSON lines); "" keeps only the count and a log line.
  std::filesystem::path dead_letter{};
};

class Sink {
 public:
  // A sink whose records wait in memory (up to queue_capacity and queue_bytes).
  Sink(SinkOptions options, std::unique_ptr<Encoder> encoder, std::unique_ptr<SinkTransport> transport,
       MetricsRegistry& metrics);
  // A sink whose records wait in `spool` (on disk: they survive a restart).
  Sink(SinkOptions options, std::unique_ptr<Encoder> encoder, std::unique_ptr<SinkTransport> transport,
       std::unique_ptr<Spool> spool, MetricsRegistry& metrics);
  ~Sink();  // stop() with a deadline of now if it was not stopped
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  void start();
  // Queues the outputs this sink's stream wants.
  void publish(const std::vector<OutputPtr>& outputs);
  // Reopens the transport now; false (logged, counted) when it cannot.
  bool reopen(std::string& error);
  // Spools what is queued and delivers until `deadline`, then stops.
  // Returns the number of records given up (0 when everything was
  // delivered or is kept in a disk spool).
  std::size_t stop(Deadline deadline);
  // Starts stop(deadline) without waiting (stop several sinks at once, then
  // call stop() on each; the first deadline given wins).
  void request_stop(Deadline deadline);

  const std::string& name() const { return options_.name; }
  Stream stream() const { return options_.stream; }
  // False from a failed delivery or reopen until a delivery succeeds.
  bool healthy() const { return failing_since_.load() == 0; }
  // How long it has been failing (zero when healthy).
  std::chrono::steady_clock::duration failing_for() const;
  std::string last_error() const;
  // Records accepted and not yet delivered (queue and spool).
  std::size_t queued() const;
  std::uint64_t spooled_bytes() const;
  // Acknowledgements (see above).
  std::uint64_t accepted() const;
  std::uint64_t settled() const;

 private:
  struct Queued {
    OutputPtr output;
    std::uint64_t seq;
    std::int64_t queued_ms;
  };
  void intake();
  // Appends encoded records to the spool (waiting for room when blocking), counts drops, wakes the delivery.
  void spool_records(std::vector<Record>& records, std::uint64_t bytes);
  void deliver();
  bool send(std::vector<Record>& batch, std::vector<char>& done);
  void dead_letter(const Record& r, const std::string& reason);
  void note_failure(const std::string& error);
  void report(const char* what, const std::string& detail);
  void register_probes(MetricsRegistry& metrics);
  void notify_space();

  SinkOptions options_;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<SinkTransport> transport_;
  std::unique_ptr<Spool> spool_;
  MetricsRegistry& metrics_;
  Counter& delivered_;
  Counter& bytes_;
  Counter& errors_;
  Counter& retried_;
  Counter& dead_lettered_;
  Counter& dropped_full_;
  Counter& dropped_spool_;
  Counter& dropped_error_;
  Counter& dropped_shutdown_;

  mutable std::mutex mutex_;
  std::condition_variable intake_wake_, delivery_wake_, space_;
  std::deque<Queued> queue_;                             // guarded by mutex_
  std::uint64_t accepted_ = 0;                           // guarded by mutex_
  std::uint64_t in_hand_first_ = 0;                      // guarded by mutex_: first seq the intake holds, 0 when none
  std::size_t in_hand_count_ = 0;                        // guarded by mutex_
  bool stopping_ = false;                                // guarded by mutex_
  bool abandon_ = false;                                 // guarded by mutex_: the deadline passed
  bool intake_done_ = false;                             // guarded by mutex_
  bool intake_idle_ = false;                             // guarded by mutex_: the intake waits with nothing queued
  bool delivery_done_ = false;                           // guarded by mutex_
  Deadline deadline_{Deadline::max()};                   // guarded by mutex_
  std::string last_error_;                               // guarded by mutex_
  std::chrono::steady_clock::time_point last_report_{};  // guarded by mutex_
  std::atomic<std::int64_t> failing_since_{0};           // steady-clock ns of the first failure; 0 when healthy
  std::uint64_t run_id_ = 0;
  std::size_t linger_batch_ = 1;  // records that end the intake's gathering early (at most the queue's capacity)                             // random per sink and run: record ids
  std::thread intake_thread_, delivery_thread_;
};

}  // namespace tunneldoc
