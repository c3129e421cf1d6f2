// The planner's contract, checked by the model tests: no two values whose lifetimes overlap share
// memory, every value lies inside the arena, and a channel slice lies inside its buffer.
#pragma once

#include <algorithm>
#include <vector>

#include "core/planner.h"
#include "sr/graph.h"
#include "test_util.h"

namespace sr::test {

// Lifetimes as the planner defines them: a buffer lives from the first write to the last read of
// any of its slices.
inline void check_plan(const Graph& g, const BufferPlan& plan) {
  const auto& nodes = g.nodes();
  const auto& values = g.values();
  const int end = static_cast<int>(nodes.size());
  std::vector<int> first(values.size(), end), last(values.size(), -1);
  for (int i = 0; i < end; ++i) {
    first[nodes[i].output] = std::min(first[nodes[i].output], i);
    last[nodes[i].output] = std::max(last[nodes[i].output], i);
    for (int v : nodes[i].inputs) last[v] = std::max(last[v], i);
  }
  first[g.input()] = -1;
  last[g.output()] = end;
  for (size_t v = 0; v < values.size(); ++v) {
    const int whole = values[v].slice_of;
    if (whole < 0) continue;
    first[whole] = std::min(first[whole], first[v]);
    last[whole] = std::max(last[whole], last[v]);
    // A slice lies inside its buffer: the same rows, its own channels.
    REQUIRE(plan.offsets[v] == plan.offsets[whole] + values[v].channel_offset);
  }
  for (size_t a = 0; a < values.size(); ++a) {
    if (values[a].slice_of >= 0) continue;
    REQUIRE(plan.offsets[a] + values[a].shape.numel() <= plan.arena_floats);
    for (size_t b = a + 1; b < values.size(); ++b) {
      if (values[b].slice_of >= 0) continue;
      const bool live_together = first[a] <= last[b] && first[b] <= last[a];
      const bool share = plan.offsets[a] < plan.offsets[b] + values[b].shape.numel() &&
                         plan.offsets[b] < plan.offsets[a] + values[a].shape.numel();
      INFO(values[a].name << " and " << values[b].name);
      REQUIRE(!(live_together && share));
    }
  }
}

}  // namespace sr::test
