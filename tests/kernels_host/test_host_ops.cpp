// Every non-convolution CUDA kernel, run from its own source by the host execution, against the
// CPU backend (itself tested against float64 loops in tests/backend) on fresh random inputs: the
// cases of tests/gpu/test_gpu_ops.cpp at sizes the host runs in well under a second, still odd
// (partial blocks, partial warps of work, grid-stride remainders). A last case requires a case
// for every op of SR_OP_LIST.
#include <cmath>
#include <initializer_list>
#include <set>
#include <vector>

#include "backend/naive_seq_ops.h"
#include "gpu/gpu_test_util.h"
#include "host_backend.h"

namespace {

using sr::GateActivation;
using sr::Op;
using sr::Precision;
using sr::Shape;
using sr::gpu_test::OpSpec;
using sr::gpu_test::require_identical;
using sr::gpu_test::run_op;
using sr::test::random_tensor;
using sr::test::random_vector;

// Ops with a test case, declared beside each case (static initialisers run whichever cases CTest
// selects, so the coverage case needs no other case to have run).
std::set<Op>& covered() {
  static std::set<Op> ops;
  return ops;
}
struct Covers {
  Covers(std::initializer_list<Op> ops) { covered().insert(ops); }
};
const Covers conv_cases{Op::conv1d};  // test_host_conv.cpp

std::vector<float> on_cpu(const OpSpec& spec) {
  auto cpu = sr::kernel_host::make_reference_backend();
  return run_op(*cpu, spec, 1);
}

std::vector<float> on_host(const OpSpec& spec, Precision precision = Precision::fp32) {
  auto backend = sr::kernel_host::make_host_cuda_backend(precision);
  return run_op(*backend, spec, 1);
}

OpSpec unary(Op op, Shape in, Shape out, uint32_t seed) {
  OpSpec s;
  s.op = op;
  s.inputs = {random_tensor(in, seed)};
  s.output = out;
  return s;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(double(a[i]) - b[i]);
    if (!(d <= m)) m = d;  // NaN propagates as a failure
  }
  return m;
}

}  // namespace

const Covers elementwise_cases{Op::leaky_relu, Op::relu, Op::prelu, Op::add, Op::dropout};
TEST_CASE("host-executed elementwise kernels are bit-identical to the CPU",
          "[kernel_host][elementwise]") {
  // 2 x 300 x 5 = 3000 elements: 12 blocks of 256, the last partial.
  for (Shape shape : {Shape{3, 37, 5}, Shape{1, 1, 1}, Shape{2, 300, 5}}) {
    CAPTURE(shape.str());
    uint32_t seed = 10;
    {
      OpSpec s = unary(Op::leaky_relu, shape, shape, seed++);
      s.params.alpha = 0.2f;
      require_identical(on_host(s), on_cpu(s));
    }
    {
      OpSpec s = unary(Op::relu, shape, shape, seed++);
      require_identical(on_host(s), on_cpu(s));
    }
    {
      OpSpec s = unary(Op::prelu, shape, shape, seed++);
      s.weights = {{0.3f}};
      s.weight_dims = {{1}};
      require_identical(on_host(s), on_cpu(s));
    }
    {
      OpSpec s = unary(Op::add, shape, shape, seed++);
      s.inputs.push_back(random_tensor(shape, seed++));
      require_identical(on_host(s), on_cpu(s));
    }
    for (float rate : {0.0f, 0.1f, 0.5f}) {
      OpSpec s = unary(Op::dropout, shape, shape, seed++);
      s.params.rate = rate;
      s.params.seed = 0x1234567890abcdefull + seed;
      require_identical(on_host(s), on_cpu(s));
    }
  }
}

const Covers pooling_cases{Op::max_pool2, Op::block_max_pool};
TEST_CASE("host-executed pooling kernels are bit-identical to the CPU", "[kernel_host][pooling]") {
  uint32_t seed = 30;
  for (Shape in : {Shape{2, 37, 7}, Shape{3, 2, 1}, Shape{1, 256, 24}}) {
    CAPTURE(in.str());
    OpSpec s = unary(Op::max_pool2, in, {in.b, in.l / 2, in.c}, seed++);
    require_identical(on_host(s), on_cpu(s));
  }
  struct Case {
    Shape in;
    int block;
  };
  for (const Case& c :
       {Case{{3, 40, 9}, 8}, Case{{2, 40, 9}, 1}, Case{{2, 24, 5}, 24}, Case{{2, 256, 24}, 32}}) {
    CAPTURE(c.in.str(), c.block);
    OpSpec s = unary(Op::block_max_pool, c.in, {c.in.b, c.in.l / c.block, c.in.c}, seed++);
    s.params.block = c.block;
    require_identical(on_host(s), on_cpu(s));
  }
}

