// framer_fuzz.cc — FrameParser (RFC 6587: octet counting and LF framing,
// detected per frame) over arbitrary bytes fed in arbitrary chunks. The same
// bytes fed whole and fed in pieces must give the same frames; no frame is
// longer than max_frame; the memory held stays bounded.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "tunneldoc/framing.h"

namespace {

using tunneldoc::FrameParser;

struct Frame {
  std::string text;
  bool truncated, incomplete;
  FrameParser::Framing framing;
  bool operator==(const Frame& o) const {
    return text == o.text && truncated == o.truncated && incomplete == o.incomplete && framing == o.framing;
  }
};

struct Run {
  std::vector<Frame> frames;
  bool bad = false;
};

void take(FrameParser& p, Run& run) {
  FUZZ_CHECK(p.frame().size() <= p.max_frame());
  run.frames.push_back({std::string(p.frame()), p.truncated(), p.incomplete(), p.framing()});
}

// Feeds `stream` in pieces of the sizes in `cuts` (cycled); `stream_ended`
// chooses how the stream ends.
Run feed(std::size_t max_frame, std::string_view stream, const std::vector<std::size_t>& cuts, bool stream_ended) {
  FrameParser p(max_frame);
  Run run;
  std::size_t at = 0, k = 0;
  while (at < stream.size() && !run.bad) {
    const std::size_t n = cuts.empty() ? stream.size() : std::min(cuts[k++ % cuts.size()], stream.size() - at);
    std::string chunk(stream.substr(at, n));  // its own buffer: frames must not point into old chunks
    at += n;
    std::string_view data = chunk;
    for (;;) {
      const auto r = p.parse(data);
      if (r == FrameParser::Result::good) {
        take(p, run);
      } else {
        run.bad = r == FrameParser::Result::bad;
        break;
      }
    }
    // Memory: the partial frame, and capacity bounded by growth.
    FUZZ_CHECK(p.buffered() <= max_frame);
    FUZZ_CHECK(p.held() <= 2 * max_frame + 2 * FrameParser::kKeepCapacity + 64);
  }
  if (!run.bad && p.finish(stream_ended)) take(p, run);
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const std::size_t max_frame = in.ConsumeIntegralInRange<std::size_t>(1, 300);
  const bool stream_ended = in.ConsumeBool();
  std::vector<std::size_t> cuts;
  const std::size_t pieces = in.ConsumeIntegralInRange<std::size_t>(1, 16);
  for (std::size_t i = 0; i < pieces; ++i) cuts.push_back(in.ConsumeIntegralInRange<std::size_t>(1, 64));
  const std::string stream = in.ConsumeRemainingBytesAsString();
  const Run whole = feed(max_frame, stream, {}, stream_ended);
  const Run pieces_run = feed(max_frame, stream, cuts, stream_ended);
  const Run bytes = feed(max_frame, stream, {1}, stream_ended);
  FUZZ_CHECK(whole.bad == pieces_run.bad && whole.bad == bytes.bad);
  FUZZ_CHECK(whole.frames == pieces_run.frames);
  FUZZ_CHECK(whole.frames == bytes.frames);
  std::size_t total = 0;
  for (const Frame& f : whole.frames) total += f.text.size();
  FUZZ_CHECK(total <= stream.size());
  return 0;
}
