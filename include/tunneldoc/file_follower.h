// file_follower.h — follow files like `tail -F`, remembering positions.
//
// FileFollower reads what a file gained since the last poll() and survives
// the ways logs are rotated:
//   rename and create  the path now names a new file: the old one is read to
//                      its end, then the new one from its start;
//   copytruncate       the file shrank below our position, or the bytes just
//                      before our position or at the file's head changed
//                      (truncated and written again between two polls): read
//                      it from 0, with a warning;
//   appearing later    a missing file is opened when it appears, from its start.
// With no saved position it starts at the file's end (or its start with
// from_start); at the end means after the last complete line, so a line being
// written at that moment is delivered whole, never as a fragment. Lines are
// delivered only when complete (LF), so a position is always at a line
// boundary; lines longer than max_line are cut (truncated).
//
// Work is bounded: one poll() delivers at most batch_lines lines and reads
// at most batch_bytes bytes (more when only counting the lines before a
// start at the end); behind() then says more is waiting. A caller that saves
// positions after every poll can repeat at most batch_lines lines per file
// after a crash, and can stop between two polls however large the file is.
//
// PositionStore keeps, per path, the file's identity (device, inode), the
// offset and line number reached, and two fingerprints of bytes already read
// (the 32 bytes before the offset, a hash of the first 4 KiB) in a small text
// file replaced atomically (write, rename; fsync when asked). On restart a
// follower resumes there; if the file was rotated meanwhile, it first
// finishes the rotated file (found by inode in the same directory), so
// nothing is skipped or read twice.
//
// Thread safety: none; a FileFollower and its PositionStore are used by one
// thread (the Tailer's). The store must outlive its followers.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tunneldoc/config.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/pipeline.h"

namespace tunneldoc {

class PositionStore {
 public:
  struct Position {
    std::uint64_t device = 0, inode = 0;
    std::uint64_t offset = 0;  // bytes, at a line boundary
    std::uint64_t line = 0;    // lines before offset
    std::string fingerprint;   // up to 32 bytes just before offset (copytruncate detection)
    std::string head;          // hash of the first min(offset, 4096) bytes ("" if none)
  };

  explicit PositionStore(std::filesystem::path file);  // "": kept in memory only
  // Reads the file; a missing file is an empty store. False (with `error`) if unreadable or corrupt.
  bool load(std::string& error);
  // Writes atomically when something changed: a reader sees the old or the
  // new file, and a killed process leaves one of them. `sync` also fsyncs it
  // (survives a power loss). False (with `error`) on failure.
  bool save(std::string& error, bool sync = true);
  std::optional<Position> get(const std::string& path) const;
  void set(const std::string& path, const Position& p);
  const std::filesystem::path& file() const { return file_; }
  // Every position set so far.
  const std::map<std::string, Position>& positions() const { return positions_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, Position> positions_;
  bool dirty_ = false;     // changed since the last save
  bool unsynced_ = false;  // saved without fsync
};

class FileFollower {
 public:
  // line (without LF/CR), its 1-based number in the file, and whether it was cut.
  using LineHandler = std::function<void(std::string_view line, std::uint64_t number, bool truncated)>;

  struct Options {
    std::string path;
    bool from_start = false;
    std::size_t max_line = 64 * 1024;
    std::size_t batch_lines = 1024;       // lines delivered per poll, at most
    std::size_t batch_bytes = 1u << 20;   // bytes read per poll, at most (about: whole reads)
    std::size_t count_bytes = 16u << 20;  // bytes only counted per poll (starting at the end)
  };

  FileFollower(Options options, PositionStore* store, LineHandler handler);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Reads what is new, up to one batch; returns the number of lines delivered.
  std::size_t poll();
  // The last poll stopped at its batch limit: poll again without waiting.
  bool behind() const { return behind_; }

  const std::string& path() const { return options_.path; }
  std::uint64_t rotations() const { return rotations_; }
  std::uint64_t truncations() const { return truncations_; }
  std::uint64_t lines() const { return lines_; }

