// output.h — what leaves the correlate stage and travels through route to the
// sinks: a line diagnosis, a correlated diagnosis, or an incident's change of
// state. Sinks encode it (JSON, later ECS and CEF) on their own threads.
//
// An Output is immutable once published and shared as
// std::shared_ptr<const Output> by every sink that wants it; it holds the
// knowledge base it was made with, so a sink renders it with the text of that
// knowledge base even after a reload, and its evidence Events are shared, not
// copied.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tunneldoc/event.h"
#include "tunneldoc/knowledge_base.h"

namespace tunneldoc {

enum class OutputKind : std::uint8_t { line, correlated, incident };
std::string_view to_string(OutputKind k);

// Which records a sink wants: `incidents` (incident and correlated records,
// the default of serve), `lines` (line and correlated records, the default of
// scan) or `all`.
enum class Stream : std::uint8_t { incidents, lines, all };
std::string_view to_string(Stream s);
bool parse_stream(std::string_view text, Stream& out);
bool wants(Stream s, OutputKind k);

enum class IncidentState : std::uint8_t { open, update, resolved };
enum class Resolution : std::uint8_t { none, cleared, quiet, evicted };
std::string_view to_string(IncidentState s);
std::string_view to_string(Resolution r);

struct IncidentInfo {
  std::string id;  // stable across updates and restarts
  IncidentState state = IncidentState::open;
  Resolution resolution = Resolution::none;
  std::string device, peer, incident_class;
  std::int64_t first_seen_ms = 0, last_seen_ms = 0;
};

struct Output {
  OutputKind kind = OutputKind::line;
  // The knowledge-base entry whose title, diagnosis, confidence and remedies
  // the record shows: a signature id, or a rule id for a correlated record.
  std::string entry;
  std::string rule;  // a line record enriched by a join or block rule: that rule's id
  std::shared_ptr<const KnowledgeBase> kb;
  // The diagnosis whose header (host, message id, severity) and fields the
  // record shows: a line record's own line, the line that made a rule fire,
  // an incident's latest diagnosis. Never null.
  std::shared_ptr<const Event> subject;
  // Oldest first. A line record has its own line last (joined lines before
  // it); an incident keeps its first line and its last few.
  std::vector<std::shared_ptr<const Event>> evidence;
  // Fields the record adds to its subject's (a correlated record's counts,
  // the fields of a block, an interval).
  std::vector<std::pair<std::string, std::string>> fields;
  std::uint64_t count = 1;
  std::int64_t at_ms = 0;  // when this happened (an incident: the change of state)
  std::optional<IncidentInfo> incident;
};

using OutputPtr = std::shared_ptr<const Output>;

// The line record of one event (kind line, count 1), as `explain` and the
// correlator make it.
std::shared_ptr<Output> line_output(std::shared_ptr<const KnowledgeBase> kb, std::shared_ptr<const Event> event);

}  // namespace tunneldoc
