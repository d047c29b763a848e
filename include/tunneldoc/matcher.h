// matcher.h — the signature index: from a LogRecord to the signature that
// explains it, with the fields its pattern extracts.
//
// Built once from a knowledge base and immutable afterwards: match() is const
// and safe to call from many threads at once (each with its own Fields). The
// Matcher keeps its KnowledgeBase alive. A line whose key no signature uses
// costs one bitmap test or hash lookup and allocates nothing.
//
// A key's signatures are tried in priority order, its fallback (if any) last.
// When a key has several signatures, one RE2::Set of their patterns scans the
// text once and only the signatures it reports run with captures, so the cost
// of a line is linear in its length whatever the number of signatures.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/record.h"
#include "tunneldoc/text_map.h"

namespace tunneldoc {

// Extracted fields: (group name, value) with values pointing into the line.
// Reuse one Fields across calls: clear() keeps its capacity.
using Fields = std::vector<std::pair<std::string_view, std::string_view>>;

class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const KnowledgeBase> kb);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // The best signature for `record`, or nullptr. On a match, `fields` holds
  // the named groups that took part in it (cleared first either way).
  const Signature* match(const LogRecord& record, Fields& fields) const;

  // True if some signature uses this key (for `explain` and statistics).
  bool knows_key(std::string_view key) const;
  // The same for a parsed record's key, with the bitmap for ASA ids.
  bool knows_key(const LogRecord& record) const;

  const KnowledgeBase& kb() const { return *kb_; }
  const std::shared_ptr<const KnowledgeBase>& kb_ptr() const { return kb_; }

 private:
  struct Range {
    std::uint32_t begin = 0, end = 0;  // into by_key_; a fallback is the last one
    std::int32_t set = -1;             // into key_sets_, for the non-fallback signatures; -1: none
    bool has_fallback = false;
  };

  bool run(const Signature& sig, std::string_view text, Fields& fields) const;
  const Signature* match_range(const Range& range, std::string_view text, Fields& fields) const;
  // peer_ip, group and user from the usual tag forms (`IP = a`, `Group <g>`,
  // `Username:u`, `Remote:a:port`), for fallbacks; only names not yet in `fields`.
  void lenient_fields(std::string_view text, Fields& fields) const;

  std::shared_ptr<const KnowledgeBase> kb_;
  std::vector<std::uint64_t> numeric_bits_;  // bit per ASA id < kNumericLimit
  std::unordered_map<std::uint32_t, Range> numeric_;
  TextMap<Range> named_;
  std::vector<std::pair<std::string, Range>> prefixes_;  // keys written "IKE/*"
  std::vector<const Signature*> by_key_;
  std::vector<const Signature*> keyless_;  // index = RE2::Set pattern index
  struct KeylessSet;                       // wraps re2::RE2::Set, which cannot be forward-declared
  std::unique_ptr<KeylessSet> keyless_set_;
  std::vector<std::unique_ptr<KeylessSet>> key_sets_;  // index = Range::set
  struct Lenient;                                      // the lenient extraction's patterns
  std::unique_ptr<Lenient> lenient_;
};

}  // namespace tunneldoc
