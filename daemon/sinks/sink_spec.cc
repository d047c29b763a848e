// sink_spec.cc — sink URLs and options, and the Sink made from them.
#include "tunneldoc/sink_spec.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdlib>

#include "tunneldoc/encoders.h"
#include "tunneldoc/render.h"

namespace tunneldoc {
namespace {

// The options a URL query or a sinks[] entry may set; secrets only from the configuration.
struct OptionInfo {
  std::string_view key;
  bool secret;
};
constexpr OptionInfo kOptions[] = {
    {"format", false},    {"stream", false},      {"remedies", false},
    {"name", false},      {"ca", false},          {"certificate", false},
    {"key", false},       {"server_name", false}, {"verify", false},
    {"index", false},     {"source", false},      {"sourcetype", false},
    {"facility", false},  {"spool", false},       {"spool_max_bytes", false},
    {"fsync", false},     {"queue_size", false},  {"queue_bytes", false}, {"timeout", false},
    {"retry_max", false}, {"grace", false},       {"token", true},
    {"username", true},   {"password", true},     {"api_key", true},
};

constexpr std::string_view kFacilities[] = {"kern",   "user",   "mail",   "daemon", "auth",     "syslog",
                                            "lpr",    "news",   "uucp",   "cron",   "authpriv", "ftp",
                                            "ntp",    "audit",  "alert",  "clock",  "local0",   "local1",
                                            "local2", "local3", "local4", "local5", "local6",   "local7"};

bool to_int(std::string_view text, long long low, long long high, long long& out) {
  long long v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v < low || v > high) return false;
  out = v;
  return true;
}

bool to_bool(std::string_view text, bool& out) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    out = false;
  } else {
    return false;
  }
  return true;
}

// %XX decoding of a query value.
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

bool parse_host_port(std::string_view text, NetTarget& t, std::string& error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "expected [IPv6]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "the port is missing (HOST:PORT)";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  long long p = 0;
  if (host.empty() || !to_int(port, 1, 65535, p)) {
    error = fmt::format("\"{}\" is not HOST:PORT", text);
    return false;
  }
  t.host = std::string(host);
  t.port = static_cast<std::uint16_t>(p);
  return true;
}

}  // namespace

bool is_sink_option(std::string_view key) {
  for (const OptionInfo& o : kOptions)
    if (o.key == key) return true;
  return false;
}

