// output.cc — names of the Output enumerations, stream selection.
#include "tunneldoc/output.h"

namespace tunneldoc {

std::string_view to_string(OutputKind k) {
  switch (k) {
    case OutputKind::line:
      return "line";
    case OutputKind::correlated:
      return "correlated";
    case OutputKind::incident:
      return "incident";
  }
  return "line";
}

std::string_view to_string(Stream s) {
  switch (s) {
    case Stream::incidents:
      return "incidents";
    case Stream::lines:
      return "lines";
    case Stream::all:
      return "all";
  }
  return "all";
}

bool parse_stream(std::string_view text, Stream& out) {
  for (Stream s : {Stream::incidents, Stream::lines, Stream::all}) {
    if (text == to_string(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

bool wants(Stream s, OutputKind k) {
  switch (s) {
    case Stream::incidents:
      return k != OutputKind::line;
    case Stream::lines:
      return k != OutputKind::incident;
    case Stream::all:
      return true;
  }
  return true;
}

std::string_view to_string(IncidentState s) {
  switch (s) {
    case IncidentState::open:
      return "open";
    case IncidentState::update:
      return "update";
    case IncidentState::resolved:
      return "resolved";
  }
  return "open";
}

std::string_view to_string(Resolution r) {
  switch (r) {
    case Resolution::none:
      return "none";
    case Resolution::cleared:
      return "cleared";
    case Resolution::quiet:
      return "quiet";
    case Resolution::evicted:
      return "evicted";
  }
  return "none";
}

std::shared_ptr<Output> line_output(std::shared_ptr<const KnowledgeBase> kb, std::shared_ptr<const Event> event) {
  auto o = std::make_shared<Output>();
  o->kind = OutputKind::line;
  o->entry = std::string(event->signature());
  o->kb = std::move(kb);
  o->at_ms = event->at_ms;
  o->evidence.push_back(event);
  o->subject = std::move(event);
  return o;
}

}  // namespace tunneldoc
