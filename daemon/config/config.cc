// config.cc — YAML configuration for serve/tail: load, check, report every problem.
#include "tunneldoc/config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>

#include "tunneldoc/config_schema.h"

namespace tunneldoc {

std::string Endpoint::to_string() const {
  if (address.find(':') != std::string::npos) return fmt::format("[{}]:{}", address, port);
  return fmt::format("{}:{}", address, port);
}

const char* to_string(Transport t) {
  switch (t) {
    case Transport::udp:
      return "udp";
    case Transport::tcp:
      return "tcp";
    case Transport::tls:
      return "tls";
  }
  return "?";
}

std::optional<Endpoint> parse_endpoint(const std::string& text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<Endpoint> {
    if (error != nullptr) *error = fmt::format("\"{}\" is not ADDR:PORT: {}", text, why);
    return std::nullopt;
  };
  std::string host, port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail("expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) return fail("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return fail("write IPv6 addresses as [ADDR]:PORT");
  }
  if (host.empty()) host = "0.0.0.0";
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) != 1 && inet_pton(AF_INET6, host.c_str(), buf) != 1)
    return fail("the address must be numeric");
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535)
    return fail("bad port number");
  return Endpoint{host, static_cast<std::uint16_t>(value)};
}

std::size_t effective_reserve(const ListenerConfig& l) {
  const std::size_t r = l.reserved_connections != 0 ? l.reserved_connections : l.max_connections / 16;
  return std::min(r, l.max_connections - 1);
}

ServeConfig default_config() {
  ServeConfig c;
  ListenerConfig udp;
  udp.transport = Transport::udp;
  ListenerConfig tcp;
  tcp.transport = Transport::tcp;
  c.listeners = {udp, tcp};
  return c;
}

namespace {

class Reader {
 public:
  Reader(std::string file, std::vector<std::string>& errors) : file_(std::move(file)), errors_(errors) {}

  void error(const YAML::Node& at, const std::string& message) {
    const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
    errors_.push_back(fmt::format("{}:{}: {}", file_, line, message));
  }

  // Reports keys of `map` that have no row in `section` of the schema (config_schema.h).
  void only(const YAML::Node& map, std::string_view section, const std::string& where) {
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>("");
      if (!is_config_key(section, key)) error(kv.first, fmt::format("unknown option \"{}\" in {}", key, where));
    }
  }

  template <class T>
  void get(const YAML::Node& map, const char* key, T& out) {
    const YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return;
    try {
      out = n.as<T>();
    } catch (const YAML::Exception&) {
      error(n, fmt::format("\"{}\" has the wrong type", key));
    }
  }

