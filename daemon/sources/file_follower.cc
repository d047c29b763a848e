// file_follower.cc — tail -F with rotation, truncation, saved positions and
// bounded batches.
#include "tunneldoc/file_follower.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tunneldoc {

// ---- PositionStore ----------------------------------------------------------

namespace {
constexpr const char* kStateHeaderV1 =
    "# tunneldoc file positions v1: device inode offset line fingerprint(hex, - if none) path";
constexpr const char* kStateHeader =
    "# tunneldoc file positions v2: device inode offset line fingerprint(hex, - if none) head(hex, - if none) path";
constexpr std::uint64_t kTailBytes = 32;    // the fingerprint before the offset
constexpr std::uint64_t kHeadBytes = 4096;  // the head hashed
constexpr std::size_t kHeadDigest = 16;     // bytes of SHA-256 kept

std::string to_hex(std::string_view bytes) {
  if (bytes.empty()) return "-";
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

bool from_hex(const std::string& hex, std::string& out) {
  out.clear();
  if (hex == "-") return true;
  if (hex.size() % 2 != 0 || hex.size() > 2 * kTailBytes) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + i + 2) return false;
    out.push_back(static_cast<char>(v));
  }
  return true;
}
// SHA-256 (first kHeadDigest bytes) of the first `n` bytes of `fd`; "" when
// n is 0 or they cannot be read.
std::string head_digest(int fd, std::uint64_t n) {
  if (n == 0) return {};
  std::string bytes(static_cast<std::size_t>(n), '\0');
  if (::pread(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (::EVP_Digest(bytes.data(), bytes.size(), md, &len, ::EVP_sha256(), nullptr) != 1 || len < kHeadDigest) return {};
  return std::string(reinterpret_cast<const char*>(md), kHeadDigest);
}
}  // namespace

PositionStore::PositionStore(std::filesystem::path file) : file_(std::move(file)) {}

bool PositionStore::load(std::string& error) {
  positions_.clear();
  if (file_.empty()) return true;
  std::ifstream in(file_);
  if (!in) {
    if (errno == ENOENT) return true;
    error = fmt::format("cannot read {}: {}", file_.string(), std::strerror(errno));
    return false;
  }
  std::string line;
  int number = 0;
  bool v1 = false;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line == kStateHeaderV1) v1 = true;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Position p;
    std::string path, hex, head = "-";
    fields >> p.device >> p.inode >> p.offset >> p.line >> hex;
    if (!v1) fields >> head;
    if (!fields || !from_hex(hex, p.fingerprint) || !from_hex(head, p.head) ||
        (!p.head.empty() && p.head.size() != kHeadDigest) || fields.get() != ' ' || !std::getline(fields, path) ||
        path.empty()) {
      error = fmt::format("{}:{}: not a position line", file_.string(), number);
      return false;
    }
    positions_[path] = p;
  }
  return true;
}

bool PositionStore::save(std::string& error, bool sync) {
  if (file_.empty()) return true;
  if (!dirty_) {
    if (sync && unsynced_) {
      const int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
      }
      unsynced_ = false;
    }
    return true;
  }
  std::string text = std::string(kStateHeader) + "\n";
  for (const auto& [path, p] : positions_)
    text += fmt::format("{} {} {} {} {} {} {}\n", p.device, p.inode, p.offset, p.line, to_hex(p.fingerprint),
                        to_hex(p.head), path);
  const std::string tmp = file_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (sync) ok = ::fsync(fd) == 0 && ok;
  const int e = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file_.c_str()) != 0) {
    error = fmt::format("cannot write {}: {}", file_.string(), std::strerror(ok ? errno : e));
    return false;
  }
  dirty_ = false;
  unsynced_ = !sync;
  return true;
}

std::optional<PositionStore::Position> PositionStore::get(const std::string& path) const {
  auto it = positions_.find(path);
  if (it == positions_.end()) return std::nullopt;
  return it->second;
}

void PositionStore::set(const std::string& path, const Position& p) {
  Position& q = positions_[path];
  if (q.device != p.device || q.inode != p.inode || q.offset != p.offset || q.line != p.line ||
      q.fingerprint != p.fingerprint || q.head != p.head) {
    q = p;
    dirty_ = true;
  }
}

