// Every non-convolution op on the CUDA backend against the CPU backend (engine/cpu, itself tested
// against float64 loops in tests/backend), on fresh random inputs with odd sizes. Outputs are
// poisoned before each run and each op runs twice (eager + graph capture, then graph replay) with
// identical bits required.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gpu_test_util.h"

namespace {

using sr::GateActivation;
using sr::HostTensor;
using sr::Op;
using sr::Precision;
using sr::Shape;
using sr::gpu_test::OpSpec;
using sr::gpu_test::require_identical;
using sr::gpu_test::run_op;
using sr::test::random_tensor;
using sr::test::random_vector;

std::vector<float> on_cpu(const OpSpec& spec) {
  auto cpu = sr::make_cpu_backend();
  return run_op(*cpu, spec, 1);
}

std::vector<float> on_cuda(const OpSpec& spec, Precision precision = Precision::fp32) {
  auto cuda = sr::gpu_test::cuda_backend(precision);
  return run_op(*cuda, spec);
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

TEST_CASE("cuda elementwise ops are bit-identical to the CPU", "[gpu][ops][elementwise]") {
  SR_REQUIRE_GPU();
  for (Shape shape : {Shape{3, 37, 5}, Shape{1, 1, 1}, Shape{2, 4099, 3}}) {
    CAPTURE(shape.str());
    uint32_t seed = 10;
    {
      OpSpec s = unary(Op::leaky_relu, shape, shape, seed++);
      s.params.alpha = 0.2f;
      require_identical(on_cuda(s), on_cpu(s));
    }
    {
      OpSpec s = unary(Op::relu, shape, shape, seed++);
      require_identical(on_cuda(s), on_cpu(s));
    }
    {
      OpSpec s = unary(Op::prelu, shape, shape, seed++);
      s.weights = {{0.3f}};
      s.weight_dims = {{1}};
      require_identical(on_cuda(s), on_cpu(s));
    }
    {
      OpSpec s = unary(Op::add, shape, shape, seed++);
      s.inputs.push_back(random_tensor(shape, seed++));
      require_identical(on_cuda(s), on_cpu(s));
    }
    for (float rate : {0.0f, 0.1f, 0.5f}) {
      // The mask is the same splitmix64 hash of (seed, index) on both backends.
      OpSpec s = unary(Op::dropout, shape, shape, seed++);
      s.params.rate = rate;
      s.params.seed = 0x1234567890abcdefull + seed;
      require_identical(on_cuda(s), on_cpu(s));
    }
  }
}

TEST_CASE("cuda pooling ops are bit-identical to the CPU", "[gpu][ops][pooling]") {
  SR_REQUIRE_GPU();
  uint32_t seed = 30;
  for (Shape in : {Shape{2, 37, 7}, Shape{3, 2, 1}, Shape{1, 4096, 128}}) {
    CAPTURE(in.str());
    OpSpec s = unary(Op::max_pool2, in, {in.b, in.l / 2, in.c}, seed++);
    require_identical(on_cuda(s), on_cpu(s));
  }
  struct Case {
    Shape in;
    int block;
  };
  for (const Case& c : {Case{{3, 40, 9}, 8}, Case{{2, 40, 9}, 1}, Case{{2, 24, 5}, 24},
                        Case{{2, 4096, 128}, 128}}) {
    CAPTURE(c.in.str(), c.block);
    OpSpec s = unary(Op::block_max_pool, c.in, {c.in.b, c.in.l / c.block, c.in.c}, seed++);
    s.params.block = c.block;
    require_identical(on_cuda(s), on_cpu(s));
  }
}

TEST_CASE("cuda layout ops are bit-identical to the CPU", "[gpu][ops][layout]") {
  SR_REQUIRE_GPU();
  uint32_t seed = 50;
  for (sr::SubpixelOrder order : {sr::SubpixelOrder::tf, sr::SubpixelOrder::pt}) {
    for (Shape in : {Shape{2, 19, 14}, Shape{3, 1, 2}, Shape{2, 256, 1024}}) {
      CAPTURE(in.str(), order == sr::SubpixelOrder::tf);
      OpSpec s = unary(Op::subpixel, in, {in.b, 2 * in.l, in.c / 2}, seed++);
      s.params.order = order;
      require_identical(on_cuda(s), on_cpu(s));
    }
  }
  {
    OpSpec s = unary(Op::concat, {3, 21, 5}, {3, 21, 16}, seed++);
    s.inputs.push_back(random_tensor({3, 21, 11}, seed++));
    require_identical(on_cuda(s), on_cpu(s));
  }
  for (int block : {1, 8, 40}) {
    CAPTURE(block);
    OpSpec s = unary(Op::modulate, {2, 40, 6}, {2, 40, 6}, seed++);
    s.inputs.push_back(random_tensor({2, 40 / block, 6}, seed++));
    s.params.block = block;
    require_identical(on_cuda(s), on_cpu(s));
  }
}

namespace {

// Keras-layout LSTM in float64 (independent of engine/cpu): gates i, f, g, o.
std::vector<double> lstm_reference(const HostTensor& x, const std::vector<float>& kernel,
                                   const std::vector<float>& recurrent,
                                   const std::vector<float>& bias, int64_t H, bool hard) {
  const int64_t B = x.shape.b, N = x.shape.l, Cin = x.shape.c;
  auto gate = [&](double z) {
    return hard ? std::clamp(0.2 * z + 0.5, 0.0, 1.0) : 1.0 / (1.0 + std::exp(-z));
  };
  std::vector<double> out(static_cast<size_t>(B * N * H));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> h(H, 0.0), c(H, 0.0), next(H);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t j = 0; j < H; ++j) {
        double z[4];
        for (int g = 0; g < 4; ++g) {
          const int64_t col = g * H + j;
          double s = bias[col];
          for (int64_t ci = 0; ci < Cin; ++ci)
            s += double(x.at(b, n, ci)) * kernel[ci * 4 * H + col];
          for (int64_t m = 0; m < H; ++m) s += h[m] * recurrent[m * 4 * H + col];
          z[g] = s;
        }
        c[j] = gate(z[1]) * c[j] + gate(z[0]) * std::tanh(z[2]);
        next[j] = gate(z[3]) * std::tanh(c[j]);
      }
      h = next;
      for (int64_t j = 0; j < H; ++j) out[(b * N + n) * H + j] = h[j];
    }
  }
  return out;
}

}  // namespace

