// serve.cc — `tunneldoc serve` and `tunneldoc tail`: wiring and life cycle.
//
// Phases (rsyslog's): configuration → knowledge base → state and outputs →
// bind → run. Signals arrive through an asio::signal_set on the control
// context, which the main thread runs (never the I/O threads): SIGHUP
// reloads, SIGTERM/SIGINT start the shutdown.
#include "tunneldoc/serve.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>  // before Boost 1.74 Asio: awaitable.hpp needs std::exchange

#include "tunneldoc/config.h"
#include "tunneldoc/file_follower.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/listener.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/metrics_server.h"
#include "tunneldoc/output.h"
#include "tunneldoc/pipeline.h"
#include "tunneldoc/privileges.h"
#include "tunneldoc/render.h"
#include "tunneldoc/route.h"
#include "tunneldoc/sink.h"
#include "tunneldoc/sink_spec.h"
#include "tunneldoc/view.h"

namespace tunneldoc {
namespace {

namespace asio = boost::asio;

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void setup_logging(const std::string& level) {
  static bool done = false;
  if (!done) {
    auto logger = spdlog::stderr_color_mt("tunneldoc");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z tunneldoc[%P] %^%l%$: %v");
    spdlog::set_default_logger(logger);
    spdlog::flush_on(spdlog::level::info);
    done = true;
  }
  spdlog::set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
}

// Applies the command-line overrides to `c`; appends problems to `errors`.
void apply_overrides(const ServeOptions& o, ServeConfig& c, std::vector<std::string>& errors) {
  if (!o.udp.empty() || !o.tcp.empty() || !o.tls.empty()) {
    c.listeners.clear();
    auto add = [&](const std::vector<std::string>& list, Transport t) {
      for (const std::string& text : list) {
        std::string why;
        auto ep = parse_endpoint(text, &why);
        if (!ep) {
          errors.push_back(fmt::format("--{}: {}", to_string(t), why));
          continue;
        }
        ListenerConfig l;
        l.transport = t;
        l.endpoint = *ep;
        if (t == Transport::tls) {
          l.certificate = o.tls_certificate;
          l.key = o.tls_key;
          l.ca = o.tls_ca;
          l.verify_client = !o.tls_ca.empty();
        }
        c.listeners.push_back(std::move(l));
      }
    };
    add(o.udp, Transport::udp);
    add(o.tcp, Transport::tcp);
    add(o.tls, Transport::tls);
  }
  if (o.output) {
    c.output = *o.output;
    c.output_set = true;
  }
  for (const std::string& url : o.sinks) {
    SinkSpec spec = c.sink_defaults();
    std::string why;
    if (!parse_sink_url(url, spec, why)) {
      errors.push_back("--sink " + why);
      continue;
    }
    take_sink_secrets_from_environment(spec);
    c.sinks.push_back(std::move(spec));
  }
  if (o.signatures) c.signatures = *o.signatures;
  if (o.log_level) c.log_level = *o.log_level;
  if (o.state_file) c.state_file = *o.state_file;
  if (o.state_dir) c.state_dir = *o.state_dir;
  if (o.stream) {
    Stream s;
    if (parse_stream(*o.stream, s)) {
      c.stream = *o.stream;
    } else {
      errors.push_back("--stream must be incidents, lines or all, not '" + *o.stream + "'");
    }
  }
  if (!o.lang.empty()) c.audience.lang = o.lang;
  for (const auto& [platform, version] : o.versions)
    add_software_version(platform + "=" + version, c.audience.versions);
  for (const std::string& f : o.files) c.files.push_back(FileSourceConfig{f, false});
  if (o.user) c.user = *o.user;
  if (o.group) c.group = *o.group;
  if (o.metrics) {
    if (*o.metrics == "off") {
      c.metrics.reset();
    } else {
      std::string why;
      if (auto ep = parse_endpoint(*o.metrics, &why)) {
        c.metrics = *ep;
      } else {
        errors.push_back("--metrics: " + why);
      }
    }
  }
  if (c.signatures.empty()) c.signatures = default_signature_dir();
}

// The whole configuration: file (or defaults), overrides, validation.
ConfigResult assemble_config(const ServeOptions& o) {
  ConfigResult r;
  if (!o.config_file.empty()) {
    r = load_config(o.config_file);
  } else {
    r.config = default_config();
  }
  apply_overrides(o, r.config, r.errors);
  if (r.errors.empty()) validate_config(r.config, r.errors);
  check_not_world_writable(o.config_file, r.config.signatures, r.errors);
  check_account(r.config.user, r.config.group, r.errors);
  return r;
}

// "udp:127.0.0.1:0": what identifies a listener across a reload.
std::string listener_key(const ListenerConfig& l) {
  return std::string(to_string(l.transport)) + ":" + l.endpoint.to_string();
}

// The listener of `other` that is `list[i]` after a reload: the same key, and
// as many of that key before it (two listeners on ephemeral ports share one).
std::optional<std::size_t> counterpart(const std::vector<ListenerConfig>& list, std::size_t i,
                                       const std::vector<ListenerConfig>& other) {
  const std::string key = listener_key(list[i]);
  std::size_t nth = 0;
  for (std::size_t k = 0; k < i; ++k) nth += listener_key(list[k]) == key;
  for (std::size_t k = 0; k < other.size(); ++k) {
    if (listener_key(other[k]) == key && nth-- == 0) return k;
  }
  return std::nullopt;
}

class Server {
 public:
  // `reassemble` builds the configuration again on SIGHUP.
  // `tail` has no user: to suggest (`takes_user` false).
  Server(ServeOptions options, ServeConfig config, std::function<ConfigResult()> reassemble, bool takes_user = true)
      : takes_user_(takes_user),
        options_(std::move(options)),
        config_(std::move(config)),
        reassemble_(std::move(reassemble)),
        reload_ok_(metrics_.counter("tunneldoc_reloads_total", "Reloads (SIGHUP)", {{"result", "ok"}})),
        reload_failed_(metrics_.counter("tunneldoc_reloads_total", "Reloads (SIGHUP)", {{"result", "failed"}})),
        last_reload_ok_(metrics_.gauge("tunneldoc_last_reload_success",
                                       "1 if the last reload succeeded (or none was asked for), 0 if it failed")),
        kb_load_seconds_(
            metrics_.gauge("tunneldoc_kb_load_seconds", "Time the knowledge base in service took to load")),
        kb_signatures_(metrics_.gauge("tunneldoc_kb_signatures", "Signatures in the knowledge base in service")),
        up_(metrics_.gauge("tunneldoc_up", "1 while serving")),
        reload_signals_(metrics_.counter("tunneldoc_reload_signals_total",
                                         "SIGHUPs handled (the kernel merges one sent while another is pending); those "
                                         "arriving while a reload runs cause one more reload")),
        restart_needed_(metrics_.gauge("tunneldoc_reload_restart_needed",
                                       "Changes the last reload could not apply (they need a restart)")),
        tick_(control_) {
    last_reload_ok_.set(1);
  }

