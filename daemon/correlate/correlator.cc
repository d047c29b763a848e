// correlator.cc — incidents and correlation rules (see correlator.h).
#include "tunneldoc/correlator.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "correlate/fifo.h"
#include "correlate/lru_map.h"
#include "tunneldoc/text_map.h"

namespace tunneldoc {
namespace {

using EventPtr = std::shared_ptr<const Event>;
using FieldList = std::vector<std::pair<std::string, std::string>>;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::min();
constexpr std::size_t kShards = 16;
constexpr std::size_t kMaxDuplicateKeys = 4096;          // per block rule and stream
constexpr std::int64_t kDefaultStreamWindowMs = 10'000;  // block/join span when lines carry no numbers

int rank(Confidence c) {
  switch (c) {
    case Confidence::high:
      return 2;
    case Confidence::medium:
      return 1;
    case Confidence::low:
      return 0;
  }
  return 0;
}

std::int64_t ms(double seconds) {
  return static_cast<std::int64_t>(seconds * 1000);
}

// "a\x1fb\x1fc": keys never contain the unit separator in practice, and a
// collision would only merge two keys' state.
std::string key_of(std::initializer_list<std::string_view> parts) {
  std::string k;
  for (std::string_view p : parts) {
    if (!k.empty()) k += '\x1f';
    k.append(p);
  }
  return k;
}

// The key of a device and peer's incidents: the device's length, the device,
// the peer. Unambiguous (a device or peer may hold any byte), and the
// incidents' records take their device and peer back from it (peer_key_parts).
std::string peer_key(std::string_view device, std::string_view peer) {
  const auto n = static_cast<std::uint32_t>(device.size());
  std::string k(sizeof n, '\0');
  std::memcpy(k.data(), &n, sizeof n);  // host byte order: keys never leave the process
  k.append(device);
  k.append(peer);
  return k;
}

std::pair<std::string_view, std::string_view> peer_key_parts(std::string_view key) {
  std::uint32_t n = 0;
  std::memcpy(&n, key.data(), sizeof n);
  key.remove_prefix(sizeof n);
  return {key.substr(0, n), key.substr(n)};
}

std::uint64_t fnv(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Where a signature takes part in a rule.
struct Hook {
  const Rule* rule = nullptr;
  std::uint64_t steps = 0;  // sequence: bit i set when it is any of step i
  bool match = false, start = false, member = false, absent = false;
};

// A knowledge base's rules, indexed by the signatures they listen to.
struct Compiled {
  std::shared_ptr<const KnowledgeBase> kb;
  std::unordered_map<std::string, std::vector<Hook>> hooks;
  std::unordered_map<std::string, std::vector<std::string>> groups;
  std::unordered_map<std::string, Counter*> fired;  // per rule id

  Compiled(std::shared_ptr<const KnowledgeBase> k, MetricsRegistry& metrics) : kb(std::move(k)) {
    for (const auto& [name, slugs] : kb->incident_groups()) groups[name] = slugs;
    for (const Rule& r : kb->rules()) {
      fired[r.id] = &metrics.counter("tunneldoc_correlated_records_total", "Correlation rules that fired, per rule",
                                     {{"rule", r.id}});
      auto hook = [&](const std::string& sig) -> Hook& {
        auto& list = hooks[sig];
        for (Hook& h : list)
          if (h.rule == &r) return h;
        list.push_back(Hook{&r});
        return list.back();
      };
      for (std::size_t i = 0; i < r.steps.size() && i < 64; ++i)
        for (const auto& sig : r.steps[i]) hook(sig).steps |= std::uint64_t{1} << i;
      for (const auto& sig : r.match) hook(sig).match = true;
      for (const auto& sig : r.absent) hook(sig).absent = true;
      for (const auto& sig : r.start) hook(sig).start = true;
      for (const auto& sig : r.members) hook(sig).member = true;
    }
  }

  const std::vector<Hook>* hooks_of(std::string_view sig) const {
    auto it = hooks.find(std::string(sig));
    return it == hooks.end() ? nullptr : &it->second;
  }

  // Does a clearing signature with `clears` resolve incidents of `cls`?
  bool clears(const std::vector<std::string>& names, std::string_view cls) const {
    for (const auto& n : names) {
      if (n == "all" || n == cls) return true;
      auto g = groups.find(n);
      if (g != groups.end() && std::find(g->second.begin(), g->second.end(), cls) != g->second.end()) return true;
    }
    return false;
  }
};

// Rule state per key. Sequence state is inline; what only threshold,
// period, block and join rules use lives in `extra`, made on first use, so
// that the common case (a sequence waiting for its next step, one per
// device and peer) stays small.
struct RuleState {
  struct Extra {
    // threshold, period
    Fifo<std::int64_t> times;
    Fifo<EventPtr> recent;
    // block, join
    EventPtr start;
    std::int64_t start_ms = 0;
    std::vector<EventPtr> members;
    FieldList fields;
    Fifo<std::string> seen;  // block: duplicate keys seen in this stream
  };
  std::int64_t expires_ms = 0;  // forgotten by tick() after this
  std::int64_t suppressed_until = kNever;
  // sequence
  std::int64_t due_ms = 0;  // with `absent`: fires at this time unless cancelled
  std::int64_t started_ms = 0;
  std::uint32_t next = 0;
  bool fired = false;  // block
  std::vector<EventPtr> got;
  std::unique_ptr<Extra> extra_;

  Extra& extra() {
    if (!extra_) extra_ = std::make_unique<Extra>();
    return *extra_;
  }
  const EventPtr& start() const {
    static const EventPtr none;
    return extra_ ? extra_->start : none;
  }
};

// One open incident, kept small: a flood of distinct peers holds tens of
// thousands of them. Its device and peer are in its key; its class
// and entry are interned (Impl::intern), its id is a number shown as 16 hex
// digits. incident_output() makes the full IncidentInfo of a record.
struct Incident {
  std::uint64_t id = 0;
  const std::string* incident_class = nullptr;
  const std::string* entry = nullptr;  // signature or rule id
  std::int64_t first_seen_ms = 0, last_seen_ms = 0;
  Confidence confidence = Confidence::low;
  bool correlated = false;  // the entry is a correlation rule
  std::shared_ptr<const KnowledgeBase> kb;
  EventPtr subject, first;
  Fifo<EventPtr> tail;
  FieldList fields;
  std::uint64_t count = 0, count_at_emit = 0;
  std::int64_t last_emitted_ms = 0;
};

// The state of one rule keyed by device and peer (sequence, threshold, period).
struct DeviceRuleState {
  const std::string* rule = nullptr;  // its id, interned
  RuleState state;
};

// Everything tracked for one device and peer: its open incidents and the
// state of its rules keyed by device and peer, in one map entry (one key
// string, one node, one hash entry; a flood of distinct peers holds tens of
// thousands of them).
struct PeerState {  // key: peer_key(device, peer)
  std::vector<Incident> incidents;
  std::vector<DeviceRuleState> rules;
  // What it counts against max_tracked: the (device, peer) pair while it has
  // incidents, and each rule state.
  std::size_t keys() const { return (incidents.empty() ? 0 : 1) + rules.size(); }
};

struct Shard {
  explicit Shard(std::size_t c) : cap(c), peers(c), streams(c) {}
  const std::size_t cap;  // tracked keys: peer_keys and streams together
  mutable std::mutex mutex;
  LruMap<PeerState> peers;    // key: peer_key(device, peer)
  LruMap<RuleState> streams;  // key: rule, stream (block and join rules)
  std::size_t peer_keys = 0;  // the sum of peers' keys()
  std::size_t keys() const { return peer_keys + streams.size(); }
};

// What folds into an incident: a line diagnosis or a correlated record.
struct Diagnosed {
  std::string entry;
  std::string_view incident_class;
  Confidence confidence = Confidence::medium;
  std::string device, peer;
  EventPtr subject;
  std::vector<EventPtr> evidence;
  FieldList fields;
  std::int64_t at = 0;
  bool counts = true;  // a line diagnosis; a correlated record only refines the incident
  bool correlated = false;
};

std::uint64_t incident_id(std::string_view device, std::string_view peer, std::string_view cls, std::int64_t first) {
  std::uint64_t h = fnv(device);
  h = fnv("\x1f", h);
  h = fnv(peer, h);
  h = fnv("\x1f", h);
  h = fnv(cls, h);
  return fnv(std::to_string(first), h);
}

// How an incident id is written: 16 hex digits.
std::string id_text(std::uint64_t id) {
  return fmt::format("{:016x}", id);
}

// The id of a state file's incident, as id_text() wrote it.
std::uint64_t id_from(const std::string& text) {
  std::uint64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id, 16);
  if (ec != std::errc() || end != text.data() + text.size() || text.size() != 16)
    throw std::runtime_error("incident id '" + text + "' is not 16 hex digits");
  return id;
}

bool holds(const FieldCondition& c, const FieldList& fields) {
  for (const auto& [name, value] : fields) {
    if (name != c.field) continue;
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str()) return false;
    if (c.op == "==") return v == c.value;
    if (c.op == "!=") return v != c.value;
    if (c.op == ">") return v > c.value;
    if (c.op == ">=") return v >= c.value;
    if (c.op == "<") return v < c.value;
    if (c.op == "<=") return v <= c.value;
  }
  return false;
}

void set_field(FieldList& fields, std::string_view name, std::string_view value) {
  for (auto& [n, v] : fields) {
    if (n == name) {
      v = std::string(value);
      return;
    }
  }
  fields.emplace_back(name, value);
}

std::string_view field_of(const FieldList& fields, std::string_view name) {
  for (const auto& [n, v] : fields)
    if (n == name) return v;
  return {};
}

// ------------------------------------------------------------ persistence

nlohmann::json time_json(const EventTime& t) {
  return {t.year, t.month, t.day, t.hour, t.minute, t.second, t.millis, t.has_offset, t.offset_minutes};
}

EventTime time_from(const nlohmann::json& j) {
  EventTime t;
  if (!j.is_array() || j.size() != 9) return t;
  t.year = j[0];
  t.month = j[1];
  t.day = j[2];
  t.hour = j[3];
  t.minute = j[4];
  t.second = j[5];
  t.millis = j[6];
  t.has_offset = j[7];
  t.offset_minutes = j[8];
  return t;
}

nlohmann::json event_json(const Event& e) {
  nlohmann::json fields = nlohmann::json::array();
  e.for_each_field([&](std::string_view n, std::string_view v) { fields.push_back({n, v}); });
  return {{"signature", e.signature()},   {"class", e.incident_class()},
          {"role", to_string(e.role)},    {"confidence", to_string(e.confidence)},
          {"device", e.device()},         {"peer", e.peer()},
          {"stream", e.stream()},         {"line_number", e.line_number},
          {"message_id", e.message_id()}, {"line", e.line()},
          {"time", time_json(e.time)},    {"severity", e.severity},
          {"truncated", e.truncated},     {"at_ms", e.at_ms},
          {"received_ms", e.received_ms}, {"fields", fields}};
}

Confidence confidence_from(const std::string& s) {
  return s == "high" ? Confidence::high : s == "low" ? Confidence::low : Confidence::medium;
}

EventPtr event_from(const nlohmann::json& j) {
  auto e = std::make_shared<Event>();
  e->set_signature(j.at("signature").get<std::string>(), j.at("class").get<std::string>());
  const std::string role = j.at("role");
  e->role = role == "clear" ? Role::clear : role == "observe" ? Role::observe : Role::diagnosis;
  e->confidence = confidence_from(j.at("confidence"));
  e->set_device(j.at("device").get<std::string>());
  e->set_peer(j.at("peer").get<std::string>());
  e->set_stream(j.at("stream").get<std::string>());
  e->line_number = j.at("line_number");
  e->set_message_id(j.at("message_id").get<std::string>());
  e->set_line(j.at("line").get<std::string>());
  e->time = time_from(j.at("time"));
  e->severity = j.at("severity");
  e->truncated = j.at("truncated");
  e->at_ms = j.at("at_ms");
  e->received_ms = j.at("received_ms");
  FieldList fields;
  for (const auto& f : j.at("fields")) fields.emplace_back(f.at(0).get<std::string>(), f.at(1).get<std::string>());
  e->set_fields(fields);
  return e;
}

}  // namespace

