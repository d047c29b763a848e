// sink.h — the sinks stage: where records leave tunneldoc.
//
// A Sink is an Encoder (Output → bytes: JSON lines today) and a SinkTransport
// (bytes → a file, standard output; network transports later), with a
// bounded queue between the publishers and its own thread, the only one that
// encodes and writes. publish() never waits unless the sink was made with
// WhenFull::block (scan): a full queue drops its oldest records, counted in
// tunneldoc_sink_dropped_total{reason="queue_full"}. The seam for an on-disk
// spool is the overflow step of publish() (see sink.cc).
//
// Life cycle: construct (the transport is already open), start(), publish()
// from any threads, reopen() on SIGHUP (from any thread), stop(deadline):
// delivers what is queued until the deadline, then gives up on the rest
// (counted, reason="shutdown") and joins its thread. A transport blocked on a
// reader that never reads is abandoned at the deadline, never waited for.
//
// Thread safety: every member may be called from any thread; encoding and
// writing happen only on the sink's thread. Encoder and SinkTransport objects
// belong to the sink. The MetricsRegistry must outlive the sink.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tunneldoc/metrics.h"
#include "tunneldoc/output.h"

namespace tunneldoc {

using Deadline = std::chrono::steady_clock::time_point;

// Output → bytes. Used by one thread at a time.
class Encoder {
 public:
  virtual ~Encoder() = default;
  // Appends one encoded record (with its framing, e.g. a trailing LF).
  virtual void encode(const Output& output, std::string& out) = 0;
};

// Bytes → somewhere. write() is called by the sink's thread only; reopen()
// and cancel() may be called from any thread while a write is in progress.
class SinkTransport {
 public:
  virtual ~SinkTransport() = default;
  // Delivers all of `bytes` (whole records), or returns false with `error`.
  virtual bool write(std::string_view bytes, std::string& error) = 0;
  // Makes the write in progress, and every later one, give up and return
  // false soon (shutdown of a sink whose reader never reads).
  virtual void cancel() = 0;
  // Opens the destination again by name (after logrotate). False, with
  // `error`, if it cannot; the old one stays in use.
  virtual bool reopen(std::string& error) = 0;
};

// "-" is standard output; anything else a file opened for append (created
// 0640). A FIFO is opened without waiting for a reader. Null with `error`
// set when it cannot be opened.
std::unique_ptr<SinkTransport> make_file_transport(const std::string& path, std::string& error);

struct SinkOptions {
  std::string name;  // metric label: "stdout", "file:/var/log/tunneldoc.jsonl"
  Stream stream = Stream::incidents;
  std::size_t queue_capacity = 16384;  // records
  enum class WhenFull { drop_oldest, block } when_full = WhenFull::drop_oldest;
  std::size_t batch_bytes = 256 * 1024;  // encoded bytes handed to one write
};

class Sink {
 public:
  Sink(SinkOptions options, std::unique_ptr<Encoder> encoder, std::unique_ptr<SinkTransport> transport,
       MetricsRegistry& metrics);
  ~Sink();  // stop() with a deadline of now if it was not stopped
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;

  void start();
  // Queues the outputs this sink's stream wants.
  void publish(const std::vector<OutputPtr>& outputs);
  // Reopens the transport now; false (logged, counted) when it cannot.
  bool reopen(std::string& error);
  // Delivers what is queued until `deadline`, then stops. Returns the number
  // of records given up (0 when everything was delivered).
  std::size_t stop(Deadline deadline);

  const std::string& name() const { return options_.name; }
  Stream stream() const { return options_.stream; }
  // False while the last write failed or a reopen failed, until a write succeeds.
  bool healthy() const { return healthy_.load(); }
  std::string last_error() const;
  std::size_t queued() const;

 private:
  void run();
  void deliver(std::deque<OutputPtr>& batch);

  SinkOptions options_;
  std::unique_ptr<Encoder> encoder_;
  std::unique_ptr<SinkTransport> transport_;
  Counter& delivered_;
  Counter& bytes_;
  Counter& errors_;
  Counter& dropped_full_;
  Counter& dropped_error_;
  Counter& dropped_shutdown_;
  Gauge& queued_gauge_;

  mutable std::mutex mutex_;
  std::condition_variable wake_, space_;
  std::deque<OutputPtr> queue_;         // guarded by mutex_
  bool stopping_ = false;               // guarded by mutex_
  Deadline deadline_{Deadline::max()};  // guarded by mutex_
  std::string last_error_;              // guarded by mutex_
  bool finished_ = false;               // guarded by mutex_: the thread has left run()
  std::atomic<bool> healthy_{true};
  std::thread thread_;
  std::string buffer_;  // the sink thread's
  std::chrono::steady_clock::time_point last_report_{};
};

}  // namespace tunneldoc
