// scan_command.cc — `tunneldoc scan`: files or stdin through parse, match and
// render, one JSON line per diagnosed input line, in input order.
//
// One thread: a LineReader feeds the lines to the calling thread. With
// --threads N, the calling thread reads the input in large chunks cut on line
// boundaries (ChunkReader), N workers diagnose chunks in parallel, each with
// its own Fields and JsonRenderer, and the calling thread writes their output
// in input order. Both paths cut over-long lines and number lines the same
// way, so the output bytes are the same.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "tunneldoc/commands.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/line_reader.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/parse.h"
#include "tunneldoc/render.h"

namespace tunneldoc {
namespace {

struct ScanStats {
  std::uint64_t lines = 0, diagnosed = 0, unknown_keys = 0, keyless = 0, truncated = 0, bytes = 0;
  std::uint64_t fallback = 0;  // issue 10: diagnosed by an id's fallback (wording not recognised)
  int failed_inputs = 0;

  void add(const ScanStats& o) {
    lines += o.lines;
    diagnosed += o.diagnosed;
    unknown_keys += o.unknown_keys;
    keyless += o.keyless;
    truncated += o.truncated;
    bytes += o.bytes;
    fallback += o.fallback;  // issue 10
  }
};

constexpr std::size_t kFlushBytes = 1 << 20;
constexpr std::size_t kChunkBytes = 1 << 20;

// Parse, match and render of one line; one per thread.
class LineProcessor {
 public:
  LineProcessor(const Matcher& matcher, const std::shared_ptr<const KnowledgeBase>& kb, const ScanOptions& options)
      : matcher_(matcher), renderer_(kb, RenderOptions{options.year, std::chrono::system_clock::now}) {
    popts_.max_line_bytes = options.max_line;
    // Lines whose key no signature uses are counted and dropped: skip their header.
    popts_.wanted = [](const void* m, const LogRecord& r) { return static_cast<const Matcher*>(m)->knows_key(r); };
    popts_.wanted_context = &matcher_;
  }

  // `source_prefix` is "file:PATH" or "stdin"; `number` the 1-based line number.
  void process(std::string_view line, bool truncated, std::uint64_t number, std::string_view source_prefix,
               std::string& out, ScanStats& stats) {
    ++stats.lines;
    LogRecord record = parse_line(line, popts_);
    record.truncated = record.truncated || truncated;
    stats.truncated += record.truncated;
    const Signature* sig = matcher_.match(record, fields_);
    if (sig == nullptr) {
      if (!record.has_key()) {
        ++stats.keyless;
      } else if (!matcher_.knows_key(record)) {
        ++stats.unknown_keys;
      }
      return;
    }
    ++stats.diagnosed;
    stats.fallback += sig->fallback;  // issue 10: wording drift shows here
    // "PREFIX:LINE" with to_chars: fmt::format_to cost a tenth of the rendering.
    source_.assign(source_prefix);
    source_ += ':';
    char digits[24];
    const auto res = std::to_chars(digits, digits + sizeof digits, number);
    source_.append(digits, res.ptr);
    const Evidence evidence{record.line, source_};
    renderer_.render(line_diagnosis(record, *sig, fields_, evidence), out);
  }

 private:
  const Matcher& matcher_;
  JsonRenderer renderer_;
  ParseOptions popts_;
  Fields fields_;
  std::string source_;
};

void scan_fd(int fd, std::string_view source_prefix, const ScanOptions& options, LineProcessor& proc,
             std::string& outbuf, std::ostream& out, ScanStats& stats, std::string& error) {
  LineReader reader(fd, options.max_line);
  std::string_view line;
  bool truncated = false;
  while (reader.next(line, truncated)) {
    proc.process(line, truncated, reader.line_number(), source_prefix, outbuf, stats);
    if (outbuf.size() >= kFlushBytes) {
      out.write(outbuf.data(), static_cast<std::streamsize>(outbuf.size()));
      outbuf.clear();
    }
  }
  stats.bytes += reader.bytes_read();
  error = reader.error();
}

// ----------------------------------------------------------------- threads

// Bytes read from the input. Not a std::string: resize() would zero-fill
// every chunk before read() overwrites it (4 % of the instructions of a
// two-thread scan, all on the reading thread).
class ChunkBuffer {
 public:
  char* data() { return buf_.get(); }
  const char* data() const { return buf_.get(); }
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return cap_; }
  void set_size(std::size_t n) { size_ = n; }
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    auto bigger = std::make_unique_for_overwrite<char[]>(n);
    if (size_ != 0) std::memcpy(bigger.get(), buf_.get(), size_);
    buf_ = std::move(bigger);
    cap_ = n;
  }

 private:
  std::unique_ptr<char[]> buf_;
  std::size_t size_ = 0, cap_ = 0;
};

