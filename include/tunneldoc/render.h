// render.h — the diagnosis record (schema tunneldoc.diagnosis/1) as JSON.
//
// A Diagnosis borrows everything it shows; it lives only as long as the call
// that renders it. JsonRenderer pre-renders, once, the members that never change
// for a signature (title, diagnosis, sections, remedies); render() then only
// adds the per-event members. Output is always valid UTF-8: invalid bytes are
// replaced with U+FFFD, never dropped. A JsonRenderer is not thread-safe
// (it caches the formatted clock); use one per thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/matcher.h"
#include "tunneldoc/record.h"

namespace tunneldoc {

inline constexpr std::string_view kSchema = "tunneldoc.diagnosis/1";

struct Evidence {
  std::string_view line;
  std::string_view source;  // file:PATH:LINE, stdin:LINE, udp:ADDR:PORT, tcp:ADDR:PORT
};

struct Diagnosis {
  const Signature* signature = nullptr;
  std::string_view kind = "line";  // "line" or "correlated"
  EventTime time;                  // event time of the (last) record
  std::string_view host;
  std::string_view message_id;
  int severity = -1;
  const Fields* fields = nullptr;
  const Evidence* evidence = nullptr;
  std::size_t evidence_count = 0;
  int count = 1;
  bool truncated = false;  // the (last) input line was cut at the maximum length
};

// The Diagnosis of one input line (kind "line", count 1). Everything it points
// to must outlive the returned value.
inline Diagnosis line_diagnosis(const LogRecord& r, const Signature& sig, const Fields& fields,
                                const Evidence& evidence) {
  Diagnosis d;
  d.signature = &sig;
  d.time = r.time;
  d.host = r.host;
  d.message_id = r.message_id;
  d.severity = r.severity;
  d.fields = &fields;
  d.evidence = &evidence;
  d.evidence_count = 1;
  d.truncated = r.truncated;
  return d;
}

struct RenderOptions {
  int default_year = 0;  // for headers without a year; 0 = the current year
  std::function<std::chrono::system_clock::time_point()> clock = std::chrono::system_clock::now;
};

class JsonRenderer {
 public:
  JsonRenderer(std::shared_ptr<const KnowledgeBase> kb, RenderOptions options = {});
  // Appends one JSON object and a '\n' to `out`.
  void render(const Diagnosis& d, std::string& out);

 private:
  std::string_view received();

  std::shared_ptr<const KnowledgeBase> kb_;
  RenderOptions options_;
  std::vector<std::string> head_;  // per signature order: "signature":"id"
  std::vector<std::string> body_;  // per signature order: "title":...,"remedies":[...]
  std::int64_t received_ms_ = -1;
  std::string received_text_;
};

// JSON views of knowledge-base entries, for `explain --json` and remedies.
// Members keep the order of the record in docs/design (ordered_json).
nlohmann::ordered_json section_json(const Section& s);
nlohmann::ordered_json signature_json(const Signature& s, const KnowledgeBase& kb);

// `s` as a JSON string literal (quotes included), invalid UTF-8 replaced.
void append_json_string(std::string& out, std::string_view s);

}  // namespace tunneldoc
