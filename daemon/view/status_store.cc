// status_store.cc — the bounded picture behind the status page and reports.
#include <algorithm>
#include <atomic>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tunneldoc/text_map.h"
#include "tunneldoc/view.h"

namespace tunneldoc {

ViewOptions report_view_options() {
  ViewOptions o;
  o.max_devices = 10'000;
  o.max_peers = 10'000;
  o.max_open = 200'000;
  o.max_resolved = 200'000;
  o.max_buckets = 2'000;
  o.window_ms = 0;
  o.recovered_ms = std::int64_t{1} << 62;  // a report: resolved means recovered
  o.stale_ms = 0;
  return o;
}

std::string_view to_string(PeerState s) {
  switch (s) {
    case PeerState::ok:
      return "ok";
    case PeerState::failing:
      return "failing";
    case PeerState::recovered:
      return "recovered";
  }
  return "ok";
}

namespace {

struct Peer {
  std::size_t open = 0;
  std::uint64_t diagnoses = 0;
  std::int64_t last_ms = 0;  // last diagnosis or incident record
  std::int64_t resolved_ms = 0;
  Resolution resolution = Resolution::none;
};

// Diagnoses per time bucket, oldest first. Appends are at the end in the
// common case (time moves forward); older times are inserted in place.
struct Histogram {
  std::int64_t step = 60'000;
  std::vector<std::pair<std::int64_t, std::uint32_t>> buckets;

  void add(std::int64_t at) {
    const std::int64_t start = at - ((at % step) + step) % step;
    if (buckets.empty() || buckets.back().first < start) {
      buckets.emplace_back(start, 1);
      return;
    }
    if (buckets.back().first == start) {
      ++buckets.back().second;
      return;
    }
    auto it = std::lower_bound(buckets.begin(), buckets.end(), start,
                               [](const auto& b, std::int64_t s) { return b.first < s; });
    if (it != buckets.end() && it->first == start) {
      ++it->second;
    } else {
      buckets.insert(it, {start, 1});
    }
  }
  // Twice the step: neighbouring buckets merge.
  void coarsen() {
    step *= 2;
    std::vector<std::pair<std::int64_t, std::uint32_t>> merged;
    for (const auto& [start, n] : buckets) {
      const std::int64_t s = start - ((start % step) + step) % step;
      if (!merged.empty() && merged.back().first == s) {
        merged.back().second += n;
      } else {
        merged.emplace_back(s, n);
      }
    }
    buckets = std::move(merged);
  }
  void prune_before(std::int64_t t) {
    auto it = std::lower_bound(buckets.begin(), buckets.end(), t - step + 1,
                               [](const auto& b, std::int64_t s) { return b.first < s; });
    buckets.erase(buckets.begin(), it);
  }
};

struct Device {
  TextMap<Peer> peers;
  Histogram ticks;
  std::uint64_t diagnoses = 0;
  std::int64_t last_seen_ms = 0;
  std::list<std::string>::iterator lru;  // in Impl::device_lru
};

struct Incident {
  OutputPtr latest;
  bool open = true;
  std::int64_t updated_ms = 0;          // the store's clock when its last record came
  std::list<std::string>::iterator at;  // in open_lru or resolved_order
};

}  // namespace

struct StatusStore::Impl {
  explicit Impl(ViewOptions o, MetricsRegistry* metrics) : options(std::move(o)) {
    if (metrics != nullptr) {
      const std::string help = "What the status page forgot to stay within its bounds, by reason";
      for (const char* reason : {"device", "peer", "open", "resolved", "stale", "bucket"})
        forgotten_counters.push_back(&metrics->counter("tunneldoc_view_forgotten_total", help, {{"reason", reason}}));
      open_gauge = &metrics->gauge("tunneldoc_view_open_incidents", "Open incidents the status page shows");
      devices_gauge = &metrics->gauge("tunneldoc_view_devices", "Devices the status page shows");
    }
  }

  enum Reason { kDevice, kPeer, kOpen, kResolved, kStale, kBucket };
  void forgot(Reason r, std::uint64_t n = 1) {
    std::uint64_t* fields[] = {&counts.forgotten_devices,  &counts.forgotten_peers, &counts.forgotten_open,
                               &counts.forgotten_resolved, &counts.forgotten_stale, &counts.merged_buckets};
    *fields[r] += n;
    if (!forgotten_counters.empty()) forgotten_counters[r]->inc(n);
  }

  void advance(std::int64_t t) {
    if (t > now) now = t;
    if (since == 0 && t > 0) since = t;
  }

  Device& device(std::string_view name) {
    auto it = devices.find(name);
    if (it != devices.end()) {
      device_lru.splice(device_lru.end(), device_lru, it->second.lru);
      return it->second;
    }
    if (devices.size() >= options.max_devices && !device_lru.empty()) {
      devices.erase(device_lru.front());
      device_lru.pop_front();
      forgot(kDevice);
    }
    Device& d = devices.try_emplace(std::string(name)).first->second;
    d.ticks.step = options.bucket_ms;
    d.lru = device_lru.insert(device_lru.end(), std::string(name));
    return d;
  }

