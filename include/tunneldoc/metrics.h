// metrics.h — counters and gauges, exported as Prometheus text (format 0.0.4).
//
// A MetricsRegistry owns every metric registered with it; the references it
// hands out stay valid for the registry's lifetime, so hot paths keep a
// Counter& and bump it without locks (relaxed atomics). Registration and
// render() take an internal mutex and may be called from any thread.
// Registering the same name and labels twice returns the same metric, so a
// reloaded knowledge base keeps counting on the same per-signature counters.
// Not copyable, not movable.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace tunneldoc {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) {
    double cur = value_.load(std::memory_order_relaxed);
    while (!value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});

  // A value computed when scraped (e.g. kernel drop counters read from /proc).
  // `read` runs under the registry mutex during render(); it must not call
  // back into the registry. The callback must stay valid until remove_probes(owner).
  void probe(const std::string& name, const std::string& help, const std::string& type, const Labels& labels,
             std::function<double()> read, const void* owner = nullptr);
  void remove_probes(const void* owner);

  // Every metric, in Prometheus text exposition format.
  std::string render() const;

 private:
  struct Series {
    std::string labels;  // rendered: {a="b",c="d"} or ""
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> read;
    const void* owner = nullptr;
  };
  struct Family {
    std::string help, type;
    std::vector<Series> series;
  };
  Series& series(const std::string& name, const std::string& help, const std::string& type, const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Renders labels as {k="v",...} with Prometheus escaping.
std::string render_labels(const Labels& labels);

}  // namespace tunneldoc
