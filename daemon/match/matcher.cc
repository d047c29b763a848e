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

// Each pattern has alternatives that capture the value in different groups;
// the first group that took part wins. Values stop at a space, comma or '>'.
struct Matcher::Lenient {
  Lenient(const RE2::Options& options)
      : peer_ip(
            "(?:^|[\\s,(])(?:IP|Remote|Peer|peer)(?: ?= ?| ?: ?| ?<| )"
            "(\\d{1,3}(?:\\.\\d{1,3}){3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]*[0-9A-Fa-f])",
            options),
        group(
            "(?:^|[\\s,(])(?:Group|TunnelGroup|tunnel-group)(?: ?= ?| ?: ?| ?<)([^\\s,<>]+)"
            "|(?:^|[\\s,])Group ([^\\s,<>=:]+) User ",
            options),
        user(
            "(?:^|[\\s,(])(?:Username|User|user|Uname)(?: ?= ?| ?: ?| ?<)([^\\s,<>]+)"
            "|(?:^|[\\s,])User ([^\\s,<>=:]+) IP ",
            options) {}
  RE2 peer_ip, group, user;
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
  if (a->fallback != b->fallback) return !a->fallback;  // a key's fallback runs last
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
  RE2::Options options;
  // Byte-oriented matching: log lines may hold invalid UTF-8, and '.' must
  // still cross it. Pattern literals are matched byte for byte either way.
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_log_errors(false);
  for (const std::string& key : key_order) {
    auto& group = groups[key];
    std::stable_sort(group.begin(), group.end(), before);
    Range r{static_cast<std::uint32_t>(by_key_.size()), 0};
    by_key_.insert(by_key_.end(), group.begin(), group.end());
    r.end = static_cast<std::uint32_t>(by_key_.size());
    r.has_fallback = group.back()->fallback;
    const std::size_t specific = group.size() - (r.has_fallback ? 1 : 0);
    if (specific >= 2) {  // one scan of the text tells which of them can match
      auto set = std::make_unique<KeylessSet>(options);
      bool ok = true;
      for (std::size_t i = 0; i < specific && ok; ++i) ok = set->set.Add(group[i]->pattern, nullptr) >= 0;
      if (ok && set->set.Compile()) {
        r.set = static_cast<std::int32_t>(key_sets_.size());
        key_sets_.push_back(std::move(set));
      }
    }
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
  lenient_ = std::make_unique<Lenient>(options);
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

void Matcher::lenient_fields(std::string_view text, Fields& fields) const {
  const re2::StringPiece in(text.data(), text.size());
  auto add = [&](std::string_view name, const RE2& re) {
    for (const auto& f : fields)
      if (f.first == name) return;
    re2::StringPiece sub[3];
    const int n = std::min(re.NumberOfCapturingGroups(), 2) + 1;
    if (!re.Match(in, 0, in.size(), RE2::UNANCHORED, sub, n)) return;
    for (int g = 1; g < n; ++g) {
      if (sub[g].data() != nullptr && !sub[g].empty()) {
        fields.emplace_back(name, std::string_view(sub[g].data(), sub[g].size()));
        return;
      }
    }
  };
  add("peer_ip", lenient_->peer_ip);
  add("group", lenient_->group);
  add("user", lenient_->user);
}

const Signature* Matcher::match_range(const Range& range, std::string_view text, Fields& fields) const {
  const std::uint32_t specific_end = range.end - (range.has_fallback ? 1 : 0);
  if (range.set >= 0) {
    // The set tells which patterns match; only those run with captures, in
    // priority order. A set that gives up (DFA out of memory) runs them all.
    thread_local std::vector<int> hits;
    hits.clear();
    RE2::Set::ErrorInfo error{};
    const auto& set = key_sets_[static_cast<std::size_t>(range.set)]->set;
    if (set.Match(re2::StringPiece(text.data(), text.size()), &hits, &error)) {
      std::sort(hits.begin(), hits.end());
      for (int h : hits) {
        const Signature& sig = *by_key_[range.begin + static_cast<std::uint32_t>(h)];
        if (run(sig, text, fields)) return &sig;
      }
    } else if (error.kind != RE2::Set::kNoError) {
      for (std::uint32_t i = range.begin; i < specific_end; ++i) {
        if (run(*by_key_[i], text, fields)) return by_key_[i];
      }
    }
  } else {
    for (std::uint32_t i = range.begin; i < specific_end; ++i) {
      if (run(*by_key_[i], text, fields)) return by_key_[i];
    }
  }
  if (!range.has_fallback) return nullptr;
  const Signature& fallback = *by_key_[specific_end];
  fields.clear();
  if (!run(fallback, text, fields)) return nullptr;
  lenient_fields(text, fields);
  return &fallback;
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
    if (const Signature* sig = match_range(*range, record.text, fields)) return sig;
  }
  if (record.has_key()) {
    // Keys with a wildcard ("IKE/*"): what no exact key explained.
    for (const auto& [prefix, r] : prefixes_) {
      if (record.key().substr(0, prefix.size()) != prefix) continue;
      if (const Signature* sig = match_range(r, record.text, fields)) return sig;
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