const Covers layout_cases{Op::subpixel, Op::concat, Op::modulate};
TEST_CASE("host-executed layout kernels are bit-identical to the CPU", "[kernel_host][layout]") {
  uint32_t seed = 50;
  for (sr::SubpixelOrder order : {sr::SubpixelOrder::tf, sr::SubpixelOrder::pt}) {
    for (Shape in : {Shape{2, 19, 14}, Shape{3, 1, 2}, Shape{2, 32, 64}}) {
      CAPTURE(in.str(), order == sr::SubpixelOrder::tf);
      OpSpec s = unary(Op::subpixel, in, {in.b, 2 * in.l, in.c / 2}, seed++);
      s.params.order = order;
      require_identical(on_host(s), on_cpu(s));
    }
  }
  {
    OpSpec s = unary(Op::concat, {3, 21, 5}, {3, 21, 16}, seed++);
    s.inputs.push_back(random_tensor({3, 21, 11}, seed++));
    require_identical(on_host(s), on_cpu(s));
  }
  for (int block : {1, 8, 40}) {
    CAPTURE(block);
    OpSpec s = unary(Op::modulate, {2, 40, 6}, {2, 40, 6}, seed++);
    s.inputs.push_back(random_tensor({2, 40 / block, 6}, seed++));
    s.params.block = block;
    require_identical(on_host(s), on_cpu(s));
  }
}

const Covers lstm_cases{Op::lstm};
TEST_CASE("host-executed lstm matches float64 as closely as the CPU does", "[kernel_host][lstm]") {
  struct Case {
    int64_t B, N, Cin, H;
  };
  // H not a multiple of 32 (partial unit tiles), H > 32 (several unit blocks), B not a multiple
  // of 4 (partial batch tiles).
  const Case cases[] = {{1, 1, 5, 4}, {2, 7, 3, 8}, {3, 5, 16, 12}, {6, 4, 40, 45}};
  uint32_t seed = 70;
  for (const Case& cs : cases) {
    for (GateActivation gate : {GateActivation::sigmoid, GateActivation::hard_sigmoid}) {
      const bool hard = gate == GateActivation::hard_sigmoid;
      CAPTURE(cs.B, cs.N, cs.Cin, cs.H, hard);
      const int64_t G = 4 * cs.H;
      const float k_scale = float(std::sqrt(6.0 / double(cs.Cin + G)));  // glorot-ish: the
      const float u_scale = float(std::sqrt(6.0 / double(cs.H + G)));    // gates stay unsaturated
      OpSpec s;
      s.op = Op::lstm;
      s.params.gate = gate;
      s.inputs = {random_tensor({cs.B, cs.N, cs.Cin}, seed++)};
      s.weights = {random_vector(size_t(cs.Cin * G), seed++, k_scale),
                   random_vector(size_t(cs.H * G), seed++, u_scale),
                   random_vector(size_t(G), seed++, 0.5f)};
      s.weight_dims = {{cs.Cin, G}, {cs.H, G}, {G}};
      s.output = {cs.B, cs.N, cs.H};
      namespace nv = sr::test::naive;
      const std::vector<double> ref = nv::lstm(
          nv::to_double(s.inputs[0].values), s.inputs[0].shape, nv::to_double(s.weights[0]),
          nv::to_double(s.weights[1]), nv::to_double(s.weights[2]), cs.H, hard);
      const double cpu_err = max_abs_diff(on_cpu(s), ref);
      const double host_err = max_abs_diff(on_host(s), ref);
      INFO("cpu_err=" << cpu_err << " host_err=" << host_err);
      // FP32 in another order: 4x the CPU's own error against float64, plus a floor for when the
      // CPU happens to be near exact (|h| < 1, so 1e-6 is ~10 float32 ulps): tests/gpu's bound.
      REQUIRE(host_err <= 4 * cpu_err + 1e-6);
    }
  }
}

const Covers linear_cases{Op::linear};
TEST_CASE("host-executed linear (cuBLAS on the CPU BLAS) matches the CPU",
          "[kernel_host][linear]") {
  struct Case {
    int64_t B, N, Din, Dout;
  };
  const Case cases[] = {{2, 33, 40, 24}, {1, 1, 7, 3}};
  uint32_t seed = 90;
  for (const Case& cs : cases) {
    for (bool relu : {false, true}) {
      CAPTURE(cs.B, cs.N, cs.Din, cs.Dout, relu);
      OpSpec s;
      s.op = Op::linear;
      s.params.relu = relu;
      s.inputs = {random_tensor({cs.B, cs.N, cs.Din}, seed++)};
      s.weights = {random_vector(size_t(cs.Din * cs.Dout), seed++),
                   random_vector(size_t(cs.Dout), seed++)};
      s.weight_dims = {{cs.Din, cs.Dout}, {cs.Dout}};
      s.output = {cs.B, cs.N, cs.Dout};
      // Sums of Din products of U(-1,1) values in FP32: ~1e-7 * sqrt(Din) RMS per output;
      // 1e-5 * sqrt(Din) + 1e-6 leaves a wide margin while an indexing bug is O(1).
      sr::gpu_test::require_max_abs(on_host(s), on_cpu(s), 1e-5 * std::sqrt(double(cs.Din)) + 1e-6);
    }
  }
}

