// fuse_for_inference: folds the memory-bound ops that follow a convolution into its epilogue and
// removes concatenations by letting their inputs' producers write straight into one buffer.
#include <map>
#include <utility>

#include "sr/error.h"
#include "sr/graph.h"

namespace sr {

namespace {

struct Readers {
  std::vector<std::vector<std::pair<int, int>>> of;  // per value: (node, input index)
  explicit Readers(const Graph& g) : of(g.values().size()) {
    const auto& nodes = g.nodes();
    for (int i = 0; i < static_cast<int>(nodes.size()); ++i)
      for (int k = 0; k < static_cast<int>(nodes[i].inputs.size()); ++k)
        of[nodes[i].inputs[k]].push_back({i, k});
  }
};

// Folds the chain of ops after conv node `i` into its epilogue while each link is the only
// reader of the value before it; returns the value the fused node now produces. Legal orders:
// the activations are monotone, so they commute with the max-pool, and every op here commutes
// with the shuffle (a permutation), as long as the pool, which works along time, comes first.
int fold_epilogue(const Graph& g, const Readers& readers, int i, OpParams& p,
                  std::vector<bool>& absorbed) {
  const auto& nodes = g.nodes();
  int v = nodes[i].output;
  while (v != g.output() && readers.of[v].size() == 1) {
    const int r = readers.of[v][0].first;
    const Node& next = nodes[r];
    if (next.op == Op::max_pool2 && !p.pool2 && !p.shuffle) {
      p.pool2 = true;
    } else if ((next.op == Op::relu || next.op == Op::leaky_relu) && p.act == Activation::none) {
      p.act = next.op == Op::relu ? Activation::relu : Activation::leaky_relu;
      p.alpha = next.params.alpha;
    } else if (next.op == Op::subpixel && !p.shuffle) {
      p.shuffle = true;
      p.order = next.params.order;
    } else {
      break;
    }
    absorbed[r] = true;
    v = next.output;
  }
  return v;
}

}  // namespace

Graph fuse_for_inference(const Graph& g) {
  const auto& nodes = g.nodes();
  const auto& values = g.values();
  const int n_nodes = static_cast<int>(nodes.size());
  const Readers readers(g);

  // 1. Epilogues: every conv1d absorbs the pool, activation and shuffle that follow it.
  std::vector<bool> absorbed(n_nodes, false), removed(n_nodes, false);
  std::vector<OpParams> params(n_nodes);
  std::vector<int> output(n_nodes), producer(values.size(), -1);
  for (int i = 0; i < n_nodes; ++i) {
    params[i] = nodes[i].params;
    output[i] = nodes[i].output;
  }
  for (int i = 0; i < n_nodes; ++i)
    if (!absorbed[i] && nodes[i].op == Op::conv1d)
      output[i] = fold_epilogue(g, readers, i, params[i], absorbed);
  for (int i = 0; i < n_nodes; ++i)
    if (!absorbed[i]) producer[output[i]] = i;

  // 2. Concatenations: concat(a, b) disappears when a and b are written by ops that can write a
  // channel slice, every other reader of them can read one, and neither is a graph input, output
  // or already a slice. a becomes channels [0, Ca) and b channels [Ca, Ca + Cb) of the buffer.
  struct Slice {
    int buffer_of;  // the (old) concat output value
    int64_t offset;
  };
  std::map<int, Slice> slices;
  auto can_be_slice = [&](int v, int concat_node) {
    if (v == g.input() || v == g.output() || slices.count(v) || producer[v] < 0) return false;
    if (!op_accepts_strided(nodes[producer[v]].op, -1)) return false;
    for (const auto& [node, k] : readers.of[v])
      if (node != concat_node && !absorbed[node] && !op_accepts_strided(nodes[node].op, k))
        return false;
    return true;
  };
  for (int i = 0; i < n_nodes; ++i) {
    const Node& n = nodes[i];
    if (absorbed[i] || n.op != Op::concat || n.output == g.output()) continue;
    const int a = n.inputs[0], b = n.inputs[1];
    if (a == b || !can_be_slice(a, i) || !can_be_slice(b, i)) continue;
    slices[a] = {n.output, 0};
    slices[b] = {n.output, values[a].shape.c};
    removed[i] = true;
  }

  // 3. Rebuild with fresh value ids.
  Graph f;
  for (const auto& [name, dims] : g.weights()) f.declare_weight(name, dims);
  std::map<int, int> id;  // old value -> new value
  id[g.input()] = f.add_input(values[g.input()].shape, values[g.input()].name);
  auto buffer = [&](int old) {
    auto it = id.find(old);
    if (it != id.end()) return it->second;
    return id[old] = f.add_buffer(values[old].shape, values[old].name);
  };
  for (int i = 0; i < n_nodes; ++i) {
    if (absorbed[i]) continue;
    if (removed[i]) {
      buffer(nodes[i].output);
      continue;
    }
    std::vector<int> inputs;
    for (int v : nodes[i].inputs) {
      SR_CHECK(id.count(v), "fuse_for_inference: ", values[v].name, " read before it is written");
      inputs.push_back(id.at(v));
    }
    const int v =
        f.add(nodes[i].op, params[i], inputs, nodes[i].weights, values[nodes[i].output].name);
    id[output[i]] = v;
    auto s = slices.find(output[i]);
    if (s != slices.end()) f.make_slice(v, buffer(s->second.buffer_of), s->second.offset);
  }
  SR_CHECK(id.count(g.output()), "fuse_for_inference: the output was fused away");
  f.set_output(id.at(g.output()));
  return f;
}

}  // namespace sr
