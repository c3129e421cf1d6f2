// A network as a list of nodes over values with static shapes. Built from hyper-parameters by
// engine/models, planned once per input shape by engine/core/planner, run by the executor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sr/ops.h"

namespace sr {

// A value is either its own buffer or, after fuse_for_inference, a channel slice of another
// value's buffer: channels [channel_offset, channel_offset + shape.c) of `slice_of`, whose rows
// it shares (row stride = that value's channel count).
struct Value {
  Shape shape;
  std::string name;
  int slice_of = -1;
  int64_t channel_offset = 0;
};

struct Node {
  Op op;
  OpParams params;
  std::vector<int> inputs;           // value ids
  std::vector<std::string> weights;  // weight names, in the op's order
  int output = -1;                   // value id
};

class Graph {
 public:
  int add_input(Shape shape, const std::string& name);
  // Declares a weight tensor the graph reads; re-declaring a name must give the same dims.
  void declare_weight(const std::string& name, const std::vector<int64_t>& dims);
  // Appends a node; its output shape comes from sr::infer_shape.
  int add(Op op, const OpParams& params, const std::vector<int>& inputs,
          const std::vector<std::string>& weights, const std::string& name);
  void set_output(int value) { output_ = value; }
  // A value no node produces: a buffer that slices of it are written into (see Value).
  int add_buffer(Shape shape, const std::string& name);
  // Makes `value` the channel slice [offset, offset + c) of `buffer` (same batch and length).
  void make_slice(int value, int buffer, int64_t channel_offset);

  const std::vector<Value>& values() const { return values_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::map<std::string, std::vector<int64_t>>& weights() const { return weights_; }
  int input() const { return input_; }
  int output() const { return output_; }
  int64_t parameter_count() const;
  // Floating-point operations of a node's forward, 2 per multiply-add (conv1d, lstm, linear,
  // attention); 0 for the memory-bound ops.
  double node_flops(const Node& node) const;

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::map<std::string, std::vector<int64_t>> weights_;
  int input_ = -1;
  int output_ = -1;
};

// The inference graph the executors run (engine/core/fusion.cpp): each conv1d absorbs the
// max_pool2, relu/leaky_relu and subpixel that follow it (OpParams::pool2, act, shuffle), and a
// concat whose inputs come from conv1d or modulate becomes one buffer that those ops write
// channel slices of. Computes the same function with the same arithmetic; training graphs are
// never fused (the backward passes see the unfused ops).
Graph fuse_for_inference(const Graph& graph);

}  // namespace sr
