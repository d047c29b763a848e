// render.h — the diagnosis record (schema tunneldoc.diagnosis/1) as JSON:
// the encoder of the `json` sink format, and the JSON views of `explain`.
//
// JsonRenderer pre-renders, once per knowledge base, the members that never
// change for a signature or a rule (lang, title, diagnosis, confidence,
// sections, remedies), for its Audience: the text in the audience's language
// (the English where an entry has no translation; "lang" says which), and
// only the commands of the audience's software versions. render() then only
// adds the per-record members. Output is always
// valid UTF-8: invalid bytes are replaced with U+FFFD, never dropped. A
// JsonRenderer is not thread-safe (it caches the formatted received time and
// the tables of the last knowledge base it saw); use one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/output.h"
#include "tunneldoc/sink.h"
#include "tunneldoc/text_map.h"

namespace tunneldoc {

inline constexpr std::string_view kSchema = "tunneldoc.diagnosis/1";

// How much of each section's remedy a record carries: `full` (everything),
// `brief` (title, first step with its commands, verify commands, caution:
// a SIEM event stays under a few KB) or `none` (an empty list).
enum class Remedies : std::uint8_t { full, brief, none };
bool parse_remedies(std::string_view text, Remedies& out);
std::string_view to_string(Remedies r);

class JsonRenderer {
 public:
  explicit JsonRenderer(Audience audience = {}, Remedies remedies = Remedies::full)
      : audience_(std::move(audience)), remedies_(remedies) {}
  // Appends one JSON object and a '\n' to `out`.
  void render(const Output& o, std::string& out);

 private:
  void prepare(const std::shared_ptr<const KnowledgeBase>& kb);
  // The rendered title..remedies of a signature or rule id, null when kb_ has none.
  const std::string* body(std::string_view entry);
  std::string_view received(std::int64_t ms);

  Audience audience_;
  Remedies remedies_;
  std::shared_ptr<const KnowledgeBase> kb_;
  // Per signature or rule id seen so far: "title":...,"remedies":[...]
  TextMap<std::string> body_;
  std::int64_t received_ms_ = -1;
  std::string received_text_;
};

// The `json` format of a sink, for `audience` (language, software versions),
// with `remedies` as much remedy text as each record carries.
std::unique_ptr<Encoder> make_json_encoder(Audience audience = {}, Remedies remedies = Remedies::full);

// JSON views of knowledge-base entries, for `explain --json` and remedies, in
// the audience's language and with its versions' commands. Members keep the
// order of the record in docs/design (ordered_json).
nlohmann::ordered_json section_json(const Section& s, const Audience& audience = {});
// A remedy as `remedies` asks (full: section_json).
nlohmann::ordered_json remedy_json(const Section& s, Remedies remedies, const Audience& audience = {});
nlohmann::ordered_json signature_json(const Signature& s, const KnowledgeBase& kb, const Audience& audience = {});
nlohmann::ordered_json rule_json(const Rule& r, const KnowledgeBase& kb, const Audience& audience = {});

// `s` as a JSON string literal (quotes included), invalid UTF-8 replaced.
void append_json_string(std::string& out, std::string_view s);

// Milliseconds since the epoch as RFC 3339 UTC with milliseconds ("...T09:20:11.004Z").
std::string format_utc_ms(std::int64_t ms);

}  // namespace tunneldoc
