// The op cases of the CUDA backend's non-convolution kernels, shared by the device tests
// (tests/gpu/test_gpu_ops.cpp) and the host execution of the kernels (tests/kernels_host): each
// runs fresh random inputs through the backend under test and compares with the CPU backend
// (itself tested against float64 loops in tests/backend), or with float64 where the FP32
// arithmetic differs in order. The callers choose the sizes: the host execution keeps them small.
#pragma once

#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "backend/naive_seq_ops.h"
#include "gpu_test_util.h"

namespace sr::op_cases {

using gpu_test::OpSpec;

struct Backends {
  std::function<std::vector<float>(const OpSpec&)> reference;              // the CPU backend
  std::function<std::vector<float>(const OpSpec&, Precision)> under_test;  // the CUDA kernels
};

inline OpSpec unary(Op op, Shape in, Shape out, uint32_t seed) {
  OpSpec s;
  s.op = op;
  s.inputs = {test::random_tensor(in, seed)};
  s.output = out;
  return s;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    if (!(d <= m)) m = d;  // NaN propagates as a failure
  }
  return m;
}

// leaky_relu, relu, prelu, add, dropout: one rounding per element, bit-identical.
inline void elementwise(const Backends& be, const std::vector<Shape>& shapes) {
  auto same = [&](const OpSpec& s) {
    gpu_test::require_identical(be.under_test(s, Precision::fp32), be.reference(s));
  };
  for (Shape shape : shapes) {
    CAPTURE(shape.str());
    uint32_t seed = 10;
    OpSpec leaky = unary(Op::leaky_relu, shape, shape, seed++);
    leaky.params.alpha = 0.2f;
    same(leaky);
    same(unary(Op::relu, shape, shape, seed++));
    OpSpec prelu = unary(Op::prelu, shape, shape, seed++);
    prelu.weights = {{0.3f}};
    prelu.weight_dims = {{1}};
    same(prelu);
    OpSpec add = unary(Op::add, shape, shape, seed++);
    add.inputs.push_back(test::random_tensor(shape, seed++));
    same(add);
    for (float rate : {0.0f, 0.1f, 0.5f}) {
      // The mask is the same splitmix64 hash of (seed, index) on both backends.
      OpSpec s = unary(Op::dropout, shape, shape, seed++);
      s.params.rate = rate;
      s.params.seed = 0x1234567890abcdefull + seed;
      same(s);
    }
  }
}

// max_pool2 over `pool2_inputs`, block_max_pool over (input, block) pairs: bit-identical.
inline void pooling(const Backends& be, const std::vector<Shape>& pool2_inputs,
                    const std::vector<std::pair<Shape, int>>& block_cases) {
  uint32_t seed = 30;
  for (Shape in : pool2_inputs) {
    CAPTURE(in.str());
    const OpSpec s = unary(Op::max_pool2, in, {in.b, in.l / 2, in.c}, seed++);
    gpu_test::require_identical(be.under_test(s, Precision::fp32), be.reference(s));
  }
  for (const auto& [in, block] : block_cases) {
    CAPTURE(in.str(), block);
    OpSpec s = unary(Op::block_max_pool, in, {in.b, in.l / block, in.c}, seed++);
    s.params.block = block;
    gpu_test::require_identical(be.under_test(s, Precision::fp32), be.reference(s));
  }
}

