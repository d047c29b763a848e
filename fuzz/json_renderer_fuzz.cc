// json_renderer_fuzz.cc — JsonRenderer over records (line, correlated and
// incident) with arbitrary values (host, message id, extracted fields,
// evidence lines and sources: any bytes), any signature of the real knowledge
// base, and event times, severity and count anywhere in their documented
// domains. Every output is one line of valid JSON that carries the values it
// was given (invalid UTF-8 replaced).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "tunneldoc/event.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/output.h"
#include "tunneldoc/render.h"

namespace {

std::shared_ptr<const tunneldoc::KnowledgeBase> kb() {
  static const auto loaded = tunneldoc::load_knowledge_base(TUNNELDOC_FUZZ_SIGNATURES);
  FUZZ_CHECK(loaded.ok());
  return loaded.kb;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tunneldoc::JsonRenderer renderer;
  const auto& sigs = kb()->signatures();
  FuzzedDataProvider in(data, size);
  auto event = std::make_shared<tunneldoc::Event>();
  tunneldoc::Event& e = *event;
  const auto& sig = sigs[in.ConsumeIntegralInRange<std::size_t>(0, sigs.size() - 1)];
  e.set_signature(sig.id, "");
  auto& t = e.time;
  if (in.ConsumeBool()) {
    t.year = in.ConsumeIntegralInRange(0, 9999);
    t.month = in.ConsumeIntegralInRange(1, 12);
    t.day = in.ConsumeIntegralInRange(1, 31);
    t.hour = in.ConsumeIntegralInRange(0, 23);
    t.minute = in.ConsumeIntegralInRange(0, 59);
    t.second = in.ConsumeIntegralInRange(0, 60);
    t.millis = in.ConsumeIntegralInRange(-1, 999);
    t.has_offset = in.ConsumeBool();
    t.offset_minutes = in.ConsumeIntegralInRange(-23 * 60 - 59, 23 * 60 + 59);
  }
  e.severity = in.ConsumeIntegralInRange(-1, 7);
  e.truncated = in.ConsumeBool();
  e.received_ms = in.ConsumeIntegralInRange<std::int64_t>(0, 253402300799999);  // up to 9999-12-31
  const std::string host = in.ConsumeRandomLengthString(64);
  e.set_device(host);
  e.set_message_id(in.ConsumeRandomLengthString(64));
  const std::size_t nfields = in.ConsumeIntegralInRange<std::size_t>(0, 6);
  std::vector<std::pair<std::string, std::string>> fields;
  for (std::size_t i = 0; i < nfields; ++i) {
    std::string name = in.ConsumeRandomLengthString(64);
    fields.emplace_back(std::move(name), in.ConsumeRandomLengthString(64));
  }
  e.set_fields(fields);
  const std::string line = in.ConsumeRandomLengthString(512);
  e.set_line(line);
  e.set_stream(in.ConsumeRandomLengthString(64));

  tunneldoc::Output o;
  o.kb = kb();
  o.entry = sig.id;
  o.subject = event;
  const std::size_t nevidence = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  for (std::size_t i = 0; i < nevidence; ++i) o.evidence.push_back(event);
  o.count = in.ConsumeIntegralInRange<std::uint64_t>(1, 1u << 30);
  o.at_ms = e.received_ms;
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0:
      o.kind = tunneldoc::OutputKind::line;
      break;
    case 1:
      o.kind = tunneldoc::OutputKind::correlated;
      break;
    default:
      o.kind = tunneldoc::OutputKind::incident;
      o.incident.emplace();
      o.incident->id = in.ConsumeRandomLengthString(32);
      o.incident->device = host;
      o.incident->peer = in.ConsumeRandomLengthString(64);
      o.incident->incident_class = in.ConsumeRandomLengthString(32);
      o.incident->first_seen_ms = in.ConsumeIntegralInRange<std::int64_t>(0, e.received_ms);
      o.incident->last_seen_ms = e.received_ms;
      break;
  }

  std::string out;
  renderer.render(o, out);
  FUZZ_CHECK(!out.empty() && out.back() == '\n');
  FUZZ_CHECK(out.find('\n') == out.size() - 1);  // one record, one line
  const auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded());
  FUZZ_CHECK(j["signature"] == sig.id);
  FUZZ_CHECK(j["count"] == o.count);
  FUZZ_CHECK(j["evidence"].size() == nevidence);
  FUZZ_CHECK(j["fields"].is_object());
  FUZZ_CHECK(e.severity < 0 ? j["severity"].is_null() : j["severity"] == e.severity);
  if (o.kind != tunneldoc::OutputKind::incident) FUZZ_CHECK(t.valid() == j["time"].is_string());
  FUZZ_CHECK(o.incident.has_value() == j.contains("incident"));
  // Valid UTF-8 in, the same text out.
  const auto valid_utf8 = [](const std::string& s) {
    const auto dumped = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return nlohmann::json::parse(dumped) == s;
  };
  if (valid_utf8(host) && !host.empty()) FUZZ_CHECK(j["host"] == host);
  if (valid_utf8(line)) FUZZ_CHECK(j["evidence"][0]["line"] == line);
  return 0;
}
