// spool.h — where a sink's encoded records wait for their transport.
//
// A Spool is a FIFO of Records with a cap. The intake thread appends; the
// delivery thread reads the oldest records (read() advances a read position)
// and releases them once the transport took them (release() drops every
// record read so far). Records read but not released are read again after a
// restart (at least once). When an append would pass the cap, the oldest
// records are dropped first and the count is returned.
//
// Two kinds:
// - memory (make_memory_spool): capped in records and in payload bytes (the
//   newest record is always kept); lost with the process.
// - disk (open_disk_spool): a directory of append-only segment files
//   ("<16 digits>.seg"), each record framed as [u32 length][u32 CRC-32][body];
//   a small "ack" file names the first record not yet released (rewritten
//   atomically); segments wholly released are deleted. Capped in bytes: the
//   oldest segment goes first. At open, segments left by an earlier run are
//   checked record by record; a record cut short or failing its checksum ends
//   its segment (the rest of that segment is skipped and counted, never
//   fatal), and appends always go to a new segment. fsync policy: `batch`
//   (after every append: nothing appended is lost to a power failure),
//   `interval` (at most once a second), `never` (the kernel decides; a
//   killed process loses nothing, a power failure may).
//
// Thread safety: append() from one thread, read()/release() from one other
// thread; the const members from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tunneldoc/sink.h"

namespace tunneldoc {

class Spool {
 public:
  virtual ~Spool() = default;
  // Appends `records` in order (taking their contents). Returns how many of
  // the oldest unread records were dropped to stay within the cap.
  virtual std::size_t append(std::vector<Record>& records) = 0;
  // Appends to `out` the next unread records, at least one when there is
  // one, up to `max_records` and (after the first) `max_bytes` of payload.
  virtual void read(std::size_t max_records, std::size_t max_bytes, std::vector<Record>& out) = 0;
  // Forgets every record read so far.
  virtual void release() = 0;
  // Makes what was appended durable now (disk; a no-op in memory).
  virtual void sync() {}

  virtual std::uint64_t records() const = 0;  // held: read or not, not yet released
  virtual std::uint64_t unread() const = 0;
  virtual std::uint64_t bytes() const = 0;            // on disk, or payload bytes in memory
  virtual std::int64_t oldest_queued_ms() const = 0;  // queued_ms of the oldest record held; 0 when empty
  // True when appended records survive the process (disk).
  virtual bool durable() const = 0;
  // The seq of the oldest record held, 0 when none (a memory spool's
  // records are not durable until delivered).
  virtual std::uint64_t oldest_seq() const = 0;
};

std::unique_ptr<Spool> make_memory_spool(std::size_t max_records,
                                         std::size_t max_bytes = std::numeric_limits<std::size_t>::max());

enum class FsyncPolicy { batch, interval, never };
bool parse_fsync_policy(std::string_view text, FsyncPolicy& out);

struct DiskSpoolOptions {
  std::uint64_t max_bytes = 1ull << 30;  // the cap, all segments together
  std::uint64_t segment_bytes = 0;       // 0: max_bytes / 16, between 64 KiB and 64 MiB
  FsyncPolicy fsync = FsyncPolicy::batch;
};

// What open_disk_spool() found.
struct SpoolRecovery {
  std::uint64_t records = 0, bytes = 0;  // waiting to be delivered
  std::uint64_t corrupt_segments = 0;    // segments whose tail was skipped
  std::uint64_t corrupt_bytes = 0;       // bytes skipped
  std::uint64_t released = 0;            // records already delivered before the ack file's position
};

// Opens (creating) the spool in `dir`. Null with `error` when the directory
// cannot be created or written.
std::unique_ptr<Spool> open_disk_spool(const std::filesystem::path& dir, const DiskSpoolOptions& options,
                                       SpoolRecovery& recovery, std::string& error);

}  // namespace tunneldoc