  void integer(const YAML::Node& map, const char* key, long long low, long long high, auto& out) {
    long long v = static_cast<long long>(out);
    const YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return;
    get(map, key, v);
    if (v < low || v > high) {
      error(n, fmt::format("\"{}\" must be between {} and {}", key, low, high));
      return;
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
  }

  void endpoint(const YAML::Node& map, const char* key, Endpoint& out) {
    std::string text;
    get(map, key, text);
    if (text.empty()) return;
    std::string why;
    if (auto e = parse_endpoint(text, &why)) {
      out = *e;
    } else {
      error(map[key], why);
    }
  }

  void networks(const YAML::Node& map, const char* key, std::vector<Cidr>& out) {
    const YAML::Node n = map[key];
    if (!n.IsDefined() || n.IsNull()) return;
    if (!n.IsSequence()) {
      error(n, fmt::format("\"{}\" must be a list of networks", key));
      return;
    }
    for (const auto& item : n) {
      std::string why;
      if (auto c = Cidr::parse(item.as<std::string>(""), &why)) {
        out.push_back(*c);
      } else {
        error(item, why);
      }
    }
  }

 private:
  std::string file_;
  std::vector<std::string>& errors_;
};

void read_listener(Reader& r, const YAML::Node& n, ServeConfig& c) {
  if (!n.IsMap()) {
    r.error(n, "a listener must be a map with at least \"type\" and \"address\"");
    return;
  }
  r.only(n, "listeners[]", "a listener");
  ListenerConfig l;
  std::string type;
  r.get(n, "type", type);
  if (type == "udp") {
    l.transport = Transport::udp;
  } else if (type == "tcp") {
    l.transport = Transport::tcp;
  } else if (type == "tls") {
    l.transport = Transport::tls;
    l.endpoint.port = 6514;
  } else {
    r.error(n["type"].IsDefined() ? n["type"] : n, "listener \"type\" must be udp, tcp or tls");
    return;
  }
  if (!n["address"].IsDefined()) r.error(n, "a listener needs an \"address\" (ADDR:PORT)");
  r.endpoint(n, "address", l.endpoint);
  r.networks(n, "allow", l.allow);
  r.integer(n, "receive_buffer", 4096, 1ll << 30, l.receive_buffer);
  r.integer(n, "max_frame", 256, 16ll << 20, l.max_frame);
  r.integer(n, "max_connections", 1, 1000000, l.max_connections);
  r.integer(n, "max_connections_per_host", 1, 1000000, l.max_connections_per_host);
  r.integer(n, "reserved_connections", 0, 1000000, l.reserved_connections);
  if (l.reserved_connections >= l.max_connections && n["reserved_connections"].IsDefined())
    r.error(n["reserved_connections"], "\"reserved_connections\" must be below \"max_connections\"");
  r.integer(n, "max_buffered", 65536, 1ll << 30, l.max_buffered);
  r.integer(n, "idle_timeout", 1, 86400 * 7, l.idle_timeout_seconds);
  r.integer(n, "handshake_timeout", 1, 600, l.handshake_timeout_seconds);
  std::string s;
  r.get(n, "certificate", s);
  l.certificate = s;
  s.clear();
  r.get(n, "key", s);
  l.key = s;
  s.clear();
  r.get(n, "ca", s);
  l.ca = s;
  r.get(n, "verify_client", l.verify_client);
  if (l.transport == Transport::tls) {
    if (l.certificate.empty()) r.error(n, "a tls listener needs \"certificate\"");
    if (l.key.empty()) r.error(n, "a tls listener needs \"key\"");
    if (l.verify_client && l.ca.empty()) r.error(n, "\"verify_client\" needs \"ca\"");
  }
  c.listeners.push_back(std::move(l));
}

// A sink: a URL, or a map with "url" and the sink options (sinks[] rows of the schema).
void read_sink(Reader& r, const YAML::Node& n, ServeConfig& c) {
  SinkSpec spec = c.sink_defaults();
  std::string url, why;
  if (n.IsScalar()) {
    url = n.as<std::string>();
  } else if (n.IsMap()) {
    r.only(n, "sinks[]", "a sink");
    r.get(n, "url", url);
  }
  if (url.empty()) {
    r.error(
        n, "a sink is a URL, or a map with \"url\" (file:PATH, -, syslog+udp://HOST:PORT, hec+https://HOST:PORT, ...)");
    return;
  }
  if (!parse_sink_url(url, spec, why)) {
    r.error(n.IsMap() ? n["url"] : n, why);
    return;
  }
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>("");
      if (key == "url" || !is_sink_option(key)) continue;
      if (!kv.second.IsScalar()) {
        r.error(kv.second, fmt::format("sink option \"{}\" must be a single value", key));
      } else if (!set_sink_option(spec, key, kv.second.Scalar(), true, why)) {
        r.error(kv.second, why);
      }
    }
  }
  take_sink_secrets_from_environment(spec);
  c.sinks.push_back(std::move(spec));
}

bool readable(const std::filesystem::path& p) {
  return ::access(p.c_str(), R_OK) == 0;
}

}  // namespace