// ================================================================== Impl

struct Correlator::Impl {
  Impl(std::shared_ptr<const KnowledgeBase> kb, CorrelatorOptions o, MetricsRegistry& m)
      : options(o),
        metrics(m),
        open_gauge(m.gauge("tunneldoc_incidents_open", "Incidents open now")),
        opened(
            m.counter("tunneldoc_incident_records_total", "Incident records emitted, per state", {{"state", "open"}})),
        updated(m.counter("tunneldoc_incident_records_total", "Incident records emitted, per state",
                          {{"state", "update"}})),
        resolved(m.counter("tunneldoc_incident_records_total", "Incident records emitted, per state",
                           {{"state", "resolved"}})),
        evicted_incidents(m.counter("tunneldoc_correlator_evicted_total",
                                    "Tracked keys forgotten to stay within max_tracked", {{"what", "incidents"}})),
        evicted_rules(m.counter("tunneldoc_correlator_evicted_total",
                                "Tracked keys forgotten to stay within max_tracked", {{"what", "rule_state"}})),
        compiled(std::make_shared<const Compiled>(std::move(kb), m)) {
    const std::size_t per_shard = std::max<std::size_t>(1, (options.max_tracked + kShards - 1) / kShards);
    for (auto& s : shards) s = std::make_unique<Shard>(per_shard);
  }

