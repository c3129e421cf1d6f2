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
  // step 0 and the output lives to the end. A buffer lives from the first write to the last read
  // of any of its slices.
  std::vector<int> first(n_values, end), last(n_values, -1);
  for (int i = 0; i < end; ++i) {
    first[nodes[i].output] = std::min(first[nodes[i].output], i);
    last[nodes[i].output] = std::max(last[nodes[i].output], i);
    for (int v : nodes[i].inputs) last[v] = std::max(last[v], i);
  }
  SR_CHECK(graph.input() >= 0 && graph.output() >= 0, "graph has no input or output");
  first[graph.input()] = -1;
  last[graph.output()] = end;
  for (int v = 0; v < n_values; ++v) {
    const int whole = values[v].slice_of;
    if (whole < 0) continue;
    first[whole] = std::min(first[whole], first[v]);
    last[whole] = std::max(last[whole], last[v]);
  }

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
    if (values[v].slice_of >= 0) continue;  // placed with its buffer below
    if (last[v] < first[v]) continue;       // never written nor read: no memory
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
  for (int v = 0; v < n_values; ++v)
    if (values[v].slice_of >= 0)
      plan.offsets[v] = plan.offsets[values[v].slice_of] + values[v].channel_offset;
  return plan;
}

TensorView value_view(const Graph& graph, const BufferPlan& plan, float* arena, int value) {
  const Value& v = graph.values()[value];
  TensorView view{arena + plan.offsets[value], v.shape};
  if (v.slice_of >= 0) view.ld = graph.values()[v.slice_of].shape.c;
  return view;
}

std::vector<OpCall> bind_program(const Graph& graph, const BufferPlan& plan, float* arena,
                                 const std::function<WeightView(const std::string&)>& weight) {
  std::vector<OpCall> program;
  for (const Node& node : graph.nodes()) {
    OpCall call;
    call.op = node.op;
    call.params = node.params;
    for (size_t i = 0; i < node.inputs.size(); ++i)
      call.inputs[i] = value_view(graph, plan, arena, node.inputs[i]);
    for (size_t i = 0; i < node.weights.size(); ++i) call.weights[i] = weight(node.weights[i]);
    call.output = value_view(graph, plan, arena, node.output);
    program.push_back(call);
  }
  return program;
}

}  // namespace sr