  int run();

 private:
  bool open_state_dir(std::string& error);
  bool open_sinks(std::string& error);
  bool bind(std::string& error);
  bool become_user(std::string& error);
  void write_ready_file();
  void arm_signals();
  void arm_tick();
  void request_reload();
  void finish_reload(const ConfigResult& next, const LoadResult& loaded);
  std::vector<std::string> restart_needed(const ServeConfig& next) const;
  void shutdown();
  void stop_everything();
  void save_incidents();
  void note_kb(const KnowledgeBase& kb);
  Health health() const;

  bool takes_user_;
  ServeOptions options_;
  ServeConfig config_;
  std::function<ConfigResult()> reassemble_;
  MetricsRegistry metrics_;
  Counter& reload_ok_;
  Counter& reload_failed_;
  Gauge& last_reload_ok_;
  Gauge& kb_load_seconds_;
  Gauge& kb_signatures_;
  Gauge& up_;
  Counter& reload_signals_;
  Gauge& restart_needed_;
  const char kb_info_owner_ = 0;  // owns the tunneldoc_kb_info probe of the knowledge base in service

  std::unique_ptr<StatusStore> view_;  // the status page's picture, when the HTTP endpoint is on
  std::unique_ptr<StatusPages> pages_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<std::chrono::seconds> grace_;  // per sink: failing this long makes /healthz 503
  std::unique_ptr<Router> router_;
  std::unique_ptr<Pipeline> pipeline_;
  std::filesystem::path incidents_file_;
  // I/O threads run io_ (listeners); the main thread runs control_ (signals,
  // timers, the metrics endpoint), so a busy or stuck I/O path never delays
  // SIGTERM or /healthz.
  asio::io_context io_;
  asio::io_context control_;
  std::unique_ptr<asio::signal_set> signals_;
  asio::steady_timer tick_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<MetricsServer> http_;
  std::unique_ptr<Tailer> tailer_;
  std::atomic<bool> serving_{false};
  bool stopping_ = false;  // control thread only
  // SIGHUP: the configuration and knowledge base load on reload_thread_, then
  // finish_reload() applies them on the control thread; SIGHUPs during a
  // reload are merged into one more (control thread only).
  std::thread reload_thread_;
  bool reloading_ = false;
  bool reload_again_ = false;
  std::chrono::steady_clock::time_point stop_requested_;
  int ticks_ = 0;
};

void Server::note_kb(const KnowledgeBase& kb) {
  // Only the knowledge base in service has a series: a replaced one's goes.
  metrics_.remove_probes(&kb_info_owner_);
  metrics_.probe(
      "tunneldoc_kb_info", "The knowledge base in service (value 1)", "gauge",
      {{"version", kb.version()}, {"directory", kb.directory().string()}}, [] { return 1.0; }, &kb_info_owner_);
  kb_load_seconds_.set(kb.load_milliseconds() / 1000.0);
  kb_signatures_.set(static_cast<double>(kb.signatures().size()));
}

Health Server::health() const {
  // 503 names every sink that has been failing longer than its grace period.
  nlohmann::ordered_json j;
  bool ok = serving_.load();
  nlohmann::ordered_json sinks = nlohmann::ordered_json::array();
  nlohmann::ordered_json failing = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    const Sink& s = *sinks_[i];
    const auto failing_for = s.failing_for();
    const bool healthy = s.healthy();
    const bool over = !healthy && failing_for > grace_[i];
    nlohmann::ordered_json one{{"name", s.name()},
                               {"healthy", healthy},
                               {"state", healthy ? "ok"
                                         : over  ? "failing"
                                                 : "retrying"},
                               {"queued", s.queued()},
                               {"spooled_bytes", s.spooled_bytes()}};
    if (!healthy) {
      one["failing_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(failing_for).count();
      one["error"] = s.last_error();
    }
    if (over) {
      ok = false;
      failing.push_back(s.name());
    }
    sinks.push_back(std::move(one));
  }
  j["status"] = !serving_.load() ? "stopping" : ok ? "ok" : "failing";
  if (!failing.empty()) j["failing"] = std::move(failing);
  j["sinks"] = std::move(sinks);
  return {ok, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

bool Server::open_state_dir(std::string& error) {
  if (config_.state_dir.empty()) return true;
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (ec) {
    error = "state directory " + config_.state_dir.string() + ": " + ec.message();
    return false;
  }
  if (::access(config_.state_dir.c_str(), W_OK) != 0) {
    error = "state directory " + config_.state_dir.string() + " is not writable";
    return false;
  }
  incidents_file_ = config_.state_dir / "incidents.json";
  return true;
}

bool Server::open_sinks(std::string& error) {
  std::vector<SinkSpec> specs;
  // `output` (and `stream`): the default sink, and a sink beside `sinks` when named.
  if (config_.output_set || config_.sinks.empty()) {
    SinkSpec out = config_.sink_defaults();
    out.kind = config_.output == "-" ? SinkKind::standard_output : SinkKind::file;
    out.path = config_.output;
    out.name = config_.output == "-" ? std::string("stdout") : "file:" + config_.output;
    out.spool = false;
    parse_stream(config_.stream, out.stream);
    specs.push_back(std::move(out));
  }
  specs.insert(specs.end(), config_.sinks.begin(), config_.sinks.end());
  for (const SinkSpec& spec : specs) {
    auto sink = make_sink(spec, config_.state_dir, config_.audience, metrics_, error);
    if (!sink) return false;
    sinks_.push_back(std::move(sink));
    grace_.push_back(std::chrono::seconds(spec.grace_seconds));
  }
  if (config_.metrics) {
    // The status page is fed like any output. An open incident with no record
    // for longer than the correlator could stay silent lost its resolved record.
    ViewOptions vo;
    vo.stale_ms = (config_.quiet_timeout_seconds + config_.update_interval_seconds + 120) * 1000LL;
    view_ = std::make_unique<StatusStore>(vo, &metrics_);
    sinks_.push_back(make_view_sink(*view_, metrics_, config_.queue_size));
    grace_.push_back(std::chrono::seconds(60));
  }
  std::vector<Sink*> raw;
  for (auto& s : sinks_) raw.push_back(s.get());
  router_ = std::make_unique<Router>(std::move(raw));
  return true;
}

bool Server::bind(std::string& error) {
  const int threads = std::max(1, config_.threads);
  for (const ListenerConfig& l : config_.listeners) {
    std::unique_ptr<Listener> listener = l.transport == Transport::udp
                                             ? make_udp_listener(io_, l, threads, *pipeline_, metrics_, error)
                                             : make_stream_listener(io_, l, *pipeline_, metrics_, error);
    if (!listener) return false;
    spdlog::info("listening on {}", listener->name());
    listeners_.push_back(std::move(listener));
  }
  if (config_.metrics) {
    HttpAccess access;
    access.allow = config_.metrics_allow;
    if (!config_.metrics_token_file.empty() && !read_token_file(config_.metrics_token_file, access.token, error))
      return false;
    PageOptions page;
    page.live = true;
    page.audience = config_.audience;
    for (const auto& l : listeners_) page.listeners.push_back(l->name());
    pages_ = std::make_unique<StatusPages>(*view_, page);
    http_ = make_metrics_server(
        control_, *config_.metrics, config_.metrics_path, metrics_, [this] { return health(); }, error,
        [this](const HttpRequest& q, HttpResponse& r) { return pages_->handle(q, r); }, std::move(access));
    if (!http_) return false;
    spdlog::info("metrics on http://{}{}, health on /healthz", http_->local_endpoint().to_string(),
                 config_.metrics_path);
  }
  return true;
}

// After the bind phase: no new privileges, then the configured user (or a
// warning when root stays root). The state directory must stay writable.
bool Server::become_user(std::string& error) {
  if (!forbid_new_privileges(error)) return false;
  if (config_.user.empty()) {
    if (::geteuid() == 0 && takes_user_)
      spdlog::warn(
          "running as root with every capability; set user: in the configuration (or --user), e.g. user: "
          "tunneldoc, to drop them once the sockets are bound");
    return true;
  }
  if (!drop_privileges(config_.user, config_.group, error)) return false;
  if (!config_.state_dir.empty() && ::access(config_.state_dir.c_str(), W_OK) != 0) {
    error = "state directory " + config_.state_dir.string() + " is not writable by user " + config_.user;
    return false;
  }
  spdlog::info("running as user {} (uid {}, gid {}), no capabilities", config_.user, ::getuid(), ::getgid());
  return true;
}

void Server::write_ready_file() {
  if (options_.ready_file.empty()) return;
  nlohmann::ordered_json j;
  j["pid"] = ::getpid();
  j["listeners"] = nlohmann::json::array();
  for (const auto& l : listeners_) {
    j["listeners"].push_back({{"transport", to_string(l->transport())},
                              {"address", l->local_endpoint().address},
                              {"port", l->local_endpoint().port}});
  }
  if (http_) j["metrics"] = {{"address", http_->local_endpoint().address}, {"port", http_->local_endpoint().port}};
  const std::string tmp = options_.ready_file.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump() << '\n';
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.ready_file, ec);
  if (ec) spdlog::warn("cannot write the ready file {}: {}", options_.ready_file.string(), ec.message());
}

void Server::arm_signals() {
  signals_->async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    if (signo == SIGHUP) {
      request_reload();
    } else {
      spdlog::info("{} received: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
      shutdown();
    }
    if (!stopping_) arm_signals();
  });
}

void Server::arm_tick() {
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    pipeline_->tick();
    if (view_) view_->tick(wall_clock_ms());
    if (++ticks_ % 60 == 0) save_incidents();  // a crash loses at most a minute of incident state
    arm_tick();
  });
}

