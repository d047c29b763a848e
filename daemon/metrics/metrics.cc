// metrics.cc — the registry and its Prometheus text rendering.
#include "tunneldoc/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace tunneldoc {

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first;
    out += "=\"";
    for (char c : labels[i].second) {
      if (c == '\\' || c == '"') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += '"';
  }
  out += '}';
  return out;
}

MetricsRegistry::Series& MetricsRegistry::series(const std::string& name, const std::string& help,
                                                 const std::string& type, const Labels& labels) {
  Family& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = type;
  }
  const std::string rendered = render_labels(labels);
  for (Series& s : f.series) {
    if (s.labels == rendered) return s;
  }
  f.series.push_back(Series{rendered, nullptr, nullptr, nullptr, nullptr});
  return f.series.back();
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, "counter", labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, "gauge", labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

void MetricsRegistry::probe(const std::string& name, const std::string& help, const std::string& type,
                            const Labels& labels, std::function<double()> read, const void* owner) {
  std::lock_guard lock(mutex_);
  Series& s = series(name, help, type, labels);
  s.read = std::move(read);
  s.owner = owner;
}

void MetricsRegistry::remove_probes(const void* owner) {
  std::lock_guard lock(mutex_);
  for (auto& [name, f] : families_) {
    for (Series& s : f.series) {
      if (s.read && s.owner == owner) s.read = nullptr;
    }
  }
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out.reserve(16 * 1024);
  for (const auto& [name, f] : families_) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const Series& s : f.series) {
      if (s.counter) {
        fmt::format_to(std::back_inserter(out), "{}{} {}\n", name, s.labels, s.counter->value());
      } else if (s.gauge) {
        fmt::format_to(std::back_inserter(out), "{}{} {}\n", name, s.labels, s.gauge->value());
      } else if (s.read) {
        const double v = s.read();
        if (std::isfinite(v)) fmt::format_to(std::back_inserter(out), "{}{} {}\n", name, s.labels, v);
      }
    }
  }
  return out;
}

}  // namespace tunneldoc