// ---- FileFollower -----------------------------------------------------------

FileFollower::FileFollower(Options options, PositionStore* store, LineHandler handler)
    : options_(std::move(options)), store_(store), handler_(std::move(handler)), buffer_(64 * 1024) {
  options_.batch_lines = std::max<std::size_t>(1, options_.batch_lines);
  options_.batch_bytes = std::max<std::size_t>(1, options_.batch_bytes);
  options_.count_bytes = std::max<std::size_t>(1, options_.count_bytes);
}

FileFollower::~FileFollower() {
  close_cursor(cur_);
  close_cursor(rotated_);
}

void FileFollower::close_cursor(Cursor& c) {
  if (c.fd >= 0) ::close(c.fd);
  c = Cursor{};
}

bool FileFollower::read_some(Cursor& c, Budget& budget, std::size_t& delivered) {
  // Starting at the end: count the lines before it and find the start of the
  // last one, which may still be being written (it is read again, whole).
  while (c.pos < c.count_until) {
    if (budget.spent()) return false;
    const auto want = std::min<std::uint64_t>({buffer_.size(), c.count_until - c.pos, budget.count_bytes});
    const ssize_t n = ::read(c.fd, buffer_.data(), static_cast<std::size_t>(want));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      c.count_until = c.pos;  // shorter than it was: stop counting here
      break;
    }
    const char* data = buffer_.data();
    c.line += static_cast<std::uint64_t>(std::count(data, data + n, '\n'));
    if (const void* last = ::memrchr(data, '\n', static_cast<std::size_t>(n)))
      c.offset = c.pos + static_cast<std::uint64_t>(static_cast<const char*>(last) - data) + 1;
    c.pos += static_cast<std::uint64_t>(n);
    budget.count_bytes -= static_cast<std::size_t>(n);
  }
  if (c.count_until != 0) {
    c.count_until = 0;
    c.pos = c.offset;
    ::lseek(c.fd, static_cast<off_t>(c.offset), SEEK_SET);
  }
  for (;;) {
    if (budget.spent()) return false;
    const ssize_t n = ::read(c.fd, buffer_.data(), std::min(buffer_.size(), budget.bytes));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    std::string_view chunk(buffer_.data(), static_cast<std::size_t>(n));
    const std::uint64_t chunk_start = c.pos;
    c.pos += static_cast<std::uint64_t>(n);
    budget.bytes -= static_cast<std::size_t>(n);
    std::size_t start = 0;
    while (start < chunk.size()) {
      const std::size_t lf = chunk.find('\n', start);
      const std::size_t end = lf == std::string_view::npos ? chunk.size() : lf;
      std::string_view piece = chunk.substr(start, end - start);
      if (!c.skipping) {
        const std::size_t room = options_.max_line - std::min(options_.max_line, c.pending.size());
        if (piece.size() > room) {
          // Over-long line: deliver what fits, drop the rest up to its LF.
          c.pending.append(piece.substr(0, room));
          std::string_view line = c.pending;
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          handler_(line, c.line + 1, true);
          ++delivered;
          --budget.lines;
          c.pending.clear();
          c.skipping = true;
        } else {
          c.pending.append(piece);
        }
      }
      if (lf == std::string_view::npos) break;
      // A complete line.
      if (!c.skipping) {
        std::string_view line = c.pending;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) {
          handler_(line, c.line + 1, false);
          ++delivered;
          --budget.lines;
        }
      }
      c.skipping = false;
      c.pending.clear();
      ++c.line;
      c.offset = chunk_start + lf + 1;
      start = lf + 1;
      if (budget.lines == 0) {
        // The batch is full: stop at this line boundary, unread bytes stay in the file.
        if (c.pos != c.offset) {
          c.pos = c.offset;
          ::lseek(c.fd, static_cast<off_t>(c.offset), SEEK_SET);
        }
        return false;
      }
    }
  }
}