void Server::save_incidents() {
  if (incidents_file_.empty()) return;
  std::string error;
  if (!pipeline_->correlator().save(incidents_file_, error)) spdlog::error("cannot save incidents: {}", error);
}

void Server::request_reload() {
  reload_signals_.inc();
  if (reloading_) {
    reload_again_ = true;  // however many arrive now: one more reload, after this one
    return;
  }
  reloading_ = true;
  reload_again_ = false;
  spdlog::info("SIGHUP: reloading the configuration and the knowledge base");
  if (reload_thread_.joinable()) reload_thread_.join();
  // The slow part (reading and compiling) runs off the control thread, so a
  // reload never delays SIGTERM or /healthz.
  reload_thread_ = std::thread([this] {
    auto next = std::make_shared<ConfigResult>(reassemble_());
    auto loaded = std::make_shared<LoadResult>();
    if (next->ok()) *loaded = load_checked_knowledge_base(next->config.signatures);
    asio::post(control_, [this, next, loaded] {
      finish_reload(*next, *loaded);
      reloading_ = false;
      if (reload_again_ && !stopping_) {
        reload_again_ = false;
        spdlog::info("SIGHUP received during the reload: reloading again");
        request_reload();
      }
    });
  });
}

// What changed in `next` that a running daemon cannot take, by name.
std::vector<std::string> Server::restart_needed(const ServeConfig& next) const {
  std::vector<std::string> changed;
  const ServeConfig& now = config_;
  for (std::size_t i = 0; i < next.listeners.size(); ++i) {
    if (!counterpart(next.listeners, i, now.listeners))
      changed.push_back(fmt::format("listener {} added", listener_key(next.listeners[i])));
  }
  for (std::size_t i = 0; i < now.listeners.size(); ++i) {
    if (!counterpart(now.listeners, i, next.listeners))
      changed.push_back(fmt::format("listener {} removed",
                                    i < listeners_.size() ? listeners_[i]->name() : listener_key(now.listeners[i])));
  }
  auto endpoint = [](const std::optional<Endpoint>& e) { return e ? e->to_string() : std::string("off"); };
  auto files = [](const ServeConfig& c) {
    std::string s;
    for (const auto& f : c.files) s += f.path.string() + (f.from_start ? "+" : "") + "\n";
    return s;
  };
  auto cidrs = [](const std::vector<Cidr>& v) {
    std::string s;
    for (const auto& c : v) s += c.to_string() + " ";
    return s;
  };
  auto sinks = [](const ServeConfig& c) {
    std::string s;
    for (const auto& k : c.sinks) s += k.url + "\n";
    return s;
  };
  const std::pair<const char*, bool> keys[] = {
      {"metrics address", endpoint(next.metrics) != endpoint(now.metrics)},
      {"metrics path", next.metrics_path != now.metrics_path},
      {"metrics allow", cidrs(next.metrics_allow) != cidrs(now.metrics_allow)},
      {"metrics token_file", next.metrics_token_file != now.metrics_token_file},
      {"output", next.output != now.output},
      {"sinks", sinks(next) != sinks(now)},
      {"stream", next.stream != now.stream},
      {"queue_size", next.queue_size != now.queue_size},
      {"queue_bytes", next.queue_bytes != now.queue_bytes},
      {"files", files(next) != files(now)},
      {"state_file", next.state_file != now.state_file},
      {"state_dir", next.state_dir != now.state_dir},
      {"poll_interval", next.poll_interval_ms != now.poll_interval_ms},
      {"threads", next.threads != now.threads},
      {"year", next.year != now.year},
      {"incidents", next.update_interval_seconds != now.update_interval_seconds ||
                        next.quiet_timeout_seconds != now.quiet_timeout_seconds || next.max_tracked != now.max_tracked},
      {"language", next.audience.lang != now.audience.lang},
      {"versions", next.audience.versions != now.audience.versions},
      {"user", next.user != now.user || next.group != now.group},
  };
  for (const auto& [key, differs] : keys) {
    if (differs) changed.push_back(key);
  }
  return changed;
}

