// router.cc — fan-out of outputs to the sinks that want them.
#include "tunneldoc/route.h"

namespace tunneldoc {

void Router::publish(const std::vector<OutputPtr>& outputs) {
  if (outputs.empty()) return;
  for (Sink* sink : sinks_) sink->publish(outputs);
}

}  // namespace tunneldoc