std::size_t FileFollower::flush_pending(Cursor& c) {
  if (c.skipping || c.pending.empty()) return 0;
  std::string_view line = c.pending;
  if (line.back() == '\r') line.remove_suffix(1);
  handler_(line, c.line + 1, false);
  ++c.line;
  c.offset = c.pos;
  c.pending.clear();
  return 1;
}

// The file we were reading was rotated while we were not running: find it
// by inode next to the path, to finish it before starting the new one.
bool FileFollower::open_rotated(const PositionStore::Position& saved) {
  std::error_code ec;
  const auto dir = std::filesystem::path(options_.path).parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(dir.empty() ? "." : dir, ec)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (static_cast<std::uint64_t>(st.st_ino) != saved.inode || static_cast<std::uint64_t>(st.st_dev) != saved.device)
      continue;
    if (static_cast<std::uint64_t>(st.st_size) < saved.offset) return false;
    Cursor old;
    old.fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (old.fd < 0) return false;
    ::lseek(old.fd, static_cast<off_t>(saved.offset), SEEK_SET);
    old.device = saved.device;
    old.inode = saved.inode;
    old.pos = old.offset = saved.offset;
    old.line = saved.line;
    old.fingerprint = saved.fingerprint;
    old.head = saved.head;
    old.head_length = std::min<std::uint64_t>(saved.offset, kHeadBytes);
    spdlog::info("{}: finishing {}, rotated while stopped, from byte {}", options_.path, entry.path().string(),
                 saved.offset);
    close_cursor(rotated_);
    rotated_ = std::move(old);
    return true;
  }
  spdlog::warn("{}: the file read last time (inode {}) is gone; starting the current one from its start", options_.path,
               saved.inode);
  return false;
}

bool FileFollower::same_bytes(int fd, std::uint64_t offset, const std::string& fingerprint,
                              const std::string& head) const {
  if (!fingerprint.empty() && fingerprint.size() <= offset) {
    char now[kTailBytes];
    const std::size_t len = fingerprint.size();
    if (::pread(fd, now, len, static_cast<off_t>(offset - len)) != static_cast<ssize_t>(len) ||
        std::string_view(now, len) != fingerprint)
      return false;
  }
  return head.empty() || head_digest(fd, std::min<std::uint64_t>(offset, kHeadBytes)) == head;
}

bool FileFollower::open_file(bool at_end, bool use_saved) {
  const int fd = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  ::fstat(fd, &st);
  close_cursor(cur_);
  cur_.fd = fd;
  cur_.device = static_cast<std::uint64_t>(st.st_dev);
  cur_.inode = static_cast<std::uint64_t>(st.st_ino);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::optional<PositionStore::Position> saved;
  if (use_saved && store_ != nullptr) saved = store_->get(options_.path);
  const bool same_file = saved && saved->inode == cur_.inode && saved->device == cur_.device;
  if (same_file && saved->offset <= size && same_bytes(fd, saved->offset, saved->fingerprint, saved->head)) {
    cur_.offset = cur_.pos = saved->offset;
    cur_.line = saved->line;
    cur_.fingerprint = saved->fingerprint;
    cur_.head = saved->head;
    cur_.head_length = std::min<std::uint64_t>(saved->offset, kHeadBytes);
  } else if (saved && !same_file) {
    open_rotated(*saved);
  } else if (saved) {
    // Shorter than where we were, or other bytes where we had read: copytruncated while we were stopped.
    ++truncations_;
    spdlog::warn("{}: truncated (copytruncate) while tunneldoc was stopped; reading it from its start", options_.path);
  } else if (at_end) {
    cur_.count_until = size;
  }
  ::lseek(fd, static_cast<off_t>(cur_.offset), SEEK_SET);
  opened_once_ = true;
  return true;
}

void FileFollower::remember() {
  if (store_ == nullptr) return;
  // While a rotated file is being finished, its position is the one to
  // resume from (a restart finds it by inode, then reads the new file whole).
  const Cursor& c = rotated_.fd >= 0 ? rotated_ : cur_;
  if (c.fd < 0 || c.count_until != 0) return;  // still counting lines before the start: nothing read yet
  store_->set(options_.path, PositionStore::Position{c.device, c.inode, c.offset, c.line, c.fingerprint, c.head});
}