  CorrelatorOptions options;
  MetricsRegistry& metrics;
  Gauge& open_gauge;
  Counter &opened, &updated, &resolved, &evicted_incidents, &evicted_rules;
  mutable std::mutex compiled_mutex;
  std::shared_ptr<const Compiled> compiled;  // guarded by compiled_mutex
  std::array<std::unique_ptr<Shard>, kShards> shards;
  std::atomic<std::int64_t> now_ms{0};
  std::atomic<std::int64_t> last_tick_ms{0};
  // Incident classes and entry ids, one copy each. They come from knowledge
  // bases and state files, so there are few; the pool only grows (a reload
  // that renames ids adds the new names), and its strings never move.
  std::mutex intern_mutex;  // taken last, under a shard's mutex
  std::unordered_set<std::string, TextHash, std::equal_to<>> interned;

  const std::string* intern(std::string_view s) {
    std::lock_guard lock(intern_mutex);
    auto it = interned.find(s);
    if (it == interned.end()) it = interned.emplace(s).first;
    return &*it;
  }

  std::shared_ptr<const Compiled> current() const {
    std::lock_guard lock(compiled_mutex);
    return compiled;
  }
  Shard& shard_of(std::string_view key) { return *shards[fnv(key) % kShards]; }

  void advance(std::int64_t t) {
    std::int64_t cur = now_ms.load(std::memory_order_relaxed);
    while (t > cur && !now_ms.compare_exchange_weak(cur, t, std::memory_order_relaxed)) {
    }
  }

  // ---------------------------------------------------------- incidents

  // The record of an incident's state, as a change of state (incident_output)
  // and a snapshot show it; counts nothing.
  static std::shared_ptr<Output> incident_record(std::string_view key, const Incident& inc, IncidentState state,
                                                 Resolution res, std::int64_t at, const EventPtr& clearing = nullptr) {
    auto out = std::make_shared<Output>();
    out->kind = OutputKind::incident;
    out->entry = *inc.entry;
    out->kb = inc.kb;
    out->subject = inc.subject;
    out->evidence.push_back(inc.first);
    for (const EventPtr& e : inc.tail)
      if (e != inc.first) out->evidence.push_back(e);
    if (clearing) out->evidence.push_back(clearing);
    out->fields = inc.fields;
    out->count = inc.count;
    out->at_ms = at;
    out->incident = info_of(key, inc);
    out->incident->state = state;
    out->incident->resolution = res;
    return out;
  }

  // A change of state of an incident: its record, counted.
  OutputPtr incident_output(std::string_view key, const Incident& inc, IncidentState state, Resolution res,
                            std::int64_t at, const EventPtr& clearing = nullptr) {
    switch (state) {
      case IncidentState::open:
        opened.inc();
        open_gauge.add(1);
        break;
      case IncidentState::update:
        updated.inc();
        break;
      case IncidentState::resolved:
        resolved.inc();
        open_gauge.add(-1);
        break;
    }
    return incident_record(key, inc, state, res, at, clearing);
  }

  static IncidentInfo info_of(std::string_view key, const Incident& inc) {
    IncidentInfo info;
    const auto [device, peer] = peer_key_parts(key);
    info.id = id_text(inc.id);
    info.device = device;
    info.peer = peer;
    info.incident_class = *inc.incident_class;
    info.first_seen_ms = inc.first_seen_ms;
    info.last_seen_ms = inc.last_seen_ms;
    return info;
  }

  // A (device, peer) forgotten: its incidents resolve as evicted, its rule
  // state is dropped, both counted.
  void evict_peer(Shard& shard, const LruMap<PeerState>::Entry& e, std::vector<OutputPtr>& out) {
    for (const Incident& inc : e.second.incidents) {
      evicted_incidents.inc();
      out.push_back(incident_output(e.first, inc, IncidentState::resolved, Resolution::evicted, now_ms.load()));
    }
    evicted_rules.inc(e.second.rules.size());
    shard.peer_keys -= e.second.keys();
  }

