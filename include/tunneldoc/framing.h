// framing.h — split a syslog byte stream into messages (RFC 6587).
//
// FrameParser is an incremental parser over bytes, in the shape of the asio
// http example's request_parser: feed it whatever a read returned and it says
// good (a whole frame is ready), bad (the stream cannot be framed), or
// indeterminate (it needs more bytes). It never touches a socket.
//
// Both RFC 6587 framings are detected per frame, so one connection may mix them:
//   octet counting   "MSG-LEN SP SYSLOG-MSG"  when the frame starts with 1-9
//                    digits, a space, then '<' (the PRI of the message);
//   non-transparent  everything up to LF (a CR before the LF and trailing NULs
//                    are dropped).
// A frame longer than max_frame is cut at max_frame bytes and the rest is
// skipped; the frame is delivered once, complete, with truncated() set.
//
// Not thread-safe; one parser per connection. A frame returned by frame() is a
// view either into the bytes given to parse() or into the parser's own buffer,
// valid until the next call to parse() or reset().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tunneldoc {

class FrameParser {
 public:
  enum class Result { good, bad, indeterminate };
  enum class Framing { none, octet_counting, lf };

  explicit FrameParser(std::size_t max_frame = 64 * 1024);
  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;

  // Consumes bytes from `data` (advancing it past what was used) until a frame
  // is complete (good), the input is used up (indeterminate) or the stream is
  // broken (bad: an octet count of 0 or one too large to be a length). After
  // bad the parser stays bad until reset().
  Result parse(std::string_view& data);

  // At end of stream: an unterminated LF frame still buffered is a message
  // (senders often omit the last LF). Returns true and sets frame() if so.
  // `stream_ended` false means the receiver is closing a stream the sender
  // has not ended (idle timeout, shutdown): then any partial frame is
  // delivered as incomplete().
  bool finish(bool stream_ended = true);

  std::string_view frame() const { return frame_; }
  // The frame was cut: longer than max_frame, or (after finish()) the stream
  // ended before the frame did (then incomplete() is also true).
  bool truncated() const { return frame_truncated_; }
  bool incomplete() const { return frame_incomplete_; }
  Framing framing() const { return frame_framing_; }
  std::size_t max_frame() const { return max_frame_; }
  // Bytes held for an incomplete frame, and the memory the parser holds for
  // it (capacity). Memory beyond kKeepCapacity is given back once the frame
  // has been delivered, so one long message does not pin it for good.
  std::size_t buffered() const { return partial_.size(); }
  std::size_t held() const { return partial_.capacity() + prefix_.capacity(); }
  static constexpr std::size_t kKeepCapacity = 4096;

  void reset();

 private:
  enum class State { start, count, after_space, octet_body, lf_body, bad };

  Result deliver(std::string_view body, bool truncated);
  void append(std::string_view bytes);
  // What looked like an octet count was the start of an LF-framed line.
  void start_lf_with_prefix();

  std::size_t max_frame_;
  State state_ = State::start;
  std::string partial_;          // bytes of the current frame seen in earlier calls
  std::string prefix_;           // the digits and space of a possible octet count
  std::uint64_t remaining_ = 0;  // octet counting: body bytes still to come
  bool cut_ = false;             // current frame exceeded max_frame
  std::string_view frame_;
  bool frame_truncated_ = false;
  bool frame_incomplete_ = false;
  Framing frame_framing_ = Framing::none;
  Framing current_ = Framing::none;
};

// A datagram or frame without trailing LF, CR and NUL bytes.
std::string_view trim_message(std::string_view s);

}  // namespace tunneldoc