ConfigResult load_config(const std::filesystem::path& path) {
  ConfigResult result;
  ServeConfig& c = result.config;
  c.source = path;
  Reader r(path.string(), result.errors);
  YAML::Node root;
  try {
    std::ifstream in(path);
    if (!in) {
      result.errors.push_back(fmt::format("{}: cannot open the configuration file", path.string()));
      return result;
    }
    root = YAML::Load(in);
  } catch (const YAML::Exception& e) {
    result.errors.push_back(fmt::format("{}:{}: {}", path.string(), e.mark.line + 1, e.msg));
    return result;
  }
  if (root.IsNull()) {
    c = default_config();
    c.source = path;
    return result;
  }
  if (!root.IsMap()) {
    r.error(root, "the configuration must be a map of options");
    return result;
  }
  try {
    r.only(root, "", "the configuration");
    std::string s;
    r.get(root, "signatures", s);
    c.signatures = s;
    r.get(root, "log_level", c.log_level);
    static const std::set<std::string> levels = {"trace",   "debug", "info",     "warn",
                                                 "warning", "error", "critical", "off"};
    if (!levels.count(c.log_level))
      r.error(root["log_level"], "\"log_level\" must be trace, debug, info, warn, error, critical or off");
    r.integer(root, "threads", 1, 64, c.threads);
    r.integer(root, "year", 0, 9999, c.year);
    r.integer(root, "poll_interval", 10, 60000, c.poll_interval_ms);
    r.integer(root, "shutdown_timeout", 1, 300, c.shutdown_timeout_seconds);
    r.get(root, "user", c.user);
    r.get(root, "group", c.group);
    r.get(root, "output", c.output);
    c.output_set = root["output"].IsDefined() && !root["output"].IsNull();
    if (c.output.empty()) r.error(root["output"], "\"output\" must be a file or \"-\"");
    s.clear();
    r.get(root, "state_file", s);
    c.state_file = s;
    s.clear();
    r.get(root, "state_dir", s);
    c.state_dir = s;
    r.get(root, "stream", c.stream);
    if (c.stream != "incidents" && c.stream != "lines" && c.stream != "all")
      r.error(root["stream"], "\"stream\" must be incidents, lines or all");
    r.integer(root, "queue_size", 16, 10'000'000, c.queue_size);
    r.integer(root, "queue_bytes", 65536, 1ll << 40, c.queue_bytes);
    r.get(root, "language", c.audience.lang);
    if (!known_language(c.audience.lang)) r.error(root["language"], "\"language\" must be en or zh-TW");
    if (const YAML::Node v = root["versions"]; v.IsDefined() && !v.IsNull()) {
      if (!v.IsMap()) {
        r.error(v, "\"versions\" must map a platform to its software version (asa: \"9.16\")");
      } else {
        r.only(v, "versions", "versions");
        for (const auto& kv : v) {
          const std::string platform = kv.first.as<std::string>("");
          if (!is_config_key("versions", platform)) continue;  // reported by only()
          const std::string why =
              add_software_version(platform + "=" + kv.second.as<std::string>(""), c.audience.versions);
          if (!why.empty()) r.error(kv.second, "versions: " + why);
        }
      }
    }
    if (const YAML::Node inc = root["incidents"]; inc.IsDefined() && !inc.IsNull()) {
      if (!inc.IsMap()) {
        r.error(inc, "\"incidents\" must be a map (update_interval, quiet_timeout, max_tracked)");
      } else {
        r.only(inc, "incidents", "incidents");
        r.integer(inc, "update_interval", 1, 86400, c.update_interval_seconds);
        r.integer(inc, "quiet_timeout", 1, 86400 * 30, c.quiet_timeout_seconds);
        r.integer(inc, "max_tracked", 16, 100'000'000, c.max_tracked);
      }
    }

    const YAML::Node listeners = root["listeners"];
    if (!listeners.IsDefined()) {
      c.listeners = default_config().listeners;
    } else if (!listeners.IsNull()) {
      if (!listeners.IsSequence()) {
        r.error(listeners, "\"listeners\" must be a list");
      } else {
        for (const auto& l : listeners) read_listener(r, l, c);
      }
    }

    const YAML::Node files = root["files"];
    if (files.IsDefined() && !files.IsNull()) {
      if (!files.IsSequence()) {
        r.error(files, "\"files\" must be a list");
      } else {
        for (const auto& f : files) {
          FileSourceConfig fc;
          if (f.IsScalar()) {
            fc.path = f.as<std::string>();
          } else if (f.IsMap()) {
            r.only(f, "files[]", "a file");
            std::string p;
            r.get(f, "path", p);
            fc.path = p;
            r.get(f, "from_start", fc.from_start);
            if (p.empty()) r.error(f, "a file needs a \"path\"");
          } else {
            r.error(f, "a file is a path or a map with \"path\"");
            continue;
          }
          c.files.push_back(std::move(fc));
        }
      }
    }

    const YAML::Node sinks = root["sinks"];
    if (sinks.IsDefined() && !sinks.IsNull()) {
      if (!sinks.IsSequence()) {
        r.error(sinks, "\"sinks\" must be a list");
      } else {
        for (const auto& s : sinks) read_sink(r, s, c);
      }
    }

    const YAML::Node metrics = root["metrics"];
    if (metrics.IsDefined()) {
      if (metrics.IsNull() || (metrics.IsScalar() && (metrics.Scalar() == "off" || metrics.Scalar() == "false"))) {
        c.metrics.reset();
      } else if (metrics.IsMap()) {
        r.only(metrics, "metrics", "metrics");
        r.endpoint(metrics, "address", *c.metrics);
        r.get(metrics, "path", c.metrics_path);
        if (c.metrics_path.empty() || c.metrics_path.front() != '/')
          r.error(metrics["path"], "metrics \"path\" must start with /");
        r.networks(metrics, "allow", c.metrics_allow);
        s.clear();
        r.get(metrics, "token_file", s);
        c.metrics_token_file = s;
      } else {
        r.error(metrics, "\"metrics\" must be a map (address, path) or off");
      }
    }
  } catch (const YAML::Exception& e) {
    result.errors.push_back(fmt::format("{}:{}: {}", path.string(), e.mark.line + 1, e.msg));
  }
  return result;
}