TEST_CASE("cuda lstm matches a float64 recurrence as closely as the CPU does", "[gpu][ops][lstm]") {
  SR_REQUIRE_GPU();
  struct Case {
    int64_t B, N, Cin, H;
  };
  // Odd sizes, H not a multiple of 32 (partial unit tiles), B not a multiple of 4 (partial batch
  // tiles), and the widths of the default network (128, 512) at 32 steps.
  const Case cases[] = {{1, 1, 5, 4},      {2, 7, 3, 8},      {3, 33, 16, 12},
                        {5, 32, 128, 128}, {2, 32, 512, 512}, {6, 9, 40, 45}};
  uint32_t seed = 70;
  for (const Case& cs : cases) {
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
      s.inputs = {random_tensor({cs.B, cs.N, cs.Cin}, seed++)};
      s.weights = {random_vector(size_t(cs.Cin * G), seed++, k_scale),
                   random_vector(size_t(cs.H * G), seed++, u_scale),
                   random_vector(size_t(G), seed++, 0.5f)};
      s.weight_dims = {{cs.Cin, G}, {cs.H, G}, {G}};
      s.output = {cs.B, cs.N, cs.H};
      const std::vector<double> ref =
          lstm_reference(s.inputs[0], s.weights[0], s.weights[1], s.weights[2], cs.H, hard);
      const double cpu_err = max_abs_diff(on_cpu(s), ref);
      // The same precision-mode-independent FP32 arithmetic in another order: allowed 4x the
      // CPU's own error against float64, plus a floor for when the CPU happens to be near exact
      // (|h| < 1, so 1e-6 is ~10 float32 ulps).
      for (Precision p : {Precision::fp32, Precision::bf16}) {  // the LSTM ignores precision
        const double gpu_err = max_abs_diff(on_cuda(s, p), ref);
        INFO("cpu_err=" << cpu_err << " gpu_err=" << gpu_err);
        REQUIRE(gpu_err <= 4 * cpu_err + 1e-6);
      }
    }
  }
}

TEST_CASE("cuda linear matches the CPU in FP32 in every precision mode", "[gpu][ops][linear]") {
  SR_REQUIRE_GPU();
  struct Case {
    int64_t B, N, Din, Dout;
  };
  const Case cases[] = {{2, 33, 40, 24}, {1, 1, 7, 3}, {3, 32, 512, 2048}, {2, 32, 2048, 512}};
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
      const std::vector<float> ref = on_cpu(s);
      // Sums of Din products of U(-1,1) values: FP32 rounding grows like 1e-7 * sqrt(Din) per
      // output (RMS); 1e-5 * sqrt(Din) leaves a wide margin while an indexing bug is O(1).
      // Dense layers are FP32 in the tf32 and bf16 modes too (kernels/attention.cu): the same
      // bound, and a TF32 leak (~1.3e-4 * sqrt(Din) RMS) would exceed it.
      for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
        sr::gpu_test::require_max_abs(on_cuda(s, p), ref, 1e-5 * std::sqrt(double(cs.Din)));
    }
  }
}

