// CPU reference ops of the conv / pooling / layout families against the naive double-precision
// loops of naive_ops.h (the formulas of spec/MODELS.md sections 1.1, 2 and 3).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/naive_ops.h"
#include "cpu/cpu_ops.h"
#include "sr/error.h"
#include "test_util.h"

namespace {

using sr::HostTensor;
using sr::OpCall;
using sr::Shape;
using sr::naive::to_double;
using sr::test::poisoned_tensor;
using sr::test::random_tensor;
using sr::test::random_vector;

// Exact ops (copies, max, a single correctly rounded float op) compare with a tiny floor so that
// a zero reference cannot divide by zero.
constexpr double kExactAtol = 1e-30;

using ConvCase = sr::naive::ConvDims;

}  // namespace

TEST_CASE("conv1d_fwd matches a direct double-precision convolution", "[ops][conv1d]") {
  const std::vector<ConvCase> cases = {
      {2, 301, 1, 16, 65, 2},  // first layer shape (Cin = 1, K = 65, d = 2), direct path
      {1, 37, 1, 8, 65, 2},    // first layer with L = 37 < span 129
      {2, 57, 7, 5, 9, 2},     // largest Cin on the direct path
      {2, 57, 8, 5, 9, 2},     // smallest Cin on the GEMM path
      {3, 3, 9, 5, 9, 2},      // L = 3 < span 17: outer taps have no valid rows
      {1, 1, 16, 4, 9, 2},     // single sample: only the centre tap contributes
      {2, 41, 24, 2, 9, 1},    // final layer shape (Cout = 2, K = 9, d = 1): narrow path
      {2, 5, 10, 3, 9, 2},     // narrow path, L = 5 < span 17
      {1, 40, 12, 5, 9, 2},    // smallest Cout past the narrow path
      {2, 47, 24, 40, 9, 2},   // tiled path: 6-row tiles and a 5-row tail, 16-channel blocks and an
                               // 8-channel tail
      {1, 4, 16, 16, 9, 2},    // tiled path, L = 4 < span 17
      {2, 63, 32, 24, 17, 2},  // odd length, wider kernel
      {1, 129, 48, 40, 33, 2},
      {2, 20, 12, 6, 1, 1},  // K = 1: a pointwise GEMM
  };
  uint32_t seed = 100;
  for (const ConvCase& p : cases) {
    DYNAMIC_SECTION("B=" << p.b << " L=" << p.l << " Cin=" << p.cin << " Cout=" << p.cout
                         << " K=" << p.k << " d=" << p.dilation) {
      HostTensor x = random_tensor({p.b, p.l, p.cin}, seed++);
      const std::vector<float> w = random_vector(size_t(p.k * p.cin * p.cout), seed++);
      const std::vector<float> bias = random_vector(size_t(p.cout), seed++);
      HostTensor y = poisoned_tensor({p.b, p.l, p.cout});

      OpCall call;
      call.op = sr::Op::conv1d;
      call.params.kernel = int(p.k);
      call.params.dilation = int(p.dilation);
      call.inputs[0] = x.view();
      call.weights[0] = sr::test::weight_view(w, {p.k, p.cin, p.cout});
      call.weights[1] = sr::test::weight_view(bias, {p.cout});
      call.output = y.view();
      sr::cpu::conv1d_fwd(call);

      // float32 sum of n = Cin*K products with |term| <= 1: the sum is ~sqrt(n)/3 in size and its
      // rounding error ~1e-7*n at worst; 1e-5*sqrt(n) keeps >10x margin, an index bug gives O(0.1).
      const double tol = 1e-5 * std::sqrt(double(p.cin * p.k));
      SR_REQUIRE_CLOSE(y.values,
                       sr::naive::conv1d(to_double(x.values), to_double(w), to_double(bias), p),
                       tol, tol);
    }
  }
}

