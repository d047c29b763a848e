// spool.cc — a sink's records waiting for their transport: in memory, or in
// checksummed append-only segment files that survive a crash.
#include "tunneldoc/spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/crc.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>

namespace tunneldoc {

bool parse_fsync_policy(std::string_view text, FsyncPolicy& out) {
  if (text == "batch") {
    out = FsyncPolicy::batch;
  } else if (text == "interval") {
    out = FsyncPolicy::interval;
  } else if (text == "never") {
    out = FsyncPolicy::never;
  } else {
    return false;
  }
  return true;
}

// ------------------------------------------------------------ memory

namespace {

class MemorySpool final : public Spool {
 public:
  MemorySpool(std::size_t max_records, std::size_t max_bytes)
      : max_(std::max<std::size_t>(1, max_records)), max_bytes_(max_bytes) {}

  std::size_t append(std::vector<Record>& records) override {
    std::lock_guard lock(mutex_);
    for (Record& r : records) {
      bytes_ += r.payload.size();
      records_.push_back(std::move(r));
    }
    std::size_t dropped = 0;
    while ((records_.size() > max_ || bytes_ > max_bytes_) && read_ + 1 < records_.size()) {
      // The oldest record not in the delivery in progress.
      bytes_ -= records_[read_].payload.size();
      records_.erase(records_.begin() + static_cast<std::ptrdiff_t>(read_));
      ++dropped;
    }
    return dropped;
  }

  void read(std::size_t max_records, std::size_t max_bytes, std::vector<Record>& out) override {
    std::lock_guard lock(mutex_);
    std::size_t n = 0, size = 0;
    while (read_ < records_.size() && n < max_records &&
           (n == 0 || size + records_[read_].payload.size() <= max_bytes)) {
      size += records_[read_].payload.size();
      // The delivery holds the batch until it releases it, so the record's
      // contents move out; what stays (seq, queued_ms) is what the accounting reads.
      out.push_back(std::move(records_[read_++]));
      ++n;
    }
    read_bytes_ += size;
  }

  void release() override {
    std::lock_guard lock(mutex_);
    bytes_ -= read_bytes_;
    read_bytes_ = 0;
    records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(read_));
    read_ = 0;
  }

  std::uint64_t records() const override {
    std::lock_guard lock(mutex_);
    return records_.size();
  }
  std::uint64_t unread() const override {
    std::lock_guard lock(mutex_);
    return records_.size() - read_;
  }
  std::uint64_t bytes() const override {
    std::lock_guard lock(mutex_);
    return bytes_;
  }
  std::int64_t oldest_queued_ms() const override {
    std::lock_guard lock(mutex_);
    return records_.empty() ? 0 : records_.front().queued_ms;
  }
  bool durable() const override { return false; }
  std::uint64_t oldest_seq() const override {
    std::lock_guard lock(mutex_);
    return records_.empty() ? 0 : records_.front().seq;
  }

 private:
  const std::size_t max_, max_bytes_;
  mutable std::mutex mutex_;
  std::deque<Record> records_;  // guarded by mutex_
  std::size_t read_ = 0;        // guarded by mutex_: records_[0, read_) are being delivered
  std::uint64_t bytes_ = 0;     // guarded by mutex_: payload bytes held, read or not
  std::uint64_t read_bytes_ = 0;  // guarded by mutex_: those of records_[0, read_)
};

}  // namespace

std::unique_ptr<Spool> make_memory_spool(std::size_t max_records, std::size_t max_bytes) {
  return std::make_unique<MemorySpool>(max_records, max_bytes);
}

// ------------------------------------------------------------ disk