bool set_sink_option(SinkSpec& s, std::string_view key, std::string_view value, bool from_config, std::string& error) {
  const OptionInfo* info = nullptr;
  for (const OptionInfo& o : kOptions)
    if (o.key == key) info = &o;
  if (info == nullptr) {
    error = fmt::format("unknown sink option \"{}\"", key);
    return false;
  }
  if (info->secret && !from_config) {
    error = fmt::format(
        "\"{}\" is a secret and is not taken from a URL (it would show in ps and shell history): set it in the "
        "configuration file or the environment (TUNNELDOC_HEC_TOKEN, TUNNELDOC_ES_USERNAME, TUNNELDOC_ES_PASSWORD, "
        "TUNNELDOC_ES_API_KEY)",
        key);
    return false;
  }
  long long n = 0;
  auto bad = [&](std::string_view what) {
    error = fmt::format("sink option {} must be {}, not \"{}\"", key, what, value);
    return false;
  };
  if (key == "format") {
    if (!parse_format(value, s.format)) return bad("json, ecs or cef");
  } else if (key == "stream") {
    if (!parse_stream(value, s.stream)) return bad("incidents, lines or all");
  } else if (key == "remedies") {
    if (!parse_remedies(value, s.remedies)) return bad("full, brief or none");
  } else if (key == "name") {
    if (value.empty()) return bad("a name");
    s.name = std::string(value);
  } else if (key == "ca") {
    s.target.tls.ca = std::string(value);
  } else if (key == "certificate") {
    s.target.tls.certificate = std::string(value);
  } else if (key == "key") {
    s.target.tls.key = std::string(value);
  } else if (key == "server_name") {
    s.target.tls.server_name = std::string(value);
  } else if (key == "verify") {
    if (!to_bool(value, s.target.tls.verify)) return bad("true or false");
  } else if (key == "index") {
    s.index = std::string(value);
  } else if (key == "source") {
    s.source = std::string(value);
  } else if (key == "sourcetype") {
    s.sourcetype = std::string(value);
  } else if (key == "facility") {
    bool found = false;
    for (std::size_t i = 0; i < std::size(kFacilities); ++i) {
      if (kFacilities[i] == value) {
        s.facility = static_cast<int>(i);
        found = true;
      }
    }
    if (!found && !to_int(value, 0, 23, n)) return bad("a facility name (user, local0 ... local7) or 0-23");
    if (!found) s.facility = static_cast<int>(n);
  } else if (key == "spool") {
    if (!to_bool(value, s.spool)) return bad("true or false");
  } else if (key == "spool_max_bytes") {
    if (!to_int(value, 1 << 20, 1ll << 50, n)) return bad("an integer 1048576-2^50");
    s.spool_max_bytes = static_cast<std::uint64_t>(n);
  } else if (key == "fsync") {
    if (!parse_fsync_policy(value, s.fsync)) return bad("batch, interval or never");
  } else if (key == "queue_size") {
    if (!to_int(value, 16, 10'000'000, n)) return bad("an integer 16-10000000");
    s.queue_size = static_cast<std::size_t>(n);
  } else if (key == "queue_bytes") {
    if (!to_int(value, 65536, 1ll << 40, n)) return bad("an integer 65536-2^40");
    s.queue_bytes = static_cast<std::size_t>(n);
  } else if (key == "timeout") {
    if (!to_int(value, 1, 600, n)) return bad("an integer 1-600 (seconds)");
    s.target.timeout = std::chrono::seconds(n);
  } else if (key == "retry_max") {
    if (!to_int(value, 1, 3600, n)) return bad("an integer 1-3600 (seconds)");
    s.retry_max_seconds = static_cast<int>(n);
  } else if (key == "grace") {
    if (!to_int(value, 1, 86400, n)) return bad("an integer 1-86400 (seconds)");
    s.grace_seconds = static_cast<int>(n);
  } else if (key == "token") {
    s.token = std::string(value);
  } else if (key == "username") {
    s.username = std::string(value);
  } else if (key == "password") {
    s.password = std::string(value);
  } else if (key == "api_key") {
    s.api_key = std::string(value);
  }
  return true;
}

bool parse_sink_url(std::string_view url, SinkSpec& s, std::string& error) {
  s.url = std::string(url);
  std::string_view query;
  std::string_view base = url;
  if (const std::size_t q = url.find('?'); q != std::string_view::npos) {
    base = url.substr(0, q);
    query = url.substr(q + 1);
  }
  auto scheme_is = [&](std::string_view scheme) { return base.substr(0, scheme.size()) == scheme; };
  std::string_view rest;
  if (base == "-") {
    s.kind = SinkKind::standard_output;
  } else if (scheme_is("file:")) {
    s.kind = SinkKind::file;
    s.path = std::string(base.substr(5));
    if (s.path.empty()) {
      error = "file: needs a path (file:/var/log/tunneldoc/diagnoses.jsonl)";
      return false;
    }
  } else {
    struct Scheme {
      std::string_view prefix;
      SinkKind kind;
      bool tls;
    };
    static constexpr Scheme kSchemes[] = {
        {"syslog+udp://", SinkKind::syslog_udp, false},
        {"syslog+tcp://", SinkKind::syslog_tcp, false},
        {"syslog+tls://", SinkKind::syslog_tls, true},
        {"hec+http://", SinkKind::hec, false},
        {"hec+https://", SinkKind::hec, true},
        {"es+http://", SinkKind::es, false},
        {"es+https://", SinkKind::es, true},
    };
    const Scheme* found = nullptr;
    for (const Scheme& sc : kSchemes)
      if (scheme_is(sc.prefix)) found = &sc;
    if (found == nullptr) {
      error = fmt::format(
          "\"{}\" is not a sink URL (file:PATH, -, syslog+udp|tcp|tls://HOST:PORT, hec+http|https://HOST:PORT, "
          "es+http|https://HOST:PORT/INDEX)",
          url);
      return false;
    }
    s.kind = found->kind;
    s.target.tls.enabled = found->tls;
    rest = base.substr(found->prefix.size());
    if (rest.find('@') != std::string_view::npos) {
      error = "credentials are not taken from a URL: set them in the configuration file or the environment";
      return false;
    }
    std::string_view path;
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
      path = rest.substr(slash + 1);
      rest = rest.substr(0, slash);
    }
    if (!parse_host_port(rest, s.target, error)) {
      error = fmt::format("{}: {}", url, error);
      return false;
    }
    if (s.kind == SinkKind::es) {
      s.index = std::string(path);
      s.format = Format::ecs;  // documents for an index; json works too
    } else if (!path.empty()) {
      error = fmt::format("{}: only es+ URLs have a path (the index)", url);
      return false;
    }
    // A SIEM event should stay small.
    s.remedies = Remedies::brief;
  }
  if (s.network()) {
    s.spool = true;
  } else {
    s.spool = false;  // the file itself is the durable place
  }
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      error = fmt::format("{}: query option \"{}\" has no value", url, pair);
      return false;
    }
    if (!set_sink_option(s, pair.substr(0, eq), unescape(pair.substr(eq + 1)), false, error)) {
      error = fmt::format("{}: {}", url, error);
      return false;
    }
  }
  if (s.name.empty()) {
    if (s.kind == SinkKind::standard_output) {
      s.name = "stdout";
    } else {
      s.name = std::string(base);
    }
  }
  return true;
}