TEST_CASE("conv1d_fwd epilogues and strided views equal the plain ops", "[ops][conv1d]") {
  struct Epilogue {
    bool pool2;
    sr::Activation act;
    bool shuffle;
    sr::SubpixelOrder order;
  };
  const std::vector<Epilogue> epilogues = {
      {false, sr::Activation::none, false, sr::SubpixelOrder::tf},       // strided views only
      {true, sr::Activation::leaky_relu, false, sr::SubpixelOrder::tf},  // down blocks
      {false, sr::Activation::relu, true, sr::SubpixelOrder::tf},        // up blocks, TF order
      {false, sr::Activation::relu, true, sr::SubpixelOrder::pt},        // up blocks, PT order
      {false, sr::Activation::none, true, sr::SubpixelOrder::pt},        // final layer
      {true, sr::Activation::relu, true, sr::SubpixelOrder::tf},         // all three
  };
  const std::vector<ConvCase> cases = {
      {2, 38, 1, 6, 9, 2},    // direct path (Cin = 1)
      {2, 41, 12, 10, 9, 2},  // GEMM path, odd length (the pool drops the last row)
      {1, 30, 16, 2, 5, 1},   // final-layer shape
      {2, 41, 12, 20, 9, 2},  // tiled path
  };
  uint32_t seed = 300;
  for (const ConvCase& p : cases) {
    for (const Epilogue& e : epilogues) {
      DYNAMIC_SECTION("Cin=" << p.cin << " Cout=" << p.cout << " L=" << p.l << " pool2=" << e.pool2
                             << " act=" << int(e.act) << " shuffle=" << e.shuffle
                             << " order=" << int(e.order)) {
        // The input is channels [2, 2 + Cin) of a buffer with Cin + 3 channels; the output is
        // channels [1, 1 + C) of one with C + 4: the layout of a concatenation's two halves.
        const int64_t ldx = p.cin + 3, x_off = 2;
        HostTensor xbuf = random_tensor({p.b, p.l, ldx}, seed++);
        const std::vector<float> w = random_vector(size_t(p.k * p.cin * p.cout), seed++);
        const std::vector<float> bias = random_vector(size_t(p.cout), seed++);
        Shape ys{p.b, e.pool2 ? p.l / 2 : p.l, p.cout};
        if (e.shuffle) ys = {ys.b, 2 * ys.l, ys.c / 2};
        const int64_t ldy = ys.c + 4, y_off = 1;
        HostTensor ybuf = poisoned_tensor({ys.b, ys.l, ldy});

        OpCall call;
        call.op = sr::Op::conv1d;
        call.params.kernel = int(p.k);
        call.params.dilation = int(p.dilation);
        call.params.pool2 = e.pool2;
        call.params.act = e.act;
        call.params.alpha = 0.2f;
        call.params.shuffle = e.shuffle;
        call.params.order = e.order;
        call.inputs[0] = {xbuf.values.data() + x_off, {p.b, p.l, p.cin}, ldx};
        call.weights[0] = sr::test::weight_view(w, {p.k, p.cin, p.cout});
        call.weights[1] = sr::test::weight_view(bias, {p.cout});
        call.output = {ybuf.values.data() + y_off, ys, ldy};
        sr::cpu::conv1d_fwd(call);

        // Reference: the plain ops one after another, in double.
        std::vector<float> x;
        for (int64_t r = 0; r < p.b * p.l; ++r)
          for (int64_t c = 0; c < p.cin; ++c) x.push_back(xbuf.values[r * ldx + x_off + c]);
        sr::naive::Vec ref = sr::naive::conv1d(to_double(x), to_double(w), to_double(bias), p);
        Shape s{p.b, p.l, p.cout};
        if (e.pool2) {
          ref = sr::naive::max_pool2(ref, s);
          s.l /= 2;
        }
        if (e.act == sr::Activation::relu) ref = sr::naive::relu(ref);
        if (e.act == sr::Activation::leaky_relu) ref = sr::naive::leaky_relu(ref, 0.2f);
        if (e.shuffle) ref = sr::naive::subpixel(ref, s, e.order);
        std::vector<float> got;
        for (int64_t r = 0; r < ys.b * ys.l; ++r) {
          for (int64_t c = 0; c < ldy; ++c) {
            const float v = ybuf.values[r * ldy + c];
            if (c >= y_off && c < y_off + ys.c) {
              got.push_back(v);
            } else {
              INFO("row " << r << " channel " << c << " outside the slice was written");
              REQUIRE(std::isnan(v));
            }
          }
        }
        // As the plain conv1d test: float32 sums of Cin*K products; the epilogue ops are exact.
        const double tol = 1e-5 * std::sqrt(double(p.cin * p.k));
        SR_REQUIRE_CLOSE(got, ref, tol, tol);
      }
    }
  }
}

TEST_CASE("ops refuse strided views they cannot read", "[ops]") {
  HostTensor buf = random_tensor({1, 8, 6}, 9);
  HostTensor y = poisoned_tensor({1, 8, 3});
  OpCall call;
  call.op = sr::Op::relu;
  call.inputs[0] = {buf.values.data(), {1, 8, 3}, 6};
  call.output = y.view();
  CHECK_THROWS_WITH(sr::check_op_call(call), Catch::Contains("row stride 6"));
  call.inputs[0] = {buf.values.data(), {1, 8, 3}};
  CHECK_NOTHROW(sr::check_op_call(call));
  CHECK(sr::op_accepts_strided(sr::Op::conv1d, 0));
  CHECK(sr::op_accepts_strided(sr::Op::modulate, -1));
  CHECK(!sr::op_accepts_strided(sr::Op::modulate, 0));
  CHECK(!sr::op_accepts_strided(sr::Op::add, -1));
}

