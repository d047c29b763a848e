// pipeline.cc — parse → match → render → sink for every source, with a
// knowledge base that can be swapped while messages flow.
#include "tunneldoc/pipeline.h"

#include <fmt/format.h>

#include <unordered_map>

#include "tunneldoc/parse.h"

namespace tunneldoc {

struct Engine {
  Engine(std::shared_ptr<const KnowledgeBase> kb, MetricsRegistry& metrics) : matcher(kb) {
    matches.reserve(kb->signatures().size());
    for (const Signature& s : kb->signatures()) {
      matches.push_back(&metrics.counter("tunneldoc_signature_matches_total", "Messages diagnosed, per signature",
                                         {{"signature", s.id}}));
      // issue 10: diagnoses by an id's fallback (its wording was not recognised), per message id
      if (s.fallback) {
        for (const auto& key : s.keys) {
          fallbacks[key] = &metrics.counter("tunneldoc_fallback_diagnoses_total",
                                            "Diagnoses by a message id's fallback: wording not recognised",
                                            {{"message_id", key}});
        }
      }
    }
  }
  Matcher matcher;
  std::vector<Counter*> matches;                            // index = position in kb().signatures()
  std::unordered_map<std::string, Counter*> fallbacks;  // issue 10: by message key
};

namespace {
thread_local Pipeline::Worker* t_worker = nullptr;
}

Pipeline::Pipeline(std::shared_ptr<const KnowledgeBase> kb, Sink& sink, MetricsRegistry& metrics, int default_year)
    : sink_(sink),
      metrics_(metrics),
      default_year_(default_year),
      diagnoses_(metrics.counter("tunneldoc_diagnoses_total", "Diagnoses emitted")),
      processed_(metrics.counter("tunneldoc_messages_processed_total", "Messages parsed and matched, all sources")),
      engine_(std::make_shared<const Engine>(std::move(kb), metrics)) {}

Pipeline::~Pipeline() = default;

void Pipeline::swap_knowledge_base(std::shared_ptr<const KnowledgeBase> kb) {
  auto engine = std::make_shared<const Engine>(std::move(kb), metrics_);
  std::lock_guard lock(mutex_);
  engine_ = std::move(engine);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const Engine> Pipeline::engine() const {
  std::lock_guard lock(mutex_);
  return engine_;
}

std::shared_ptr<const KnowledgeBase> Pipeline::knowledge_base() const {
  return engine()->matcher.kb_ptr();
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

Pipeline::Worker::Worker(Pipeline& pipeline) : pipeline_(pipeline) {}
Pipeline::Worker::~Worker() {
  if (t_worker == this) t_worker = nullptr;
}

void Pipeline::Worker::refresh() {
  // Read the generation before the engine: if a swap lands in between we
  // simply refresh again on the next message.
  generation_ = pipeline_.generation_.load(std::memory_order_acquire);
  engine_ = pipeline_.engine();
  RenderOptions options;
  options.default_year = pipeline_.default_year_;
  renderer_ = std::make_unique<JsonRenderer>(engine_->matcher.kb_ptr(), options);
}

void Pipeline::Worker::process(std::string_view message, const Origin& origin, bool truncated) {
  if (pipeline_.generation_.load(std::memory_order_acquire) != generation_) refresh();
  pipeline_.processed_.inc();
  ParseOptions options;  // a key no signature uses: skip the header, the line is dropped anyway
  options.max_line_bytes = message.size();
  options.wanted = [](const void* m, const LogRecord& r) { return static_cast<const Matcher*>(m)->knows_key(r); };
  options.wanted_context = &engine_->matcher;
  LogRecord record = parse_line(message, options);
  record.truncated = record.truncated || truncated;
  const Signature* sig = engine_->matcher.match(record, fields_);
  if (sig == nullptr) return;

  std::string_view source = origin.source;
  std::string_view host = origin.host;
  if (origin.describe != nullptr) {
    origin.describe(origin.context, source_, host_);
    source = source_;
    host = host_;
  }
  if (origin.line != 0) {
    if (source.data() != source_.data()) source_.assign(source);
    fmt::format_to(std::back_inserter(source_), ":{}", origin.line);
    source = source_;
  }
  const Evidence evidence{record.line, source};
  Diagnosis d = line_diagnosis(record, *sig, fields_, evidence);
  if (d.host.empty()) d.host = host;  // the sender, when the header names no host
  out_.clear();
  renderer_->render(d, out_);
  const auto& sigs = engine_->matcher.kb().signatures();
  const auto index = static_cast<std::size_t>(sig - sigs.data());
  if (index < engine_->matches.size()) engine_->matches[index]->inc();
  if (sig->fallback) {  // issue 10
    if (auto it = engine_->fallbacks.find(std::string(record.key())); it != engine_->fallbacks.end()) it->second->inc();
  }
  pipeline_.diagnoses_.inc();
  pipeline_.sink_.write(out_);
}

}  // namespace tunneldoc
