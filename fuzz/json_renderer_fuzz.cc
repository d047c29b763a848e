// json_renderer_fuzz.cc — JsonRenderer over diagnoses with arbitrary field
// values (host, message id, extracted fields, evidence lines and sources: any
// bytes), any signature of the real knowledge base, and event times, severity
// and count anywhere in their documented domains. Every output is one line of
// valid JSON that carries the values it was given (invalid UTF-8 replaced).
//
// Uses the JsonRenderer / Diagnosis API of render.h as it is before the
// processing-path rewrite (issue 8); port it when the renderer moves.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/render.h"

namespace {

tunneldoc::RenderOptions options() {
  tunneldoc::RenderOptions o;
  o.default_year = 2026;
  return o;
}

std::shared_ptr<const tunneldoc::KnowledgeBase> kb() {
  static const auto loaded = tunneldoc::load_knowledge_base(TUNNELDOC_FUZZ_SIGNATURES);
  FUZZ_CHECK(loaded.ok());
  return loaded.kb;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tunneldoc::JsonRenderer renderer(kb(), options());
  const auto& sigs = kb()->signatures();
  FuzzedDataProvider in(data, size);
  tunneldoc::Diagnosis d;
  d.signature = &sigs[in.ConsumeIntegralInRange<std::size_t>(0, sigs.size() - 1)];
  d.kind = in.ConsumeBool() ? "line" : "correlated";
  auto& t = d.time;
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
  d.severity = in.ConsumeIntegralInRange(-1, 7);
  d.count = in.ConsumeIntegralInRange(1, 1 << 30);
  d.truncated = in.ConsumeBool();
  const std::string host = in.ConsumeRandomLengthString(64);
  const std::string message_id = in.ConsumeRandomLengthString(64);
  d.host = host;
  d.message_id = message_id;
  std::vector<std::string> strings;
  const std::size_t nfields = in.ConsumeIntegralInRange<std::size_t>(0, 6);
  for (std::size_t i = 0; i < 2 * nfields; ++i) strings.push_back(in.ConsumeRandomLengthString(64));
  tunneldoc::Fields fields;
  for (std::size_t i = 0; i < nfields; ++i) fields.emplace_back(strings[2 * i], strings[2 * i + 1]);
  d.fields = &fields;
  std::vector<std::string> evidence_text;
  const std::size_t nevidence = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  for (std::size_t i = 0; i < nevidence; ++i) {
    evidence_text.push_back(in.ConsumeRandomLengthString(512));
    evidence_text.push_back(in.ConsumeRandomLengthString(64));
  }
  std::vector<tunneldoc::Evidence> evidence;
  for (std::size_t i = 0; i < nevidence; ++i) evidence.push_back({evidence_text[2 * i], evidence_text[2 * i + 1]});
  d.evidence = evidence.data();
  d.evidence_count = evidence.size();

  std::string out;
  renderer.render(d, out);
  FUZZ_CHECK(!out.empty() && out.back() == '\n');
  FUZZ_CHECK(out.find('\n') == out.size() - 1);  // one record, one line
  const auto j = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded());
  FUZZ_CHECK(j["signature"] == d.signature->id);
  FUZZ_CHECK(j["count"] == d.count);
  FUZZ_CHECK(j["evidence"].size() == evidence.size());
  FUZZ_CHECK(j["fields"].is_object());
  FUZZ_CHECK(d.severity < 0 ? j["severity"].is_null() : j["severity"] == d.severity);
  FUZZ_CHECK(t.valid() == j["time"].is_string());
  // Valid UTF-8 in, the same text out.
  const auto valid_utf8 = [](const std::string& s) {
    return !nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty() &&
           nlohmann::json::parse(nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)) == s;
  };
  if (valid_utf8(host) && !host.empty()) FUZZ_CHECK(j["host"] == host);
  if (valid_utf8(evidence_text[0])) FUZZ_CHECK(j["evidence"][0]["line"] == evidence_text[0]);
  return 0;
}
