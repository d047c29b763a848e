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
                        "Connections closed at once: max_connections open, the host's max_connections_per_host "
                        "open, or only reserved slots left and the host already connected",
                        {{"listener", listener}, {"reason", "max_connections"}})),
      refused_per_host(m.counter("tunneldoc_listener_connections_refused_total", "",
                                 {{"listener", listener}, {"reason", "per_host"}})),
      refused_reserve(m.counter("tunneldoc_listener_connections_refused_total", "",
                                {{"listener", listener}, {"reason", "reserve"}})),
      reset(m.counter("tunneldoc_listener_connections_reset_total",
                      "Connections the peer reset, before they could be accepted or while open",
                      {{"listener", listener}})),
      buffer_overflows(m.counter("tunneldoc_listener_buffer_overflows_total",
                                 "Connections closed because the listener's max_buffered bytes were in use",
                                 {{"listener", listener}})),
      buffer_overflow_bytes(m.counter("tunneldoc_listener_buffer_overflow_bytes_total",
                                      "Bytes of incomplete messages lost with those connections",
                                      {{"listener", listener}})),
      buffered(m.gauge("tunneldoc_listener_buffered_bytes",
                       "Bytes of incomplete messages held beyond each connection's allowance",
                       {{"listener", listener}})),
      open(m.gauge("tunneldoc_listener_connections_open", "Connections open now", {{"listener", listener}})) {}

}  // namespace tunneldoc