  Peer& peer(Device& d, std::string_view name) {
    auto it = d.peers.find(name);
    if (it != d.peers.end()) return it->second;
    if (d.peers.size() >= options.max_peers) {
      // The quietest peer with nothing open goes first; if all have, the quietest.
      auto victim = d.peers.end();
      for (auto p = d.peers.begin(); p != d.peers.end(); ++p) {
        const bool better =
            victim == d.peers.end() || (p->second.open == 0 && victim->second.open != 0) ||
            ((p->second.open == 0) == (victim->second.open == 0) && p->second.last_ms < victim->second.last_ms);
        if (better) victim = p;
      }
      d.peers.erase(victim);
      forgot(kPeer);
    }
    return d.peers.try_emplace(std::string(name)).first->second;
  }

  // The open-incident count of a peer, if its device and the peer are still known.
  void closed(const IncidentInfo& info) {
    auto d = devices.find(info.device);
    if (d == devices.end()) return;
    auto p = d->second.peers.find(info.peer);
    if (p != d->second.peers.end() && p->second.open > 0) --p->second.open;
  }

  void tick_of(const Output& o) {
    const Event& e = *o.subject;
    Device& d = device(e.device());
    d.last_seen_ms = std::max(d.last_seen_ms, o.at_ms);
    ++d.diagnoses;
    d.ticks.add(o.at_ms);
    while (d.ticks.buckets.size() > options.max_buckets) {
      if (options.window_ms > 0) {
        d.ticks.buckets.erase(d.ticks.buckets.begin());
      } else {
        d.ticks.coarsen();
      }
      forgot(kBucket);
    }
    Peer& p = peer(d, e.peer());
    ++p.diagnoses;
    p.last_ms = std::max(p.last_ms, o.at_ms);
    ++counts.diagnoses;
  }

  void incident_of(OutputPtr o) {
    const IncidentInfo& info = *o->incident;
    Device& d = device(info.device);
    d.last_seen_ms = std::max(d.last_seen_ms, o->at_ms);
    Peer& p = peer(d, info.peer);
    p.last_ms = std::max(p.last_ms, o->at_ms);
    auto [it, inserted] = incidents.try_emplace(info.id);
    Incident& inc = it->second;
    if (inserted) {
      ++counts.incidents;
      inc.open = false;
      inc.at = resolved_order.end();
    }
    const bool was_open = !inserted && inc.open;
    if (!inserted && !inc.open) resolved_order.erase(inc.at);
    if (was_open) open_lru.erase(inc.at);
    inc.latest = std::move(o);
    inc.updated_ms = now;
    if (info.state == IncidentState::resolved) {
      inc.open = false;
      inc.at = resolved_order.insert(resolved_order.end(), info.id);
      if (was_open && p.open > 0) --p.open;
      p.resolved_ms = std::max(p.resolved_ms, inc.latest->at_ms);
      p.resolution = info.resolution;
      if (resolved_order.size() > options.max_resolved) {
        incidents.erase(resolved_order.front());
        resolved_order.pop_front();
        forgot(kResolved);
      }
      next_recovery = std::min(next_recovery, p.resolved_ms + options.recovered_ms);
    } else {
      inc.open = true;
      inc.at = open_lru.insert(open_lru.end(), info.id);
      if (!was_open) ++p.open;
      if (open_lru.size() > options.max_open) forget_open(kOpen);
    }
  }

  void forget_open(Reason why) {
    auto it = incidents.find(open_lru.front());
    closed(*it->second.latest->incident);
    incidents.erase(it);
    open_lru.pop_front();
    forgot(why);
  }

  void changed() {
    version.fetch_add(1, std::memory_order_relaxed);
    if (open_gauge != nullptr) open_gauge->set(static_cast<double>(open_lru.size()));
    if (devices_gauge != nullptr) devices_gauge->set(static_cast<double>(devices.size()));
  }

  ViewOptions options;
  std::vector<Counter*> forgotten_counters;
  Gauge* open_gauge = nullptr;
  Gauge* devices_gauge = nullptr;
  std::atomic<std::uint64_t> version{1};

  mutable std::mutex mutex;
  // Guarded by mutex:
  std::int64_t now = 0, since = 0;
  std::int64_t next_recovery = INT64_MAX;  // the earliest time a recovered peer turns ok
  std::int64_t last_slide = 0;             // the last time the timeline window moved the page
  TextMap<Device> devices;
  std::list<std::string> device_lru;  // least recently seen first
  std::unordered_map<std::string, Incident> incidents;
  std::list<std::string> open_lru;        // least recently updated first
  std::list<std::string> resolved_order;  // oldest resolution first
  ViewCounts counts;
};

StatusStore::StatusStore(ViewOptions options, MetricsRegistry* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), metrics)) {}
StatusStore::~StatusStore() = default;

