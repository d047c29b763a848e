// matcher.cc — key index (bitmap + hash maps) and the keyless RE2::Set.
#include "tunneldoc/matcher.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

namespace tunneldoc {

struct Matcher::KeylessSet {
  explicit KeylessSet(const RE2::Options& options) : set(options, RE2::UNANCHORED) {}
  RE2::Set set;
};

namespace {
constexpr std::uint32_t kNumericLimit = 1'000'000;  // ASA ids are six digits

bool parse_numeric(std::string_view key, std::uint32_t& out) {
  if (key.empty() || key.size() > 9) return false;
  std::uint32_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  out = v;
  return true;
}

bool before(const Signature* a, const Signature* b) {
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->order < b->order;
}
}  // namespace

Matcher::Matcher(std::shared_ptr<const KnowledgeBase> kb) : kb_(std::move(kb)) {
  numeric_bits_.assign(kNumericLimit / 64 + 1, 0);
  // Group signatures by key, each group sorted by priority then load order.
  std::unordered_map<std::string, std::vector<const Signature*>> groups;
  std::vector<std::string> key_order;
  for (const Signature& sig : kb_->signatures()) {
    if (!sig.regex) continue;  // only in a knowledge base that failed to load
    if (sig.keyless) {
      keyless_.push_back(&sig);
      continue;
    }
    for (const std::string& key : sig.keys) {
      auto [it, inserted] = groups.try_emplace(key);
      if (inserted) key_order.push_back(key);
      it->second.push_back(&sig);
    }
  }
  for (const std::string& key : key_order) {
    auto& group = groups[key];
    std::stable_sort(group.begin(), group.end(), before);
    Range r{static_cast<std::uint32_t>(by_key_.size()), 0};
    by_key_.insert(by_key_.end(), group.begin(), group.end());
    r.end = static_cast<std::uint32_t>(by_key_.size());
    std::uint32_t n = 0;
    if (key.size() > 1 && key.back() == '*') {
      prefixes_.emplace_back(key.substr(0, key.size() - 1), r);
    } else if (parse_numeric(key, n)) {
      numeric_[n] = r;
      if (n < kNumericLimit) numeric_bits_[n / 64] |= std::uint64_t{1} << (n % 64);
    } else {
      named_[key] = r;
    }
  }
  std::stable_sort(keyless_.begin(), keyless_.end(), before);
  RE2::Options options;
  // Byte-oriented matching: log lines may hold invalid UTF-8, and '.' must
  // still cross it. Pattern literals are matched byte for byte either way.
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  keyless_set_ = std::make_unique<KeylessSet>(options);
  for (const Signature* sig : keyless_) {
    std::string error;
    // Patterns were compiled individually at load, so Add cannot fail here;
    // if it did the index would be off, so keep the slot with a never-match.
    if (keyless_set_->set.Add(sig->pattern, &error) < 0) keyless_set_->set.Add("[^\\x00-\\x{10FFFF}]", nullptr);
  }
  keyless_set_->set.Compile();
}

Matcher::~Matcher() = default;

bool Matcher::run(const Signature& sig, std::string_view text, Fields& fields) const {
  const RE2& re = *sig.regex;
  const int groups = re.NumberOfCapturingGroups();
  constexpr int kMaxGroups = 32;
  re2::StringPiece sub[kMaxGroups + 1];
  const int n = std::min(groups, kMaxGroups) + 1;
  if (!re.Match(re2::StringPiece(text.data(), text.size()), 0, text.size(), RE2::UNANCHORED, sub, n)) {
    return false;
  }
  for (int g = 1; g < n; ++g) {
    if (sub[g].data() == nullptr || sig.group_names[g].empty()) continue;
    fields.emplace_back(sig.group_names[g], std::string_view(sub[g].data(), sub[g].size()));
  }
  return true;
}

const Signature* Matcher::match(const LogRecord& record, Fields& fields) const {
  fields.clear();
  const Range* range = nullptr;
  if (record.numeric_key != 0) {
    const std::uint32_t n = record.numeric_key;
    if (n < kNumericLimit && !(numeric_bits_[n / 64] & (std::uint64_t{1} << (n % 64)))) return nullptr;
    auto it = numeric_.find(n);
    if (it == numeric_.end()) return nullptr;
    range = &it->second;
  } else if (record.has_key()) {
    auto it = named_.find(record.key());
    if (it != named_.end()) range = &it->second;
    if (range == nullptr && prefixes_.empty()) return nullptr;
  }
  if (range != nullptr) {
    for (std::uint32_t i = range->begin; i < range->end; ++i) {
      if (run(*by_key_[i], record.text, fields)) return by_key_[i];
    }
  }
  if (record.has_key()) {
    // Keys with a wildcard ("IKE/*"): what no exact key explained.
    for (const auto& [prefix, r] : prefixes_) {
      if (record.key().substr(0, prefix.size()) != prefix) continue;
      for (std::uint32_t i = r.begin; i < r.end; ++i) {
        if (run(*by_key_[i], record.text, fields)) return by_key_[i];
      }
    }
    return nullptr;
  }
  if (keyless_.empty() || record.text.empty()) return nullptr;
  std::vector<int> hits;
  if (!keyless_set_->set.Match(re2::StringPiece(record.text.data(), record.text.size()), &hits)) return nullptr;
  std::sort(hits.begin(), hits.end());  // index order is priority order
  for (int h : hits) {
    if (run(*keyless_[static_cast<std::size_t>(h)], record.text, fields)) return keyless_[static_cast<std::size_t>(h)];
  }
  return nullptr;
}

bool Matcher::knows_key(const LogRecord& record) const {
  const std::uint32_t n = record.numeric_key;
  if (n != 0 && n < kNumericLimit) return (numeric_bits_[n / 64] >> (n % 64)) & 1;
  return knows_key(record.key());
}

bool Matcher::knows_key(std::string_view key) const {
  std::uint32_t n = 0;
  if (parse_numeric(key, n)) return numeric_.count(n) != 0;
  if (named_.find(key) != named_.end()) return true;
  for (const auto& [prefix, r] : prefixes_) {
    if (key.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

}  // namespace tunneldoc