// subpixel (both orders) over `subpixel_inputs`, concat, modulate: copies, bit-identical.
inline void layout(const Backends& be, const std::vector<Shape>& subpixel_inputs) {
  auto same = [&](const OpSpec& s) {
    gpu_test::require_identical(be.under_test(s, Precision::fp32), be.reference(s));
  };
  uint32_t seed = 50;
  for (SubpixelOrder order : {SubpixelOrder::tf, SubpixelOrder::pt}) {
    for (Shape in : subpixel_inputs) {
      CAPTURE(in.str(), order == SubpixelOrder::tf);
      OpSpec s = unary(Op::subpixel, in, {in.b, 2 * in.l, in.c / 2}, seed++);
      s.params.order = order;
      same(s);
    }
  }
  OpSpec concat = unary(Op::concat, {3, 21, 5}, {3, 21, 16}, seed++);
  concat.inputs.push_back(test::random_tensor({3, 21, 11}, seed++));
  same(concat);
  for (int block : {1, 8, 40}) {
    CAPTURE(block);
    OpSpec s = unary(Op::modulate, {2, 40, 6}, {2, 40, 6}, seed++);
    s.inputs.push_back(test::random_tensor({2, 40 / block, 6}, seed++));
    s.params.block = block;
    same(s);
  }
}

struct LstmCase {
  int64_t B, N, Cin, H;
};

// Both gate activations, in every precision mode (the LSTM ignores it), against float64.
inline void lstm(const Backends& be, const std::vector<LstmCase>& cases) {
  uint32_t seed = 70;
  for (const LstmCase& cs : cases) {
    for (GateActivation gate : {GateActivation::sigmoid, GateActivation::hard_sigmoid}) {
      const bool hard = gate == GateActivation::hard_sigmoid;
      CAPTURE(cs.B, cs.N, cs.Cin, cs.H, hard);
      const int64_t G = 4 * cs.H;
      // Keras-like scales keep the gates out of saturation: glorot-ish kernels.
      const float k_scale = float(std::sqrt(6.0 / double(cs.Cin + G)));
      const float u_scale = float(std::sqrt(6.0 / double(cs.H + G)));
      OpSpec s;
      s.op = Op::lstm;
      s.params.gate = gate;
      s.inputs = {test::random_tensor({cs.B, cs.N, cs.Cin}, seed++)};
      s.weights = {test::random_vector(size_t(cs.Cin * G), seed++, k_scale),
                   test::random_vector(size_t(cs.H * G), seed++, u_scale),
                   test::random_vector(size_t(G), seed++, 0.5f)};
      s.weight_dims = {{cs.Cin, G}, {cs.H, G}, {G}};
      s.output = {cs.B, cs.N, cs.H};
      namespace nv = test::naive;
      const std::vector<double> ref = nv::lstm(
          nv::to_double(s.inputs[0].values), s.inputs[0].shape, nv::to_double(s.weights[0]),
          nv::to_double(s.weights[1]), nv::to_double(s.weights[2]), cs.H, hard);
      const double cpu_err = max_abs_diff(be.reference(s), ref);
      // The same FP32 arithmetic in another order: allowed 4x the CPU's own error against
      // float64, plus a floor for when the CPU happens to be near exact (|h| < 1, so 1e-6 is ~10
      // float32 ulps).
      for (Precision p : {Precision::fp32, Precision::bf16}) {
        const double err = max_abs_diff(be.under_test(s, p), ref);
        INFO("cpu_err=" << cpu_err << " err=" << err << " precision=" << precision_name(p));
        REQUIRE(err <= 4 * cpu_err + 1e-6);
      }
    }
  }
}

struct LinearCase {
  int64_t B, N, Din, Dout;
};

// With and without ReLU, FP32 in every precision mode.
inline void linear(const Backends& be, const std::vector<LinearCase>& cases) {
  uint32_t seed = 90;
  for (const LinearCase& cs : cases) {
    for (bool relu : {false, true}) {
      CAPTURE(cs.B, cs.N, cs.Din, cs.Dout, relu);
      OpSpec s;
      s.op = Op::linear;
      s.params.relu = relu;
      s.inputs = {test::random_tensor({cs.B, cs.N, cs.Din}, seed++)};
      s.weights = {test::random_vector(size_t(cs.Din * cs.Dout), seed++),
                   test::random_vector(size_t(cs.Dout), seed++)};
      s.weight_dims = {{cs.Din, cs.Dout}, {cs.Dout}};
      s.output = {cs.B, cs.N, cs.Dout};
      const std::vector<float> ref = be.reference(s);
      // Sums of Din products of U(-1,1) values: FP32 rounding grows like 1e-7 * sqrt(Din) per
      // output (RMS); 1e-5 * sqrt(Din) leaves a wide margin while an indexing bug is O(1).
      // Dense layers are FP32 in the tf32 and bf16 modes too (kernels/attention.cu): the same
      // bound, and a TF32 leak (~1.3e-4 * sqrt(Din) RMS) would exceed it.
      for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
        gpu_test::require_max_abs(be.under_test(s, p), ref, 1e-5 * std::sqrt(double(cs.Din)));
    }
  }
}