const ViewOptions& StatusStore::options() const {
  return impl_->options;
}

std::uint64_t StatusStore::version() const {
  return impl_->version.load(std::memory_order_relaxed);
}

void StatusStore::apply(const Output& record) {
  if (record.kind == OutputKind::incident) {
    apply(std::make_shared<const Output>(record));
    return;
  }
  if (!record.subject) return;
  std::lock_guard lock(impl_->mutex);
  impl_->advance(record.at_ms);
  impl_->tick_of(record);
  impl_->changed();
}

void StatusStore::apply(const OutputPtr& record) {
  if (!record || !record->subject) return;
  if (record->kind != OutputKind::incident || !record->incident) {
    apply(*record);
    return;
  }
  std::lock_guard lock(impl_->mutex);
  impl_->advance(record->at_ms);
  impl_->incident_of(record);
  impl_->changed();
}

void StatusStore::tick(std::int64_t now_ms) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mutex);
  m.advance(now_ms);
  bool change = false;
  if (m.options.stale_ms > 0) {
    while (!m.open_lru.empty() && m.now - m.incidents.at(m.open_lru.front()).updated_ms > m.options.stale_ms) {
      m.forget_open(Impl::kStale);
      change = true;
    }
  }
  if (m.options.window_ms > 0) {
    for (auto& [name, d] : m.devices) {
      const std::size_t before = d.ticks.buckets.size();
      d.ticks.prune_before(m.now - m.options.window_ms);
      change = change || d.ticks.buckets.size() != before;
    }
    // The timeline is drawn against the clock: move it at least once a minute.
    if (m.now - m.last_slide >= 60'000 && !m.devices.empty()) {
      m.last_slide = m.now;
      change = true;
    }
  }
  if (m.now >= m.next_recovery) {
    change = true;
    m.next_recovery = INT64_MAX;
    for (const auto& [name, d] : m.devices) {
      for (const auto& [pn, p] : d.peers) {
        const std::int64_t until = p.resolved_ms + m.options.recovered_ms;
        if (p.open == 0 && p.resolved_ms != 0 && until > m.now) m.next_recovery = std::min(m.next_recovery, until);
      }
    }
  }
  if (change) m.changed();
}

std::shared_ptr<const ViewSnapshot> StatusStore::snapshot() const {
  const Impl& m = *impl_;
  auto s = std::make_shared<ViewSnapshot>();
  std::lock_guard lock(m.mutex);
  s->version = m.version.load(std::memory_order_relaxed);
  s->now_ms = m.now;
  s->since_ms = m.since;
  s->window_ms = m.options.window_ms;
  s->counts = m.counts;
  s->devices.reserve(m.devices.size());
  for (const auto& [name, d] : m.devices) {
    DeviceView v;
    v.name = name;
    v.diagnoses = d.diagnoses;
    v.last_seen_ms = d.last_seen_ms;
    v.bucket_ms = d.ticks.step;
    v.buckets = d.ticks.buckets;
    v.peers.reserve(d.peers.size());
    for (const auto& [pn, p] : d.peers) {
      PeerView pv;
      pv.name = pn;
      pv.open = p.open;
      pv.diagnoses = p.diagnoses;
      pv.last_diagnosis_ms = p.last_ms;
      pv.resolved_ms = p.resolved_ms;
      pv.resolution = p.resolution;
      pv.state = p.open > 0                                                               ? PeerState::failing
                 : (p.resolved_ms != 0 && m.now - p.resolved_ms < m.options.recovered_ms) ? PeerState::recovered
                                                                                          : PeerState::ok;
      v.peers.push_back(std::move(pv));
    }
    std::sort(v.peers.begin(), v.peers.end(), [](const PeerView& a, const PeerView& b) {
      auto rank = [](PeerState st) { return st == PeerState::failing ? 0 : st == PeerState::recovered ? 1 : 2; };
      return rank(a.state) != rank(b.state) ? rank(a.state) < rank(b.state) : a.name < b.name;
    });
    s->devices.push_back(std::move(v));
  }
  std::sort(s->devices.begin(), s->devices.end(),
            [](const DeviceView& a, const DeviceView& b) { return a.name < b.name; });
  s->open.reserve(m.open_lru.size());
  for (const std::string& id : m.open_lru) s->open.push_back(m.incidents.at(id).latest);
  std::stable_sort(s->open.begin(), s->open.end(), [](const OutputPtr& a, const OutputPtr& b) {
    return a->incident->first_seen_ms < b->incident->first_seen_ms;
  });
  s->resolved.reserve(m.resolved_order.size());
  for (auto it = m.resolved_order.rbegin(); it != m.resolved_order.rend(); ++it)
    s->resolved.push_back(m.incidents.at(*it).latest);
  return s;
}

}  // namespace tunneldoc
