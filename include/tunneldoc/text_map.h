// text_map.h — a hash map keyed by std::string that a std::string_view (a
// view into a line or an Event) can look up without building a string first.
//
// TextMap<V> is std::unordered_map with a transparent hash and equality:
// find(), count() and contains() take a string_view; inserting still takes a
// std::string. Thread safety and lifetime are those of std::unordered_map.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace tunneldoc {

struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

template <class V>
using TextMap = std::unordered_map<std::string, V, TextHash, std::equal_to<>>;

}  // namespace tunneldoc