void FileFollower::take_fingerprints(Cursor& c) {
  if (c.fd < 0 || c.count_until != 0) return;
  const std::uint64_t len = std::min<std::uint64_t>(kTailBytes, c.offset);
  c.fingerprint.resize(static_cast<std::size_t>(len));
  if (len != 0 &&
      ::pread(c.fd, c.fingerprint.data(), len, static_cast<off_t>(c.offset - len)) != static_cast<ssize_t>(len))
    c.fingerprint.clear();
  const std::uint64_t head = std::min<std::uint64_t>(c.offset, kHeadBytes);
  if (head != c.head_length) {
    c.head = head_digest(c.fd, head);
    c.head_length = c.head.empty() ? 0 : head;
  }
}

FileFollower::Change FileFollower::changed_under_us(Cursor& c, bool check_fingerprints) {
  struct stat st {};
  if (c.fd < 0 || ::fstat(c.fd, &st) != 0) return Change::none;
  if (static_cast<std::uint64_t>(st.st_size) < c.pos) return Change::shrunk;
  if (!check_fingerprints || c.count_until != 0) return Change::none;
  return same_bytes(c.fd, c.offset, c.fingerprint, c.head) ? Change::none : Change::rewritten;
}

void FileFollower::restart_from_zero(Cursor& c, Change why) {
  ++truncations_;
  if (why == Change::rewritten) {
    spdlog::warn(
        "{}: truncated and written again past our position between two checks (copytruncate); reading it from its "
        "start. Lines appended after byte {} before the truncation are only in the rotated copy",
        options_.path, c.offset);
  } else {
    spdlog::info("{}: truncated (copytruncate); reading it from its start", options_.path);
  }
  ::lseek(c.fd, 0, SEEK_SET);
  c.pos = c.offset = c.line = c.count_until = 0;
  c.pending.clear();
  c.skipping = false;
  c.fingerprint.clear();
  c.head.clear();
  c.head_length = 0;
}

bool FileFollower::drain(Budget& budget, std::size_t& delivered) {
  if (rotated_.fd >= 0) {
    if (!read_some(rotated_, budget, delivered)) return false;
    delivered += flush_pending(rotated_);
    close_cursor(rotated_);
    ++rotations_;
  }
  return cur_.fd < 0 || read_some(cur_, budget, delivered);
}

std::size_t FileFollower::poll() {
  Budget budget{options_.batch_lines, options_.batch_bytes, options_.count_bytes};
  std::size_t n = 0;
  const bool first = first_poll_;
  first_poll_ = false;
  if (cur_.fd < 0) {
    open_file(first && !options_.from_start, !opened_once_);
  } else if (const Change c = changed_under_us(cur_, true); c != Change::none && rotated_.fd < 0) {
    restart_from_zero(cur_, c);  // copytruncate, possibly already written again
  }
  behind_ = !drain(budget, n);
  struct stat st {};
  if (!behind_ && cur_.fd >= 0 && ::stat(options_.path.c_str(), &st) == 0) {
    if (static_cast<std::uint64_t>(st.st_ino) != cur_.inode || static_cast<std::uint64_t>(st.st_dev) != cur_.device) {
      // Renamed away and replaced: finish the old file, then read the new one from its start.
      rotated_ = std::move(cur_);
      cur_ = Cursor{};
      open_file(false, false);
      behind_ = !drain(budget, n);
    } else if (const Change c = changed_under_us(cur_, false); c != Change::none) {
      restart_from_zero(cur_, c);
      behind_ = !drain(budget, n);
    }
  }
  // ENOENT: moved away and not re-created yet; keep reading the old file.
  take_fingerprints(rotated_);
  take_fingerprints(cur_);
  remember();
  lines_ += n;
  return n;
}

// ---- Tailer -----------------------------------------------------------------