void take_sink_secrets_from_environment(SinkSpec& s) {
  auto env = [](const char* name, std::string& out) {
    if (!out.empty()) return;
    if (const char* v = std::getenv(name); v != nullptr) out = v;
  };
  if (s.kind == SinkKind::hec) env("TUNNELDOC_HEC_TOKEN", s.token);
  // Either kind of credentials, whole: a configured user keeps the environment's API key out, and the other way round.
  if (s.kind == SinkKind::es && s.api_key.empty() && s.username.empty()) {
    env("TUNNELDOC_ES_API_KEY", s.api_key);
    if (s.api_key.empty()) {
      env("TUNNELDOC_ES_USERNAME", s.username);
      env("TUNNELDOC_ES_PASSWORD", s.password);
    }
  }
}

void validate_sink(const SinkSpec& s, std::vector<std::string>& errors) {
  auto problem = [&](const std::string& what) { errors.push_back(fmt::format("sink {}: {}", s.name, what)); };
  if (s.kind == SinkKind::hec && s.token.empty())
    problem("a HEC token is needed: `token:` in the sink's configuration, or TUNNELDOC_HEC_TOKEN");
  if (s.kind == SinkKind::es) {
    if (s.index.empty()) problem("an Elasticsearch URL names its index: es+https://HOST:PORT/INDEX");
    if (s.format == Format::cef) problem("Elasticsearch takes JSON documents: format=ecs or json, not cef");
    if (!s.index.empty() && (s.index.find_first_of("/\\*?\"<>| ,#") != std::string::npos || s.index.front() == '_'))
      problem(fmt::format("\"{}\" is not a valid index name", s.index));
  }
  const TlsClientOptions& t = s.target.tls;
  if (t.enabled) {
    for (const auto* p : {&t.ca, &t.certificate, &t.key}) {
      if (!p->empty() && ::access(p->c_str(), R_OK) != 0) problem(fmt::format("cannot read {}", p->string()));
    }
    if (!t.key.empty() && t.certificate.empty()) problem("a client key needs its certificate");
  } else if (!t.ca.empty() || !t.certificate.empty()) {
    problem("ca and certificate apply to TLS URLs only (syslog+tls, hec+https, es+https)");
  }
}

std::filesystem::path spool_dir(const std::filesystem::path& state_dir, const SinkSpec& spec) {
  std::string dir;
  for (char c : spec.name) dir += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_';
  // Distinct names that read the same once cleaned stay apart.
  std::uint64_t hash = 14695981039346656037ull;
  for (char c : spec.name) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return state_dir / "spool" / fmt::format("{}-{:08x}", dir.substr(0, 80), hash & 0xffffffffu);
}