struct Chunk {
  ChunkBuffer data;              // whole lines; only the last may lack its LF
  std::uint64_t first_line = 0;  // number of the line before the first one
  std::string out;
  ScanStats stats;
  bool done = false;
};

// Cuts the input into chunks of whole lines, the way LineReader cuts lines: a
// line longer than max_line keeps max_line + 1 bytes (so that the worker sees
// it is too long and cuts it like LineReader) and the rest of it is skipped.
class ChunkReader {
 public:
  ChunkReader(int fd, std::size_t max_line)
      : fd_(fd), max_line_(max_line == 0 ? 1 : max_line), target_(std::max(kChunkBytes, 2 * (max_line_ + 1))) {}

  // False at the end of input (or on a read error, see error()).
  bool next(Chunk& c) {
    ChunkBuffer& b = c.data;
    b.reserve(target_ + (64 << 10));
    std::memcpy(b.data(), carry_.data(), carry_.size());
    b.set_size(carry_.size());
    carry_.clear();
    c.first_line = lines_;
    while (!eof_ && b.size() < target_) {
      const std::size_t old = b.size();
      const ssize_t n = ::read(fd_, b.data() + old, b.capacity() - old);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) error_ = std::strerror(errno);
        eof_ = true;
        break;
      }
      bytes_ += static_cast<std::uint64_t>(n);
      b.set_size(old + static_cast<std::size_t>(n));
      if (skipping_) {  // drop the rest of an over-long line
        const void* nl = std::memchr(b.data() + old, '\n', b.size() - old);
        if (nl == nullptr) {
          b.set_size(old);
          continue;
        }
        const auto cut = static_cast<std::size_t>(static_cast<const char*>(nl) - b.data()) + 1;
        std::memmove(b.data() + old, b.data() + cut, b.size() - cut);
        b.set_size(b.size() - (cut - old));
        skipping_ = false;
      }
      // An unterminated last line longer than the maximum: keep max_line + 1
      // bytes of it, skip the rest up to its LF, and end the chunk there.
      const std::size_t tail = last_line_start(b);
      if (b.size() - tail > max_line_) {
        b.set_size(tail + max_line_ + 1);
        skipping_ = true;
        break;
      }
    }
    if (!eof_ && !skipping_) {  // keep the unterminated last line for the next chunk
      const std::size_t tail = last_line_start(b);
      carry_.assign(b.data() + tail, b.size() - tail);
      b.set_size(tail);
    }
    if (b.size() == 0) return false;
    // memchr, not std::count: the latter is not vectorised here and cost as
    // much as a third of a worker's time on the reading thread.
    std::uint64_t n = 0;
    const char* p = b.data();
    const char* const end = p + b.size();
    while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
      ++n;
      p = static_cast<const char*>(nl) + 1;
    }
    if (p != end) ++n;  // the last line without its LF
    lines_ += n;
    return true;
  }

  std::uint64_t bytes_read() const { return bytes_; }
  const std::string& error() const { return error_; }

 private:
  static std::size_t last_line_start(const ChunkBuffer& b) {
    const void* nl = b.size() != 0 ? ::memrchr(b.data(), '\n', b.size()) : nullptr;
    return nl == nullptr ? 0 : static_cast<std::size_t>(static_cast<const char*>(nl) - b.data()) + 1;
  }

  int fd_;
  std::size_t max_line_;
  std::size_t target_;
  std::string carry_;
  bool eof_ = false;
  bool skipping_ = false;
  std::uint64_t lines_ = 0;
  std::uint64_t bytes_ = 0;
  std::string error_;
};

