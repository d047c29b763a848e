// config.h — the configuration of `tunneldoc serve` and `tunneldoc tail`.
//
// load_config() reads the YAML file (format and defaults: docs/configuration.md),
// checks every value, and reports every problem it finds with its line, without
// throwing. A ServeConfig is a plain value: copy it freely; it is validated
// once (validate_config) before anything binds. Defaults below are the
// documented defaults.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tunneldoc/allowlist.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/sink_spec.h"

namespace tunneldoc {

struct Endpoint {
  std::string address;  // numeric IPv4 or IPv6 address, no brackets
  std::uint16_t port = 0;
  std::string to_string() const;  // "127.0.0.1:5514", "[::1]:5514"
};

// "ADDR:PORT", "[V6]:PORT" or ":PORT" (all addresses: 0.0.0.0). nullopt on error.
std::optional<Endpoint> parse_endpoint(const std::string& text, std::string* error = nullptr);

enum class Transport { udp, tcp, tls };
const char* to_string(Transport t);

struct ListenerConfig {
  Transport transport = Transport::udp;
  Endpoint endpoint{"127.0.0.1", 5514};
  std::vector<Cidr> allow;  // empty: every sender
  // UDP
  std::size_t receive_buffer = 8u << 20;  // SO_RCVBUF asked for; warns when granted less
  // TCP and TLS
  std::size_t max_frame = 64 * 1024;   // longer frames are cut (counted as oversize)
  std::size_t max_connections = 1024;  // more are refused (counted)
  // One sending host (an IPv4 address or an IPv6 /64) holds at most this many
  // connections; the rest are refused (counted).
  std::size_t max_connections_per_host = 64;
  // The last `reserved_connections` slots below max_connections only go to
  // hosts that have no connection open, so one host's idle connections cannot
  // lock a new sender out. 0 (the default) means max_connections / 16.
  std::size_t reserved_connections = 0;
  // Bytes of incomplete messages all connections together may hold beyond
  // kConnectionAllowance each; a connection that needs more is closed (counted).
  std::size_t max_buffered = 8u << 20;
  int idle_timeout_seconds = 600;  // a silent connection is closed
  // TLS
  std::filesystem::path certificate;  // PEM chain
  std::filesystem::path key;          // PEM private key
  std::filesystem::path ca;           // PEM CA bundle for client certificates
  bool verify_client = false;         // require a client certificate signed by `ca`
  int handshake_timeout_seconds = 10;
};

// Bytes of an incomplete message every TCP/TLS connection may hold without
// drawing on its listener's max_buffered.
inline constexpr std::size_t kConnectionAllowance = 4096;

// The slots kept for new hosts (reserved_connections, or its default).
std::size_t effective_reserve(const ListenerConfig& l);

struct FileSourceConfig {
  std::filesystem::path path;
  bool from_start = false;  // with no saved position, read the whole file (else start at its end)
};

struct ServeConfig {
  std::filesystem::path source;           // the file this came from ("" for defaults)
  std::filesystem::path signatures;       // "" : default_signature_dir()
  std::string log_level = "info";         // trace debug info warn error critical off
  int threads = 2;                        // I/O threads; each UDP listener gets one socket per thread
  int year = 0;                           // year for headers without one; 0 = current
  std::vector<ListenerConfig> listeners;  // default: udp and tcp on 127.0.0.1:5514
  std::vector<FileSourceConfig> files;
  std::filesystem::path state_file;                               // tail positions; "" keeps none
  int poll_interval_ms = 250;                                     // how often followed files are checked
  std::string output = "-";                                       // JSON-lines file, "-" for stdout
  std::optional<Endpoint> metrics = Endpoint{"127.0.0.1", 9514};  // nullopt: no HTTP server
  std::string metrics_path = "/metrics";
  std::vector<Cidr> metrics_allow;           // who may connect to the HTTP endpoint; empty: everyone
  std::filesystem::path metrics_token_file;  // "" : no bearer token required
  int shutdown_timeout_seconds = 5;
  // Where incidents (and later spools) are kept across restarts; "" keeps none.
  std::filesystem::path state_dir;
  std::string stream = "incidents";   // of the output: incidents, lines or all
  std::size_t queue_size = 16384;     // records a sink holds before dropping its oldest
  std::size_t queue_bytes = 64u << 20;  // encoded bytes a sink holds in memory before dropping its oldest
  // A sink with this configuration's defaults (queue_size, queue_bytes), before its own options.
  SinkSpec sink_defaults() const {
    SinkSpec spec;
    spec.queue_size = queue_size;
    spec.queue_bytes = queue_bytes;
    return spec;
  }
  int update_interval_seconds = 300;  // an open incident repeats its record at most this often
  int quiet_timeout_seconds = 1800;   // an incident with no repeat this long is resolved (quiet)
  std::size_t max_tracked = 50000;    // keys tracked (incident pairs and rule state); the least recently used is evicted

  // Sinks (docs/siem.md): `output` is one when named (file or --output) or
  // when there is no other; `sinks:` entries, then --sink URLs.
  bool output_set = false;
  std::vector<SinkSpec> sinks;
  // The records' language (kLanguages) and the operator's software versions:
  // remedies show only the commands for those versions.
  Audience audience;
  // Started as root: become this user (and group; default the user's primary
  // group) once sockets are bound and files opened (privileges.h). "": stay.
  std::string user, group;
};

// The configuration used when there is no file: listeners on 127.0.0.1:5514
// (UDP and TCP), output to stdout, metrics on 127.0.0.1:9514.
ServeConfig default_config();

struct ConfigResult {
  ServeConfig config;
  std::vector<std::string> errors;  // "FILE:LINE: message"; empty when ok
  bool ok() const { return errors.empty(); }
};

// Reads and checks `path`. Keys that are not options are errors (typos must
// not pass silently). A file that does not name `listeners` gets the default
// ones. Never throws.
ConfigResult load_config(const std::filesystem::path& path);

// Checks what can only be checked once the whole configuration is assembled
// (after command-line overrides): TLS files readable, no two listeners on one
// transport and endpoint, sinks complete and named apart. Appends to `errors`.
void validate_config(const ServeConfig& config, std::vector<std::string>& errors);

// Descriptors `config` may hold at once: every TCP/TLS listener's
// max_connections and its acceptor, the UDP sockets (one per thread), two per
// followed file, the metrics server's connections, and a margin of 64 for the
// output, the state file, the event loop and standard streams.
std::size_t descriptors_needed(const ServeConfig& config);

// Start-up check: raises the soft RLIMIT_NOFILE to descriptors_needed(config)
// (and the hard limit too when the process may). If the hard limit is lower
// and cannot be raised, writes a message to `err` that says what to change
// and returns false: the daemon must not start only to fail with EMFILE under
// load. Never lowers a limit.
bool fit_descriptor_limit(const ServeConfig& config, std::ostream& err);

// The bearer token on the first line of `path` (trailing blanks removed):
// printable ASCII, no spaces. False with `error` otherwise.
bool read_token_file(const std::filesystem::path& path, std::string& token, std::string& error);

}  // namespace tunneldoc
