// framing.cc — RFC 6587 octet counting and LF framing, detected per frame.
#include "tunneldoc/framing.h"

#include <algorithm>

namespace tunneldoc {
namespace {

// An octet count above this is not a length but a broken or hostile stream.
constexpr std::uint64_t kMaxOctetCount = 64u << 20;
constexpr std::size_t kMaxCountDigits = 9;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string_view trim_message(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == '\0')) s.remove_suffix(1);
  return s;
}

FrameParser::FrameParser(std::size_t max_frame) : max_frame_(max_frame == 0 ? 1 : max_frame) {}

void FrameParser::reset() {
  state_ = State::start;
  std::string().swap(partial_);
  prefix_.clear();
  remaining_ = 0;
  cut_ = false;
  frame_ = {};
  frame_truncated_ = false;
  frame_framing_ = current_ = Framing::none;
}

void FrameParser::start_lf_with_prefix() {
  current_ = Framing::lf;
  append(prefix_);
  prefix_.clear();
  state_ = State::lf_body;
}

void FrameParser::append(std::string_view bytes) {
  const std::size_t room = max_frame_ - std::min(max_frame_, partial_.size());
  if (bytes.size() > room) {
    cut_ = true;
    bytes = bytes.substr(0, room);
  }
  partial_.append(bytes);
}

FrameParser::Result FrameParser::deliver(std::string_view body, bool truncated) {
  frame_ = current_ == Framing::lf ? trim_message(body) : body;
  frame_truncated_ = truncated;
  frame_incomplete_ = false;
  frame_framing_ = current_;
  state_ = State::start;
  remaining_ = 0;
  cut_ = false;
  prefix_.clear();
  return Result::good;
}

FrameParser::Result FrameParser::parse(std::string_view& data) {
  if (state_ == State::bad) return Result::bad;
  if (state_ == State::start && !frame_.empty()) {
    // The previous frame may point into partial_; it is no longer needed.
    partial_.clear();
    frame_ = {};
  }
  if (state_ == State::start && partial_.capacity() > kKeepCapacity) std::string().swap(partial_);
  while (!data.empty()) {
    switch (state_) {
      case State::start: {
        partial_.clear();
        frame_ = {};
        cut_ = false;
        const char c = data.front();
        if (c >= '1' && c <= '9') {
          prefix_.assign(1, c);
          data.remove_prefix(1);
          state_ = State::count;
        } else {
          current_ = Framing::lf;
          state_ = State::lf_body;
        }
        break;
      }
      case State::count: {
        const char c = data.front();
        if (is_digit(c) && prefix_.size() < kMaxCountDigits) {
          prefix_.push_back(c);
          data.remove_prefix(1);
        } else if (c == ' ') {
          prefix_.push_back(c);
          data.remove_prefix(1);
          state_ = State::after_space;
        } else {
          start_lf_with_prefix();  // not a count: the digits begin an LF-framed line
        }
        break;
      }
      case State::after_space: {
        if (data.front() == '<') {
          std::uint64_t n = 0;
          for (char c : prefix_) {
            if (is_digit(c)) n = n * 10 + static_cast<std::uint64_t>(c - '0');
          }
          prefix_.clear();
          if (n > kMaxOctetCount) {
            state_ = State::bad;
            return Result::bad;
          }
          current_ = Framing::octet_counting;
          remaining_ = n;
          state_ = State::octet_body;
        } else {
          start_lf_with_prefix();
        }
        break;
      }
      case State::octet_body: {
        if (partial_.empty() && !cut_ && data.size() >= remaining_) {
          // The whole frame is in this read: hand out a view, copy nothing.
          const std::size_t n = static_cast<std::size_t>(remaining_);
          const std::string_view body = data.substr(0, n);
          data.remove_prefix(n);
          if (body.size() > max_frame_) return deliver(body.substr(0, max_frame_), true);
          return deliver(body, false);
        }
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, data.size()));
        append(data.substr(0, n));
        data.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) return deliver(partial_, cut_);
        break;
      }
      case State::lf_body: {
        const std::size_t pos = data.find('\n');
        if (pos == std::string_view::npos) {
          append(data);
          data = {};
          break;
        }
        std::string_view body;
        bool truncated;
        if (partial_.empty() && !cut_) {
          body = data.substr(0, std::min(pos, max_frame_));
          truncated = pos > max_frame_;
        } else {
          append(data.substr(0, pos));
          body = partial_;
          truncated = cut_;
        }
        data.remove_prefix(pos + 1);
        deliver(body, truncated);
        if (frame_.empty() && !truncated) {
          partial_.clear();  // an empty line is not a message
          break;
        }
        return Result::good;
      }
      case State::bad:
        return Result::bad;
    }
  }
  return Result::indeterminate;
}

bool FrameParser::finish(bool stream_ended) {
  switch (state_) {
    case State::count:
    case State::after_space:
      current_ = Framing::lf;
      append(prefix_);
      prefix_.clear();
      [[fallthrough]];
    case State::lf_body:
    case State::octet_body: {
      const bool incomplete = state_ == State::octet_body || !stream_ended;
      deliver(partial_, cut_ || incomplete);
      frame_incomplete_ = incomplete;
      if (frame_.empty()) return false;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace tunneldoc