struct Tailer::Source {
  Source(const FileSourceConfig& config, PositionStore& store, Pipeline& pipeline, MetricsRegistry& metrics)
      : name("file:" + config.path.string()),
        lines(metrics.counter("tunneldoc_file_lines_total", "Lines read from followed files", {{"file", name}})),
        rotations(metrics.counter("tunneldoc_file_rotations_total", "Rename-and-create rotations followed",
                                  {{"file", name}})),
        truncations(metrics.counter("tunneldoc_file_truncations_total", "Truncations (copytruncate) followed",
                                    {{"file", name}})),
        follower(FileFollower::Options{config.path.string(), config.from_start, 64 * 1024}, &store,
                 [this, &pipeline](std::string_view line, std::uint64_t number, bool truncated) {
                   this->lines.inc();  // counted before its diagnosis is written
                   Origin origin;
                   origin.source = name;
                   origin.line = number;
                   pipeline.process(line, origin, truncated);
                 }) {}

  std::string name;
  Counter& lines;
  Counter& rotations;
  Counter& truncations;
  FileFollower follower;
  std::uint64_t seen_rotations = 0, seen_truncations = 0;
};

Tailer::Tailer(const std::vector<FileSourceConfig>& files, const std::filesystem::path& state_file,
               int poll_interval_ms, Pipeline& pipeline, MetricsRegistry& metrics, const Router* acks)
    : store_(state_file), acks_(acks), durable_(state_file), interval_(poll_interval_ms), pipeline_(pipeline) {
  for (const auto& f : files) sources_.push_back(std::make_unique<Source>(f, store_, pipeline, metrics));
}

Tailer::~Tailer() {
  stop();
}

bool Tailer::load(std::string& error) {
  return store_.load(error) && durable_.load(error);
}

void Tailer::start() {
  thread_ = std::thread([this] { run(); });
}

void Tailer::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Tailer::poll_all(bool sync) {
  bool behind = false;
  for (auto& s : sources_) {
    s->follower.poll();
    s->rotations.inc(s->follower.rotations() - s->seen_rotations);
    s->seen_rotations = s->follower.rotations();
    s->truncations.inc(s->follower.truncations() - s->seen_truncations);
    s->seen_truncations = s->follower.truncations();
    behind = behind || s->follower.behind();
  }
  const auto now = std::chrono::steady_clock::now();
  sync = sync || now - last_sync_ >= std::chrono::seconds(1);
  std::string error;
  if (!save_positions(error, sync)) {
    spdlog::error("cannot save file positions: {}", error);
  } else if (sync) {
    last_sync_ = now;
  }
  return behind;
}

bool Tailer::save_positions(std::string& error, bool sync) {
  if (acks_ == nullptr) return store_.save(error, sync);
  // The lines read so far are behind this mark; their position is saved once it is durable.
  const auto& read = store_.positions();
  if (pending_.empty() || pending_.back().second.size() != read.size() ||
      !std::equal(read.begin(), read.end(), pending_.back().second.begin(), [](const auto& a, const auto& b) {
        return a.first == b.first && a.second.offset == b.second.offset && a.second.inode == b.second.inode;
      })) {
    if (pending_.size() >= 1024) pending_.pop_back();  // a later mark covers the earlier lines too
    pending_.emplace_back(acks_->mark(), read);
  }
  while (!pending_.empty() && acks_->durable(pending_.front().first)) {
    for (const auto& [path, p] : pending_.front().second) durable_.set(path, p);
    pending_.pop_front();
  }
  return durable_.save(error, sync);  // nothing written unless a position advanced (or an fsync is due)
}

void Tailer::save_acknowledged() {
  std::string error;
  if (acks_ != nullptr && !save_positions(error, true)) spdlog::error("cannot save file positions: {}", error);
}

void Tailer::run() {
  auto worker = pipeline_.bind_thread();
  for (;;) {
    const bool behind = poll_all(false);
    std::unique_lock lock(mutex_);
    // Behind: the next batch at once, unless asked to stop.
    if (behind ? stop_ : wake_.wait_for(lock, interval_, [this] { return stop_; })) break;
  }
  poll_all(true);  // what arrived since the last round (one batch), positions fsynced
  Pipeline::unbind_thread();
}

}  // namespace tunneldoc