struct AttentionCase {
  int64_t B, N, D, heads;
};

inline void attention(const Backends& be, const std::vector<AttentionCase>& cases) {
  uint32_t seed = 110;
  for (const AttentionCase& cs : cases) {
    CAPTURE(cs.B, cs.N, cs.D, cs.heads);
    OpSpec s;
    s.op = Op::attention;
    s.params.heads = int(cs.heads);
    // Scale 2 makes some softmax rows peaked, exercising the max subtraction.
    for (int i = 0; i < 3; ++i)
      s.inputs.push_back(test::random_tensor({cs.B, cs.N, cs.D}, seed++, 2.0f));
    s.output = {cs.B, cs.N, cs.D};
    namespace nv = test::naive;
    const std::vector<double> ref =
        nv::attention(nv::to_double(s.inputs[0].values), nv::to_double(s.inputs[1].values),
                      nv::to_double(s.inputs[2].values), s.output, cs.heads);
    const double cpu_err = max_abs_diff(be.reference(s), ref);
    const double err = max_abs_diff(be.under_test(s, Precision::tf32), ref);  // FP32 in every mode
    INFO("cpu_err=" << cpu_err << " err=" << err);
    // FP32 softmax and sums in another order: 4x the CPU's error, floor 1e-6 (|y| <= 2).
    REQUIRE(err <= 4 * cpu_err + 1e-6);
  }
}

inline void layer_norm_and_positions(const Backends& be, const std::vector<Shape>& norm_shapes,
                                     const std::vector<Shape>& position_shapes) {
  uint32_t seed = 130;
  for (Shape shape : norm_shapes) {
    CAPTURE(shape.str());
    OpSpec s = unary(Op::layer_norm, shape, shape, seed++);
    for (float& x : s.inputs[0].values) x += 5.0f;  // an offset against a small spread
    s.params.eps = 1e-6f;
    s.weights = {test::random_vector(size_t(shape.c), seed++),
                 test::random_vector(size_t(shape.c), seed++)};
    s.weight_dims = {{shape.c}, {shape.c}};
    // Both backends sum in double and round once; only the summation order differs.
    SR_REQUIRE_CLOSE(be.under_test(s, Precision::fp32), be.reference(s), 1e-6, 1e-6);
  }
  for (Shape shape : position_shapes) {
    CAPTURE(shape.str());
    const OpSpec s = unary(Op::pos_encoding, shape, shape, seed++);
    // Double sin/cos/pow on the device vs glibc: the table may differ by one float ulp (|PE| <=
    // 1, ulp <= 1.2e-7), and x * sqrt(D) + PE is rounded the same way on both sides.
    SR_REQUIRE_CLOSE(be.under_test(s, Precision::fp32), be.reference(s),
                     3e-7 * std::sqrt(double(shape.c)) + 2.5e-7, 1e-6);
  }
}

// Inconsistent shapes are refused like on the CPU (sr::Error).
inline void rejects_bad_shapes(const Backends& be) {
  OpSpec s = unary(Op::add, {2, 3, 4}, {2, 3, 4}, 1);
  s.inputs.push_back(test::random_tensor({2, 3, 5}, 2));
  REQUIRE_THROWS_AS(be.under_test(s, Precision::fp32), Error);
}

}  // namespace sr::op_cases