// On the control thread, with what the reload thread loaded: reopen the
// outputs, then apply everything or nothing (a listener whose new TLS files
// do not load rejects the reload), and name what needs a restart.
void Server::finish_reload(const ConfigResult& next, const LoadResult& loaded) {
  bool outputs_ok = true;
  for (auto& sink : sinks_) {
    std::string error;
    if (!sink->reopen(error)) {
      outputs_ok = false;
      spdlog::error("cannot reopen the output {}: {}", sink->name(), error);
    }
  }
  auto fail = [&](const std::string& what, const std::vector<std::string>& problems) {
    reload_failed_.inc();
    last_reload_ok_.set(0);
    spdlog::error("reload rejected: {} ({} problem{}); the previous one keeps serving", what, problems.size(),
                  problems.size() == 1 ? "" : "s");
    for (const std::string& p : problems) spdlog::error("  {}", p);
  };
  if (!next.ok()) {
    fail("the configuration " + options_.config_file.string() + " is broken", next.errors);
    return;
  }
  if (!loaded.ok()) {
    std::vector<std::string> problems;
    for (const auto& p : loaded.problems) problems.push_back(p.to_string());
    fail("the knowledge base in " + next.config.signatures.string() + " does not load", problems);
    return;
  }
  // Every listener that stays gets its new settings; prepared first, so one
  // that cannot take them leaves every listener as it was.
  std::vector<std::function<void()>> apply;
  std::vector<std::size_t> applied_to;
  std::vector<std::string> problems;
  std::vector<std::size_t> taken_from;
  for (std::size_t i = 0; i < config_.listeners.size() && i < listeners_.size(); ++i) {
    const auto k = counterpart(config_.listeners, i, next.config.listeners);
    if (!k) continue;
    std::string error;
    if (auto f = listeners_[i]->reconfigure(next.config.listeners[*k], error)) {
      apply.push_back(std::move(f));
      applied_to.push_back(i);
      taken_from.push_back(*k);
    } else {
      problems.push_back(listeners_[i]->name() + ": " + error);
    }
  }
  if (!problems.empty()) {
    fail("a listener cannot use its new settings", problems);
    return;
  }
  for (std::size_t k = 0; k < apply.size(); ++k) {
    apply[k]();
    config_.listeners[applied_to[k]] = next.config.listeners[taken_from[k]];
  }
  pipeline_->swap_knowledge_base(loaded.matcher);
  note_kb(*loaded.kb);
  setup_logging(next.config.log_level);
  config_.log_level = next.config.log_level;
  config_.shutdown_timeout_seconds = next.config.shutdown_timeout_seconds;
  config_.signatures = next.config.signatures;
  const std::vector<std::string> later = restart_needed(next.config);
  restart_needed_.set(static_cast<double>(later.size()));
  if (!later.empty())
    spdlog::warn("reload: {} change{} need{} a restart: {}", later.size(), later.size() == 1 ? "" : "s",
                 later.size() == 1 ? "s" : "", fmt::join(later, "; "));
  if (!outputs_ok) {
    fail("an output could not be reopened", {"see the errors above; /healthz reports the sink"});
    return;
  }
  reload_ok_.inc();
  last_reload_ok_.set(1);
  spdlog::info("reloaded: knowledge base {} ({} signatures, {} rules, {:.1f} ms); listener settings applied to {}",
               loaded.kb->version(), loaded.kb->signatures().size(), loaded.kb->rules().size(),
               loaded.kb->load_milliseconds(), apply.size());
}

