// conv1d cases shared by the device tests (test_gpu_conv.cpp) and the host execution of the kernels
// (tests/kernels_host): a shape, its random spec, and the fused epilogues of an inference graph.
#pragma once

#include <cstdint>
#include <vector>

#include "gpu_test_util.h"

namespace sr::conv_cases {

struct ConvCase {
  int64_t b, l, cin, cout, k, dilation;
  const char* what;
};

// x, w and bias U(-1, 1), seeded.
inline gpu_test::OpSpec conv_spec(const ConvCase& c, uint32_t seed) {
  gpu_test::OpSpec s;
  s.op = Op::conv1d;
  s.params.kernel = int(c.k);
  s.params.dilation = int(c.dilation);
  s.inputs = {test::random_tensor({c.b, c.l, c.cin}, seed)};
  s.weights = {test::random_vector(size_t(c.k * c.cin * c.cout), seed + 1),
               test::random_vector(size_t(c.cout), seed + 2)};
  s.weight_dims = {{c.k, c.cin, c.cout}, {c.cout}};
  s.output = {c.b, c.l, c.cout};
  return s;
}

struct EpilogueCase {
  bool pool2;
  Activation act;
  bool shuffle;
  SubpixelOrder order;
};

// The epilogues fuse_for_inference makes.
inline const std::vector<EpilogueCase>& fused_epilogues() {
  static const std::vector<EpilogueCase> list = {
      {true, Activation::leaky_relu, false, SubpixelOrder::tf},  // down blocks
      {false, Activation::relu, true, SubpixelOrder::tf},        // up blocks (TF)
      {false, Activation::relu, true, SubpixelOrder::pt},        // up blocks (PT)
      {false, Activation::none, true, SubpixelOrder::tf},        // final layer
      {false, Activation::none, false, SubpixelOrder::tf},       // strided store only
  };
  return list;
}

// `spec` with the epilogue `ep` fused (leaky_relu slope 0.2) and its output shape.
inline gpu_test::OpSpec with_epilogue(gpu_test::OpSpec spec, const EpilogueCase& ep) {
  spec.params.pool2 = ep.pool2;
  spec.params.act = ep.act;
  spec.params.alpha = 0.2f;
  spec.params.shuffle = ep.shuffle;
  spec.params.order = ep.order;
  const Shape x = spec.inputs[0].shape;
  Shape y{x.b, ep.pool2 ? x.l / 2 : x.l, spec.weight_dims[0][2]};
  if (ep.shuffle) y = {y.b, 2 * y.l, y.c / 2};
  spec.output = y;
  return spec;
}

}  // namespace sr::conv_cases
