#include "core/planner.h"

#include <algorithm>
#include <numeric>

#include "sr/error.h"

namespace sr {

namespace {
constexpr size_t kAlignFloats = 64;  // 256-byte alignment: good for vector loads and CUDA alike

size_t align_up(size_t n) {
  return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
}
}  // namespace

BufferPlan plan_buffers(const Graph& graph) {
  const auto& values = graph.values();
  const auto& nodes = graph.nodes();
  const int n_values = static_cast<int>(values.size());
  const int end = static_cast<int>(nodes.size());

  // Lifetime of each value in node steps: [defined, last read]; the graph input is defined before
  // step 0 and the output lives to the end.
  std::vector<int> first(n_values, -1), last(n_values, -1);
  for (int i = 0; i < end; ++i) {
    first[nodes[i].output] = i;
    last[nodes[i].output] = std::max(last[nodes[i].output], i);
    for (int v : nodes[i].inputs) last[v] = std::max(last[v], i);
  }
  SR_CHECK(graph.input() >= 0 && graph.output() >= 0, "graph has no input or output");
  first[graph.input()] = -1;
  last[graph.output()] = end;

  // Greedy best-fit by decreasing size: place each buffer at the lowest offset that does not
  // collide with an already placed buffer whose lifetime overlaps.
  std::vector<int> order(n_values);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return values[a].shape.numel() > values[b].shape.numel(); });

  BufferPlan plan;
  plan.offsets.assign(n_values, 0);
  struct Placed {
    size_t begin, end;
    int first, last;
  };
  std::vector<Placed> placed;
  for (int v : order) {
    size_t size = align_up(static_cast<size_t>(values[v].shape.numel()));
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Placed& p : placed)
      if (p.first <= last[v] && first[v] <= p.last) busy.push_back({p.begin, p.end});
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [b, e] : busy) {
      if (offset + size <= b) break;
      offset = std::max(offset, e);
    }
    plan.offsets[v] = offset;
    placed.push_back({offset, offset + size, first[v], last[v]});
    plan.arena_floats = std::max(plan.arena_floats, offset + size);
  }
  return plan;
}

}  // namespace sr
