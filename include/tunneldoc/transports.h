// transports.h — the network transports of the sinks stage: syslog over
// UDP, TCP and TLS; Splunk HTTP Event Collector; Elasticsearch _bulk.
//
// Each is a SinkTransport (sink.h) driven by one sink's delivery thread: it
// connects lazily, keeps its connection between batches, reconnects after
// an error, and bounds every step (resolve, connect, TLS handshake, write,
// response) by `timeout`. cancel() (any thread) aborts what is in progress.
// TLS is OpenSSL through asio::ssl: the server certificate is verified
// against `ca` (else the system's CAs) and the server name (default: the
// host of the URL), a client certificate is presented when given.
//
// Syslog frames are RFC 5424 (rfc5424() below); TCP and TLS use RFC 6587
// octet counting, UDP one datagram per record. Syslog has no acknowledgement:
// a record counts as delivered once the kernel took it, so a connection that
// breaks may lose what was in flight (HEC and _bulk are acknowledged).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tunneldoc/sink.h"

namespace tunneldoc {

struct TlsClientOptions {
  bool enabled = false;
  std::filesystem::path ca;           // PEM CA bundle; "" uses the system's
  std::filesystem::path certificate;  // client certificate chain (PEM), optional
  std::filesystem::path key;          // its private key
  std::string server_name;            // verified against the certificate; "" : the host
  bool verify = true;                 // false: accept any certificate (tests, never production)
};

struct NetTarget {
  std::string host;  // name or address (IPv6 without brackets)
  std::uint16_t port = 0;
  std::chrono::milliseconds timeout{10'000};
  TlsClientOptions tls;
};

// The SD-ID of tunneldoc's structured data (32473 is the documentation
// enterprise number of RFC 5612).
inline constexpr std::string_view kSdId = "tunneldoc@32473";

// One RFC 5424 message: <PRI>1 TIMESTAMP HOSTNAME tunneldoc PROCID MSGID
// [tunneldoc@32473 id=".." state=".." incident=".." device=".." signature=".."] MSG
// MSGID is the signature or rule id (printable ASCII, cut to 32); SD values
// escape `"`, `\` and `]` and have control characters replaced by spaces.
std::string rfc5424(const Record& r, int facility, std::string_view hostname, std::string_view procid);
// The local host name as an RFC 5424 HOSTNAME ("-" when unknown).
std::string syslog_hostname();

enum class SyslogTransport { udp, tcp, tls };
struct SyslogOptions {
  SyslogTransport transport = SyslogTransport::udp;
  NetTarget target;
  int facility = 1;                  // user
  std::size_t max_datagram = 65000;  // UDP: a longer message is rejected for good (dead-lettered)
};
// Null with `error` when the TLS files cannot be loaded.
std::unique_ptr<SinkTransport> make_syslog_transport(const SyslogOptions& options, std::string& error);

struct HecOptions {
  NetTarget target;
  std::string token;  // Authorization: Splunk <token>
  std::string index;  // "" : the token's default index
  std::string source = "tunneldoc";
  std::string sourcetype = "tunneldoc:diagnosis";
  bool json_payload = true;  // the event is the record's JSON object; false: a string (cef)
};
std::unique_ptr<SinkTransport> make_hec_transport(const HecOptions& options, std::string& error);

struct EsOptions {
  NetTarget target;
  std::string index;  // required
  std::string username, password;
  std::string api_key;  // the encoded API key; used instead of basic auth when set
};
std::unique_ptr<SinkTransport> make_es_transport(const EsOptions& options, std::string& error);

}  // namespace tunneldoc