void Server::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  stop_requested_ = std::chrono::steady_clock::now();
  serving_ = false;
  up_.set(0);
  for (auto& l : listeners_) l->stop();
  if (http_) http_->stop();
  boost::system::error_code ec;
  signals_->cancel(ec);
  tick_.cancel();
  control_.stop();
}

int Server::run() {
  // Signals first: a SIGHUP or SIGTERM while the knowledge base loads must not
  // take its default (fatal) action.
  signals_ = std::make_unique<asio::signal_set>(control_, SIGHUP, SIGTERM, SIGINT);

  // Phase: knowledge base.
  LoadResult loaded = load_checked_knowledge_base(config_.signatures);
  if (!loaded.ok()) {
    std::cerr << "tunneldoc: the knowledge base in " << config_.signatures.string() << " does not load:\n";
    for (const auto& p : loaded.problems) std::cerr << "  " << p.to_string() << '\n';
    return 2;
  }
  note_kb(*loaded.kb);
  spdlog::info("knowledge base {} from {}: {} signatures, {} correlation rules, loaded in {:.1f} ms",
               loaded.kb->version(), config_.signatures.string(), loaded.kb->signatures().size(),
               loaded.kb->rules().size(), loaded.kb->load_milliseconds());

  // Phase: state, outputs and sources that are files. A closed stdout pipe
  // must be a counted write error, not a fatal SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  if (!open_state_dir(error) || !open_sinks(error)) {
    std::cerr << "tunneldoc: " << error << '\n';
    return 2;
  }
  PipelineOptions po;
  po.year = config_.year;
  po.correlate.update_interval_ms = config_.update_interval_seconds * 1000LL;
  po.correlate.quiet_timeout_ms = config_.quiet_timeout_seconds * 1000LL;
  po.correlate.max_tracked = config_.max_tracked;
  pipeline_ = std::make_unique<Pipeline>(loaded.matcher, *router_, metrics_, po);
  if (!incidents_file_.empty()) {
    if (!pipeline_->correlator().restore(incidents_file_, error)) {
      // A damaged file must not keep the daemon down: set it aside and say so.
      const std::filesystem::path aside = incidents_file_.string() + ".corrupt";
      std::error_code ec;
      std::filesystem::rename(incidents_file_, aside, ec);
      spdlog::error("cannot restore incidents ({}); moved to {} and starting without them", error, aside.string());
    } else if (const std::size_t n = pipeline_->correlator().open_incidents(); n != 0) {
      spdlog::info("restored {} open incident{} from {}", n, n == 1 ? "" : "s", incidents_file_.string());
      if (view_) {
        for (const OutputPtr& o : pipeline_->correlator().snapshot()) view_->apply(o);
      }
    }
  }
  if (!config_.files.empty()) {
    tailer_ = std::make_unique<Tailer>(config_.files, config_.state_file, config_.poll_interval_ms, *pipeline_,
                                       metrics_, router_.get());
    if (!tailer_->load(error)) {
      std::cerr << "tunneldoc: state file: " << error << '\n';
      return 2;
    }
  }
  if (!fit_descriptor_limit(config_, std::cerr)) return 1;
  if (options_.check_only) {
    std::cout << "configuration and knowledge base are valid\n";
    return 0;
  }

  // Phase: bind.
  if (!bind(error)) {
    std::cerr << "tunneldoc: " << error << '\n';
    return 1;
  }
  if (!become_user(error)) {
    std::cerr << "tunneldoc: " << error << '\n';
    return 2;
  }

  // Phase: run.
  for (auto& s : sinks_) s->start();
  auto guard = asio::make_work_guard(io_);
  arm_signals();
  arm_tick();
  for (auto& l : listeners_) l->start();
  if (http_) http_->start();
  if (tailer_) tailer_->start();
  serving_ = true;
  up_.set(1);
  write_ready_file();
  spdlog::info("serving ({} I/O threads); SIGHUP reloads, SIGTERM stops", config_.threads);

  std::mutex done_mutex;
  std::condition_variable done_cv;
  int running = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, config_.threads); ++i) {
    ++running;
    threads.emplace_back([&, this] {
      auto worker = pipeline_->bind_thread();
      io_.run();
      Pipeline::unbind_thread();
      std::lock_guard lock(done_mutex);
      --running;
      done_cv.notify_all();
    });
  }
  control_.run();  // until shutdown()

  // Stop: what was received is processed, the incidents are saved, the sinks
  // deliver what they hold; all within shutdown_timeout of the signal.
  const auto deadline = stop_requested_ + std::chrono::seconds(config_.shutdown_timeout_seconds);
  const auto io_deadline = stop_requested_ + std::chrono::milliseconds(config_.shutdown_timeout_seconds * 500);
  if (tailer_) tailer_->stop();  // last poll, positions saved
  guard.reset();
  {
    std::unique_lock lock(done_mutex);
    if (!done_cv.wait_until(lock, io_deadline, [&] { return running == 0; })) {
      spdlog::warn("shutdown: connections still busy at the deadline; closing them");
      io_.stop();
    }
  }
  for (auto& t : threads) t.join();
  save_incidents();
  std::size_t abandoned = 0;
  for (auto& s : sinks_) s->request_stop(deadline - std::chrono::milliseconds(100));
  for (auto& s : sinks_) abandoned += s->stop(deadline - std::chrono::milliseconds(100));
  if (tailer_) tailer_->save_acknowledged();  // positions whose records the sinks now hold
  if (abandoned != 0) {
    spdlog::warn(
        "shutdown: {} record{} could not be delivered before the deadline (counted in "
        "tunneldoc_sink_dropped_total)",
        abandoned, abandoned == 1 ? "" : "s");
  }
  // A reload still loading when SIGTERM came: its result is never applied;
  // waited for last, so it takes nothing from shutdown_timeout's budget.
  if (reload_thread_.joinable()) reload_thread_.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int run_serve(const ServeOptions& options) {
  ConfigResult r = assemble_config(options);
  if (!r.ok()) {
    std::cerr << "tunneldoc: the configuration is not valid (" << r.errors.size() << " problem"
              << (r.errors.size() == 1 ? "" : "s") << "):\n";
    for (const std::string& e : r.errors) std::cerr << "  " << e << '\n';
    return 2;
  }
  setup_logging(r.config.log_level);
  Server server(options, std::move(r.config), [options] { return assemble_config(options); });
  return server.run();
}