std::unique_ptr<Sink> make_sink(const SinkSpec& spec, const std::filesystem::path& state_dir, const Audience& audience,
                                MetricsRegistry& metrics, std::string& error) {
  std::unique_ptr<SinkTransport> transport;
  switch (spec.kind) {
    case SinkKind::standard_output:
      transport = make_file_transport("-", error);
      break;
    case SinkKind::file:
      transport = make_file_transport(spec.path, error);
      break;
    case SinkKind::syslog_udp:
    case SinkKind::syslog_tcp:
    case SinkKind::syslog_tls: {
      SyslogOptions o;
      o.transport = spec.kind == SinkKind::syslog_udp   ? SyslogTransport::udp
                    : spec.kind == SinkKind::syslog_tcp ? SyslogTransport::tcp
                                                        : SyslogTransport::tls;
      o.target = spec.target;
      o.facility = spec.facility;
      transport = make_syslog_transport(o, error);
      break;
    }
    case SinkKind::hec: {
      HecOptions o;
      o.target = spec.target;
      o.token = spec.token;
      o.index = spec.index;
      o.source = spec.source;
      o.sourcetype = spec.sourcetype;
      o.json_payload = spec.format != Format::cef;
      transport = make_hec_transport(o, error);
      break;
    }
    case SinkKind::es: {
      EsOptions o;
      o.target = spec.target;
      o.index = spec.index;
      o.username = spec.username;
      o.password = spec.password;
      o.api_key = spec.api_key;
      transport = make_es_transport(o, error);
      break;
    }
  }
  if (!transport) {
    error = fmt::format("sink {}: {}", spec.name, error);
    return nullptr;
  }
  SinkOptions o;
  o.name = spec.name;
  o.stream = spec.stream;
  o.queue_capacity = spec.queue_size;
  o.queue_bytes = spec.queue_bytes;
  o.retry_max = std::chrono::seconds(spec.retry_max_seconds);
  std::unique_ptr<Spool> spool;
  if (spec.spool && !state_dir.empty()) {
    const std::filesystem::path dir = spool_dir(state_dir, spec);
    DiskSpoolOptions so;
    so.max_bytes = spec.spool_max_bytes;
    so.fsync = spec.fsync;
    SpoolRecovery recovery;
    spool = open_disk_spool(dir, so, recovery, error);
    if (!spool) {
      error = fmt::format("sink {}: {}", spec.name, error);
      return nullptr;
    }
    o.dead_letter = dir / "dead-letter.jsonl";
    metrics
        .counter("tunneldoc_sink_spool_corrupt_total",
                 "Spool segments whose damaged tail was skipped at start (a crash during a write, a bad disk)",
                 {{"sink", spec.name}})
        .inc(recovery.corrupt_segments);
    if (recovery.records != 0 || recovery.corrupt_segments != 0) {
      spdlog::info("sink {}: {} records ({} bytes) left in the spool {} are delivered first{}", spec.name,
                   recovery.records, recovery.bytes, dir.string(),
                   recovery.corrupt_segments == 0 ? std::string()
                                                  : fmt::format("; {} damaged segment tails ({} bytes) were skipped",
                                                                recovery.corrupt_segments, recovery.corrupt_bytes));
    }
  } else {
    metrics.counter("tunneldoc_sink_spool_corrupt_total",
                    "Spool segments whose damaged tail was skipped at start (a crash during a write, a bad disk)",
                    {{"sink", spec.name}});
    if (spec.network())
      spdlog::warn(
          "sink {}: no state_dir (or spool: false): undelivered records wait in memory only and are lost "
          "at a restart",
          spec.name);
    spool = make_memory_spool(spec.queue_size, spec.queue_bytes);
  }
  return std::make_unique<Sink>(o, make_encoder(spec.format, spec.remedies, audience), std::move(transport),
                                std::move(spool), metrics);
}

}  // namespace tunneldoc
