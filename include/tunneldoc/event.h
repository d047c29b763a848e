// event.h — what leaves the match stage: one recognised input line, owning
// everything it needs, small, and naming its signature by id so that it
// outlives a knowledge-base reload.
//
// An Event keeps all of its text in one buffer (one allocation per event);
// the accessors return views into it that stay valid until the Event is
// modified or destroyed. Events are plain values: copy or move them freely.
// Once built they are shared read-only (std::shared_ptr<const Event>) as the
// evidence of line, correlated and incident records, from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "tunneldoc/knowledge_base.h"
#include "tunneldoc/record.h"

namespace tunneldoc {

class Event {
 public:
  static constexpr std::size_t kMaxFields = 16;        // further fields are dropped
  static constexpr std::size_t kMaxFieldValue = 1024;  // longer values are cut
  static constexpr std::size_t kMaxFieldName = 64;     // longer names are cut
  using Field = std::pair<std::string_view, std::string_view>;

  Event() = default;

  // Identity: the signature (by id) and what it means to the correlator.
  std::string_view signature() const { return view(signature_); }
  std::string_view incident_class() const { return view(incident_class_); }
  Role role = Role::diagnosis;
  Confidence confidence = Confidence::medium;

  // Where it came from. `stream` is the source without the line number
  // ("file:asa.log", "stdin", "udp:192.0.2.1:514", "tcp:192.0.2.1:40112");
  // rules that join neighbouring lines (block, join) work per stream.
  std::string_view device() const { return view(device_); }
  std::string_view peer() const { return view(peer_); }
  std::string_view stream() const { return view(stream_); }
  std::uint64_t line_number = 0;  // 0 when the source has no line numbers
  // "file:asa.log:17" or the stream itself when there is no line number.
  std::string source() const;

  // The header, as written.
  std::string_view message_id() const { return view(message_id_); }
  std::string_view line() const { return view(line_); }
  EventTime time;  // with the year filled in when the header had none
  int severity = -1;
  bool truncated = false;

  // Milliseconds since the epoch: when the event happened (the header's time,
  // or `received_ms` when the header has none) and when it was received.
  std::int64_t at_ms = 0;
  std::int64_t received_ms = 0;

  std::size_t field_count() const { return field_count_; }
  // Calls f(name, value) for every field, in the order they were added.
  template <typename F>
  void for_each_field(F&& f) const {
    std::size_t at = fields_.offset;
    for (std::size_t i = 0; i < field_count_; ++i) {
      const std::size_t n = length_at(at), v = length_at(at + 2 + n);
      f(std::string_view(text_.data() + at + 2, n), std::string_view(text_.data() + at + 4 + n, v));
      at += 4 + n + v;
    }
  }
  // The value of the named field; empty when absent.
  std::string_view field(std::string_view name) const;

  // Builders. Each appends to the buffer; later calls may move earlier views.
  void set_signature(std::string_view id, std::string_view incident_class);
  void set_device(std::string_view v) { device_ = append(v); }
  void set_peer(std::string_view v) { peer_ = append(v); }
  void set_stream(std::string_view v) { stream_ = append(v); }
  void set_message_id(std::string_view v) { message_id_ = append(v); }
  void set_line(std::string_view v) { line_ = append(v); }
  // Replaces the fields with `fields` (name, value pairs; empty values skipped).
  template <typename Pairs>
  void set_fields(const Pairs& fields) {
    begin_fields();
    for (const auto& [name, value] : fields) push_field(name, value);
  }
  // Adds a field, or replaces the value of one with the same name.
  void add_field(std::string_view name, std::string_view value);
  // Empties the event but keeps its buffer's capacity.
  void clear();
  // Makes room for `bytes` more text (one allocation for a whole event).
  void reserve(std::size_t bytes) { text_.reserve(text_.size() + bytes); }

 private:
  struct Span {
    std::uint32_t offset = 0, size = 0;
  };
  std::string_view view(Span s) const { return {text_.data() + s.offset, s.size}; }
  Span append(std::string_view v);
  std::size_t length_at(std::size_t at) const {
    return static_cast<unsigned char>(text_[at]) | static_cast<std::size_t>(static_cast<unsigned char>(text_[at + 1]))
                                                       << 8;
  }
  // Fields live at the end of text_ as [u16 name length][name][u16 value length][value].
  void begin_fields();
  void push_field(std::string_view name, std::string_view value);

  std::string text_;
  Span signature_, incident_class_, device_, peer_, stream_, message_id_, line_, fields_;
  std::uint8_t field_count_ = 0;
};

// The peer a diagnosis is about, from its fields: the remote IP address
// (peer_ip), else "group/user" or the group or user alone for remote access.
// Empty when the line names none.
std::string peer_of(const Event& e);

// Milliseconds since the epoch of `t`, with `year` for a header without one
// and UTC for a header without an offset. -1 when `t` is not valid.
std::int64_t to_epoch_ms(const EventTime& t, int year);

// The year a header without one most likely meant, received at `now_ms`:
// the current year, or the previous one when that puts the event more than a
// day in the future (December's lines read in January).
int infer_year(const EventTime& t, std::int64_t now_ms);

}  // namespace tunneldoc