namespace {

constexpr char kMagic[8] = {'T', 'D', 'S', 'P', 'O', 'O', 'L', '1'};
constexpr std::uint64_t kHeader = sizeof kMagic;
constexpr std::uint32_t kFrame = 8;               // u32 length, u32 CRC-32 of the body
constexpr std::uint32_t kMaxBody = 64u << 20;     // a longer length is corruption
constexpr std::size_t kReadChunk = 1u << 20;      // bytes read at a time
constexpr std::uint64_t kMinSegment = 64u << 10;  // bounds of the default segment size
constexpr std::uint64_t kMaxSegment = 64ull << 20;

void put32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint32_t get32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::uint64_t get64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t crc32(const char* data, std::size_t n) {
  boost::crc_32_type crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

// Body: time_ms, queued_ms (8 bytes each), severity (1), then id, msgid,
// host, incident, state and payload, each as u32 length + bytes.
void serialize(const Record& r, std::string& out) {
  const std::size_t at = out.size();
  out.append(kFrame, '\0');
  put64(out, static_cast<std::uint64_t>(r.time_ms));
  put64(out, static_cast<std::uint64_t>(r.queued_ms));
  out.push_back(static_cast<char>(r.severity));
  for (const std::string* s : {&r.id, &r.msgid, &r.host, &r.incident, &r.state, &r.payload}) {
    put32(out, static_cast<std::uint32_t>(s->size()));
    out += *s;
  }
  const auto body = static_cast<std::uint32_t>(out.size() - at - kFrame);
  const std::uint32_t crc = crc32(out.data() + at + kFrame, body);
  for (int i = 0; i < 4; ++i) {
    out[at + i] = static_cast<char>(body >> (8 * i));
    out[at + 4 + i] = static_cast<char>(crc >> (8 * i));
  }
}

bool deserialize(const char* p, std::size_t n, Record& r) {
  if (n < 17) return false;
  r.time_ms = static_cast<std::int64_t>(get64(p));
  r.queued_ms = static_cast<std::int64_t>(get64(p + 8));
  r.severity = static_cast<std::uint8_t>(p[16]);
  r.seq = 0;
  std::size_t at = 17;
  for (std::string* s : {&r.id, &r.msgid, &r.host, &r.incident, &r.state, &r.payload}) {
    if (n - at < 4) return false;
    const std::uint32_t len = get32(p + at);
    at += 4;
    if (n - at < len) return false;
    s->assign(p + at, len);
    at += len;
  }
  return at == n;
}

std::string segment_name(std::uint64_t number) {
  return fmt::format("{:016}.seg", number);
}

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

void fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// Reads one segment file through a buffer (one pread per MiB, not per record).
class SegmentReader {
 public:
  SegmentReader() = default;
  ~SegmentReader() { close(); }
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  bool open(const std::filesystem::path& path) {
    close();
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    return fd_ >= 0;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    length_ = 0;
  }
  bool is_open() const { return fd_ >= 0; }
  std::uint64_t size() const {
    struct stat st {};
    return fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }
  // Points `p` at bytes [off, off + n) of the file; false when it is shorter.
  bool get(std::uint64_t off, std::size_t n, const char*& p) {
    if (fd_ < 0) return false;
    if (off < start_ || off + n > start_ + length_) {
      buffer_.resize(std::max(n, kReadChunk));
      const ssize_t got = ::pread(fd_, buffer_.data(), buffer_.size(), static_cast<off_t>(off));
      start_ = off;
      length_ = got > 0 ? static_cast<std::size_t>(got) : 0;
      if (length_ < n) return false;
    }
    p = buffer_.data() + (off - start_);
    return true;
  }
  // Decodes the record framed at `off` (within `end`); false when it is cut
  // short, too long or fails its checksum.
  bool next(std::uint64_t off, std::uint64_t end, Record& r) {
    const char* frame = nullptr;
    if (off + kFrame > end || !get(off, kFrame, frame)) return false;
    const std::uint32_t len = get32(frame), crc = get32(frame + 4);
    if (len > kMaxBody || off + kFrame + len > end) return false;
    const char* body = nullptr;
    if (!get(off + kFrame, len, body) || crc32(body, len) != crc || !deserialize(body, len, r)) return false;
    last_ = len;
    return true;
  }
  std::uint32_t last_length() const { return last_; }
  // Forgets buffered bytes (the file grew or this is a new one).
  void invalidate() { length_ = 0; }

 private:
  int fd_ = -1;
  std::string buffer_;
  std::uint64_t start_ = 0;
  std::size_t length_ = 0;
  std::uint32_t last_ = 0;
};

class DiskSpool final : public Spool {
 public:
  DiskSpool(std::filesystem::path dir, DiskSpoolOptions options) : dir_(std::move(dir)), options_(options) {
    if (options_.segment_bytes == 0)
      options_.segment_bytes = std::clamp(options_.max_bytes / 16, kMinSegment, kMaxSegment);
  }
  ~DiskSpool() override {
    if (write_fd_ >= 0) {
      if (options_.fsync != FsyncPolicy::never) ::fdatasync(write_fd_);
      ::close(write_fd_);
    }
  }

  bool open(SpoolRecovery& recovery, std::string& error);

  std::size_t append(std::vector<Record>& records) override;
  void read(std::size_t max_records, std::size_t max_bytes, std::vector<Record>& out) override;
  void release() override;
  void sync() override {
    std::lock_guard lock(mutex_);
    if (write_fd_ >= 0) ::fdatasync(write_fd_);
  }

  // Read without the mutex (a metrics scrape never waits for the disk).
  std::uint64_t records() const override { return stat_held_.load(std::memory_order_relaxed); }
  std::uint64_t unread() const override { return stat_unread_.load(std::memory_order_relaxed); }
  std::uint64_t bytes() const override { return stat_bytes_.load(std::memory_order_relaxed); }
  std::int64_t oldest_queued_ms() const override { return stat_oldest_.load(std::memory_order_relaxed); }
  bool durable() const override { return true; }
  std::uint64_t oldest_seq() const override { return 0; }

 private:
  struct Segment {
    std::uint64_t number = 0;
    std::uint64_t end = kHeader;   // bytes that hold whole, valid records
    std::uint64_t count = 0;       // records in [kHeader, end)
    std::uint64_t size = kHeader;  // bytes on disk (a damaged tail included)
  };
  struct Pos {
    std::uint64_t seg = 0;  // segment number
    std::uint64_t off = kHeader;
    std::uint64_t idx = 0;  // records before off in that segment
  };

  std::filesystem::path path_of(std::uint64_t number) const { return dir_ / segment_name(number); }
  // Checks a segment left by an earlier run; false if it cannot be read.
  bool scan(Segment& s, SpoolRecovery& recovery);
  // The rest are called with mutex_ held.
  bool start_segment(std::string& error);
  void remove_front();
  void drop_oldest(std::size_t& dropped);
  void normalize(Pos& p) const;  // past a segment's end → the start of the next one
  void refresh_head();
  void write_ack();
  void publish_stats();
  Segment* find(std::uint64_t number);
  SegmentReader* reader_for(std::uint64_t number);

  std::filesystem::path dir_;
  DiskSpoolOptions options_;
  mutable std::mutex mutex_;
  std::deque<Segment> segments_;                     // guarded by mutex_, oldest first; the last one is written
  Pos ack_, read_;                                   // guarded by mutex_
  std::uint64_t held_ = 0, unread_ = 0, bytes_ = 0;  // guarded by mutex_
  std::int64_t head_queued_ms_ = 0;                  // guarded by mutex_
  int write_fd_ = -1;                                // guarded by mutex_
  SegmentReader reader_;                             // guarded by mutex_
  std::uint64_t reader_number_ = 0;                  // guarded by mutex_
  bool rotate_ = false;                              // guarded by mutex_: start a new segment at the next append
  std::atomic<std::uint64_t> stat_held_{0}, stat_unread_{0}, stat_bytes_{0};
  std::atomic<std::int64_t> stat_oldest_{0};
  std::chrono::steady_clock::time_point last_sync_{};  // the appending thread's
  std::string buffer_;                                 // the appending thread's
};

void DiskSpool::publish_stats() {
  stat_held_.store(held_, std::memory_order_relaxed);
  stat_unread_.store(unread_, std::memory_order_relaxed);
  stat_bytes_.store(bytes_, std::memory_order_relaxed);
  stat_oldest_.store(held_ == 0 ? 0 : head_queued_ms_, std::memory_order_relaxed);
}

bool DiskSpool::scan(Segment& s, SpoolRecovery& recovery) {
  SegmentReader reader;
  if (!reader.open(path_of(s.number))) return false;
  const std::uint64_t size = s.size = reader.size();
  s.end = kHeader;
  s.count = 0;
  const char* p = nullptr;
  if (!reader.get(0, kHeader, p) || std::memcmp(p, kMagic, kHeader) != 0) {
    if (size != 0) {  // not ours, or cut before its header: all of it is skipped
      ++recovery.corrupt_segments;
      recovery.corrupt_bytes += size;
      spdlog::error("spool {}: {} has no spool header; its {} bytes are skipped", dir_.string(), segment_name(s.number),
                    size);
    }
    return true;
  }
  std::uint64_t off = kHeader;
  Record scratch;
  while (off < size && reader.next(off, size, scratch)) {
    off += kFrame + reader.last_length();
    ++s.count;
  }
  s.end = off;
  if (off < size) {
    ++recovery.corrupt_segments;
    recovery.corrupt_bytes += size - off;
    spdlog::error("spool {}: segment {} is damaged at byte {} of {}; its last {} bytes are skipped", dir_.string(),
                  segment_name(s.number), off, size, size - off);
  }
  return true;
}

bool DiskSpool::open(SpoolRecovery& recovery, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    error = fmt::format("spool {}: {}", dir_.string(), ec.message());
    return false;
  }
  if (::access(dir_.c_str(), W_OK) != 0) {
    error = fmt::format("spool {} is not writable", dir_.string());
    return false;
  }
  std::vector<std::uint64_t> numbers;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 20 || name.substr(16) != ".seg") continue;
    std::uint64_t n = 0;
    auto [p, e] = std::from_chars(name.data(), name.data() + 16, n);
    if (e == std::errc() && p == name.data() + 16) numbers.push_back(n);
  }
  if (ec) {
    error = fmt::format("spool {}: {}", dir_.string(), ec.message());
    return false;
  }
  std::sort(numbers.begin(), numbers.end());

  // Where the last run stopped releasing: "SEGMENT OFFSET". Missing, or not
  // naming a segment that is here: everything is delivered again.
  Pos ack;
  bool have_ack = false;
  {
    std::ifstream in(dir_ / "ack");
    if (in >> ack.seg >> ack.off) have_ack = std::binary_search(numbers.begin(), numbers.end(), ack.seg);
  }
  for (std::uint64_t n : numbers) {
    if (have_ack && n < ack.seg) {
      std::filesystem::remove(path_of(n), ec);  // wholly released before the stop
      continue;
    }
    Segment s;
    s.number = n;
    if (!scan(s, recovery)) {
      error = fmt::format("spool {}: cannot read {}: {}", dir_.string(), segment_name(n), std::strerror(errno));
      return false;
    }
    if (s.count == 0 && s.size <= kHeader) {
      std::filesystem::remove(path_of(n), ec);  // created, never written
      continue;
    }
    bytes_ += s.size;
    held_ += s.count;
    segments_.push_back(s);
  }
  if (!segments_.empty()) ack_ = Pos{segments_.front().number, kHeader, 0};
  // The ack position must be a record boundary of its segment; else that segment is delivered again.
  if (have_ack && !segments_.empty() && ack.off > kHeader) {
    const Segment& head = segments_.front();
    SegmentReader* reader = reader_for(head.number);
    std::uint64_t off = kHeader, idx = 0;
    const char* frame = nullptr;
    while (off < ack.off && off + kFrame <= head.end && reader->get(off, kFrame, frame)) {
      off += kFrame + get32(frame);
      ++idx;
    }
    if (off == ack.off && off <= head.end) {
      ack_.off = off;
      ack_.idx = idx;
      recovery.released = idx;
      held_ -= idx;
    } else {
      spdlog::warn("spool {}: the ack position {} {} is not a record boundary; {} is delivered again", dir_.string(),
                   ack.seg, ack.off, segment_name(ack.seg));
    }
  }
  normalize(ack_);
  unread_ = held_;
  read_ = ack_;
  refresh_head();
  recovery.records = held_;
  recovery.bytes = bytes_;
  const bool ok = start_segment(error);
  publish_stats();
  return ok;
}

