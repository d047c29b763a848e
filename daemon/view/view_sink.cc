// view_sink.cc — the sink that feeds a StatusStore.
//
// The sink's intake thread encodes and its delivery thread delivers; a
// Record that stays in memory keeps the Output it was made from (shared with
// the correlator, not copied), so the transport applies the records
// themselves, in order, and the encoder only writes an empty line.
#include "tunneldoc/view.h"

namespace tunneldoc {
namespace {

class ViewEncoder final : public Encoder {
 public:
  void encode(const Output&, std::string& out) override { out += '\n'; }
};

class ViewTransport final : public SinkTransport {
 public:
  explicit ViewTransport(StatusStore& store) : store_(store) {}
  bool needs_envelope() const override { return false; }
  DeliveryResult deliver(std::span<const Record> records) override {
    for (const Record& r : records)
      if (r.output) store_.apply(r.output);
    DeliveryResult result;
    result.sent = true;
    return result;
  }
  void cancel() override {}
  bool reopen(std::string&) override { return true; }

 private:
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
  return std::make_unique<Sink>(o, std::make_unique<ViewEncoder>(), std::make_unique<ViewTransport>(store), metrics);
}

}  // namespace tunneldoc