  // One budget for every key a shard tracks, incidents and rule state
  // together: a new key past it first evicts the least recently used
  // (device, peer) (its incidents and rule state together) or the least
  // recently used stream rule state, whichever kind holds more, so that
  // neither starves the other. `keep` (the entry about to grow) is never
  // evicted: a budget smaller than one peer's keys lets that peer through.
  void make_room(Shard& shard, const std::string* keep, std::vector<OutputPtr>& out) {
    while (shard.keys() >= shard.cap) {
      const std::string* oldest = shard.peers.oldest();
      const bool peer_evictable = oldest != nullptr && (keep == nullptr || *oldest != *keep);
      const bool stream_evictable = shard.streams.size() > 0;
      if (!stream_evictable && !peer_evictable) return;
      if (stream_evictable && (shard.streams.size() > shard.peer_keys || !peer_evictable)) {
        shard.streams.pop_oldest([&](const LruMap<RuleState>::Entry&) { evicted_rules.inc(); });
      } else {
        shard.peers.pop_oldest([&](const LruMap<PeerState>::Entry& e) { evict_peer(shard, e, out); });
      }
    }
  }

  // The entry of `key` (a peer_key), created when missing.
  PeerState& peer_state(Shard& shard, const std::string& key, std::vector<OutputPtr>& out) {
    bool created = false;
    return shard.peers.get(key, created, [&](const LruMap<PeerState>::Entry& e) { evict_peer(shard, e, out); });
  }

  void fold(const Diagnosed& d, std::vector<OutputPtr>& out) {
    if (!options.incidents) return;
    const std::string key = peer_key(d.device, d.peer);
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    const PeerState* known = shard.peers.find(key);
    if (known == nullptr || known->incidents.empty()) make_room(shard, &key, out);  // the pair becomes a key
    PeerState& pi = peer_state(shard, key, out);
    auto it = std::find_if(pi.incidents.begin(), pi.incidents.end(),
                           [&](const Incident& i) { return *i.incident_class == d.incident_class; });
    if (it == pi.incidents.end()) {
      Incident inc;
      inc.id = incident_id(d.device, d.peer, d.incident_class, d.at);
      inc.incident_class = intern(d.incident_class);
      inc.first_seen_ms = inc.last_seen_ms = d.at;
      inc.entry = intern(d.entry);
      inc.confidence = d.confidence;
      inc.correlated = d.correlated;
      inc.kb = current()->kb;
      inc.subject = d.subject;
      inc.first = d.evidence.empty() ? d.subject : d.evidence.front();
      for (const EventPtr& e : d.evidence)
        if (e != inc.first) inc.tail.push_back(e);
      while (inc.tail.size() > options.evidence_tail) inc.tail.pop_front();
      inc.fields = d.fields;
      inc.count = inc.count_at_emit = 1;
      inc.last_emitted_ms = d.at;
      out.push_back(incident_output(key, inc, IncidentState::open, Resolution::none, d.at));
      if (pi.incidents.empty()) ++shard.peer_keys;
      pi.incidents.push_back(std::move(inc));
      return;
    }
    Incident& inc = *it;
    inc.count += d.counts;
    inc.last_seen_ms = std::max(inc.last_seen_ms, d.at);
    for (const EventPtr& e : d.evidence) inc.tail.push_back(e);
    while (inc.tail.size() > options.evidence_tail) inc.tail.pop_front();
    // The most specific diagnosis names the incident: higher confidence wins;
    // at equal confidence a correlated one wins over a single line, else the newest.
    if (rank(d.confidence) > rank(inc.confidence) ||
        (rank(d.confidence) == rank(inc.confidence) && (d.correlated || !inc.correlated))) {
      if (*inc.entry != d.entry) inc.entry = intern(d.entry);
      inc.confidence = d.confidence;
      inc.correlated = d.correlated;
      inc.kb = current()->kb;
      inc.subject = d.subject;
      inc.fields = d.fields;
    }
    if (d.at - inc.last_emitted_ms >= options.update_interval_ms) {
      inc.last_emitted_ms = d.at;
      inc.count_at_emit = inc.count;
      out.push_back(incident_output(key, inc, IncidentState::update, Resolution::none, d.at));
    }
  }

  void clear(const Compiled& c, const Signature& sig, const EventPtr& ev, std::int64_t at,
             std::vector<OutputPtr>& out) {
    if (!options.incidents) return;
    const std::string key = peer_key(ev->device(), ev->peer());
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    PeerState* pi = shard.peers.find(key);
    if (pi == nullptr || pi->incidents.empty()) return;
    auto& list = pi->incidents;
    for (auto it = list.begin(); it != list.end();) {
      if (c.clears(sig.clears, *it->incident_class)) {
        out.push_back(incident_output(key, *it, IncidentState::resolved, Resolution::cleared, at, ev));
        it = list.erase(it);
      } else {
        ++it;
      }
    }
    if (list.empty()) --shard.peer_keys;
    if (pi->keys() == 0) shard.peers.erase(key);
  }

