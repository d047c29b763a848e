// fifo.h — a first-in first-out sequence for the correlator's per-key state
// that allocates nothing while empty. std::deque allocates about 600 bytes
// as soon as it is constructed; with 50,000 tracked keys and three of them a
// key, that alone was 90 MB of a flood of distinct peers.
//
// Elements live in one vector; pop_front() releases the element at once
// (a popped EventPtr frees its event) and the vector is compacted when half
// of it is popped, so push and pop are amortised O(1). Not thread-safe: the
// correlator's shard lock guards it, like the rest of the state.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace tunneldoc {

template <class T>
class Fifo {
 public:
  using const_iterator = typename std::vector<T>::const_iterator;

  void push_back(T v) { items_.push_back(std::move(v)); }
  void pop_front() {
    items_[head_] = T{};
    if (++head_ == items_.size()) {
      clear();
    } else if (2 * head_ >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  const T& front() const { return items_[head_]; }
  const T& back() const { return items_.back(); }
  const T& operator[](std::size_t i) const { return items_[head_ + i]; }
  std::size_t size() const { return items_.size() - head_; }
  bool empty() const { return size() == 0; }
  // Empties it and gives its memory back.
  void clear() {
    std::vector<T>().swap(items_);
    head_ = 0;
  }
  const_iterator begin() const { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  const_iterator end() const { return items_.end(); }

 private:
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace tunneldoc
