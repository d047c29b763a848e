// file_follower.cc — tail -F with rotation, truncation and saved positions.
#include "tunneldoc/file_follower.h"

#include <fcntl.h>
#include <fmt/format.h>
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
constexpr const char* kStateHeader =
    "# tunneldoc file positions v1: device inode offset line fingerprint(hex, - if none) path";

std::string to_hex(std::string_view bytes) {
  if (bytes.empty()) return "-";
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

bool from_hex(const std::string& hex, std::string& out) {
  out.clear();
  if (hex == "-") return true;
  if (hex.size() % 2 != 0 || hex.size() > 64) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || p != hex.data() + i + 2) return false;
    out.push_back(static_cast<char>(v));
  }
  return true;
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
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Position p;
    std::string path;
    std::string hex;
    fields >> p.device >> p.inode >> p.offset >> p.line >> hex;
    if (!fields || !from_hex(hex, p.fingerprint) || fields.get() != ' ' || !std::getline(fields, path) ||
        path.empty()) {
      error = fmt::format("{}:{}: not a position line", file_.string(), number);
      return false;
    }
    positions_[path] = p;
  }
  return true;
}

bool PositionStore::save(std::string& error) {
  if (file_.empty() || !dirty_) return true;
  std::string text = std::string(kStateHeader) + "\n";
  for (const auto& [path, p] : positions_)
    text += fmt::format("{} {} {} {} {} {}\n", p.device, p.inode, p.offset, p.line, to_hex(p.fingerprint), path);
  const std::string tmp = file_.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    error = fmt::format("cannot write {}: {}", tmp, std::strerror(errno));
    return false;
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  const int e = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file_.c_str()) != 0) {
    error = fmt::format("cannot write {}: {}", file_.string(), std::strerror(ok ? errno : e));
    return false;
  }
  dirty_ = false;
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
      q.fingerprint != p.fingerprint) {
    q = p;
    dirty_ = true;
  }
}

// ---- FileFollower -----------------------------------------------------------

FileFollower::FileFollower(Options options, PositionStore* store, LineHandler handler)
    : options_(std::move(options)), store_(store), handler_(std::move(handler)), buffer_(64 * 1024) {}

FileFollower::~FileFollower() {
  if (cur_.fd >= 0) ::close(cur_.fd);
}

std::size_t FileFollower::read_to_end(Cursor& c) {
  std::size_t delivered = 0;
  for (;;) {
    const ssize_t n = ::read(c.fd, buffer_.data(), buffer_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view chunk(buffer_.data(), static_cast<std::size_t>(n));
    c.pos += static_cast<std::uint64_t>(n);
    const std::uint64_t chunk_start = c.pos - static_cast<std::uint64_t>(n);
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
        }
      }
      c.skipping = false;
      c.pending.clear();
      ++c.line;
      c.offset = chunk_start + lf + 1;
      start = lf + 1;
    }
  }
  lines_ += delivered;
  return delivered;
}

std::size_t FileFollower::flush_pending(Cursor& c) {
  if (c.skipping || c.pending.empty()) return 0;
  std::string_view line = c.pending;
  if (line.back() == '\r') line.remove_suffix(1);
  handler_(line, c.line + 1, false);
  ++c.line;
  c.offset = c.pos;
  c.pending.clear();
  ++lines_;
  return 1;
}

// The file we were reading was rotated while we were not running: find it
// by inode next to the path and finish it before starting the new one.
std::size_t FileFollower::finish_rotated(const PositionStore::Position& saved) {
  std::error_code ec;
  const auto dir = std::filesystem::path(options_.path).parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(dir.empty() ? "." : dir, ec)) {
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (static_cast<std::uint64_t>(st.st_ino) != saved.inode || static_cast<std::uint64_t>(st.st_dev) != saved.device)
      continue;
    if (static_cast<std::uint64_t>(st.st_size) < saved.offset) return 0;
    Cursor old;
    old.fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (old.fd < 0) return 0;
    ::lseek(old.fd, static_cast<off_t>(saved.offset), SEEK_SET);
    old.pos = old.offset = saved.offset;
    old.line = saved.line;
    spdlog::info("{}: finishing {}, rotated while stopped, from byte {}", options_.path, entry.path().string(),
                 saved.offset);
    std::size_t n = read_to_end(old);
    n += flush_pending(old);
    ::close(old.fd);
    ++rotations_;
    return n;
  }
  spdlog::warn("{}: the file read last time (inode {}) is gone; starting the current one from its start", options_.path,
               saved.inode);
  return 0;
}

bool FileFollower::open_file(bool at_end, bool use_saved) {
  const int fd = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  ::fstat(fd, &st);
  cur_ = Cursor{};
  cur_.fd = fd;
  device_ = static_cast<std::uint64_t>(st.st_dev);
  inode_ = static_cast<std::uint64_t>(st.st_ino);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::optional<PositionStore::Position> saved;
  if (use_saved && store_ != nullptr) saved = store_->get(options_.path);
  auto same_bytes = [&](const PositionStore::Position& p) {
    // Copytruncated and written again past our offset while we were stopped?
    if (p.fingerprint.empty() || p.fingerprint.size() > p.offset) return true;
    std::string now(p.fingerprint.size(), '\0');
    const ssize_t n = ::pread(fd, now.data(), now.size(), static_cast<off_t>(p.offset - now.size()));
    return n == static_cast<ssize_t>(now.size()) && now == p.fingerprint;
  };
  if (saved && saved->inode == inode_ && saved->device == device_ && saved->offset <= size && same_bytes(*saved)) {
    cur_.offset = cur_.pos = saved->offset;
    cur_.line = saved->line;
    fingerprint_ = saved->fingerprint;
  } else if (saved && (saved->inode != inode_ || saved->device != device_)) {
    finish_rotated(*saved);
  } else if (saved) {
    ++truncations_;  // shorter than where we were: truncated while we were stopped
  } else if (at_end) {
    // Start at the end, but count the lines before it so evidence line numbers are true.
    std::uint64_t lines = 0, done = 0;
    while (done < size) {
      const ssize_t n = ::read(fd, buffer_.data(), std::min<std::uint64_t>(buffer_.size(), size - done));
      if (n <= 0) break;
      lines += static_cast<std::uint64_t>(std::count(buffer_.data(), buffer_.data() + n, '\n'));
      done += static_cast<std::uint64_t>(n);
    }
    cur_.offset = cur_.pos = done;
    cur_.line = lines;
  }
  ::lseek(fd, static_cast<off_t>(cur_.offset), SEEK_SET);
  opened_once_ = true;
  return true;
}

