// scan_command.cc — `tunneldoc scan`: files or stdin through the shared
// processing path (parse → match → Event → correlate → route), with the
// records on standard output through a sink, in input order.
//
// One thread: a LineReader feeds the lines to the calling thread, which
// recognises them and hands each Event to the correlator. With --threads N,
// the calling thread reads the input in large chunks cut on line boundaries
// (ChunkReader), N workers recognise chunks in parallel (each with its own
// Recognizer), and the calling thread correlates their Events in input order.
// Both paths cut over-long lines and number lines the same way, so the output
// is the same. The correlator runs on the events' own time: incidents
// open, update and resolve as the log's clock says.
#include <fcntl.h>
#include <fmt/format.h>
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
#include <unordered_map>

#include "tunneldoc/commands.h"
#include "tunneldoc/correlator.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/line_reader.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/render.h"
#include "tunneldoc/route.h"
#include "tunneldoc/sink.h"
#include "tunneldoc/view.h"

namespace tunneldoc {
namespace {

struct ScanStats {
  LineStats lines;
  std::uint64_t bytes = 0;
  int failed_inputs = 0;
};

constexpr std::size_t kChunkBytes = 1 << 20;
constexpr std::size_t kPublishBatch = 512;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Standard output (or a test's stream) as a sink transport. Only the sink's
// thread writes; scan never cancels a write.
class OstreamTransport final : public SinkTransport {
 public:
  explicit OstreamTransport(std::ostream& out) : out_(out) {}
  bool write(std::string_view bytes, std::string& error) override {
    errno = 0;
    out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (out_.good()) return true;
    error = errno != 0 ? std::strerror(errno) : "the output stream failed";
    return false;
  }
  void cancel() override {}
  bool reopen(std::string&) override { return true; }
  bool needs_envelope() const override { return false; }  // bytes only, like a file
  void flush(std::string& error) {
    errno = 0;
    out_.flush();
    if (!out_.good() && error.empty()) error = errno != 0 ? std::strerror(errno) : "the output stream failed";
  }

 private:
  std::ostream& out_;
};

// The ordered half: correlate the events in input order and route the
// records to the output sink. With --incidents, only each incident's final
// record: a `resolved` one is final, so it goes out at once (its rendering
// overlaps the rest of the scan); the latest record of each incident still
// open is written at the end, in the order they opened.
class Ordered {
 public:
  // `everything`, when given, gets every record whatever `final_only` says (the report).
  // Without `incidents`, none is tracked (nothing downstream wants them).
  Ordered(const std::shared_ptr<const KnowledgeBase>& kb, Router& router, MetricsRegistry& metrics, bool final_only,
          bool incidents, Router* everything = nullptr)
      : correlator_(kb, options(incidents), metrics),
        router_(router),
        everything_(everything),
        final_only_(final_only) {}

  void take(Event&& e) {
    correlator_.process(std::move(e), outputs_);
    if (outputs_.size() >= kPublishBatch) publish();
  }

  void finish() {
    publish();
    if (!final_only_) return;
    std::vector<OutputPtr> last;
    for (const std::string& id : order_) {
      auto node = latest_.extract(id);  // an id may be listed twice: resolved, then open again
      if (!node.empty()) last.push_back(std::move(node.mapped()));
    }
    router_.publish(last);
  }

  std::uint64_t correlated() const { return correlated_; }
  std::uint64_t incidents() const { return incidents_; }

 private:
  static CorrelatorOptions options(bool incidents) {
    CorrelatorOptions o;
    o.event_time = true;
    o.incidents = incidents;
    return o;
  }
  void publish() {
    for (const OutputPtr& o : outputs_) {
      correlated_ += o->kind == OutputKind::correlated;
      if (o->kind != OutputKind::incident) continue;
      incidents_ += o->incident->state == IncidentState::open;
      if (!final_only_) continue;  // only --incidents keeps every incident's latest record
      if (o->incident->state == IncidentState::resolved) {
        latest_.erase(o->incident->id);  // its id stays in order_, skipped at the end
        final_.push_back(o);
        continue;
      }
      auto [it, inserted] = latest_.try_emplace(o->incident->id, o);
      if (inserted) {
        order_.push_back(o->incident->id);
      } else {
        it->second = o;
      }
    }
    if (!final_only_) {
      router_.publish(outputs_);
    } else if (!final_.empty()) {
      router_.publish(final_);
      final_.clear();
    }
    if (everything_ != nullptr) everything_->publish(outputs_);
    outputs_.clear();
  }

  Correlator correlator_;
  Router& router_;
  Router* everything_;
  bool final_only_;
  std::vector<OutputPtr> outputs_;
  std::vector<OutputPtr> final_;  // --incidents: resolved records of this batch
  std::unordered_map<std::string, OutputPtr> latest_;
  std::vector<std::string> order_;
  std::uint64_t correlated_ = 0, incidents_ = 0;
};

void scan_fd(int fd, const std::string& source, const ScanOptions& options, Recognizer& recognizer, Ordered& ordered,
             const Sink& sink, ScanStats& stats, std::string& error) {
  LineReader reader(fd, options.max_line);
  std::string_view line;
  bool truncated = false;
  Event event;
  std::int64_t now = wall_ms();
  Origin origin;
  origin.source = source;
  while (reader.next(line, truncated)) {
    origin.line = reader.line_number();
    if ((origin.line & 4095) == 0) {
      now = wall_ms();
      if (!sink.healthy()) break;  // the output failed: stop reading
    }
    if (recognizer.recognize(line, origin, truncated, now, event, &stats.lines)) {
      ordered.take(std::move(event));
      event = Event();
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
  std::vector<Event> events;     // recognised, in line order
  LineStats stats;
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

// N workers recognise chunks; the caller reads and correlates in input order.
class ChunkPipeline {
 public:
  ChunkPipeline(int threads, const std::shared_ptr<const Matcher>& matcher, const ScanOptions& options)
      : options_(options), slots_(static_cast<std::size_t>(threads) * 2 + 1) {
    for (int i = 0; i < threads; ++i) {
      workers_.emplace_back([this, matcher] {
        Recognizer recognizer(matcher, options_.year);
        work(recognizer);
      });
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

  void scan(int fd, std::string_view source, Ordered& ordered, const Sink& sink, ScanStats& stats, std::string& error) {
    source_ = source;
    ChunkReader reader(fd, options_.max_line);
    std::deque<std::unique_ptr<Chunk>> inflight;
    bool more = true;
    for (;;) {
      if (more && !sink.healthy()) more = false;  // the output failed: stop reading
      if (more && !free_.empty()) {
        std::unique_ptr<Chunk> c = std::move(free_.back());
        free_.pop_back();
        if (reader.next(*c)) {
          c->events.clear();
          c->stats = LineStats{};
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
      for (Event& e : c.events) ordered.take(std::move(e));
      stats.lines.add(c.stats);
      free_.push_back(std::move(inflight.front()));
      inflight.pop_front();
    }
    stats.bytes += reader.bytes_read();
    error = reader.error();
  }

 private:
  void work(Recognizer& recognizer) {
    for (;;) {
      Chunk* c = nullptr;
      {
        std::unique_lock lock(mu_);
        work_cv_.wait(lock, [&] { return closing_ || !todo_.empty(); });
        if (todo_.empty()) return;
        c = todo_.front();
        todo_.pop_front();
      }
      process(*c, recognizer);
      {
        std::lock_guard lock(mu_);
        c->done = true;
      }
      done_cv_.notify_all();
    }
  }

  void process(Chunk& c, Recognizer& recognizer) {
    const std::int64_t now = wall_ms();
    Origin origin;
    origin.source = source_;
    Event event;
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
      origin.line = ++number;
      if (recognizer.recognize(line, origin, truncated, now, event, &c.stats)) c.events.push_back(std::move(event));
      p = e + 1;
    }
  }

  const ScanOptions& options_;
  std::size_t slots_;
  std::string_view source_;
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
  LoadResult loaded = load_checked_knowledge_base(options.signatures);
  if (!loaded.ok()) {
    err << "tunneldoc: the knowledge base in " << options.signatures.string() << " does not load:\n";
    for (const auto& p : loaded.problems) err << "  " << p.to_string() << '\n';
    return 2;
  }
  MetricsRegistry metrics;
  SinkOptions sink_options;
  sink_options.name = "stdout";
  sink_options.stream = options.incidents ? Stream::incidents : options.stream;
  sink_options.when_full = SinkOptions::WhenFull::block;  // a scan loses nothing
  sink_options.retry = false;  // a failed write ends the scan (exit 1) instead of waiting for a retry
  auto transport = std::make_unique<OstreamTransport>(out);
  OstreamTransport& stdout_transport = *transport;
  Sink sink(sink_options, make_json_encoder(options.audience), std::move(transport), metrics);
  sink.start();
  Router router({&sink});
  std::unique_ptr<ReportBuilder> report;
  std::unique_ptr<Router> report_router;
  if (!options.report.empty()) {
    PageOptions page;
    page.audience = options.audience;
    page.kb_version = loaded.kb->version();
    report = std::make_unique<ReportBuilder>(metrics, page);
    report_router = std::make_unique<Router>(std::vector<Sink*>{&report->sink()});
  }
  // Incidents are tracked only for an output, report or --stats that shows them.
  const bool track_incidents =
      wants(sink_options.stream, OutputKind::incident) || report_router != nullptr || options.stats;
  Ordered ordered(loaded.kb, router, metrics, options.incidents, track_incidents, report_router.get());

  const auto matcher = loaded.matcher;
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::unique_ptr<Recognizer> single;
  std::unique_ptr<ChunkPipeline> pipeline;
  if (threads == 1) {
    single = std::make_unique<Recognizer>(matcher, options.year);
  } else {
    pipeline = std::make_unique<ChunkPipeline>(threads, matcher, options);
  }
  ScanStats stats;
  std::vector<std::string> files = options.files;
  if (files.empty()) files.emplace_back("-");
  for (const std::string& file : files) {
    if (!sink.healthy()) break;
    std::string error;
    int fd = STDIN_FILENO;
    std::string source = "stdin";
    if (file != "-") {
      fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        err << "tunneldoc: cannot open " << file << ": " << std::strerror(errno) << '\n';
        ++stats.failed_inputs;
        continue;
      }
      source = "file:" + file;
    }
    if (single) {
      scan_fd(fd, source, options, *single, ordered, sink, stats, error);
    } else {
      pipeline->scan(fd, source, ordered, sink, stats, error);
    }
    if (fd != STDIN_FILENO) ::close(fd);
    if (!error.empty()) {
      err << "tunneldoc: cannot read " << (file == "-" ? std::string("standard input") : file) << ": " << error << '\n';
      ++stats.failed_inputs;
    }
  }
  pipeline.reset();
  ordered.finish();
  sink.stop(Deadline::max());
  std::string write_error = sink.healthy() ? std::string() : sink.last_error();
  stdout_transport.flush(write_error);
  std::string report_error;
  if (report) {
    PageOptions& page = report->options();
    page.inputs = options.files.empty() ? std::vector<std::string>{"-"} : options.files;
    page.lines_read = stats.lines.lines;
    page.lines_diagnosed = stats.lines.diagnosed;
    page.correlated = ordered.correlated();
    page.generated = format_utc_ms(wall_ms()).substr(0, 19) + "Z";
    if (!report->write(options.report, report_error))
      err << "tunneldoc: cannot write the report: " << report_error << '\n';
  }
  if (options.stats) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const LineStats& l = stats.lines;
    err << fmt::format(
        "lines read: {}\ndiagnosed: {}\nfallback (wording not recognised): {}\n"
        "recognised, not diagnoses (clearing, observed): {}\nunknown keys: {}\nkeyless, undiagnosed: {}\n"
        "truncated: {}\ncorrelated records: {}\nincidents: {}\ninputs failed: {}\nbytes: {}\nseconds: {:.3f}\n"
        "lines/s: {:.0f}\n",
        l.lines, l.diagnosed, l.fallback, l.recognised - l.diagnosed, l.unknown_keys, l.keyless, l.truncated,
        ordered.correlated(), ordered.incidents(), stats.failed_inputs, stats.bytes, secs,
        secs > 0 ? static_cast<double>(l.lines) / secs : 0.0);
  }
  if (!write_error.empty()) {
    err << "tunneldoc: cannot write the output: " << write_error << '\n';
    return 1;
  }
  return stats.failed_inputs > 0 || !report_error.empty() ? 1 : 0;
}

}  // namespace tunneldoc