  // Time is `now`: sequences whose absent event never came fire (and fold
  // into their incidents) first, then quiet incidents resolve and due
  // updates go out; rule state past its window is forgotten.
  void sweep_incidents(std::int64_t now, std::vector<OutputPtr>& out) {
    const std::shared_ptr<const Compiled> c = current();
    std::vector<OutputPtr> due;
    for (auto& shard : shards) {
      std::lock_guard lock(shard->mutex);
      shard->streams.sweep([&](LruMap<RuleState>::Entry& e) { return e.second.expires_ms >= now; });
      shard->peers.sweep([&](LruMap<PeerState>::Entry& e) {
        auto& rules = e.second.rules;
        for (auto it = rules.begin(); it != rules.end();) {
          RuleState& s = it->state;
          if (s.due_ms != 0 && now >= s.due_ms) {
            const Rule* r = c->kb->find_rule(*it->rule);
            if (r != nullptr && s.due_ms >= s.suppressed_until && !s.got.empty()) {
              due.push_back(correlated(*c, *r, s.got, s.got.back(), {}, s.due_ms));
              s.suppressed_until = s.due_ms + suppress_ms(*r, ms(r->window_seconds));
            }
            s.due_ms = 0;
            s.next = 0;
            s.got.clear();
            s.expires_ms = s.suppressed_until;
          }
          if (s.expires_ms >= now) {
            ++it;
          } else {
            it = rules.erase(it);
            --shard->peer_keys;
          }
        }
        return e.second.keys() > 0;
      });
    }
    for (OutputPtr& f : due) fold_fired(*c, f, f->at_ms, out);
    // Quiet resolutions and due updates, in the order they happened (not
    // in the order of the shards that hold them).
    std::vector<OutputPtr> timed;
    for (auto& shard : shards) {
      std::lock_guard lock(shard->mutex);
      shard->peers.sweep([&](LruMap<PeerState>::Entry& e) {
        auto& list = e.second.incidents;
        const bool had = !list.empty();
        for (auto it = list.begin(); it != list.end();) {
          Incident& inc = *it;
          if (now - inc.last_seen_ms >= options.quiet_timeout_ms) {
            timed.push_back(incident_output(e.first, inc, IncidentState::resolved, Resolution::quiet,
                                            inc.last_seen_ms + options.quiet_timeout_ms));
            it = list.erase(it);
            continue;
          }
          if (inc.count > inc.count_at_emit && now - inc.last_emitted_ms >= options.update_interval_ms) {
            // When the interval ran out (a replayed log gets control only at its next line).
            const std::int64_t at =
                std::max(inc.last_seen_ms, std::min(now, inc.last_emitted_ms + options.update_interval_ms));
            inc.last_emitted_ms = at;
            inc.count_at_emit = inc.count;
            timed.push_back(incident_output(e.first, inc, IncidentState::update, Resolution::none, at));
          }
          ++it;
        }
        if (had && list.empty()) --shard->peer_keys;
        return e.second.keys() > 0;
      });
    }
    std::stable_sort(timed.begin(), timed.end(),
                     [](const OutputPtr& a, const OutputPtr& b) { return a->at_ms < b->at_ms; });
    out.insert(out.end(), std::make_move_iterator(timed.begin()), std::make_move_iterator(timed.end()));
  }

  // -------------------------------------------------------------- rules

  // The state of a block or join rule in one input stream (key: rule, stream).
  RuleState& stream_state(Shard& shard, const std::string& key, std::vector<OutputPtr>& out) {
    if (shard.streams.find(key) == nullptr) make_room(shard, nullptr, out);
    bool created = false;
    return shard.streams.get(key, created, [&](const LruMap<RuleState>::Entry&) { evicted_rules.inc(); });
  }

  // The state of rule `r` for the device and peer of `key` (a peer_key).
  RuleState& device_state(Shard& shard, const std::string& key, const Rule& r, std::vector<OutputPtr>& out) {
    if (PeerState* ps = shard.peers.find(key)) {
      for (DeviceRuleState& d : ps->rules)
        if (*d.rule == r.id) return d.state;
    }
    make_room(shard, &key, out);
    PeerState& ps = peer_state(shard, key, out);
    ps.rules.push_back({intern(r.id), {}});
    ++shard.peer_keys;
    return ps.rules.back().state;
  }

  OutputPtr correlated(const Compiled& c, const Rule& r, std::vector<EventPtr> evidence, const EventPtr& subject,
                       FieldList fields, std::int64_t at) {
    auto out = std::make_shared<Output>();
    out->kind = OutputKind::correlated;
    out->entry = r.id;
    out->kb = c.kb;
    out->subject = subject;
    out->evidence = std::move(evidence);
    out->fields = std::move(fields);
    out->count = out->evidence.size();
    out->at_ms = at;
    if (auto it = c.fired.find(r.id); it != c.fired.end()) it->second->inc();
    return out;
  }

  static std::int64_t suppress_ms(const Rule& r, std::int64_t fallback) {
    return r.suppress_seconds > 0 ? ms(r.suppress_seconds) : fallback;
  }

