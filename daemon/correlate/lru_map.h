// lru_map.h — a map with a size cap that forgets the least recently used key.
//
// Not thread-safe: the correlator keeps one per shard, behind the shard's
// mutex. Values are stable in memory while their key stays in the map.
#pragma once

#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tunneldoc {

template <typename V>
class LruMap {
 public:
  using Entry = std::pair<std::string, V>;

  explicit LruMap(std::size_t cap) : cap_(cap == 0 ? 1 : cap) {}

  // The value of `key` (now the most recently used), or null.
  V* find(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    list_.splice(list_.end(), list_, it->second);
    return &it->second->second;
  }

  // The value of `key`, created when missing. Creating one beyond the cap
  // first hands the least recently used entry to `evicted`, then forgets it.
  template <typename Evicted>
  V& get(std::string_view key, bool& created, Evicted&& evicted) {
    if (V* v = find(key)) {
      created = false;
      return *v;
    }
    if (index_.size() >= cap_) {
      evicted(list_.front());
      index_.erase(list_.front().first);
      list_.pop_front();
    }
    created = true;
    list_.emplace_back(std::string(key), V{});
    auto last = std::prev(list_.end());
    index_.emplace(last->first, last);  // the key is stored once, in the list node
    return last->second;
  }

  // Hands the least recently used entry to `evicted`, then forgets it. False when empty.
  template <typename Evicted>
  bool pop_oldest(Evicted&& evicted) {
    if (list_.empty()) return false;
    evicted(list_.front());
    index_.erase(list_.front().first);
    list_.pop_front();
    return true;
  }

  // The least recently used key, or null when empty.
  const std::string* oldest() const { return list_.empty() ? nullptr : &list_.front().first; }

  void erase(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    list_.erase(it->second);
    index_.erase(it);
  }

  // Visits every entry, least recently used first; erases those for which
  // `f` returns false. Does not change the order.
  template <typename F>
  void sweep(F&& f) {
    for (auto it = list_.begin(); it != list_.end();) {
      if (f(*it)) {
        ++it;
      } else {
        index_.erase(it->first);
        it = list_.erase(it);
      }
    }
  }

  template <typename F>
  void for_each(F&& f) const {
    for (const Entry& e : list_) f(e);
  }

  std::size_t size() const { return index_.size(); }

 private:
  std::size_t cap_;
  std::list<Entry> list_;  // least recently used first
  // Keys are views of the list nodes' keys (a node never moves).
  std::unordered_map<std::string_view, typename std::list<Entry>::iterator> index_;
};

}  // namespace tunneldoc
