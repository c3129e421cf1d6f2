// Buffer planning: every value of a graph gets an offset in one arena; values whose lifetimes do
// not overlap share memory. Computed once per input shape.
#pragma once

#include <cstddef>
#include <vector>

#include "sr/graph.h"

namespace sr {

struct BufferPlan {
  std::vector<size_t> offsets;  // per value, in floats
  size_t arena_floats = 0;
};

BufferPlan plan_buffers(const Graph& graph);

}  // namespace sr