int run_tail(const TailOptions& options) {
  ServeOptions o;
  o.signatures = options.signatures;
  o.output = options.output;
  o.sinks = options.sinks;
  o.log_level = options.log_level;
  o.metrics = "off";
  o.state_file = options.state_file;
  o.stream = options.stream;
  o.lang = options.audience.lang;
  o.versions = options.audience.versions;
  if (!options.state_dir.empty()) o.state_dir = options.state_dir;
  ConfigResult r;
  r.config = default_config();
  r.config.listeners.clear();
  r.config.poll_interval_ms = options.poll_interval_ms;
  r.config.year = options.year;
  apply_overrides(o, r.config, r.errors);
  for (const std::string& f : options.files) r.config.files.push_back(FileSourceConfig{f, options.from_start});
  if (r.errors.empty()) validate_config(r.config, r.errors);
  check_not_world_writable({}, r.config.signatures, r.errors);
  if (!r.ok()) {
    for (const std::string& e : r.errors) std::cerr << "tunneldoc: " << e << '\n';
    return 2;
  }
  setup_logging(r.config.log_level);
  const ServeConfig fixed = r.config;
  Server server(
      o, std::move(r.config),
      [fixed] {
        return ConfigResult{fixed, {}};
      },
      /*takes_user=*/false);
  return server.run();
}

}  // namespace tunneldoc
