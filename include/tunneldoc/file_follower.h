// file_follower.h — follow files like `tail -F`, remembering positions.
//
// FileFollower reads what a file gained since the last poll() and survives
// the ways logs are rotated:
//   rename and create  the path now names a new file: the old one is read to
//                      its end, then the new one from its start;
//   copytruncate       the file shrank below our position, or the bytes just
//                      before our position changed (truncated and written
//                      again between two polls): read it from 0;
//   appearing later    a missing file is opened when it appears, from its start.
// With no saved position it starts at the file's end (or its start with
// from_start). Lines are delivered only when complete (LF), so a position is
// always at a line boundary; lines longer than max_line are cut (truncated).
//
// PositionStore keeps, per path, the file's identity (device, inode) and the
// offset and line number reached, in a small text file rewritten atomically
// (write, fsync, rename). On restart a follower resumes there; if the file
// was rotated meanwhile, it first finishes the rotated file (found by inode
// in the same directory), so nothing is skipped or read twice.
//
// Thread safety: none; a FileFollower and its PositionStore are used by one
// thread (the Tailer's). The store must outlive its followers.
#pragma once

#include <sys/types.h>

#include <atomic>
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
  };

  explicit PositionStore(std::filesystem::path file);  // "": kept in memory only
  // Reads the file; a missing file is an empty store. False (with `error`) if unreadable or corrupt.
  bool load(std::string& error);
  // Writes atomically when something changed. False (with `error`) on failure.
  bool save(std::string& error);
  std::optional<Position> get(const std::string& path) const;
  void set(const std::string& path, const Position& p);
  const std::filesystem::path& file() const { return file_; }
  // Every position set so far.
  const std::map<std::string, Position>& positions() const { return positions_; }

 private:
  std::filesystem::path file_;
  std::map<std::string, Position> positions_;
  bool dirty_ = false;
};

class FileFollower {
 public:
  // line (without LF/CR), its 1-based number in the file, and whether it was cut.
  using LineHandler = std::function<void(std::string_view line, std::uint64_t number, bool truncated)>;

  struct Options {
    std::string path;
    bool from_start = false;
    std::size_t max_line = 64 * 1024;
  };

  FileFollower(Options options, PositionStore* store, LineHandler handler);
  ~FileFollower();
  FileFollower(const FileFollower&) = delete;
  FileFollower& operator=(const FileFollower&) = delete;

  // Reads everything new; returns the number of lines delivered.
  std::size_t poll();

  const std::string& path() const { return options_.path; }
  std::uint64_t rotations() const { return rotations_; }
  std::uint64_t truncations() const { return truncations_; }
  std::uint64_t lines() const { return lines_; }

 private:
  // A read position in one open file.
  struct Cursor {
    int fd = -1;
    std::uint64_t pos = 0;     // bytes read from fd
    std::uint64_t offset = 0;  // after the last complete line
    std::uint64_t line = 0;    // lines before offset
    std::string pending;       // an incomplete line (at most max_line bytes)
    bool skipping = false;     // dropping the rest of an over-long line
  };

  bool open_file(bool at_end, bool use_saved);
  std::size_t read_to_end(Cursor& c);
  std::size_t flush_pending(Cursor& c);
  std::size_t finish_rotated(const PositionStore::Position& saved);
  void remember();
  // copytruncate detection beyond "the file got shorter": the bytes just
  // before our offset must still be the ones we read there.
  void take_fingerprint();
  bool truncated_under_us(bool check_fingerprint);
  void restart_from_zero();

  Options options_;
  PositionStore* store_;
  LineHandler handler_;
  Cursor cur_;
  std::uint64_t device_ = 0, inode_ = 0;
  bool first_poll_ = true;
  bool opened_once_ = false;
  std::uint64_t rotations_ = 0, truncations_ = 0, lines_ = 0;
  std::vector<char> buffer_;
  std::string fingerprint_;  // up to 32 bytes before cur_.offset
};

// Runs FileFollowers for `files` on one thread, every `poll_interval`,
// feeding `pipeline` and saving positions after each round.
// start() and stop() are called from one controlling thread; stop() does a
// last poll, saves positions and joins. pipeline and metrics outlive it.
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
  void poll_all();
  bool save_positions(std::string& error);

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
};

}  // namespace tunneldoc
