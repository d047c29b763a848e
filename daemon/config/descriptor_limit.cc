// descriptor_limit.cc — RLIMIT_NOFILE sized to the configuration at start.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ostream>

#include "tunneldoc/config.h"
#include "tunneldoc/metrics_server.h"

namespace tunneldoc {

std::size_t descriptors_needed(const ServeConfig& config) {
  constexpr std::size_t kMargin = 64;
  std::size_t n = kMargin + 2 * config.files.size();
  if (config.metrics) n += 1 + kMetricsMaxConnections;
  for (const ListenerConfig& l : config.listeners) {
    if (l.transport == Transport::udp) {
      n += static_cast<std::size_t>(std::max(1, config.threads));
    } else {
      n += 1 + l.max_connections;
    }
  }
  return n;
}

bool fit_descriptor_limit(const ServeConfig& config, std::ostream& err) {
  const auto need = static_cast<rlim_t>(descriptors_needed(config));
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return true;  // nothing to go on; the kernel will say
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur >= need) return true;
  if (lim.rlim_cur == RLIM_INFINITY) return true;
  rlimit want = lim;
  want.rlim_cur = need;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) want.rlim_max = need;  // only with CAP_SYS_RESOURCE
  if (::setrlimit(RLIMIT_NOFILE, &want) == 0) return true;
  const int e = errno;
  err << "tunneldoc: the listeners may hold " << need << " descriptors at once (max_connections of every "
      << "TCP/TLS listener, the UDP sockets, the metrics server and a margin), but the descriptor limit is "
      << lim.rlim_cur << " and cannot be raised past the hard limit " << lim.rlim_max << " (" << std::strerror(e)
      << "); lower max_connections, or raise the limit (ulimit -Hn, systemd LimitNOFILE=)\n";
  return false;
}

}  // namespace tunneldoc