TEST_CASE("conv1d_fwd rejects inconsistent weights", "[ops][conv1d]") {
  HostTensor x = random_tensor({1, 10, 4}, 1);
  const std::vector<float> w = random_vector(9 * 4 * 3, 2);
  const std::vector<float> bias = random_vector(3, 3);
  HostTensor y = poisoned_tensor({1, 10, 3});
  OpCall call;
  call.params.kernel = 9;
  call.inputs[0] = x.view();
  call.weights[0] = sr::test::weight_view(w, {9, 3, 4});  // Cin and Cout swapped
  call.weights[1] = sr::test::weight_view(bias, {3});
  call.output = y.view();
  REQUIRE_THROWS_AS(sr::cpu::conv1d_fwd(call), sr::Error);
  call.weights[0] = sr::test::weight_view(w, {9, 4, 3});
  call.params.kernel = 8;  // even kernel has no 'same' centre
  REQUIRE_THROWS_AS(sr::cpu::conv1d_fwd(call), sr::Error);
}

TEST_CASE("leaky_relu_fwd and relu_fwd match their formulas", "[ops][elementwise]") {
  const Shape shape{3, 37, 5};
  HostTensor x = random_tensor(shape, 11);
  OpCall call;
  call.inputs[0] = x.view();

  SECTION("leaky_relu") {
    HostTensor y = poisoned_tensor(shape);
    call.op = sr::Op::leaky_relu;
    call.params.alpha = 0.2f;
    call.output = y.view();
    sr::cpu::leaky_relu_fwd(call);
    const std::vector<double> ref = sr::naive::leaky_relu(to_double(x.values), double(0.2f));
    // One float multiply, correctly rounded: relative error <= 2^-24.
    SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-7);
  }
  SECTION("relu") {
    HostTensor y = poisoned_tensor(shape);
    call.op = sr::Op::relu;
    call.output = y.view();
    sr::cpu::relu_fwd(call);
    const std::vector<double> ref = sr::naive::relu(to_double(x.values));
    // Selection only: exact.
    SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-12);
  }
}

TEST_CASE("add_fwd matches a + b", "[ops][elementwise]") {
  const Shape shape{2, 33, 7};
  HostTensor a = random_tensor(shape, 21);
  HostTensor b = random_tensor(shape, 22);
  HostTensor y = poisoned_tensor(shape);
  OpCall call;
  call.op = sr::Op::add;
  call.inputs[0] = a.view();
  call.inputs[1] = b.view();
  call.output = y.view();
  sr::cpu::add_fwd(call);
  const std::vector<double> ref = sr::naive::add(to_double(a.values), to_double(b.values));
  // One float add, correctly rounded: relative error <= 2^-24.
  SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-7);
}

TEST_CASE("max_pool2_fwd takes the max of each pair and drops an odd tail", "[ops][pooling]") {
  for (int64_t L : {1, 2, 37, 64}) {
    DYNAMIC_SECTION("L=" << L) {
      const int64_t B = 3, C = 6, Lo = L / 2;
      HostTensor x = random_tensor({B, L, C}, uint32_t(30 + L));
      HostTensor y = poisoned_tensor({B, Lo, C});
      OpCall call;
      call.op = sr::Op::max_pool2;
      call.inputs[0] = x.view();
      call.output = y.view();
      sr::cpu::max_pool2_fwd(call);
      const std::vector<double> ref = sr::naive::max_pool2(to_double(x.values), x.shape);
      // Selection only: exact.
      SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-12);
    }
  }
}

TEST_CASE("block_max_pool_fwd takes the max over each block of S rows", "[ops][pooling]") {
  struct Case {
    int64_t b, l, c, s;
  };
  for (const Case& p :
       std::vector<Case>{{2, 24, 5, 8}, {1, 7, 3, 7}, {3, 9, 4, 1}, {2, 96, 3, 32}}) {
    DYNAMIC_SECTION("B=" << p.b << " L=" << p.l << " C=" << p.c << " S=" << p.s) {
      const int64_t N = p.l / p.s;
      HostTensor x = random_tensor({p.b, p.l, p.c}, uint32_t(40 + p.l));
      HostTensor y = poisoned_tensor({p.b, N, p.c});
      OpCall call;
      call.op = sr::Op::block_max_pool;
      call.params.block = int(p.s);
      call.inputs[0] = x.view();
      call.output = y.view();
      sr::cpu::block_max_pool_fwd(call);
      const std::vector<double> ref = sr::naive::block_max_pool(to_double(x.values), x.shape, p.s);
      // Selection only: exact.
      SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-12);
    }
  }
  SECTION("length not a multiple of the block") {
    HostTensor x = random_tensor({1, 10, 2}, 49);
    HostTensor y = poisoned_tensor({1, 2, 2});
    OpCall call;
    call.params.block = 4;
    call.inputs[0] = x.view();
    call.output = y.view();
    REQUIRE_THROWS_AS(sr::cpu::block_max_pool_fwd(call), sr::Error);
  }
}