  // Rules keyed by device and peer: sequence, threshold, period. Returns the
  // correlated records they produce.
  void device_rules(const Compiled& c, const std::vector<Hook>& hooks, const EventPtr& ev, std::int64_t t,
                    std::vector<OutputPtr>& fired, std::vector<OutputPtr>& out) {
    const std::string key = peer_key(ev->device(), ev->peer());
    for (const Hook& h : hooks) {
      const Rule& r = *h.rule;
      if (r.type != RuleType::sequence && r.type != RuleType::threshold && r.type != RuleType::period) continue;
      Shard& shard = shard_of(key);
      std::lock_guard lock(shard.mutex);
      RuleState& s = device_state(shard, key, r, out);
      if (r.type == RuleType::sequence) {
        const std::int64_t window = ms(r.window_seconds);
        if (h.absent && s.due_ms != 0) {  // what had to stay away came: no firing
          s.due_ms = 0;
          s.next = 0;
          s.got.clear();
          s.expires_ms = t;
        }
        if (h.steps == 0) continue;
        if (s.due_ms != 0) continue;  // waiting to see whether the absent event comes
        if (s.next > 0 && t - s.started_ms > window) {
          s.next = 0;
          s.got.clear();
        }
        if (s.next < r.steps.size() && (h.steps >> s.next & 1) && (s.next == 0 || !s.got.empty())) {
          if (s.next == 0) s.started_ms = t;
          s.got.push_back(ev);
          ++s.next;
        } else if (h.steps & 1) {
          s.next = 1;
          s.started_ms = t;
          s.got.assign(1, ev);
        } else {
          continue;
        }
        s.expires_ms = std::max(s.suppressed_until, s.started_ms + window);
        if (s.next == r.steps.size()) {
          if (!r.absent.empty()) {
            // Fires from tick() when the window passes without an absent event.
            s.due_ms = t + window;
            s.expires_ms = s.due_ms + 1;
            continue;
          }
          if (t >= s.suppressed_until) {
            fired.push_back(correlated(c, r, s.got, ev, {}, t));
            s.suppressed_until = t + suppress_ms(r, window);
          }
          s.next = 0;
          s.got.clear();
          s.expires_ms = std::max(s.suppressed_until, t);
        }
      } else if (r.type == RuleType::threshold && h.match) {
        RuleState::Extra& x = s.extra();
        const std::int64_t window = ms(r.window_seconds);
        x.times.push_back(t);
        x.recent.push_back(ev);
        while (!x.times.empty() && t - x.times.front() > window) x.times.pop_front();
        while (x.recent.size() > x.times.size() || x.recent.size() > options.evidence_tail + 1) x.recent.pop_front();
        s.expires_ms = std::max(s.suppressed_until, t + window);
        if (x.times.size() >= static_cast<std::size_t>(r.count) && t >= s.suppressed_until) {
          FieldList f{{"count", std::to_string(x.times.size())},
                      {"window_seconds", fmt::format("{:g}", r.window_seconds)}};
          auto o = correlated(c, r, {x.recent.begin(), x.recent.end()}, ev, std::move(f), t);
          std::const_pointer_cast<Output>(o)->count = x.times.size();  // every line counted, the last few shown
          fired.push_back(std::move(o));
          s.suppressed_until = t + suppress_ms(r, window);
          s.expires_ms = s.suppressed_until;
          x.times.clear();
          x.recent.clear();
        }
      } else if (r.type == RuleType::period && h.match) {
        RuleState::Extra& x = s.extra();
        const std::int64_t interval = ms(r.interval_seconds), tolerance = ms(r.tolerance_seconds);
        // Several lines of one rebuild (both SAs, several proxies) count once.
        if (!x.times.empty() && t - x.times.back() <= tolerance) continue;
        x.times.push_back(t);
        x.recent.push_back(ev);
        while (x.times.size() > static_cast<std::size_t>(r.occurrences)) {
          x.times.pop_front();
          x.recent.pop_front();
        }
        s.expires_ms = t + interval + tolerance;
        if (x.times.size() < static_cast<std::size_t>(r.occurrences) || t < s.suppressed_until) continue;
        bool steady = true;
        for (std::size_t i = 1; i < x.times.size(); ++i) {
          const std::int64_t gap = x.times[i] - x.times[i - 1];
          steady = steady && gap >= interval - tolerance && gap <= interval + tolerance;
        }
        if (!steady) continue;
        const double mean =
            static_cast<double>(x.times.back() - x.times.front()) / static_cast<double>(x.times.size() - 1) / 1000.0;
        FieldList f{{"interval_seconds", fmt::format("{:.0f}", mean)}, {"occurrences", std::to_string(x.times.size())}};
        fired.push_back(correlated(c, r, {x.recent.begin(), x.recent.end()}, ev, std::move(f), t));
        s.suppressed_until = t + suppress_ms(r, interval * r.occurrences);
        s.expires_ms = s.suppressed_until;
      }
    }
  }

  bool within(const Rule& r, const RuleState& s, const Event& e, std::int64_t t) const {
    const EventPtr& start = s.start();
    if (!start) return false;
    if (e.line_number != 0 && start->line_number != 0) {
      return e.line_number > start->line_number &&
             e.line_number - start->line_number <= static_cast<std::uint64_t>(r.lines);
    }
    const std::int64_t window = r.window_seconds > 0 ? ms(r.window_seconds) : kDefaultStreamWindowMs;
    return t - s.extra_->start_ms <= window;
  }

  // Join and block members: enrich `e` before it is frozen. Returns the
  // enriching rule's id ("" if none) and the lines joined to it.
  std::string enrich(const std::vector<Hook>& hooks, Event& e, std::int64_t t, std::vector<EventPtr>& joined) {
    std::string by;
    for (const Hook& h : hooks) {
      const Rule& r = *h.rule;
      if (!h.member || (r.type != RuleType::join && (r.type != RuleType::block || r.carry.empty()))) continue;
      const std::string key = key_of({r.id, e.stream()});
      Shard& shard = shard_of(key);
      std::lock_guard lock(shard.mutex);
      RuleState* s = shard.streams.find(key);
      if (s == nullptr || !within(r, *s, e, t)) continue;
      const Event& first = *s->extra_->start;
      if (r.type == RuleType::join) {
        if (!e.time.valid() && first.time.valid()) {
          e.time = first.time;
          e.at_ms = first.at_ms;
        }
        if (e.severity < 0) e.severity = first.severity;
        if (e.message_id().empty()) e.set_message_id(first.message_id());
        joined.push_back(s->extra_->start);
        s->extra_->start.reset();  // a header joins one text line
      } else {
        for (const auto& name : r.carry) {
          const std::string_view v = first.field(name);
          if (!v.empty() && e.field(name).empty()) e.add_field(name, v);
        }
        if (e.device().empty() && !first.device().empty()) e.set_device(first.device());
        e.set_peer(peer_of(e));
        joined.push_back(s->extra_->start);
      }
      by = r.id;
    }
    return by;
  }