void FileFollower::remember() {
  if (store_ == nullptr || cur_.fd < 0) return;
  store_->set(options_.path, PositionStore::Position{device_, inode_, cur_.offset, cur_.line, fingerprint_});
}

void FileFollower::take_fingerprint() {
  const std::uint64_t len = std::min<std::uint64_t>(32, cur_.offset);
  fingerprint_.resize(static_cast<std::size_t>(len));
  if (len == 0) return;
  const ssize_t n = ::pread(cur_.fd, fingerprint_.data(), len, static_cast<off_t>(cur_.offset - len));
  if (n != static_cast<ssize_t>(len)) fingerprint_.clear();
}

bool FileFollower::truncated_under_us(bool check_fingerprint) {
  struct stat st {};
  if (::fstat(cur_.fd, &st) != 0) return false;
  if (static_cast<std::uint64_t>(st.st_size) < cur_.pos) return true;
  if (!check_fingerprint || fingerprint_.empty()) return false;
  char now[32];
  const std::uint64_t len = fingerprint_.size();
  const ssize_t n = ::pread(cur_.fd, now, len, static_cast<off_t>(cur_.offset - len));
  return n != static_cast<ssize_t>(len) || std::string_view(now, len) != fingerprint_;
}

void FileFollower::restart_from_zero() {
  ++truncations_;
  ::lseek(cur_.fd, 0, SEEK_SET);
  cur_.pos = cur_.offset = cur_.line = 0;
  cur_.pending.clear();
  cur_.skipping = false;
  fingerprint_.clear();
}

std::size_t FileFollower::poll() {
  std::size_t n = 0;
  const bool first = first_poll_;
  first_poll_ = false;
  if (cur_.fd < 0) {
    if (!open_file(first && !options_.from_start, !opened_once_)) return 0;
  } else if (truncated_under_us(true)) {
    restart_from_zero();  // copytruncate, possibly already written again
  }
  n += read_to_end(cur_);
  struct stat st {};
  if (::stat(options_.path.c_str(), &st) == 0) {
    if (static_cast<std::uint64_t>(st.st_ino) != inode_ || static_cast<std::uint64_t>(st.st_dev) != device_) {
      // Renamed away and replaced: finish the old file, then read the new one from its start.
      n += read_to_end(cur_);
      n += flush_pending(cur_);
      ::close(cur_.fd);
      cur_ = Cursor{};
      fingerprint_.clear();
      ++rotations_;
      if (open_file(false, false)) n += read_to_end(cur_);
    } else if (truncated_under_us(false)) {
      restart_from_zero();
      n += read_to_end(cur_);
    }
  }
  // ENOENT: moved away and not re-created yet; keep reading the old file.
  if (cur_.fd >= 0) take_fingerprint();
  remember();
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
  return store_.load(error);
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

void Tailer::poll_all() {
  for (auto& s : sources_) {
    s->lines.inc(s->follower.poll());
    s->rotations.inc(s->follower.rotations() - s->seen_rotations);
    s->seen_rotations = s->follower.rotations();
    s->truncations.inc(s->follower.truncations() - s->seen_truncations);
    s->seen_truncations = s->follower.truncations();
  }
  std::string error;
  if (!save_positions(error)) spdlog::error("cannot save file positions: {}", error);
}

bool Tailer::save_positions(std::string& error) {
  if (acks_ == nullptr) return store_.save(error);
  // The lines read so far are behind this mark; their position is saved once it is durable.
  const auto& now = store_.positions();
  if (pending_.empty() || pending_.back().second.size() != now.size() ||
      !std::equal(now.begin(), now.end(), pending_.back().second.begin(), [](const auto& a, const auto& b) {
        return a.first == b.first && a.second.offset == b.second.offset && a.second.inode == b.second.inode;
      })) {
    if (pending_.size() >= 1024) pending_.pop_back();  // a later mark covers the earlier lines too
    pending_.emplace_back(acks_->mark(), now);
  }
  bool advanced = false;
  while (!pending_.empty() && acks_->durable(pending_.front().first)) {
    for (const auto& [path, p] : pending_.front().second) durable_.set(path, p);
    pending_.pop_front();
    advanced = true;
  }
  return !advanced || durable_.save(error);
}

void Tailer::save_acknowledged() {
  std::string error;
  if (acks_ != nullptr && !save_positions(error)) spdlog::error("cannot save file positions: {}", error);
}

void Tailer::run() {
  auto worker = pipeline_.bind_thread();
  for (;;) {
    poll_all();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, interval_, [this] { return stop_; })) break;
  }
  poll_all();  // what arrived since the last round
  Pipeline::unbind_thread();
}

}  // namespace tunneldoc