void validate_config(const ServeConfig& c, std::vector<std::string>& errors) {
  std::set<std::string> seen;
  for (const ListenerConfig& l : c.listeners) {
    const std::string name = fmt::format("{}:{}", to_string(l.transport), l.endpoint.to_string());
    const bool datagram = l.transport == Transport::udp;
    const std::string key = fmt::format("{}:{}", datagram ? "udp" : "stream", l.endpoint.to_string());
    if (l.endpoint.port != 0 && !seen.insert(key).second)
      errors.push_back(fmt::format("listener {}: another listener already uses this address", name));
    if (l.transport == Transport::tls) {
      if (l.certificate.empty() || l.key.empty()) {
        errors.push_back(fmt::format("listener {}: a TLS listener needs a certificate and a key", name));
      } else {
        if (!readable(l.certificate))
          errors.push_back(fmt::format("listener {}: cannot read certificate {}", name, l.certificate.string()));
        if (!readable(l.key)) errors.push_back(fmt::format("listener {}: cannot read key {}", name, l.key.string()));
      }
      if (!l.ca.empty() && !readable(l.ca))
        errors.push_back(fmt::format("listener {}: cannot read CA file {}", name, l.ca.string()));
    }
  }
  for (const FileSourceConfig& f : c.files) {
    if (f.path.empty()) errors.push_back("a followed file has an empty path");
  }
  if (c.files.empty() && c.listeners.empty()) errors.push_back("nothing to do: no listeners and no files");
  std::set<std::string> names;
  if (c.output_set || c.sinks.empty()) names.insert(c.output == "-" ? "stdout" : "file:" + c.output);
  if (c.metrics) names.insert("view");  // the status page's sink
  for (const SinkSpec& s : c.sinks) {
    validate_sink(s, errors);
    if (!names.insert(s.name).second)
      errors.push_back(fmt::format("sink {}: named twice (give one a name: option, e.g. ?name=splunk-b)", s.name));
  }
  if (c.metrics && !c.metrics_token_file.empty()) {
    std::string token, why;
    if (!read_token_file(c.metrics_token_file, token, why)) errors.push_back("metrics token_file: " + why);
  }
}

bool read_token_file(const std::filesystem::path& path, std::string& token, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path.string();
    return false;
  }
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  if (token.empty()) {
    error = path.string() + " holds no token on its first line";
    return false;
  }
  for (char ch : token) {
    if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f) {
      error = path.string() + ": a token is printable ASCII without spaces";
      return false;
    }
  }
  return true;
}

}  // namespace tunneldoc