  // Block and join state after the event is frozen: starts, accumulation,
  // block conditions and duplicates.
  void stream_rules(const Compiled& c, const std::vector<Hook>& hooks, const EventPtr& ev, std::int64_t t,
                    std::vector<OutputPtr>& fired, std::vector<OutputPtr>& out) {
    for (const Hook& h : hooks) {
      const Rule& r = *h.rule;
      if (r.type != RuleType::join && r.type != RuleType::block) continue;
      const std::string key = key_of({r.id, ev->stream()});
      Shard& shard = shard_of(key);
      std::lock_guard lock(shard.mutex);
      const std::int64_t span = r.window_seconds > 0 ? ms(r.window_seconds) : kDefaultStreamWindowMs;
      if (h.member && r.type == RuleType::block) {
        RuleState* s = shard.streams.find(key);
        if (s != nullptr && within(r, *s, *ev, t)) {
          RuleState::Extra& x = s->extra();
          x.members.push_back(ev);
          ev->for_each_field([&](std::string_view n, std::string_view v) { set_field(x.fields, n, v); });
          s->expires_ms = std::max(s->expires_ms, t + span);
          const bool conditions = !r.when.empty() && std::all_of(r.when.begin(), r.when.end(),
                                                                 [&](const auto& w) { return holds(w, x.fields); });
          if (conditions && !s->fired) {
            s->fired = true;
            std::vector<EventPtr> evidence{x.start};
            evidence.insert(evidence.end(), x.members.begin(), x.members.end());
            fired.push_back(correlated(c, r, std::move(evidence), ev, x.fields, t));
          }
          const bool complete = !r.duplicate.empty() &&
                                std::all_of(r.duplicate.begin(), r.duplicate.end(),
                                            [&](const std::string& f) { return !field_of(x.fields, f).empty(); });
          if (complete && !s->fired) {
            s->fired = true;
            std::string dup;
            for (const auto& f : r.duplicate) dup += std::string(field_of(x.fields, f)) + '\x1f';
            if (std::find(x.seen.begin(), x.seen.end(), dup) != x.seen.end()) {
              std::vector<EventPtr> evidence{x.start};
              evidence.insert(evidence.end(), x.members.begin(), x.members.end());
              fired.push_back(correlated(c, r, std::move(evidence), ev, x.fields, t));
            } else {
              x.seen.push_back(dup);
              if (x.seen.size() > kMaxDuplicateKeys) x.seen.pop_front();
            }
          }
        }
      }
      if (h.start) {
        RuleState& s = stream_state(shard, key, out);
        RuleState::Extra& x = s.extra();
        // Duplicates count within one listing: a block that does not follow
        // the previous one closely starts a new listing.
        const bool contiguous =
            x.start && (ev->line_number != 0 && x.start->line_number != 0
                            ? ev->line_number <= x.start->line_number + 2 * static_cast<std::uint64_t>(r.lines)
                            : t - x.start_ms <= span);
        if (!contiguous) x.seen.clear();
        x.start = ev;
        x.start_ms = t;
        x.members.clear();
        x.fields.clear();
        ev->for_each_field([&](std::string_view n, std::string_view v) { set_field(x.fields, n, v); });
        s.fired = false;
        // Duplicate detection remembers the stream's earlier blocks for a day.
        s.expires_ms = t + (r.duplicate.empty() ? span : 86'400'000);
      }
    }
  }

  // A correlated record goes out, and folds into its incident unless its rule has none.
  void fold_fired(const Compiled& c, const OutputPtr& f, std::int64_t t, std::vector<OutputPtr>& out) {
    out.push_back(f);
    if (!options.incidents) return;
    const Rule* r = c.kb->find_rule(f->entry);
    if (r != nullptr && r->incident == "none") return;
    Diagnosed d;
    d.entry = f->entry;
    d.incident_class = r != nullptr ? KnowledgeBase::incident_class(*r) : std::string_view(f->entry);
    d.confidence = r != nullptr ? r->confidence : Confidence::medium;
    d.device = std::string(f->subject->device());
    const std::string_view peer_field = field_of(f->fields, "peer_ip");
    d.peer = !peer_field.empty() ? std::string(peer_field) : std::string(f->subject->peer());
    d.subject = f->subject;
    d.evidence = f->evidence;
    d.fields = f->fields;
    d.at = t;
    d.counts = false;
    d.correlated = true;
    fold(d, out);
  }

  void process(Event e, std::vector<OutputPtr>& out) {
    // With event_time, the clock is the latest header time seen; a line
    // without one happens "now" on that clock (or, before any, when received).
    std::int64_t t = e.received_ms;
    if (options.event_time) {
      if (e.time.valid()) {
        t = e.at_ms;
        advance(t);
        const std::int64_t now = now_ms.load();
        if (now - last_tick_ms.load() >= 1000) {
          last_tick_ms = now;
          sweep_incidents(now, out);
        }
      } else if (now_ms.load() != 0) {
        t = now_ms.load();
      }
    } else {
      advance(t);
    }
    const std::shared_ptr<const Compiled> c = current();
    const std::vector<Hook>* hooks = c->hooks_of(e.signature());
    std::vector<EventPtr> joined;
    std::string by;
    if (hooks != nullptr) by = enrich(*hooks, e, t, joined);
    const EventPtr ev = std::make_shared<const Event>(std::move(e));

    if (ev->role == Role::diagnosis) {
      auto line = line_output(c->kb, ev);
      line->rule = by;
      line->evidence.insert(line->evidence.begin(), joined.begin(), joined.end());
      line->at_ms = t;
      out.push_back(std::move(line));
    }
    std::vector<OutputPtr> fired;
    if (hooks != nullptr) {
      stream_rules(*c, *hooks, ev, t, fired, out);
      device_rules(*c, *hooks, ev, t, fired, out);
    }
    if (ev->role == Role::diagnosis && options.incidents) {
      Diagnosed d;
      d.entry = std::string(ev->signature());
      d.incident_class = ev->incident_class();
      d.confidence = ev->confidence;
      d.device = std::string(ev->device());
      d.peer = std::string(ev->peer());
      d.subject = ev;
      d.evidence = joined;
      d.evidence.push_back(ev);
      d.at = t;
      fold(d, out);
    }
    for (OutputPtr& f : fired) fold_fired(*c, f, t, out);
    if (ev->role == Role::clear) {
      if (const Signature* sig = c->kb->find_signature(ev->signature())) clear(*c, *sig, ev, t, out);
    }
  }
};

