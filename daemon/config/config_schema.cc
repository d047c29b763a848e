// config_schema.cc — the rows of the configuration schema (config_schema.h).
// One row per key; the loader's unknown-key check and tunneldoc.yaml(5) both read it.
#include "tunneldoc/config_schema.h"

#include <algorithm>
#include <array>

namespace tunneldoc {

namespace {

// clang-format off
constexpr std::array kSections = {
  ConfigSection{"", "Top-level keys."},
  ConfigSection{"listeners[]", "Each entry of \"listeners\" is one network listener."},
  ConfigSection{"files[]", "An entry of \"files\" is a path, or a map with these keys."},
  ConfigSection{"metrics", "The map under \"metrics\" (or the word off)."},
  ConfigSection{"incidents", "The map under \"incidents\": how incidents fold repeats and when they end."},
  ConfigSection{"sinks[]", "Each entry of \"sinks\" is a URL, or a map with \"url\" and these keys. The keys marked (query) may also be given in the URL's query (?format=cef&stream=all); secrets never are (docs/siem.md)."},
  ConfigSection{"versions", "The map under \"versions\": the software version the operator runs, per platform; remedies show only the commands for it (commands of other versions are left out)."},
};

constexpr std::array kKeys = {
  // section, key, type, default, description
  ConfigKey{"", "signatures", "path", "$TUNNELDOC_SIGNATURES, else the installed share/tunneldoc/signatures, else ./signatures", "Knowledge-base directory."},
  ConfigKey{"", "log_level", "trace|debug|info|warn|error|critical|off", "info", "Self-logging level (standard error, the journal under systemd). Nothing is logged per message at info."},
  ConfigKey{"", "threads", "integer 1-64", "2", "I/O threads. Each UDP listener opens one SO_REUSEPORT socket per thread."},
  ConfigKey{"", "year", "integer 0-9999", "0", "Year for headers that carry none (classic BSD syslog); 0 means the current year."},
  ConfigKey{"", "output", "path or -", "-", "Where diagnoses go: a JSON-lines file (appended, created 0640, reopened on SIGHUP for logrotate) or - for standard output. With sinks, this output exists only when named."},
  ConfigKey{"", "listeners", "list of listeners", "UDP and TCP on 127.0.0.1:5514", "Network listeners (see LISTENERS KEYS); an empty list [] for none."},
  ConfigKey{"", "files", "list of files", "none", "Files written by another syslog server, followed like tail -F (see FILES KEYS)."},
  ConfigKey{"", "state_file", "path", "none", "Where the positions of followed files are kept, so a restart neither skips nor repeats lines."},
  ConfigKey{"", "poll_interval", "integer 10-60000", "250", "Milliseconds between checks of followed files."},
  ConfigKey{"", "metrics", "map or off", "address 127.0.0.1:9514, path /metrics", "Prometheus metrics and /healthz over HTTP; off disables the endpoint."},
  ConfigKey{"", "shutdown_timeout", "integer 1-300", "5", "Seconds SIGTERM may take: stop accepting, process what was received, save incidents, let the sinks deliver, exit 0 (what an output cannot take by then is counted as dropped)."},
  ConfigKey{"", "state_dir", "path", "none", "Directory for state kept across restarts: the open incidents (incidents.json), saved every minute and at stop, restored at start. The package uses /var/lib/tunneldoc."},
  ConfigKey{"", "stream", "incidents|lines|all", "incidents", "Records written to output: incidents (correlated records and every change of an incident's state), lines (each diagnosed line, plus correlated records) or all."},
  ConfigKey{"", "queue_size", "integer 16-10000000", "16384", "Records the output's queue holds while the output is slow; beyond it the oldest are dropped and counted (tunneldoc_sink_dropped_total{reason=\"queue_full\"})."},
  ConfigKey{"", "queue_bytes", "integer 65536-2^40", "67108864", "Encoded bytes an output holds in memory while it is slow (records with full remedies are 5-10 KB each, so 64 MiB is 7,000-13,000 of them); beyond it the oldest are dropped and counted like queue_size. A sink with a disk spool is capped by spool_max_bytes instead."},
  ConfigKey{"", "incidents", "map", "see INCIDENTS KEYS", "How repeats fold into incidents (see INCIDENTS KEYS)."},
  ConfigKey{"", "sinks", "list of sinks", "none", "Where else records go: files, syslog servers, Splunk HEC, Elasticsearch (see SINKS KEYS). With sinks and no \"output\", nothing goes to standard output."},
  ConfigKey{"", "language", "en|zh-TW", "en", "Language of the records' title, diagnosis and remedies: en (English) or zh-TW (Traditional Chinese). Each record says its language in \"lang\"."},
  ConfigKey{"", "user", "user name", "none", "Started as root: become this user once sockets are bound and the output and state files are open; every capability is dropped (no re-bind later: address changes need a restart). Without it a daemon started as root warns."},
  ConfigKey{"", "group", "group name", "the user's primary group", "With user: the group to become (the user's supplementary groups from /etc/group are kept)."},
  ConfigKey{"", "versions", "map", "every version", "Software versions the operator runs (see VERSIONS KEYS), e.g. {asa: \"9.16\", ios: \"15.4\"}."},

  ConfigKey{"listeners[]", "type", "udp|tcp|tls", "", "Required. The transport."},
  ConfigKey{"listeners[]", "address", "ADDR:PORT", "", "Required. Numeric address and port; [V6]:PORT for IPv6, :PORT for every address."},
  ConfigKey{"listeners[]", "allow", "list of CIDR", "everyone", "Sender networks allowed; others are counted (tunneldoc_listener_denied_total) and logged at most once a minute."},
  ConfigKey{"listeners[]", "receive_buffer", "integer 4096-1073741824", "8388608", "udp: SO_RCVBUF asked for, in bytes; a warning says when the kernel granted less (raise net.core.rmem_max)."},
  ConfigKey{"listeners[]", "max_frame", "integer 256-16777216", "65536", "Longest message in bytes; longer ones are cut and counted as oversize."},
  ConfigKey{"listeners[]", "max_connections", "integer 1-1000000", "1024", "tcp, tls: connections beyond this are closed at once and counted as refused."},
  ConfigKey{"listeners[]", "max_connections_per_host", "integer 1-1000000", "64", "tcp, tls: connections one host (an IPv4 address or an IPv6 /64) may hold; more are refused (reason=\"per_host\")."},
  ConfigKey{"listeners[]", "reserved_connections", "integer 0-1000000", "max_connections / 16", "tcp, tls: the last slots below max_connections go only to hosts with no connection open; must be below max_connections."},
  ConfigKey{"listeners[]", "max_buffered", "integer 65536-1073741824", "8388608", "tcp, tls: bytes of incomplete messages all the listener's connections may hold beyond 4 KiB each; a connection that needs more is closed and counted."},
  ConfigKey{"listeners[]", "idle_timeout", "integer 1-604800", "600", "tcp, tls: seconds of silence before a connection is closed."},
  ConfigKey{"listeners[]", "certificate", "path", "", "tls, required: PEM certificate chain."},
  ConfigKey{"listeners[]", "key", "path", "", "tls, required: PEM private key."},
  ConfigKey{"listeners[]", "ca", "path", "none", "tls: CA bundle for client certificates."},
  ConfigKey{"listeners[]", "verify_client", "boolean", "false", "tls: require a client certificate signed by ca."},
  ConfigKey{"listeners[]", "handshake_timeout", "integer 1-600", "10", "tls: seconds a TLS handshake may take."},

  ConfigKey{"files[]", "path", "path", "", "Required. The file to follow; it may appear later."},
  ConfigKey{"files[]", "from_start", "boolean", "false", "With no saved position, read what the file already holds (else start at its end)."},

  ConfigKey{"incidents", "update_interval", "integer 1-86400", "300", "Seconds between two records of an open incident while its repeats continue."},
  ConfigKey{"incidents", "quiet_timeout", "integer 1-2592000", "1800", "Seconds without a repeat after which an incident is resolved (resolution quiet)."},
  ConfigKey{"incidents", "max_tracked", "integer 16-100000000", "50000", "Keys tracked at once, (device, peer) pairs with incidents and rule states together; past it the least recently used (device, peer) is evicted with its incidents (resolved, resolution evicted) and rule state, or the least recently used block or join state, whichever kind holds more; counted in tunneldoc_correlator_evicted_total."},

  ConfigKey{"sinks[]", "url", "URL", "", "Required. file:PATH, - (standard output), syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT (RFC 6587 octet counting), syslog+tls://HOST:PORT (RFC 5425), hec+http://HOST:PORT, hec+https://HOST:PORT (Splunk HTTP Event Collector), es+http://HOST:PORT/INDEX, es+https://HOST:PORT/INDEX (Elasticsearch or OpenSearch _bulk)."},
  ConfigKey{"sinks[]", "format", "json|ecs|cef", "json (ecs for es+)", "(query) The record as the diagnosis record (json), an Elastic Common Schema document (ecs) or a CEF line (cef; not for es+)."},
  ConfigKey{"sinks[]", "stream", "incidents|lines|all", "incidents", "(query) Which records the sink takes (as the top-level stream)."},
  ConfigKey{"sinks[]", "remedies", "full|brief|none", "full for files, brief for network sinks", "(query) How much remedy text a record carries; brief: each section's title, first step and verify commands."},
  ConfigKey{"sinks[]", "name", "text", "the URL without its query", "(query) The sink's name in metrics, /healthz, logs and its spool directory."},
  ConfigKey{"sinks[]", "ca", "path", "the system's CAs", "(query) TLS: PEM CA bundle that signs the server's certificate."},
  ConfigKey{"sinks[]", "certificate", "path", "none", "(query) TLS: client certificate chain (PEM) to present."},
  ConfigKey{"sinks[]", "key", "path", "the certificate file", "(query) TLS: the client certificate's private key (PEM)."},
  ConfigKey{"sinks[]", "server_name", "name", "the URL's host", "(query) TLS: the name the server's certificate must carry (also sent as SNI)."},
  ConfigKey{"sinks[]", "verify", "boolean", "true", "(query) TLS: verify the server's certificate and name. false only for tests."},
  ConfigKey{"sinks[]", "index", "name", "the token's default", "(query) hec: the Splunk index of every event (es+ URLs name theirs in the path)."},
  ConfigKey{"sinks[]", "source", "text", "tunneldoc", "(query) hec: the events' source."},
  ConfigKey{"sinks[]", "sourcetype", "text", "tunneldoc:diagnosis", "(query) hec: the events' sourcetype."},
  ConfigKey{"sinks[]", "facility", "user|local0-local7|0-23", "user", "(query) syslog: the facility of every message."},
  ConfigKey{"sinks[]", "token", "text", "$TUNNELDOC_HEC_TOKEN", "hec, required: the HEC token (Authorization: Splunk TOKEN). Never in the URL."},
  ConfigKey{"sinks[]", "username", "text", "$TUNNELDOC_ES_USERNAME", "es: basic authentication user. Never in the URL."},
  ConfigKey{"sinks[]", "password", "text", "$TUNNELDOC_ES_PASSWORD", "es: basic authentication password. Never in the URL."},
  ConfigKey{"sinks[]", "api_key", "text", "$TUNNELDOC_ES_API_KEY", "es: the encoded API key (Authorization: ApiKey KEY), used instead of username and password. Never in the URL."},
  ConfigKey{"sinks[]", "spool", "boolean", "true for network sinks, false for files", "(query) Keep undelivered records on disk in state_dir/spool/ (replayed after a crash or restart). Without state_dir they wait in memory."},
  ConfigKey{"sinks[]", "spool_max_bytes", "integer 1048576-2^50", "1073741824", "(query) Size cap of the spool; beyond it the oldest records are dropped, counted (tunneldoc_sink_dropped_total{reason=\"spool_full\"})."},
  ConfigKey{"sinks[]", "fsync", "batch|interval|never", "batch", "(query) When the spool is flushed to the disk: after every batch appended, at most once a second, or when the kernel decides (a killed process loses nothing either way; a power failure may lose the last second or more)."},
  ConfigKey{"sinks[]", "queue_size", "integer 16-10000000", "the top-level queue_size", "(query) Records the sink's memory queue holds (and its memory spool, without a disk spool)."},
  ConfigKey{"sinks[]", "queue_bytes", "integer 65536-2^40", "the top-level queue_bytes", "(query) Encoded bytes the sink's memory spool holds (without a disk spool)."},
  ConfigKey{"sinks[]", "timeout", "integer 1-600", "10", "(query) Seconds each network step (connect, TLS handshake, write, answer) may take."},
  ConfigKey{"sinks[]", "retry_max", "integer 1-3600", "60", "(query) Longest wait, in seconds, between two attempts (the wait doubles from 0.5 s, with jitter)."},
  ConfigKey{"sinks[]", "grace", "integer 1-86400", "60", "(query) Seconds a sink may fail before /healthz answers 503 and names it."},

  ConfigKey{"metrics", "address", "ADDR:PORT", "127.0.0.1:9514", "Where the HTTP endpoint listens."},
  ConfigKey{"metrics", "path", "URL path", "/metrics", "Path of the Prometheus text exposition; /healthz is always served beside it, and the status page at / (docs/status-page.md)."},
  ConfigKey{"metrics", "allow", "list of CIDR", "everyone", "Client networks allowed to connect (metrics, status page, /healthz); others are closed at once and counted (tunneldoc_http_denied_total{reason=\"address\"})."},
  ConfigKey{"metrics", "token_file", "path", "none", "File whose first line is a bearer token every request but /healthz must carry (Authorization: Bearer TOKEN); others get 401, counted. Read at start."},

  ConfigKey{"versions", "asa", "version", "every version", "ASA (and FTD) software, e.g. \"9.16\" or \"8.2(5)\"."},
  ConfigKey{"versions", "ios", "version", "every version", "IOS or IOS XE software, e.g. \"15.4(3)M\"."},
  ConfigKey{"versions", "pix", "version", "every version", "PIX software, e.g. \"6.3\"."},
  ConfigKey{"versions", "vpn-client", "version", "every version", "Cisco VPN Client, e.g. \"5.0.07\"."},
  ConfigKey{"versions", "anyconnect", "version", "every version", "AnyConnect or Secure Client, e.g. \"4.10\"."},
  ConfigKey{"versions", "vpn3000", "version", "every version", "VPN 3000 concentrator, e.g. \"4.7\"."},
};
// clang-format on

}  // namespace

std::span<const ConfigKey> config_schema() {
  return kKeys;
}

std::span<const ConfigSection> config_sections() {
  return kSections;
}

bool is_config_key(std::string_view section, std::string_view key) {
  return std::any_of(kKeys.begin(), kKeys.end(),
                     [&](const ConfigKey& k) { return k.section == section && k.key == key; });
}

}  // namespace tunneldoc