const Covers attention_cases{Op::attention};
TEST_CASE("host-executed attention matches float64 as closely as the CPU does",
          "[kernel_host][attention]") {
  struct Case {
    int64_t B, N, D, heads;
  };
  // N = 1, N not a multiple of the 4 rows per block, dh = 16 (half a warp), dh = 64 (two features
  // per lane), N = 70 (scores over several lanes' worth of keys).
  const Case cases[] = {{2, 33, 64, 8}, {3, 1, 16, 2}, {1, 70, 128, 2}, {2, 7, 128, 2}};
  uint32_t seed = 110;
  for (const Case& cs : cases) {
    CAPTURE(cs.B, cs.N, cs.D, cs.heads);
    OpSpec s;
    s.op = Op::attention;
    s.params.heads = int(cs.heads);
    // Scale 2 makes some softmax rows peaked, exercising the max subtraction.
    for (int i = 0; i < 3; ++i) s.inputs.push_back(random_tensor({cs.B, cs.N, cs.D}, seed++, 2.0f));
    s.output = {cs.B, cs.N, cs.D};
    namespace nv = sr::test::naive;
    const std::vector<double> ref =
        nv::attention(nv::to_double(s.inputs[0].values), nv::to_double(s.inputs[1].values),
                      nv::to_double(s.inputs[2].values), s.output, cs.heads);
    const double cpu_err = max_abs_diff(on_cpu(s), ref);
    const double host_err = max_abs_diff(on_host(s), ref);
    INFO("cpu_err=" << cpu_err << " host_err=" << host_err);
    // FP32 softmax and sums in another order: 4x the CPU's error, floor 1e-6 (|y| <= 2).
    REQUIRE(host_err <= 4 * cpu_err + 1e-6);
  }
}

const Covers norm_cases{Op::layer_norm, Op::pos_encoding};
TEST_CASE("host-executed layer_norm and pos_encoding match the CPU", "[kernel_host][layer_norm]") {
  uint32_t seed = 130;
  for (Shape shape : {Shape{3, 17, 128}, Shape{1, 1, 5}, Shape{2, 9, 300}}) {
    CAPTURE(shape.str());
    OpSpec s = unary(Op::layer_norm, shape, shape, seed++);
    for (float& x : s.inputs[0].values) x += 5.0f;  // an offset against a small spread
    s.params.eps = 1e-6f;
    s.weights = {random_vector(size_t(shape.c), seed++), random_vector(size_t(shape.c), seed++)};
    s.weight_dims = {{shape.c}, {shape.c}};
    // Both sides sum in double and round once; only the summation order differs.
    SR_REQUIRE_CLOSE(on_host(s), on_cpu(s), 1e-6, 1e-6);
  }
  for (Shape shape : {Shape{2, 33, 128}, Shape{3, 5, 7}}) {
    CAPTURE(shape.str());
    OpSpec s = unary(Op::pos_encoding, shape, shape, seed++);
    // The same double sin/cos/pow as the CPU here (glibc on both sides), x * sqrt(D) + PE
    // rounded the same way: tests/gpu's one-ulp bound holds with room.
    SR_REQUIRE_CLOSE(on_host(s), on_cpu(s), 3e-7 * std::sqrt(double(shape.c)) + 2.5e-7, 1e-6);
  }
}

TEST_CASE("host-executed kernels reject inconsistent shapes like the CPU",
          "[kernel_host][errors]") {
  OpSpec s = unary(Op::add, {2, 3, 4}, {2, 3, 4}, 1);
  s.inputs.push_back(random_tensor({2, 3, 5}, 2));
  REQUIRE_THROWS_AS(on_host(s), sr::Error);
}

TEST_CASE("host-executed kernels: every op of SR_OP_LIST has a case", "[kernel_host]") {
  for (int i = 0; i < sr::kOpCount; ++i) {
    INFO("no host-execution case for " << sr::op_name(Op(i)));
    CHECK(covered().count(Op(i)) == 1);
  }
}