bool DiskSpool::start_segment(std::string& error) {
  if (write_fd_ >= 0) {
    if (options_.fsync != FsyncPolicy::never) ::fdatasync(write_fd_);
    ::close(write_fd_);
    write_fd_ = -1;
  }
  const std::uint64_t number = segments_.empty() ? 1 : segments_.back().number + 1;
  const int fd = ::open(path_of(number).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0 || !write_all(fd, kMagic, kHeader)) {
    error = fmt::format("spool {}: cannot create {}: {}", dir_.string(), segment_name(number), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return false;
  }
  if (options_.fsync == FsyncPolicy::batch) fsync_dir(dir_);
  write_fd_ = fd;
  Segment s;
  s.number = number;
  segments_.push_back(s);
  bytes_ += kHeader;
  if (held_ == 0) {
    // Nothing waits: older segments are done with.
    while (segments_.size() > 1) remove_front();
    ack_ = read_ = Pos{number, kHeader, 0};
  }
  return true;
}

DiskSpool::Segment* DiskSpool::find(std::uint64_t number) {
  for (Segment& s : segments_)
    if (s.number == number) return &s;
  return nullptr;
}

void DiskSpool::normalize(Pos& p) const {
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    if (s.number < p.seg) continue;
    if (s.number > p.seg) {  // p's segment is gone: the start of the next one
      p = Pos{s.number, kHeader, 0};
      return;
    }
    if (p.off < s.end || i + 1 == segments_.size()) return;
    p = Pos{segments_[i + 1].number, kHeader, 0};
  }
}

