// view_sink.cc — the sink that feeds a StatusStore.
//
// The encoder and the transport run on the sink's thread only, one after the
// other. encode() writes one marker byte a record and keeps an incident
// record as a shared copy of the Output (its Events and knowledge base are
// shared, not copied); write() applies as many kept records as its bytes
// hold markers, in order. A diagnosis only counts on its device's timeline:
// encode() counts it at once (the Output is only valid during the call), so
// no copy is made for the records that are most of the stream.
#include <deque>

#include "tunneldoc/view.h"

namespace tunneldoc {
namespace {

struct Handoff {
  std::deque<OutputPtr> records;  // sink thread only
};

class ViewEncoder final : public Encoder {
 public:
  ViewEncoder(std::shared_ptr<Handoff> handoff, StatusStore& store) : handoff_(std::move(handoff)), store_(store) {}
  void encode(const Output& output, std::string& out) override {
    if (output.kind == OutputKind::incident) {
      handoff_->records.push_back(std::make_shared<const Output>(output));
    } else {
      // A diagnosis is only a tick on the timeline: no copy needed.
      store_.apply(output);
      handoff_->records.push_back(nullptr);
    }
    out += '\n';
  }

 private:
  std::shared_ptr<Handoff> handoff_;
  StatusStore& store_;
};

class ViewTransport final : public SinkTransport {
 public:
  ViewTransport(std::shared_ptr<Handoff> handoff, StatusStore& store) : handoff_(std::move(handoff)), store_(store) {}
  bool write(std::string_view bytes, std::string&) override {
    for (std::size_t i = 0; i < bytes.size() && !handoff_->records.empty(); ++i) {
      if (handoff_->records.front()) store_.apply(handoff_->records.front());
      handoff_->records.pop_front();
    }
    return true;
  }
  void cancel() override {}
  bool reopen(std::string&) override { return true; }

 private:
  std::shared_ptr<Handoff> handoff_;
  StatusStore& store_;
};

}  // namespace

std::unique_ptr<Sink> make_view_sink(StatusStore& store, MetricsRegistry& metrics, std::size_t queue_capacity,
                                     SinkOptions::WhenFull when_full) {
  SinkOptions o;
  o.name = "view";
  o.stream = Stream::all;
  o.queue_capacity = queue_capacity;
  o.when_full = when_full;
  auto handoff = std::make_shared<Handoff>();
  return std::make_unique<Sink>(o, std::make_unique<ViewEncoder>(handoff, store),
                                std::make_unique<ViewTransport>(handoff, store), metrics);
}

}  // namespace tunneldoc
