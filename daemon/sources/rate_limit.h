// rate_limit.h (internal) — "log this at most once per interval", for events
// that can repeat per message (denied senders, oversize frames, write errors).
// Thread-safe: one atomic. The events it suppresses are still counted by the
// caller; the next message it lets through says how many were suppressed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace tunneldoc {

class RateLimit {
 public:
  explicit RateLimit(std::chrono::seconds interval = std::chrono::seconds(60)) : interval_(interval) {}

  // True when the caller should log now; `suppressed` is how many calls
  // returned false since the last true.
  bool allow(std::uint64_t& suppressed) {
    const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    std::int64_t last = last_.load(std::memory_order_relaxed);
    const std::int64_t step = std::chrono::duration_cast<std::chrono::steady_clock::duration>(interval_).count();
    if (last != kNever && now - last < step) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (!last_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  static constexpr std::int64_t kNever = INT64_MIN;
  std::chrono::seconds interval_;
  std::atomic<std::int64_t> last_{kNever};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace tunneldoc