SegmentReader* DiskSpool::reader_for(std::uint64_t number) {
  if (!reader_.is_open() || reader_number_ != number) {
    reader_.open(path_of(number));
    reader_number_ = number;
  }
  return &reader_;
}

void DiskSpool::refresh_head() {
  head_queued_ms_ = 0;
  if (held_ == 0) return;
  Pos p = ack_;
  normalize(p);
  const char* head = nullptr;
  if (reader_for(p.seg)->get(p.off, kFrame + 16, head))
    head_queued_ms_ = static_cast<std::int64_t>(get64(head + kFrame + 8));
}

void DiskSpool::remove_front() {
  const Segment& s = segments_.front();
  bytes_ -= std::min(bytes_, s.size);
  std::error_code ec;
  std::filesystem::remove(path_of(s.number), ec);
  if (reader_number_ == s.number) reader_.close();
  segments_.pop_front();
}

void DiskSpool::drop_oldest(std::size_t& dropped) {
  const Segment s = segments_.front();
  // Records the delivery in progress already read are not lost: it still delivers them.
  const std::uint64_t lost = read_.seg == s.number ? s.count - read_.idx : read_.seg > s.number ? 0 : s.count;
  held_ -= s.count - (ack_.seg == s.number ? ack_.idx : 0);
  unread_ -= lost;
  dropped += lost;
  remove_front();
  normalize(ack_);
  normalize(read_);
  refresh_head();
}

