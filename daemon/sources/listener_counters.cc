// listener_counters.cc — the per-listener metrics every listener keeps.
#include "tunneldoc/listener.h"

namespace tunneldoc {

ListenerCounters::ListenerCounters(MetricsRegistry& m, const std::string& listener)
    : messages(m.counter("tunneldoc_listener_messages_total", "Messages received", {{"listener", listener}})),
      bytes(m.counter("tunneldoc_listener_bytes_total", "Bytes received", {{"listener", listener}})),
      malformed(m.counter("tunneldoc_listener_malformed_total",
                          "Streams that could not be framed (connection closed) or failed TLS handshakes",
                          {{"listener", listener}})),
      oversize(m.counter("tunneldoc_listener_oversize_total", "Messages cut at the maximum frame size",
                         {{"listener", listener}})),
      denied(m.counter("tunneldoc_listener_denied_total", "Datagrams or connections from senders not allowed",
                       {{"listener", listener}})),
      receive_errors(m.counter("tunneldoc_listener_receive_errors_total", "Failed receives and accepts",
                               {{"listener", listener}})),
      accepted(
          m.counter("tunneldoc_listener_connections_accepted_total", "Connections accepted", {{"listener", listener}})),
      refused(m.counter("tunneldoc_listener_connections_refused_total",
                        "Connections closed at once because max_connections were open", {{"listener", listener}})),
      open(m.gauge("tunneldoc_listener_connections_open", "Connections open now", {{"listener", listener}})) {}

}  // namespace tunneldoc
