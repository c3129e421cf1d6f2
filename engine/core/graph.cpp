#include "sr/graph.h"

#include "sr/error.h"

namespace sr {

int Graph::add_input(Shape shape, const std::string& name) {
  SR_CHECK(input_ < 0, "graph already has an input");
  values_.push_back({shape, name});
  input_ = static_cast<int>(values_.size()) - 1;
  return input_;
}

void Graph::declare_weight(const std::string& name, const std::vector<int64_t>& dims) {
  auto it = weights_.find(name);
  SR_CHECK(it == weights_.end() || it->second == dims, "weight ", name, " declared twice");
  weights_[name] = dims;
}

int Graph::add(Op op, const OpParams& params, const std::vector<int>& inputs,
               const std::vector<std::string>& weights, const std::string& name) {
  std::vector<Shape> in_shapes;
  for (int v : inputs) {
    SR_CHECK(v >= 0 && v < static_cast<int>(values_.size()), name, ": bad input value");
    in_shapes.push_back(values_[v].shape);
  }
  std::vector<std::vector<int64_t>> weight_dims;
  for (const std::string& w : weights) {
    auto it = weights_.find(w);
    SR_CHECK(it != weights_.end(), name, ": weight ", w, " was not declared");
    weight_dims.push_back(it->second);
  }
  Shape out = infer_shape(op, params, in_shapes, weight_dims);
  values_.push_back({out, name});
  int id = static_cast<int>(values_.size()) - 1;
  nodes_.push_back({op, params, inputs, weights, id});
  return id;
}

int Graph::add_buffer(Shape shape, const std::string& name) {
  values_.push_back({shape, name});
  return static_cast<int>(values_.size()) - 1;
}

void Graph::make_slice(int value, int buffer, int64_t channel_offset) {
  const int n = static_cast<int>(values_.size());
  SR_CHECK(value >= 0 && value < n && buffer >= 0 && buffer < n && value != buffer,
           "make_slice: bad value ids");
  Value& v = values_[value];
  const Shape& whole = values_[buffer].shape;
  SR_CHECK(v.slice_of < 0 && values_[buffer].slice_of < 0, "make_slice: ", v.name,
           " nested or repeated slice");
  SR_CHECK(v.shape.b == whole.b && v.shape.l == whole.l && channel_offset >= 0 &&
               channel_offset + v.shape.c <= whole.c,
           "make_slice: ", v.name, " ", v.shape.str(), " does not fit ", whole.str(),
           " at channel ", channel_offset);
  v.slice_of = buffer;
  v.channel_offset = channel_offset;
}

int64_t Graph::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, dims] : weights_) {
    int64_t k = 1;
    for (int64_t d : dims) k *= d;
    n += k;
  }
  return n;
}

double Graph::node_flops(const Node& node) const {
  const Shape in = values_[node.inputs[0]].shape;
  const Shape out = values_[node.output].shape;
  switch (node.op) {
    case Op::conv1d: {  // over the convolution's rows: those of the input
      const auto& w = weights_.at(node.weights[0]);  // (K, Cin, Cout)
      return 2.0 * in.b * in.l * w[0] * w[1] * w[2];
    }
    case Op::lstm:  // input and recurrent projections of 4 gates per step
      return 2.0 * in.b * in.l * (in.c + out.c) * 4.0 * out.c;
    case Op::linear:
      return 2.0 * in.b * in.l * in.c * out.c;
    case Op::attention:  // scores and the weighted sum of values
      return 4.0 * in.b * in.l * in.l * in.c;
    default:
      return 0.0;
  }
}

}  // namespace sr