std::size_t DiskSpool::append(std::vector<Record>& records) {
  if (records.empty()) return 0;
  buffer_.clear();
  for (const Record& r : records) serialize(r, buffer_);
  const std::int64_t first_queued = records.front().queued_ms;
  const std::size_t n = records.size();
  records.clear();
  std::size_t dropped = 0;
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    std::string error;
    const bool full = segments_.back().end > kHeader && segments_.back().end + buffer_.size() > options_.segment_bytes;
    if ((full || rotate_) && !start_segment(error)) spdlog::error("{}", error);
    rotate_ = false;
    while (bytes_ + buffer_.size() > options_.max_bytes && segments_.size() > 1) drop_oldest(dropped);
    if (write_fd_ < 0 || !write_all(write_fd_, buffer_.data(), buffer_.size())) {
      const std::string why = write_fd_ < 0 ? std::string("no segment open") : std::strerror(errno);
      spdlog::error("spool {}: cannot append {} records: {}", dir_.string(), n, why);
      // The segment may now end in a torn record: appends go to a new one.
      if (!start_segment(error)) spdlog::error("{}", error);
      publish_stats();
      return dropped + n;
    }
    Segment& active = segments_.back();
    if (held_ == 0) head_queued_ms_ = first_queued;
    active.end += buffer_.size();
    active.size += buffer_.size();
    active.count += n;
    held_ += n;
    unread_ += n;
    bytes_ += buffer_.size();
    publish_stats();
    fd = write_fd_;
  }
  // Outside the mutex: the delivery thread reads on, the metrics never wait for the disk.
  // Only this thread closes write_fd_ (start_segment, from append).
  if (options_.fsync == FsyncPolicy::batch) {
    ::fdatasync(fd);
  } else if (options_.fsync == FsyncPolicy::interval) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sync_ >= std::chrono::seconds(1)) {
      last_sync_ = now;
      ::fdatasync(fd);
    }
  }
  return dropped;
}

