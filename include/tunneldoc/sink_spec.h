// sink_spec.h — a sink as the user names it: a URL with query options
// (`--sink URL`, or `url:` of an entry of `sinks:` in the configuration,
// whose other keys are the same options), and the Sink built from it.
//
// URLs:  file:PATH | - | syslog+udp://HOST:PORT | syslog+tcp://HOST:PORT |
//        syslog+tls://HOST:PORT | hec+http://HOST:PORT | hec+https://HOST:PORT |
//        es+http://HOST:PORT/INDEX | es+https://HOST:PORT/INDEX
// Query options (also keys of a `sinks:` entry): format=json|ecs|cef,
// stream=incidents|lines|all, remedies=full|brief|none, name, and the
// non-secret settings (ca, certificate, key, server_name, verify, index,
// sourcetype, source, facility). Secrets (the HEC token, Elasticsearch
// passwords and API keys) are never taken from a URL: they come from the
// configuration file or the environment (TUNNELDOC_HEC_TOKEN,
// TUNNELDOC_ES_USERNAME, TUNNELDOC_ES_PASSWORD, TUNNELDOC_ES_API_KEY).
//
// Plain values; parse and validate on one thread before anything starts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tunneldoc/metrics.h"
#include "tunneldoc/output.h"
#include "tunneldoc/sink.h"
#include "tunneldoc/spool.h"
#include "tunneldoc/transports.h"

namespace tunneldoc {

// Declared in encoders.h and render.h (kept out of this header, which config.h includes).
enum class Format : std::uint8_t;    // json (0), ecs, cef
enum class Remedies : std::uint8_t;  // full (0), brief, none
struct Audience;                     // knowledge_base.h

enum class SinkKind : std::uint8_t { file, standard_output, syslog_udp, syslog_tcp, syslog_tls, hec, es };

struct SinkSpec {
  std::string url;   // as given
  std::string name;  // metric label, /healthz and spool directory; default: the URL without its query
  SinkKind kind = SinkKind::standard_output;
  std::string path;  // file
  NetTarget target;  // network kinds (target.tls for hec+https, es+https, syslog+tls)
  Format format{};   // json
  Stream stream = Stream::incidents;
  Remedies remedies{};  // full
  // syslog
  int facility = 1;
  // hec
  std::string token, index, source = "tunneldoc", sourcetype = "tunneldoc:diagnosis";
  // es (index above)
  std::string username, password, api_key;
  // delivery
  bool spool = true;  // on disk under state_dir/spool/ (network sinks); false: in memory
  std::uint64_t spool_max_bytes = 1ull << 30;
  FsyncPolicy fsync = FsyncPolicy::batch;
  std::size_t queue_size = 16384;
  std::size_t queue_bytes = 64u << 20;  // a memory spool's cap in encoded bytes
  int retry_max_seconds = 60;
  int grace_seconds = 60;  // /healthz answers 503 once the sink has failed this long
  bool network() const { return kind != SinkKind::file && kind != SinkKind::standard_output; }
};

// Parses `url` (with its query) into `spec`, whose defaults come first
// (queue_size, stream of the configuration). False with `error`.
bool parse_sink_url(std::string_view url, SinkSpec& spec, std::string& error);

// Sets one option; `from_config` allows the secrets. False with `error`.
bool set_sink_option(SinkSpec& spec, std::string_view key, std::string_view value, bool from_config,
                     std::string& error);
// True when `key` is an option of set_sink_option (the configuration schema's sinks[] rows).
bool is_sink_option(std::string_view key);

// Takes the secrets the configuration left empty from the environment.
void take_sink_secrets_from_environment(SinkSpec& spec);

// What can only be checked once a spec is complete: a token for HEC, an
// index and a JSON format for Elasticsearch, TLS files readable. Appends
// problems, prefixed with the sink's name.
void validate_sink(const SinkSpec& spec, std::vector<std::string>& errors);

// The spool directory of a sink under `state_dir`.
std::filesystem::path spool_dir(const std::filesystem::path& state_dir, const SinkSpec& spec);

// Builds the sink: transport, encoder (for `audience`: language and
// software versions), spool (on disk under `state_dir` when spec.spool and
// state_dir is set; else in memory). Null with `error`.
std::unique_ptr<Sink> make_sink(const SinkSpec& spec, const std::filesystem::path& state_dir, const Audience& audience,
                                MetricsRegistry& metrics, std::string& error);

}  // namespace tunneldoc
