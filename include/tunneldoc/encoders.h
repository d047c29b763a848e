// encoders.h — the formats a sink writes: json (the diagnosis record,
// render.h), ecs (an Elastic Common Schema 8.x document) and cef (an
// ArcSight Common Event Format line).
//
// Every encoder writes one line per record and nothing a field value holds
// can end it early or start another field: JSON strings are escaped (and
// invalid UTF-8 replaced by U+FFFD); CEF escapes `\` and `|` in the header,
// `\`, `=`, CR and LF in extension values (docs/siem.md lists the keys and
// limits). Encoders are not thread-safe: one per sink thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "tunneldoc/render.h"
#include "tunneldoc/sink.h"

namespace tunneldoc {

enum class Format : std::uint8_t { json, ecs, cef };
bool parse_format(std::string_view text, Format& out);
std::string_view to_string(Format f);

inline constexpr std::string_view kEcsVersion = "8.11.0";

// For `audience`: the language of titles, diagnoses and remedies, and the
// software versions whose commands remedies show (knowledge_base.h).
std::unique_ptr<Encoder> make_ecs_encoder(Remedies remedies, Audience audience = {});
std::unique_ptr<Encoder> make_cef_encoder(Remedies remedies, Audience audience = {});
std::unique_ptr<Encoder> make_encoder(Format format, Remedies remedies, Audience audience = {});

// `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string valid_utf8(std::string_view s);
// `s` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view s, std::size_t max);

// CEF escaping (ArcSight CEF implementation standard): a header field
// (`\` and `|` escaped; CR and LF, which a header may not hold, become
// spaces) and an extension value (`\`, `=` escaped; CR and LF as \r, \n).
// Both replace invalid UTF-8 and cut the value to `max` bytes first.
void append_cef_header(std::string& out, std::string_view value, std::size_t max);
void append_cef_value(std::string& out, std::string_view value, std::size_t max);

// CEF severity (0-10) of a syslog severity (0-7).
int cef_severity(int syslog_severity);

}  // namespace tunneldoc
