// listener.h — network sources: UDP, TCP and TLS syslog receivers (Boost.Asio).
//
// Life cycle, in rsyslog's phases: make_*_listener() opens and binds its
// sockets (the bind phase; nothing is received yet), start() begins receiving
// on the io_context's threads, stop() stops accepting, processes what was
// already received (datagrams queued in the kernel, bytes buffered on open
// connections) and closes everything.
//
// Every message goes to Pipeline::process(). Counters live in the
// MetricsRegistry under tunneldoc_listener_*{listener="udp:ADDR:PORT"}.
// Nothing is dropped silently: oversize, malformed, denied senders, refused
// connections and receive errors are counted; the ones an operator must hear
// about are logged, rate-limited.
//
// Reload: reconfigure() prepares new settings for the same transport and
// address and returns the function that puts them in service, or an empty
// function (with `error`, nothing changed) when they cannot be used: a TLS
// certificate, key or CA file that does not load. Put in service: the
// allowlist and max_frame for the next datagram or connection; UDP:
// receive_buffer; TCP/TLS: max_connections, the per-host limit and reserve,
// max_buffered, idle_timeout, handshake_timeout and the TLS certificate, key,
// CA and verify_client for connections accepted afterwards (an open
// connection keeps the settings it was accepted with). Address and transport
// changes need a new listener (a restart).
//
// Thread safety: start() and stop() may be called from any thread, once
// each; reconfigure() and the function it returns from any thread; handlers run on the io_context's threads and never
// throw. The io_context, Pipeline and MetricsRegistry must outlive the listener, and the io_context must not be
// destroyed while handlers are pending.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tunneldoc/config.h"
#include "tunneldoc/metrics.h"
#include "tunneldoc/pipeline.h"

namespace boost::asio {
class io_context;
}

namespace tunneldoc {

class Listener {
 public:
  virtual ~Listener() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // "udp:127.0.0.1:5514", with the port actually bound (ephemeral ports resolved).
  virtual std::string name() const = 0;
  virtual Endpoint local_endpoint() const = 0;
  virtual Transport transport() const = 0;
  virtual std::function<void()> reconfigure(const ListenerConfig& next, std::string& error) = 0;
};

// `sockets`: the number of SO_REUSEPORT sockets to open on the port, each with
// its own receive loop (one per I/O thread is right). Null with `error` set on failure.
std::unique_ptr<Listener> make_udp_listener(boost::asio::io_context& io, const ListenerConfig& config, int sockets,
                                            Pipeline& pipeline, MetricsRegistry& metrics, std::string& error);

// TCP or TLS (config.transport), RFC 6587 framing on both.
std::unique_ptr<Listener> make_stream_listener(boost::asio::io_context& io, const ListenerConfig& config,
                                               Pipeline& pipeline, MetricsRegistry& metrics, std::string& error);

// Per-listener counters, shared by the implementations.
struct ListenerCounters {
  ListenerCounters(MetricsRegistry& m, const std::string& listener);
  Counter& messages;
  Counter& bytes;
  Counter& malformed;
  Counter& oversize;
  Counter& denied;
  Counter& receive_errors;
  Counter& accepted;
  Counter& refused;           // reason="max_connections"
  Counter& refused_per_host;  // reason="per_host"
  Counter& refused_reserve;   // reason="reserve"
  Counter& reset;             // the peer reset the connection (before or after it was accepted)
  Counter& buffer_overflows;  // connections closed because max_buffered was reached
  Counter& buffer_overflow_bytes;
  Gauge& buffered;  // bytes of incomplete messages charged against max_buffered
  Gauge& open;
};

}  // namespace tunneldoc