void DiskSpool::read(std::size_t max_records, std::size_t max_bytes, std::vector<Record>& out) {
  std::lock_guard lock(mutex_);
  std::size_t n = 0, size = 0;
  while (n < max_records && unread_ > 0) {
    normalize(read_);
    Segment* s = find(read_.seg);
    if (s == nullptr || read_.off >= s->end) break;
    SegmentReader* reader = reader_for(s->number);
    const char* frame = nullptr;
    if (n > 0 && reader->get(read_.off, kFrame, frame) && size + get32(frame) > max_bytes) return;
    Record r;
    if (!reader->next(read_.off, s->end, r)) {
      // Damaged after it was checked: the rest of this segment is skipped.
      const std::uint64_t lost = s->count - read_.idx;
      spdlog::error("spool {}: segment {} is damaged at byte {}; {} records skipped", dir_.string(),
                    segment_name(s->number), read_.off, lost);
      unread_ -= std::min(unread_, lost);
      held_ -= std::min(held_, lost);
      s->count = read_.idx;
      s->end = read_.off;
      if (s == &segments_.back()) rotate_ = true;  // the next append starts a new segment
      publish_stats();
      continue;
    }
    size += reader->last_length();
    read_.off += kFrame + reader->last_length();
    ++read_.idx;
    --unread_;
    ++n;
    out.push_back(std::move(r));
  }
  publish_stats();
}

void DiskSpool::release() {
  std::lock_guard lock(mutex_);
  held_ = unread_;
  ack_ = read_;
  normalize(ack_);
  // Segments wholly released go (never the one being written).
  while (segments_.size() > 1 && segments_.front().number < ack_.seg) remove_front();
  write_ack();
  refresh_head();
  publish_stats();
}

void DiskSpool::write_ack() {
  // Losing this file repeats records (at least once); it never loses any.
  const std::string text = fmt::format("{} {}\n", ack_.seg, ack_.off);
  const std::filesystem::path tmp = dir_ / "ack.tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return;
  const bool ok = write_all(fd, text.data(), text.size());
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), (dir_ / "ack").c_str());
}

}  // namespace

std::unique_ptr<Spool> open_disk_spool(const std::filesystem::path& dir, const DiskSpoolOptions& options,
                                       SpoolRecovery& recovery, std::string& error) {
  auto spool = std::make_unique<DiskSpool>(dir, options);
  recovery = SpoolRecovery{};
  if (!spool->open(recovery, error)) return nullptr;
  return spool;
}

}  // namespace tunneldoc