namespace {

std::vector<double> attention_reference(const HostTensor& q, const HostTensor& k,
                                        const HostTensor& v, int64_t heads) {
  const int64_t B = q.shape.b, N = q.shape.l, D = q.shape.c, dh = D / heads;
  std::vector<double> y(static_cast<size_t>(B * N * D));
  std::vector<double> p(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < N; ++i) {
        double m = -1e300;
        for (int64_t j = 0; j < N; ++j) {
          double s = 0;
          for (int64_t t = 0; t < dh; ++t)
            s += double(q.at(b, i, h * dh + t)) * k.at(b, j, h * dh + t);
          p[j] = s / std::sqrt(double(dh));
          m = std::max(m, p[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < N; ++j) sum += (p[j] = std::exp(p[j] - m));
        for (int64_t t = 0; t < dh; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < N; ++j) acc += p[j] * v.at(b, j, h * dh + t);
          y[(b * N + i) * D + h * dh + t] = acc / sum;
        }
      }
  return y;
}

}  // namespace

TEST_CASE("cuda attention matches float64 as closely as the CPU does", "[gpu][ops][attention]") {
  SR_REQUIRE_GPU();
  struct Case {
    int64_t B, N, D, heads;
  };
  // N = 1, N not a multiple of the 4 rows per block, dh = 16 (half a warp), dh = 64 (two features
  // per lane), and a long sequence (300 tokens) whose scores span several warps' worth of keys.
  const Case cases[] = {
      {2, 33, 64, 8}, {3, 1, 16, 2}, {1, 300, 128, 8}, {2, 32, 512, 8}, {2, 7, 128, 2}};
  uint32_t seed = 110;
  for (const Case& cs : cases) {
    CAPTURE(cs.B, cs.N, cs.D, cs.heads);
    OpSpec s;
    s.op = Op::attention;
    s.params.heads = int(cs.heads);
    // Scale 2 makes some softmax rows peaked, exercising the max subtraction.
    for (int i = 0; i < 3; ++i) s.inputs.push_back(random_tensor({cs.B, cs.N, cs.D}, seed++, 2.0f));
    s.output = {cs.B, cs.N, cs.D};
    const std::vector<double> ref =
        attention_reference(s.inputs[0], s.inputs[1], s.inputs[2], cs.heads);
    const double cpu_err = max_abs_diff(on_cpu(s), ref);
    const double gpu_err = max_abs_diff(on_cuda(s, Precision::tf32), ref);  // FP32 in every mode
    INFO("cpu_err=" << cpu_err << " gpu_err=" << gpu_err);
    // FP32 softmax and sums in another order: 4x the CPU's error, floor 1e-6 (|y| <= 2).
    REQUIRE(gpu_err <= 4 * cpu_err + 1e-6);
  }
}

TEST_CASE("cuda layer_norm and pos_encoding match the CPU", "[gpu][ops][layer_norm]") {
  SR_REQUIRE_GPU();
  uint32_t seed = 130;
  for (Shape shape : {Shape{3, 17, 128}, Shape{1, 1, 5}, Shape{2, 32, 512}, Shape{4, 9, 2048}}) {
    CAPTURE(shape.str());
    OpSpec s = unary(Op::layer_norm, shape, shape, seed++);
    for (float& x : s.inputs[0].values) x += 5.0f;  // an offset against a small spread
    s.params.eps = 1e-6f;
    s.weights = {random_vector(size_t(shape.c), seed++), random_vector(size_t(shape.c), seed++)};
    s.weight_dims = {{shape.c}, {shape.c}};
    // Both backends sum in double and round once; only the summation order differs.
    SR_REQUIRE_CLOSE(on_cuda(s), on_cpu(s), 1e-6, 1e-6);
  }
  for (Shape shape : {Shape{2, 33, 128}, Shape{1, 512, 512}, Shape{3, 5, 7}}) {
    CAPTURE(shape.str());
    OpSpec s = unary(Op::pos_encoding, shape, shape, seed++);
    // Double sin/cos/pow on the device vs glibc: the table may differ by one float ulp (|PE| <= 1,
    // ulp <= 1.2e-7), and x * sqrt(D) + PE is rounded the same way on both sides.
    SR_REQUIRE_CLOSE(on_cuda(s), on_cpu(s), 3e-7 * std::sqrt(double(shape.c)) + 2.5e-7, 1e-6);
  }
}

TEST_CASE("cuda backend rejects inconsistent shapes like the CPU", "[gpu][ops][errors]") {
  SR_REQUIRE_GPU();
  auto cuda = sr::gpu_test::cuda_backend(Precision::fp32);
  OpSpec s = unary(Op::add, {2, 3, 4}, {2, 3, 4}, 1);
  s.inputs.push_back(random_tensor({2, 3, 5}, 2));
  REQUIRE_THROWS_AS(run_op(*cuda, s), sr::Error);
  // The backend stays usable after a refused program.
  OpSpec ok = unary(Op::relu, {2, 3, 4}, {2, 3, 4}, 3);
  require_identical(run_op(*cuda, ok), on_cpu(ok));
}
