// router.cc — fan-out of outputs to the sinks that want them.
#include "tunneldoc/route.h"

namespace tunneldoc {

void Router::publish(const std::vector<OutputPtr>& outputs) {
  if (outputs.empty()) return;
  for (Sink* sink : sinks_) sink->publish(outputs);
}

Router::Mark Router::mark() const {
  Mark m;
  m.reserve(sinks_.size());
  for (const Sink* sink : sinks_) m.push_back(sink->accepted());
  return m;
}

bool Router::durable(const Mark& mark) const {
  for (std::size_t i = 0; i < sinks_.size() && i < mark.size(); ++i)
    if (sinks_[i]->settled() < mark[i]) return false;
  return true;
}

}  // namespace tunneldoc