namespace {

HostTensor run_subpixel(HostTensor& x, sr::SubpixelOrder order) {
  HostTensor y = poisoned_tensor({x.shape.b, 2 * x.shape.l, x.shape.c / 2});
  OpCall call;
  call.op = sr::Op::subpixel;
  call.params.order = order;
  call.inputs[0] = x.view();
  call.output = y.view();
  sr::cpu::subpixel_fwd(call);
  return y;
}

}  // namespace

TEST_CASE("subpixel_fwd follows the tf and pt channel orders", "[ops][subpixel]") {
  const int64_t B = 2, W = 13, C = 5;  // output channels C, input channels 2C
  HostTensor x = random_tensor({B, W, 2 * C}, 51);
  for (auto order : {sr::SubpixelOrder::tf, sr::SubpixelOrder::pt}) {
    const bool tf = order == sr::SubpixelOrder::tf;
    DYNAMIC_SECTION((tf ? "tf" : "pt")) {
      HostTensor y = run_subpixel(x, order);
      const std::vector<double> ref = sr::naive::subpixel(to_double(x.values), x.shape, order);
      // Pure permutation: exact.
      SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-12);
    }
  }
  SECTION("orders agree for one output channel (final layer)") {
    HostTensor x2 = random_tensor({3, 17, 2}, 52);
    HostTensor tf = run_subpixel(x2, sr::SubpixelOrder::tf);
    HostTensor pt = run_subpixel(x2, sr::SubpixelOrder::pt);
    // Both are the same permutation here: exact.
    SR_REQUIRE_CLOSE(tf.values, pt.values, kExactAtol, 1e-12);
    std::vector<double> ref;  // out[2w] = in[w,0], out[2w+1] = in[w,1]: the input bytes in order
    for (float v : x2.values) ref.push_back(v);
    SR_REQUIRE_CLOSE(tf.values, ref, kExactAtol, 1e-12);
  }
}

TEST_CASE("concat_fwd puts a's channels first", "[ops][concat]") {
  const int64_t B = 3, L = 11, C1 = 4, C2 = 7;
  HostTensor a = random_tensor({B, L, C1}, 61);
  HostTensor b = random_tensor({B, L, C2}, 62);
  HostTensor y = poisoned_tensor({B, L, C1 + C2});
  OpCall call;
  call.op = sr::Op::concat;
  call.inputs[0] = a.view();
  call.inputs[1] = b.view();
  call.output = y.view();
  sr::cpu::concat_fwd(call);
  const std::vector<double> ref =
      sr::naive::concat(to_double(a.values), a.shape, to_double(b.values), b.shape);
  // Copy only: exact.
  SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-12);
}

TEST_CASE("modulate_fwd scales each block of S rows by its modulation row", "[ops][modulate]") {
  struct Case {
    int64_t b, n, s, c;
  };
  for (const Case& p : std::vector<Case>{{2, 5, 8, 6}, {1, 3, 1, 4}, {3, 1, 13, 3}}) {
    DYNAMIC_SECTION("B=" << p.b << " N=" << p.n << " S=" << p.s << " C=" << p.c) {
      const int64_t L = p.n * p.s;
      HostTensor x = random_tensor({p.b, L, p.c}, uint32_t(70 + p.s));
      HostTensor m = random_tensor({p.b, p.n, p.c}, uint32_t(80 + p.s));
      HostTensor y = poisoned_tensor({p.b, L, p.c});
      OpCall call;
      call.op = sr::Op::modulate;
      call.params.block = int(p.s);
      call.inputs[0] = x.view();
      call.inputs[1] = m.view();
      call.output = y.view();
      sr::cpu::modulate_fwd(call);
      const std::vector<double> ref =
          sr::naive::modulate(to_double(x.values), x.shape, to_double(m.values), p.s);
      // One float multiply, correctly rounded: relative error <= 2^-24.
      SR_REQUIRE_CLOSE(y.values, ref, kExactAtol, 1e-7);
    }
  }
  SECTION("modulation length inconsistent with the block") {
    HostTensor x = random_tensor({1, 16, 2}, 90);
    HostTensor m = random_tensor({1, 3, 2}, 91);
    HostTensor y = poisoned_tensor({1, 16, 2});
    OpCall call;
    call.params.block = 8;
    call.inputs[0] = x.view();
    call.inputs[1] = m.view();
    call.output = y.view();
    REQUIRE_THROWS_AS(sr::cpu::modulate_fwd(call), sr::Error);
  }
}
