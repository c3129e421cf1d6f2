// Buffer planning: every value of a graph gets an offset in one arena; values whose lifetimes do
// not overlap share memory, and channel slices (Value::slice_of) live inside their buffer.
// Computed once per input shape; bind_program then turns the graph into resolved OpCalls.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "sr/graph.h"

namespace sr {

struct BufferPlan {
  std::vector<size_t> offsets;  // per value, in floats
  size_t arena_floats = 0;
};

BufferPlan plan_buffers(const Graph& graph);

// The view of a value in an arena laid out by `plan`; a slice gets its buffer's row stride.
TensorView value_view(const Graph& graph, const BufferPlan& plan, float* arena, int value);

// One OpCall per node with every pointer resolved; `weight` gives a weight's backend view by name.
std::vector<OpCall> bind_program(const Graph& graph, const BufferPlan& plan, float* arena,
                                 const std::function<WeightView(const std::string&)>& weight);

}  // namespace sr