// N workers diagnose chunks; the caller reads and writes in input order.
class ChunkPipeline {
 public:
  ChunkPipeline(int threads, const Matcher& matcher, const std::shared_ptr<const KnowledgeBase>& kb,
                const ScanOptions& options)
      : options_(options), slots_(static_cast<std::size_t>(threads) * 2 + 1) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, &matcher, kb] { work(LineProcessor(matcher, kb, options_)); });
    }
    for (std::size_t i = 0; i < slots_; ++i) free_.push_back(std::make_unique<Chunk>());
  }
  ~ChunkPipeline() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void scan(int fd, std::string_view source_prefix, std::ostream& out, ScanStats& stats, std::string& error) {
    source_prefix_ = source_prefix;
    ChunkReader reader(fd, options_.max_line);
    std::deque<std::unique_ptr<Chunk>> inflight;
    bool more = true;
    for (;;) {
      if (more && !free_.empty()) {
        std::unique_ptr<Chunk> c = std::move(free_.back());
        free_.pop_back();
        if (reader.next(*c)) {
          c->out.clear();
          c->stats = ScanStats{};
          c->done = false;
          {
            std::lock_guard lock(mu_);
            todo_.push_back(c.get());
          }
          work_cv_.notify_one();
          inflight.push_back(std::move(c));
          continue;
        }
        free_.push_back(std::move(c));
        more = false;
      }
      if (inflight.empty()) break;
      {
        std::unique_lock lock(mu_);
        done_cv_.wait(lock, [&] { return inflight.front()->done; });
      }
      Chunk& c = *inflight.front();
      out.write(c.out.data(), static_cast<std::streamsize>(c.out.size()));
      stats.add(c.stats);
      free_.push_back(std::move(inflight.front()));
      inflight.pop_front();
    }
    stats.bytes += reader.bytes_read();
    error = reader.error();
  }

 private:
  void work(LineProcessor proc) {
    for (;;) {
      Chunk* c = nullptr;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, [&] { return closing_ || !todo_.empty(); });
        if (todo_.empty()) return;
        c = todo_.front();
        todo_.pop_front();
      }
      process(*c, proc);
      {
        std::lock_guard lock(mu_);
        c->done = true;
      }
      done_cv_.notify_all();
    }
  }

  void process(Chunk& c, LineProcessor& proc) {
    const char* p = c.data.data();
    const char* const end = p + c.data.size();
    std::uint64_t number = c.first_line;
    while (p < end) {
      const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      const char* e = nl != nullptr ? static_cast<const char*>(nl) : end;
      std::string_view line(p, static_cast<std::size_t>(e - p));
      bool truncated = false;
      if (line.size() > options_.max_line) {
        line = line.substr(0, options_.max_line);
        truncated = true;
      }
      proc.process(line, truncated, ++number, source_prefix_, c.out, c.stats);
      p = e + 1;
    }
  }

  const ScanOptions& options_;
  std::size_t slots_;
  std::string_view source_prefix_;
  std::vector<std::thread> workers_;
  std::vector<std::unique_ptr<Chunk>> free_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Chunk*> todo_;
  bool closing_ = false;
};

}  // namespace

int run_scan(const ScanOptions& options, std::ostream& out, std::ostream& err) {
  const auto start = std::chrono::steady_clock::now();
  LoadResult loaded = load_knowledge_base(options.signatures);
  if (!loaded.ok()) {
    err << "tunneldoc: the knowledge base in " << options.signatures.string() << " does not load:\n";
    for (const auto& p : loaded.problems) err << "  " << p.to_string() << '\n';
    return 2;
  }
  const Matcher matcher(loaded.kb);
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::unique_ptr<LineProcessor> single;
  std::unique_ptr<ChunkPipeline> pipeline;
  if (threads == 1) {
    single = std::make_unique<LineProcessor>(matcher, loaded.kb, options);
  } else {
    pipeline = std::make_unique<ChunkPipeline>(threads, matcher, loaded.kb, options);
  }
  std::string outbuf;
  if (single) outbuf.reserve(kFlushBytes + 64 * 1024);
  ScanStats stats;
  std::vector<std::string> files = options.files;
  if (files.empty()) files.emplace_back("-");
  for (const std::string& file : files) {
    std::string error;
    int fd = STDIN_FILENO;
    std::string prefix = "stdin";
    if (file != "-") {
      fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        err << "tunneldoc: cannot open " << file << ": " << std::strerror(errno) << '\n';
        ++stats.failed_inputs;
        continue;
      }
      prefix = "file:" + file;
    }
    if (single) {
      scan_fd(fd, prefix, options, *single, outbuf, out, stats, error);
    } else {
      pipeline->scan(fd, prefix, out, stats, error);
    }
    if (fd != STDIN_FILENO) ::close(fd);
    if (!error.empty()) {
      err << "tunneldoc: cannot read " << (file == "-" ? std::string("standard input") : file) << ": " << error
          << '\n';
      ++stats.failed_inputs;
    }
  }
  pipeline.reset();
  out.write(outbuf.data(), static_cast<std::streamsize>(outbuf.size()));
  out.flush();
  if (options.stats) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    err << fmt::format(
        "lines read: {}\ndiagnosed: {}\nfallback (wording not recognised): {}\nunknown keys: {}\n"
        "keyless, undiagnosed: {}\ntruncated: {}\ninputs failed: {}\nbytes: {}\nseconds: {:.3f}\nlines/s: {:.0f}\n",
        stats.lines, stats.diagnosed, stats.fallback, stats.unknown_keys, stats.keyless, stats.truncated, stats.failed_inputs,
        stats.bytes, secs, secs > 0 ? static_cast<double>(stats.lines) / secs : 0.0);
  }
  return stats.failed_inputs > 0 ? 1 : 0;
}

}  // namespace tunneldoc