 private:
  // A read position in one open file.
  struct Cursor {
    int fd = -1;
    std::uint64_t device = 0, inode = 0;
    std::uint64_t pos = 0;          // bytes read from fd
    std::uint64_t offset = 0;       // after the last complete line
    std::uint64_t line = 0;         // lines before offset
    std::uint64_t count_until = 0;  // lines ending before this byte are counted, not delivered
    std::string pending;            // an incomplete line (at most max_line bytes)
    bool skipping = false;          // dropping the rest of an over-long line
    std::string fingerprint;        // up to 32 bytes before offset
    std::string head;               // hash of the first min(offset, kHeadBytes) bytes
    std::uint64_t head_length = 0;  // bytes `head` covers
  };
  struct Budget {
    std::size_t lines, bytes, count_bytes;
    bool spent() const { return lines == 0 || bytes == 0 || count_bytes == 0; }
  };

  bool open_file(bool at_end, bool use_saved);
  // Reads from `c` until its end or the budget is spent; true at end of file.
  bool read_some(Cursor& c, Budget& budget, std::size_t& delivered);
  std::size_t flush_pending(Cursor& c);
  bool open_rotated(const PositionStore::Position& saved);
  void close_cursor(Cursor& c);
  void remember();
  // copytruncate detection beyond "the file got shorter": the bytes just
  // before our offset, and the file's head, must still be the ones read there.
  void take_fingerprints(Cursor& c);
  bool same_bytes(int fd, std::uint64_t offset, const std::string& fingerprint, const std::string& head) const;
  enum class Change { none, shrunk, rewritten };
  Change changed_under_us(Cursor& c, bool check_fingerprints);
  void restart_from_zero(Cursor& c, Change why);
  // Reads the rotated file to its end (then closes it), then the current
  // one; false when the budget ran out first.
  bool drain(Budget& budget, std::size_t& delivered);

  Options options_;
  PositionStore* store_;
  LineHandler handler_;
  Cursor cur_;
  Cursor rotated_;  // a rotated-away file still being finished (fd -1 if none)
  bool first_poll_ = true;
  bool opened_once_ = false;
  bool behind_ = false;
  std::uint64_t rotations_ = 0, truncations_ = 0, lines_ = 0;
  std::vector<char> buffer_;
};

// Runs FileFollowers for `files` on one thread, every `poll_interval`,
// feeding `pipeline` and saving positions after each round; while a follower
// is behind, rounds follow each other without waiting (stop() is honoured
// between two rounds). Positions are renamed into place every round and
// fsynced at most once a second and at stop: after a kill -9 at most one
// batch (FileFollower::Options::batch_lines) per file is read again.
// start() and stop() are called from one controlling thread; stop() does a
// last round, saves positions and joins. pipeline and metrics outlive it.
// With `acks` (the router the pipeline publishes to), a position is saved
// only once every sink holds the records of the lines before it durably
// (Router::mark, durable): a restart reads again what a sink had not kept.
class Tailer {
 public:
  Tailer(const std::vector<FileSourceConfig>& files, const std::filesystem::path& state_file, int poll_interval_ms,
         Pipeline& pipeline, MetricsRegistry& metrics, const Router* acks = nullptr);
  ~Tailer();
  // Loads the saved positions; false with `error` if the state file is unreadable.
  bool load(std::string& error);
  void start();
  void stop();
  // Saves the positions the sinks have acknowledged since (after they stopped).
  void save_acknowledged();

 private:
  void run();
  bool poll_all(bool sync);  // true if a follower is behind
  bool save_positions(std::string& error, bool sync);

  struct Source;
  std::vector<std::unique_ptr<Source>> sources_;
  PositionStore store_;
  const Router* acks_;
  PositionStore durable_;  // with acks_: what is saved (store_ is what was read)
  std::deque<std::pair<Router::Mark, std::map<std::string, PositionStore::Position>>> pending_;
  std::chrono::milliseconds interval_;
  Pipeline& pipeline_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mutex_
  std::chrono::steady_clock::time_point last_sync_{};
};

}  // namespace tunneldoc