// ================================================================== API

Correlator::Correlator(std::shared_ptr<const KnowledgeBase> kb, CorrelatorOptions options, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(std::move(kb), options, metrics)) {}

Correlator::~Correlator() = default;

void Correlator::swap_knowledge_base(std::shared_ptr<const KnowledgeBase> kb) {
  auto next = std::make_shared<const Compiled>(std::move(kb), impl_->metrics);
  std::lock_guard lock(impl_->compiled_mutex);
  impl_->compiled = std::move(next);
}

void Correlator::process(Event event, std::vector<OutputPtr>& out) {
  impl_->process(std::move(event), out);
}

void Correlator::tick(std::int64_t now_ms, std::vector<OutputPtr>& out) {
  impl_->advance(now_ms);
  impl_->last_tick_ms = impl_->now_ms.load();
  impl_->sweep_incidents(impl_->now_ms.load(), out);
}

std::int64_t Correlator::now() const {
  return impl_->now_ms.load();
}

std::vector<OutputPtr> Correlator::snapshot() const {
  std::vector<OutputPtr> out;
  for (const auto& shard : impl_->shards) {
    std::lock_guard lock(shard->mutex);
    shard->peers.for_each([&](const LruMap<PeerState>::Entry& e) {
      for (const Incident& inc : e.second.incidents)
        out.push_back(Impl::incident_record(e.first, inc, IncidentState::update, Resolution::none, inc.last_seen_ms));
    });
  }
  std::sort(out.begin(), out.end(), [](const OutputPtr& a, const OutputPtr& b) {
    return a->incident->first_seen_ms != b->incident->first_seen_ms
               ? a->incident->first_seen_ms < b->incident->first_seen_ms
               : a->incident->id < b->incident->id;
  });
  return out;
}

std::size_t Correlator::open_incidents() const {
  std::size_t n = 0;
  for (const auto& shard : impl_->shards) {
    std::lock_guard lock(shard->mutex);
    shard->peers.for_each([&](const LruMap<PeerState>::Entry& e) { n += e.second.incidents.size(); });
  }
  return n;
}

bool Correlator::save(const std::filesystem::path& file, std::string& error) const {
  nlohmann::json incidents = nlohmann::json::array();
  for (const auto& shard : impl_->shards) {
    std::lock_guard lock(shard->mutex);
    shard->peers.for_each([&](const LruMap<PeerState>::Entry& e) {
      for (const Incident& inc : e.second.incidents) {
        nlohmann::json tail = nlohmann::json::array();
        for (const EventPtr& ev : inc.tail) tail.push_back(event_json(*ev));
        const auto [device, peer] = peer_key_parts(e.first);
        incidents.push_back({{"id", id_text(inc.id)},
                             {"device", device},
                             {"peer", peer},
                             {"class", *inc.incident_class},
                             {"first_seen_ms", inc.first_seen_ms},
                             {"last_seen_ms", inc.last_seen_ms},
                             {"entry", *inc.entry},
                             {"confidence", to_string(inc.confidence)},
                             {"count", inc.count},
                             {"count_at_emit", inc.count_at_emit},
                             {"last_emitted_ms", inc.last_emitted_ms},
                             {"fields", inc.fields},
                             {"subject", event_json(*inc.subject)},
                             {"first", event_json(*inc.first)},
                             {"tail", tail}});
      }
    });
  }
  const nlohmann::json doc{
      {"schema", "tunneldoc.incidents/1"}, {"saved_ms", impl_->now_ms.load()}, {"incidents", incidents}};
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    out.flush();
    if (!out) {
      error = "cannot write " + tmp.string() + ": " + std::strerror(errno);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    error = "cannot rename " + tmp.string() + " to " + file.string() + ": " + ec.message();
    return false;
  }
  return true;
}

bool Correlator::restore(const std::filesystem::path& file, std::string& error) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return true;
  std::ifstream in(file);
  if (!in) {
    error = "cannot read " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  try {
    const nlohmann::json doc = nlohmann::json::parse(in);
    if (doc.value("schema", "") != "tunneldoc.incidents/1") {
      error = file.string() + " is not a tunneldoc incidents file";
      return false;
    }
    const auto kb = impl_->current()->kb;
    for (const auto& j : doc.at("incidents")) {
      Incident inc;
      inc.id = id_from(j.at("id"));
      const std::string device = j.at("device"), peer = j.at("peer");
      inc.incident_class = impl_->intern(j.at("class").get<std::string>());
      inc.first_seen_ms = j.at("first_seen_ms");
      inc.last_seen_ms = j.at("last_seen_ms");
      inc.entry = impl_->intern(j.at("entry").get<std::string>());
      inc.confidence = confidence_from(j.at("confidence"));
      inc.kb = kb;
      inc.count = j.at("count");
      inc.count_at_emit = j.at("count_at_emit");
      inc.last_emitted_ms = j.at("last_emitted_ms");
      inc.fields = j.at("fields").get<FieldList>();
      inc.subject = event_from(j.at("subject"));
      inc.first = event_from(j.at("first"));
      for (const auto& t : j.at("tail")) inc.tail.push_back(event_from(t));
      const std::string key = peer_key(device, peer);
      Shard& shard = impl_->shard_of(key);
      std::lock_guard lock(shard.mutex);
      std::vector<OutputPtr> evicted;
      PeerState& pi = impl_->peer_state(shard, key, evicted);
      if (pi.incidents.empty()) ++shard.peer_keys;
      pi.incidents.push_back(std::move(inc));
      impl_->open_gauge.add(1);
      impl_->advance(pi.incidents.back().last_seen_ms);
    }
  } catch (const std::exception& e) {
    error = file.string() + ": " + e.what();
    return false;
  }
  return true;
}

}  // namespace tunneldoc
