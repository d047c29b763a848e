// pipeline.cc — parse → match → Event → correlate → route, shared by scan
// and serve, with a knowledge base that can be swapped while messages flow.
#include "tunneldoc/pipeline.h"

#include <malloc.h>

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "tunneldoc/parse.h"

namespace tunneldoc {

void LineStats::add(const LineStats& o) {
  lines += o.lines;
  recognised += o.recognised;
  diagnosed += o.diagnosed;
  unknown_keys += o.unknown_keys;
  keyless += o.keyless;
  truncated += o.truncated;
  fallback += o.fallback;
}

// ------------------------------------------------------------ Recognizer

Recognizer::Recognizer(std::shared_ptr<const Matcher> matcher, int year) : matcher_(std::move(matcher)), year_(year) {}

const Signature* Recognizer::recognize(std::string_view message, const Origin& origin, bool truncated,
                                       std::int64_t received_ms, Event& event, LineStats* stats) {
  ParseOptions options;  // a key no signature uses: skip the header, the line is dropped anyway
  options.max_line_bytes = std::max<std::size_t>(message.size(), 1);
  options.wanted = [](const void* m, const LogRecord& r) { return static_cast<const Matcher*>(m)->knows_key(r); };
  options.wanted_context = matcher_.get();
  LogRecord record = parse_line(message, options);
  record.truncated = record.truncated || truncated;
  const Signature* sig = matcher_->match(record, fields_);
  if (stats != nullptr) {
    ++stats->lines;
    stats->truncated += record.truncated;
    if (sig == nullptr) {
      if (!record.has_key()) {
        ++stats->keyless;
      } else if (!matcher_->knows_key(record)) {
        ++stats->unknown_keys;
      }
    } else {
      ++stats->recognised;
      stats->diagnosed += sig->role == Role::diagnosis;
      stats->fallback += sig->fallback;
    }
  }
  if (sig == nullptr) return nullptr;
  event.clear();
  key_.assign(record.key());

  std::string_view source = origin.source;
  std::string_view host = origin.host;
  if (origin.describe != nullptr) {
    origin.describe(origin.context, source_, host_);
    source = source_;
    host = host_;
  }
  // One allocation for the whole event: its text is the sum of these (the
  // peer is a field's value, or group/user), each field with 4 bytes of lengths.
  const std::string_view device = !record.host.empty() ? record.host : host;
  std::size_t bytes = sig->id.size() + KnowledgeBase::incident_class(*sig).size() + device.size() + source.size() +
                      record.message_id.size() + record.line.size() + 1;
  std::size_t peer = 0;  // the peer (peer_of) is peer_ip, or group and user joined by '/'
  for (const auto& [name, value] : fields_) {
    bytes += name.size() + value.size() + 4;
    if (name == "peer_ip" || name == "group" || name == "user") peer += value.size() + 1;
  }
  // Exactly what the event needs: it may be kept as an incident's evidence,
  // and a flood of distinct peers keeps tens of thousands of them.
  event.reserve(bytes + peer);
  event.set_signature(sig->id, KnowledgeBase::incident_class(*sig));
  event.role = sig->role;
  event.confidence = sig->confidence;
  event.set_device(device);
  event.set_stream(source);
  event.line_number = origin.line;
  event.set_message_id(record.message_id);
  event.set_line(record.line);
  event.set_fields(fields_);
  event.set_peer(peer_of(event));
  event.time = record.time;
  if (event.time.valid() && event.time.year == 0) {
    event.time.year = year_ != 0 ? year_ : infer_year(record.time, received_ms);
  }
  event.received_ms = received_ms;
  event.at_ms = event.time.valid() ? to_epoch_ms(event.time, event.time.year) : received_ms;
  event.severity = record.severity;
  event.truncated = record.truncated;
  return sig;
}

// ------------------------------------------------------- rule examples

std::vector<LoadProblem> verify_rules(const std::shared_ptr<const KnowledgeBase>& kb,
                                      std::shared_ptr<const Matcher> matcher) {
  std::vector<LoadProblem> problems;
  if (!matcher) matcher = std::make_shared<const Matcher>(kb);
  constexpr std::int64_t kBase = 1'790'000'000'000;  // 2026-09: a fixed received time
  auto run = [&](const RuleExample& ex) {
    MetricsRegistry scratch;
    CorrelatorOptions options;
    options.event_time = true;
    Correlator correlator(kb, options, scratch);
    Recognizer recognizer(matcher, 2026);
    std::vector<OutputPtr> outputs;
    Event event;
    const std::string stream = "example:" + ex.where.to_string();
    for (std::size_t i = 0; i < ex.lines.size(); ++i) {
      Origin origin;
      origin.source = stream;
      origin.line = i + 1;
      if (recognizer.recognize(ex.lines[i], origin, false, kBase + static_cast<std::int64_t>(i), event)) {
        correlator.process(std::move(event), outputs);
        event = Event();
      }
    }
    return outputs;
  };
  auto value_of = [](const Output& o, const std::string& name) -> std::string {
    for (const auto& [n, v] : o.fields)
      if (n == name) return v;
    return std::string(o.subject->field(name));
  };
  for (const Rule& r : kb->rules()) {
    for (const RuleExample& ex : r.examples) {
      const std::vector<OutputPtr> outputs = run(ex);
      const Output* hit = nullptr;
      for (const OutputPtr& o : outputs) {
        const bool emitted = o->kind == OutputKind::correlated && o->entry == r.id && ex.expect == r.id;
        const bool enriched = o->kind == OutputKind::line && o->rule == r.id && o->entry == ex.expect;
        if (emitted || enriched) hit = o.get();
      }
      if (hit == nullptr) {
        std::string got;
        for (const OutputPtr& o : outputs) {
          if (o->kind == OutputKind::incident) continue;
          got += fmt::format(" {}:{}{}", to_string(o->kind), o->entry, o->rule.empty() ? "" : "+" + o->rule);
        }
        problems.push_back({ex.where, fmt::format("example sequence of rule '{}' does not yield '{}' (got:{})", r.id,
                                                  ex.expect, got.empty() ? " nothing" : got)});
        continue;
      }
      for (const auto& [name, want] : ex.fields) {
        const std::string have = value_of(*hit, name);
        if (have != want) {
          problems.push_back({ex.where, fmt::format("example sequence of rule '{}': field {} is '{}', expected '{}'",
                                                    r.id, name, have, want)});
        }
      }
    }
    for (const RuleExample& ex : r.counter_examples) {
      for (const OutputPtr& o : run(ex)) {
        if ((o->kind == OutputKind::correlated && o->entry == r.id) || o->rule == r.id) {
          problems.push_back({ex.where, fmt::format("counter-example sequence makes rule '{}' fire", r.id)});
          break;
        }
      }
    }
  }
  return problems;
}

LoadResult load_checked_knowledge_base(const std::filesystem::path& dir) {
  LoadResult r = load_knowledge_base(dir);
  if (!r.ok()) return r;
  std::vector<LoadProblem> problems = verify_rules(r.kb, r.matcher);
  if (!problems.empty()) return {nullptr, std::move(problems), nullptr};
  // Parsing the YAML (on several threads, each with its own malloc arena)
  // leaves megabytes free but resident; a daemon should not carry them.
  ::malloc_trim(0);
  return r;
}

// -------------------------------------------------------------- Pipeline

struct Engine {
  Engine(std::shared_ptr<const Matcher> m, MetricsRegistry& metrics) : matcher(std::move(m)) {
    const KnowledgeBase* kb = &matcher->kb();
    matches.reserve(kb->signatures().size());
    for (const Signature& s : kb->signatures()) {
      matches.push_back(&metrics.counter("tunneldoc_signature_matches_total", "Messages recognised, per signature",
                                         {{"signature", s.id}}));
      if (!s.fallback) continue;
      for (const auto& key : s.keys) {
        fallbacks[key] =
            &metrics.counter("tunneldoc_fallback_diagnoses_total",
                             "Diagnoses by a message id's fallback: wording not recognised", {{"message_id", key}});
      }
    }
  }
  std::shared_ptr<const Matcher> matcher;
  std::vector<Counter*> matches;                        // index = position in kb().signatures()
  std::unordered_map<std::string, Counter*> fallbacks;  // by message key: wording drift in production
};

namespace {
thread_local Pipeline::Worker* t_worker = nullptr;
}

Pipeline::Pipeline(std::shared_ptr<const KnowledgeBase> kb, Router& router, MetricsRegistry& metrics,
                   PipelineOptions options)
    : Pipeline(std::make_shared<const Matcher>(std::move(kb)), router, metrics, std::move(options)) {}

Pipeline::Pipeline(std::shared_ptr<const Matcher> matcher, Router& router, MetricsRegistry& metrics,
                   PipelineOptions options)
    : router_(router),
      metrics_(metrics),
      options_(std::move(options)),
      processed_(metrics.counter("tunneldoc_messages_processed_total", "Messages parsed and matched, all sources")),
      diagnoses_(metrics.counter("tunneldoc_diagnoses_total", "Line diagnoses")),
      correlator_(matcher->kb_ptr(), options_.correlate, metrics),
      engine_(std::make_shared<const Engine>(std::move(matcher), metrics)) {}

Pipeline::~Pipeline() = default;

void Pipeline::swap_knowledge_base(std::shared_ptr<const KnowledgeBase> kb) {
  swap_knowledge_base(std::make_shared<const Matcher>(std::move(kb)));
}

void Pipeline::swap_knowledge_base(std::shared_ptr<const Matcher> matcher) {
  auto engine = std::make_shared<const Engine>(matcher, metrics_);
  correlator_.swap_knowledge_base(matcher->kb_ptr());
  std::lock_guard lock(mutex_);
  engine_ = std::move(engine);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Engine> Pipeline::engine() const {
  std::lock_guard lock(mutex_);
  return engine_;
}

std::shared_ptr<const KnowledgeBase> Pipeline::knowledge_base() const {
  return engine()->matcher->kb_ptr();
}

std::unique_ptr<Pipeline::Worker> Pipeline::bind_thread() {
  auto w = std::make_unique<Worker>(*this);
  t_worker = w.get();
  return w;
}

void Pipeline::unbind_thread() {
  t_worker = nullptr;
}

void Pipeline::process(std::string_view message, const Origin& origin, bool truncated) {
  if (t_worker != nullptr && &t_worker->pipeline_ == this) {
    t_worker->process(message, origin, truncated);
    return;
  }
  std::lock_guard lock(fallback_mutex_);
  if (!fallback_) fallback_ = std::make_unique<Worker>(*this);
  fallback_->process(message, origin, truncated);
}

void Pipeline::tick() {
  std::vector<OutputPtr> outputs;
  correlator_.tick(options_.clock(), outputs);
  router_.publish(outputs);
}

Pipeline::Worker::Worker(Pipeline& pipeline) : pipeline_(pipeline) {}
Pipeline::Worker::~Worker() {
  if (t_worker == this) t_worker = nullptr;
}

void Pipeline::Worker::refresh() {
  // Read the generation before the engine: if a swap lands in between we
  // simply refresh again on the next message.
  generation_ = pipeline_.generation_.load(std::memory_order_acquire);
  engine_ = pipeline_.engine();
  recognizer_ = std::make_unique<Recognizer>(engine_->matcher, pipeline_.options_.year);
}

void Pipeline::Worker::process(std::string_view message, const Origin& origin, bool truncated) {
  if (pipeline_.generation_.load(std::memory_order_acquire) != generation_) refresh();
  pipeline_.processed_.inc();
  const Signature* sig = recognizer_->recognize(message, origin, truncated, pipeline_.options_.clock(), event_);
  if (sig == nullptr) return;
  const auto& sigs = engine_->matcher->kb().signatures();
  const auto index = static_cast<std::size_t>(sig - sigs.data());
  if (index < engine_->matches.size()) engine_->matches[index]->inc();
  if (sig->fallback) {
    if (auto it = engine_->fallbacks.find(recognizer_->key()); it != engine_->fallbacks.end()) it->second->inc();
  }
  if (sig->role == Role::diagnosis) pipeline_.diagnoses_.inc();
  outputs_.clear();
  pipeline_.correlator_.process(std::move(event_), outputs_);
  event_ = Event();
  pipeline_.router_.publish(outputs_);
}

}  // namespace tunneldoc
