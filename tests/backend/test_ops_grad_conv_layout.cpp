// Backward passes of the conv / pooling / layout families against central finite differences, in
// double, of the naive forwards in naive_ops.h. The loss is L = sum(dy * y) for a random upstream
// gradient dy, so dL/dv is what each backward must add to its gradient buffers. Gradient buffers
// start from random values: the result must be old + gradient (OpGradCall accumulates).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "backend/naive_ops.h"
#include "cpu/cpu_ops.h"
#include "sr/error.h"
#include "test_util.h"

namespace {

using sr::HostTensor;
using sr::OpCall;
using sr::OpGradCall;
using sr::Shape;
using sr::TensorView;
using sr::naive::to_double;
using sr::test::random_tensor;
using sr::test::random_vector;
using Vec = std::vector<double>;

// Finite-difference step relative to the value (floor 1): large enough that the double roundoff of
// yp - ym stays ~1e-10 of the gradient, small enough that the forwards here (piecewise linear or
// bilinear) see no curvature; kinks (max, relu) are kept at least kMinGap away from every value.
constexpr double kStep = 1e-6;
constexpr float kMinGap = 1e-4f;  // 100 steps

// Exact results (a single correctly rounded float add onto the old value) compare with a tiny floor
// so that a zero reference cannot divide by zero.
constexpr double kExactAtol = 1e-30;

// dL/dv[i] for L = sum_k dy[k] * forward()[k] by central differences; forward reads v, which is
// perturbed in place and restored. Only outputs that depend on v[i] change between the two calls,
// and each forward evaluates in the same order, so unaffected outputs cancel exactly.
Vec fd_gradient(Vec& v, const Vec& dy, const std::function<Vec()>& forward) {
  Vec g(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const double v0 = v[i];
    const double h = kStep * std::max(1.0, std::fabs(v0));
    const double vp = v0 + h, vm = v0 - h;
    v[i] = vp;
    const Vec yp = forward();
    v[i] = vm;
    const Vec ym = forward();
    v[i] = v0;
    double d = 0;
    for (size_t k = 0; k < dy.size(); ++k) d += dy[k] * (yp[k] - ym[k]);
    g[i] = d / (vp - vm);
  }
  return g;
}

// The expected content of a gradient buffer that started at `old`.
Vec plus(const std::vector<float>& old, const Vec& grad) {
  REQUIRE(old.size() == grad.size());
  Vec r(old.size());
  for (size_t i = 0; i < old.size(); ++i) r[i] = double(old[i]) + grad[i];
  return r;
}

// Moves values within kMinGap of zero away from it, so that relu/leaky_relu FD never straddles
// the kink.
void keep_off_zero(std::vector<float>& v) {
  for (float& x : v)
    if (std::fabs(x) < kMinGap) x = x < 0 ? -kMinGap : kMinGap;
}

// Tolerance of a float32 sum of n products of values in [-1, 1] plus the old value: rounding grows
// ~eps_f*sqrt(n) (random walk), eps_f*n at worst; 1e-5*sqrt(n) covers the worst case up to
// n ~ 2e4 and is >1000x below the O(0.1) error of a wrong index. FD adds ~1e-10.
double sum_tol(int64_t n) {
  return 1e-5 * std::sqrt(double(std::max<int64_t>(n, 1)));
}

// One float multiply and one float add onto an old value, all in [-1, 1]: <= 2 roundings of
// 2^-24 relative to operands of size <= 1, so 1e-6 absolute and relative; FD adds ~1e-10.
constexpr double kMulAddTol = 1e-6;

}  // namespace

TEST_CASE("conv1d_bwd matches finite differences of the naive conv", "[grad][conv1d]") {
  const std::vector<sr::naive::ConvDims> cases = {
      {2, 140, 1, 4, 65, 2},  // first layer (Cin = 1, K = 65, d = 2), direct path
      {1, 37, 1, 4, 65, 2},   // first layer with L = 37 < span 129
      {2, 19, 3, 6, 5, 1},    // direct path, dilation 1
      {2, 23, 7, 5, 9, 2},    // largest Cin on the direct path
      {2, 23, 8, 5, 9, 2},    // smallest Cin on the GEMM path
      {3, 3, 9, 5, 9, 2},     // L = 3 < span 17: outer taps have no valid rows
      {1, 1, 16, 4, 9, 2},    // single sample: only the centre tap contributes
      {2, 41, 12, 2, 9, 1},   // final layer shape (Cout = 2, K = 9, d = 1), odd length
      {2, 21, 10, 6, 9, 2},   // odd length, GEMM path, several taps clipped at both ends
      {2, 20, 12, 6, 1, 1},   // K = 1: a pointwise GEMM
  };
  uint32_t seed = 1000;
  for (const auto& p : cases) {
    DYNAMIC_SECTION("B=" << p.b << " L=" << p.l << " Cin=" << p.cin << " Cout=" << p.cout
                         << " K=" << p.k << " d=" << p.dilation) {
      const Shape xs{p.b, p.l, p.cin}, ys{p.b, p.l, p.cout};
      HostTensor x = random_tensor(xs, seed++);
      const std::vector<float> w = random_vector(size_t(p.k * p.cin * p.cout), seed++);
      const std::vector<float> bias = random_vector(size_t(p.cout), seed++);
      HostTensor dy = random_tensor(ys, seed++);
      HostTensor y(ys);

      OpGradCall call;
      call.forward.op = sr::Op::conv1d;
      call.forward.params.kernel = int(p.k);
      call.forward.params.dilation = int(p.dilation);
      call.forward.inputs[0] = x.view();
      call.forward.weights[0] = sr::test::weight_view(w, {p.k, p.cin, p.cout});
      call.forward.weights[1] = sr::test::weight_view(bias, {p.cout});
      call.forward.output = y.view();
      sr::cpu::conv1d_fwd(call.forward);
      call.grad_output = dy.view();

      Vec xd = to_double(x.values), wd = to_double(w), bd = to_double(bias);
      const Vec dyd = to_double(dy.values);
      const auto forward = [&] { return sr::naive::conv1d(xd, wd, bd, p); };
      const Vec gx = fd_gradient(xd, dyd, forward);
      const Vec gw = fd_gradient(wd, dyd, forward);
      const Vec gb = fd_gradient(bd, dyd, forward);

      // dx sums K*Cout products dy*w; dw and db sum B*L products (x*dy, dy).
      const double tol_x = sum_tol(p.k * p.cout), tol_w = sum_tol(p.b * p.l);

      // All three gradients, accumulated onto random old values.
      const std::vector<float> dx0 = random_vector(size_t(xs.numel()), seed++);
      const std::vector<float> dw0 = random_vector(w.size(), seed++);
      const std::vector<float> db0 = random_vector(bias.size(), seed++);
      std::vector<float> dx = dx0, dw = dw0, db = db0;
      call.grad_inputs[0] = TensorView{dx.data(), xs};
      call.grad_weights[0] = dw.data();
      call.grad_weights[1] = db.data();
      sr::cpu::conv1d_bwd(call);
      SR_REQUIRE_CLOSE(dx, plus(dx0, gx), tol_x, tol_x);
      SR_REQUIRE_CLOSE(dw, plus(dw0, gw), tol_w, tol_w);
      SR_REQUIRE_CLOSE(db, plus(db0, gb), tol_w, tol_w);

      // Only dx wanted (null weight gradients are skipped).
      std::vector<float> dx_only = dx0;
      call.grad_inputs[0] = TensorView{dx_only.data(), xs};
      call.grad_weights[0] = nullptr;
      call.grad_weights[1] = nullptr;
      sr::cpu::conv1d_bwd(call);
      SR_REQUIRE_CLOSE(dx_only, plus(dx0, gx), tol_x, tol_x);

      // Only the weights wanted, as for the first layer in training (null dx is skipped).
      std::vector<float> dw_only = dw0, db_only = db0;
      call.grad_inputs[0] = TensorView{};
      call.grad_weights[0] = dw_only.data();
      call.grad_weights[1] = db_only.data();
      sr::cpu::conv1d_bwd(call);
      SR_REQUIRE_CLOSE(dw_only, plus(dw0, gw), tol_w, tol_w);
      SR_REQUIRE_CLOSE(db_only, plus(db0, gb), tol_w, tol_w);
    }
  }
}

TEST_CASE("conv1d_bwd rejects inconsistent gradient shapes", "[grad][conv1d]") {
  HostTensor x = random_tensor({1, 10, 4}, 1);
  const std::vector<float> w = random_vector(9 * 4 * 3, 2);
  const std::vector<float> bias = random_vector(3, 3);
  HostTensor y({1, 10, 3});
  HostTensor dy = random_tensor({1, 10, 2}, 4);  // Cout 2 instead of 3
  HostTensor dx({1, 10, 4});
  OpGradCall call;
  call.forward.params.kernel = 9;
  call.forward.inputs[0] = x.view();
  call.forward.weights[0] = sr::test::weight_view(w, {9, 4, 3});
  call.forward.weights[1] = sr::test::weight_view(bias, {3});
  call.forward.output = y.view();
  call.grad_output = dy.view();
  call.grad_inputs[0] = dx.view();
  REQUIRE_THROWS_AS(sr::cpu::conv1d_bwd(call), sr::Error);
  HostTensor dy_ok = random_tensor({1, 10, 3}, 5);
  HostTensor dx_bad({1, 9, 4});
  call.grad_output = dy_ok.view();
  call.grad_inputs[0] = dx_bad.view();
  REQUIRE_THROWS_AS(sr::cpu::conv1d_bwd(call), sr::Error);
}

TEST_CASE("leaky_relu_bwd and relu_bwd match finite differences", "[grad][elementwise]") {
  const Shape shape{3, 37, 5};
  HostTensor x = random_tensor(shape, 11);
  keep_off_zero(x.values);
  HostTensor dy = random_tensor(shape, 12);
  HostTensor y(shape);
  const std::vector<float> dx0 = random_vector(size_t(shape.numel()), 13);
  Vec xd = to_double(x.values);
  const Vec dyd = to_double(dy.values);

  OpGradCall call;
  call.forward.inputs[0] = x.view();
  call.forward.output = y.view();
  call.grad_output = dy.view();
  std::vector<float> dx = dx0;
  call.grad_inputs[0] = TensorView{dx.data(), shape};

  SECTION("leaky_relu") {
    call.forward.op = sr::Op::leaky_relu;
    call.forward.params.alpha = 0.2f;
    sr::cpu::leaky_relu_fwd(call.forward);
    sr::cpu::leaky_relu_bwd(call);
    const Vec g = fd_gradient(xd, dyd, [&] { return sr::naive::leaky_relu(xd, double(0.2f)); });
    SR_REQUIRE_CLOSE(dx, plus(dx0, g), kMulAddTol, kMulAddTol);
    call.grad_inputs[0] = TensorView{};  // not wanted: skipped
    REQUIRE_NOTHROW(sr::cpu::leaky_relu_bwd(call));
  }
  SECTION("relu") {
    call.forward.op = sr::Op::relu;
    sr::cpu::relu_fwd(call.forward);
    sr::cpu::relu_bwd(call);
    const Vec g = fd_gradient(xd, dyd, [&] { return sr::naive::relu(xd); });
    // dy passes through or not: a single float add onto the old value.
    SR_REQUIRE_CLOSE(dx, plus(dx0, g), kMulAddTol, kMulAddTol);
    call.grad_inputs[0] = TensorView{};
    REQUIRE_NOTHROW(sr::cpu::relu_bwd(call));
  }
}

TEST_CASE("add_bwd passes dy to both inputs, also when they alias", "[grad][elementwise]") {
  const Shape shape{2, 33, 7};
  HostTensor a = random_tensor(shape, 21);
  HostTensor b = random_tensor(shape, 22);
  HostTensor dy = random_tensor(shape, 23);
  HostTensor y(shape);
  const std::vector<float> da0 = random_vector(size_t(shape.numel()), 24);
  const std::vector<float> db0 = random_vector(size_t(shape.numel()), 25);
  Vec ad = to_double(a.values), bd = to_double(b.values);
  const Vec dyd = to_double(dy.values);

  OpGradCall call;
  call.forward.op = sr::Op::add;
  call.forward.inputs[0] = a.view();
  call.forward.inputs[1] = b.view();
  call.forward.output = y.view();
  call.grad_output = dy.view();

  SECTION("distinct inputs") {
    sr::cpu::add_fwd(call.forward);
    const auto forward = [&] { return sr::naive::add(ad, bd); };
    const Vec ga = fd_gradient(ad, dyd, forward);
    const Vec gb = fd_gradient(bd, dyd, forward);
    std::vector<float> da = da0, db = db0;
    call.grad_inputs[0] = TensorView{da.data(), shape};
    call.grad_inputs[1] = TensorView{db.data(), shape};
    sr::cpu::add_bwd(call);
    // One float add onto the old value.
    SR_REQUIRE_CLOSE(da, plus(da0, ga), kMulAddTol, kMulAddTol);
    SR_REQUIRE_CLOSE(db, plus(db0, gb), kMulAddTol, kMulAddTol);

    std::vector<float> db_only = db0;  // da not wanted
    call.grad_inputs[0] = TensorView{};
    call.grad_inputs[1] = TensorView{db_only.data(), shape};
    sr::cpu::add_bwd(call);
    SR_REQUIRE_CLOSE(db_only, plus(db0, gb), kMulAddTol, kMulAddTol);
  }
  SECTION("a value added to itself: one gradient buffer gets 2 dy") {
    call.forward.inputs[1] = a.view();
    sr::cpu::add_fwd(call.forward);
    const Vec ga = fd_gradient(ad, dyd, [&] { return sr::naive::add(ad, ad); });
    std::vector<float> da = da0;
    call.grad_inputs[0] = TensorView{da.data(), shape};
    call.grad_inputs[1] = TensorView{da.data(), shape};
    sr::cpu::add_bwd(call);
    // Two float adds onto the old value.
    SR_REQUIRE_CLOSE(da, plus(da0, ga), 2 * kMulAddTol, 2 * kMulAddTol);
  }
}

namespace {

// Random x whose two rows of each pool pair differ by at least kMinGap in every channel, so the
// argmax is unique and FD does not straddle the kink.
HostTensor separated_pairs(Shape s, uint32_t seed) {
  HostTensor x = random_tensor(s, seed);
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t t = 0; t + 1 < s.l; t += 2)
      for (int64_t c = 0; c < s.c; ++c) {
        float& x1 = x.at(b, t + 1, c);
        const float x0 = x.at(b, t, c);
        if (std::fabs(x1 - x0) < kMinGap) x1 = x0 + (x1 < x0 ? -kMinGap : kMinGap);
      }
  return x;
}

// Random x whose block maximum beats the runner-up by at least kMinGap in every channel.
HostTensor separated_blocks(Shape s, int64_t S, uint32_t seed) {
  HostTensor x = random_tensor(s, seed);
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t n = 0; n < s.l / S; ++n)
      for (int64_t c = 0; c < s.c; ++c) {
        int64_t arg = 0;
        for (int64_t j = 1; j < S; ++j)
          if (x.at(b, n * S + j, c) > x.at(b, n * S + arg, c)) arg = j;
        float second = -INFINITY;
        for (int64_t j = 0; j < S; ++j)
          if (j != arg) second = std::max(second, x.at(b, n * S + j, c));
        float& top = x.at(b, n * S + arg, c);
        if (top - second < kMinGap) top = second + kMinGap;  // only raises the maximum
      }
  return x;
}

}  // namespace

TEST_CASE("max_pool2_bwd routes dy to the larger of each pair", "[grad][pooling]") {
  for (int64_t L : {1, 2, 37, 64}) {
    DYNAMIC_SECTION("L=" << L) {
      const Shape xs{3, L, 6}, ys{3, L / 2, 6};
      HostTensor x = separated_pairs(xs, uint32_t(30 + L));
      HostTensor dy = random_tensor(ys, uint32_t(130 + L));
      HostTensor y(ys);
      const std::vector<float> dx0 = random_vector(size_t(xs.numel()), uint32_t(230 + L));
      OpGradCall call;
      call.forward.op = sr::Op::max_pool2;
      call.forward.inputs[0] = x.view();
      call.forward.output = y.view();
      sr::cpu::max_pool2_fwd(call.forward);
      call.grad_output = dy.view();
      std::vector<float> dx = dx0;
      call.grad_inputs[0] = TensorView{dx.data(), xs};
      sr::cpu::max_pool2_bwd(call);

      Vec xd = to_double(x.values);
      const Vec g =
          fd_gradient(xd, to_double(dy.values), [&] { return sr::naive::max_pool2(xd, xs); });
      // A single float add onto the old value (none for the loser and an odd last row): exact
      // up to one rounding.
      SR_REQUIRE_CLOSE(dx, plus(dx0, g), kMulAddTol, kMulAddTol);
    }
  }
}

TEST_CASE("max_pool2_bwd gives a tied pair's gradient to its first element", "[grad][pooling]") {
  const Shape xs{2, 9, 4}, ys{2, 4, 4};
  HostTensor x = random_tensor(xs, 41);
  for (int64_t b = 0; b < xs.b; ++b)
    for (int64_t t = 0; t < ys.l; ++t)
      for (int64_t c = 0; c < xs.c; c += 2) x.at(b, 2 * t + 1, c) = x.at(b, 2 * t, c);
  x.at(0, 0, 1) = 0.0f;  // signed zeros compare equal: also a tie
  x.at(0, 1, 1) = -0.0f;
  x.at(1, 2, 3) = -0.0f;
  x.at(1, 3, 3) = 0.0f;
  HostTensor dy = random_tensor(ys, 42);
  const std::vector<float> dx0 = random_vector(size_t(xs.numel()), 43);
  OpGradCall call;
  HostTensor y(ys);
  call.forward.inputs[0] = x.view();
  call.forward.output = y.view();
  call.grad_output = dy.view();
  std::vector<float> dx = dx0;
  call.grad_inputs[0] = TensorView{dx.data(), xs};
  sr::cpu::max_pool2_bwd(call);

  Vec ref = to_double(dx0);
  for (int64_t b = 0; b < xs.b; ++b)
    for (int64_t t = 0; t < ys.l; ++t)
      for (int64_t c = 0; c < xs.c; ++c) {
        const int64_t win = x.at(b, 2 * t + 1, c) > x.at(b, 2 * t, c) ? 1 : 0;  // first on ties
        ref[sr::naive::at(xs, b, 2 * t + win, c)] += dy.at(b, t, c);
      }
  // One correctly rounded float add per element.
  SR_REQUIRE_CLOSE(dx, ref, kExactAtol, 1e-7);
}

TEST_CASE("block_max_pool_bwd routes dy to each block's maximum", "[grad][pooling]") {
  struct Case {
    int64_t b, l, c, s;
  };
  for (const Case& p :
       std::vector<Case>{{2, 24, 5, 8}, {1, 7, 3, 7}, {3, 9, 4, 1}, {2, 96, 3, 32}}) {
    DYNAMIC_SECTION("B=" << p.b << " L=" << p.l << " C=" << p.c << " S=" << p.s) {
      const Shape xs{p.b, p.l, p.c}, ys{p.b, p.l / p.s, p.c};
      HostTensor x = separated_blocks(xs, p.s, uint32_t(40 + p.l));
      HostTensor dy = random_tensor(ys, uint32_t(140 + p.l));
      HostTensor y(ys);
      const std::vector<float> dx0 = random_vector(size_t(xs.numel()), uint32_t(240 + p.l));
      OpGradCall call;
      call.forward.op = sr::Op::block_max_pool;
      call.forward.params.block = int(p.s);
      call.forward.inputs[0] = x.view();
      call.forward.output = y.view();
      sr::cpu::block_max_pool_fwd(call.forward);
      call.grad_output = dy.view();
      std::vector<float> dx = dx0;
      call.grad_inputs[0] = TensorView{dx.data(), xs};
      sr::cpu::block_max_pool_bwd(call);

      Vec xd = to_double(x.values);
      const Vec g = fd_gradient(xd, to_double(dy.values),
                                [&] { return sr::naive::block_max_pool(xd, xs, p.s); });
      // A single float add onto the old value.
      SR_REQUIRE_CLOSE(dx, plus(dx0, g), kMulAddTol, kMulAddTol);
    }
  }
  SECTION("ties go to the first row of the block holding the maximum") {
    const int64_t S = 6;
    const Shape xs{2, 18, 5}, ys{2, 3, 5};
    HostTensor x = random_tensor(xs, 47);
    std::vector<int64_t> first(size_t(ys.numel()));
    for (int64_t b = 0; b < xs.b; ++b)
      for (int64_t n = 0; n < ys.l; ++n)
        for (int64_t c = 0; c < xs.c; ++c) {
          // Two (or, for c = 4, all) rows of the block hold the same maximum 2.0.
          const int64_t j1 = (b + n + c) % (S - 1), j2 = S - 1 - (n + c) % (S - 1 - j1);
          for (int64_t j = 0; j < S; ++j)
            if (c == 4 || j == j1 || j == j2) x.at(b, n * S + j, c) = 2.0f;
          first[sr::naive::at(ys, b, n, c)] = c == 4 ? 0 : j1;
        }
    HostTensor dy = random_tensor(ys, 48);
    HostTensor y(ys);
    const std::vector<float> dx0 = random_vector(size_t(xs.numel()), 49);
    OpGradCall call;
    call.forward.params.block = int(S);
    call.forward.inputs[0] = x.view();
    call.forward.output = y.view();
    call.grad_output = dy.view();
    std::vector<float> dx = dx0;
    call.grad_inputs[0] = TensorView{dx.data(), xs};
    sr::cpu::block_max_pool_bwd(call);
    Vec ref = to_double(dx0);
    for (int64_t b = 0; b < xs.b; ++b)
      for (int64_t n = 0; n < ys.l; ++n)
        for (int64_t c = 0; c < xs.c; ++c)
          ref[sr::naive::at(xs, b, n * S + first[sr::naive::at(ys, b, n, c)], c)] += dy.at(b, n, c);
    // One correctly rounded float add per element.
    SR_REQUIRE_CLOSE(dx, ref, kExactAtol, 1e-7);
  }
}

TEST_CASE("subpixel_bwd inverts the tf and pt index maps", "[grad][subpixel]") {
  for (auto order : {sr::SubpixelOrder::tf, sr::SubpixelOrder::pt}) {
    for (int64_t C : {5, 1}) {  // C = 1: the final layer
      const bool tf = order == sr::SubpixelOrder::tf;
      DYNAMIC_SECTION((tf ? "tf" : "pt") << " C=" << C) {
        const Shape xs{2, 13, 2 * C}, ys{2, 26, C};
        HostTensor x = random_tensor(xs, uint32_t(51 + C));
        HostTensor dy = random_tensor(ys, uint32_t(151 + C));
        HostTensor y(ys);
        const std::vector<float> dx0 = random_vector(size_t(xs.numel()), uint32_t(251 + C));
        OpGradCall call;
        call.forward.op = sr::Op::subpixel;
        call.forward.params.order = order;
        call.forward.inputs[0] = x.view();
        call.forward.output = y.view();
        sr::cpu::subpixel_fwd(call.forward);
        call.grad_output = dy.view();
        std::vector<float> dx = dx0;
        call.grad_inputs[0] = TensorView{dx.data(), xs};
        sr::cpu::subpixel_bwd(call);

        Vec xd = to_double(x.values);
        const Vec g = fd_gradient(xd, to_double(dy.values),
                                  [&] { return sr::naive::subpixel(xd, xs, order); });
        // A single float add onto the old value.
        SR_REQUIRE_CLOSE(dx, plus(dx0, g), kMulAddTol, kMulAddTol);
      }
    }
  }
}

TEST_CASE("concat_bwd splits dy between its inputs", "[grad][concat]") {
  const int64_t B = 3, L = 11, C1 = 4, C2 = 7;
  const Shape as{B, L, C1}, bs{B, L, C2}, ys{B, L, C1 + C2};
  HostTensor a = random_tensor(as, 61);
  HostTensor b = random_tensor(bs, 62);
  HostTensor dy = random_tensor(ys, 63);
  HostTensor y(ys);
  const std::vector<float> da0 = random_vector(size_t(as.numel()), 64);
  const std::vector<float> db0 = random_vector(size_t(bs.numel()), 65);
  OpGradCall call;
  call.forward.op = sr::Op::concat;
  call.forward.inputs[0] = a.view();
  call.forward.inputs[1] = b.view();
  call.forward.output = y.view();
  sr::cpu::concat_fwd(call.forward);
  call.grad_output = dy.view();

  Vec ad = to_double(a.values), bd = to_double(b.values);
  const Vec dyd = to_double(dy.values);
  const auto forward = [&] { return sr::naive::concat(ad, as, bd, bs); };
  const Vec ga = fd_gradient(ad, dyd, forward);
  const Vec gb = fd_gradient(bd, dyd, forward);

  std::vector<float> da = da0, db = db0;
  call.grad_inputs[0] = TensorView{da.data(), as};
  call.grad_inputs[1] = TensorView{db.data(), bs};
  sr::cpu::concat_bwd(call);
  // A single float add onto the old value.
  SR_REQUIRE_CLOSE(da, plus(da0, ga), kMulAddTol, kMulAddTol);
  SR_REQUIRE_CLOSE(db, plus(db0, gb), kMulAddTol, kMulAddTol);

  std::vector<float> da_only = da0;  // db not wanted
  call.grad_inputs[0] = TensorView{da_only.data(), as};
  call.grad_inputs[1] = TensorView{};
  sr::cpu::concat_bwd(call);
  SR_REQUIRE_CLOSE(da_only, plus(da0, ga), kMulAddTol, kMulAddTol);

  SECTION("a tensor concatenated with itself gets both halves") {
    HostTensor y2({B, L, 2 * C1});
    HostTensor dy2 = random_tensor(y2.shape, 66);
    OpGradCall self;
    self.forward.inputs[0] = a.view();
    self.forward.inputs[1] = a.view();
    self.forward.output = y2.view();
    self.grad_output = dy2.view();
    std::vector<float> ds = da0;
    self.grad_inputs[0] = TensorView{ds.data(), as};
    self.grad_inputs[1] = TensorView{ds.data(), as};
    sr::cpu::concat_bwd(self);
    const Vec g =
        fd_gradient(ad, to_double(dy2.values), [&] { return sr::naive::concat(ad, as, ad, as); });
    // Two float adds onto the old value.
    SR_REQUIRE_CLOSE(ds, plus(da0, g), 2 * kMulAddTol, 2 * kMulAddTol);
  }
}

TEST_CASE("modulate_bwd matches finite differences in x and m", "[grad][modulate]") {
  struct Case {
    int64_t b, n, s, c;
  };
  for (const Case& p : std::vector<Case>{{2, 5, 8, 6}, {1, 3, 1, 4}, {3, 1, 13, 3}}) {
    DYNAMIC_SECTION("B=" << p.b << " N=" << p.n << " S=" << p.s << " C=" << p.c) {
      const Shape xs{p.b, p.n * p.s, p.c}, ms{p.b, p.n, p.c};
      HostTensor x = random_tensor(xs, uint32_t(70 + p.s));
      HostTensor m = random_tensor(ms, uint32_t(80 + p.s));
      HostTensor dy = random_tensor(xs, uint32_t(90 + p.s));
      HostTensor y(xs);
      const std::vector<float> dx0 = random_vector(size_t(xs.numel()), uint32_t(170 + p.s));
      const std::vector<float> dm0 = random_vector(size_t(ms.numel()), uint32_t(180 + p.s));
      OpGradCall call;
      call.forward.op = sr::Op::modulate;
      call.forward.params.block = int(p.s);
      call.forward.inputs[0] = x.view();
      call.forward.inputs[1] = m.view();
      call.forward.output = y.view();
      sr::cpu::modulate_fwd(call.forward);
      call.grad_output = dy.view();

      Vec xd = to_double(x.values), md = to_double(m.values);
      const Vec dyd = to_double(dy.values);
      const auto forward = [&] { return sr::naive::modulate(xd, xs, md, p.s); };
      const Vec gx = fd_gradient(xd, dyd, forward);
      const Vec gm = fd_gradient(md, dyd, forward);

      std::vector<float> dx = dx0, dm = dm0;
      call.grad_inputs[0] = TensorView{dx.data(), xs};
      call.grad_inputs[1] = TensorView{dm.data(), ms};
      sr::cpu::modulate_bwd(call);
      // dx: one product dy*m added to the old value; dm: a sum of S products dy*x.
      SR_REQUIRE_CLOSE(dx, plus(dx0, gx), kMulAddTol, kMulAddTol);
      SR_REQUIRE_CLOSE(dm, plus(dm0, gm), sum_tol(p.s), sum_tol(p.s));

      std::vector<float> dm_only = dm0;  // dx not wanted
      call.grad_inputs[0] = TensorView{};
      call.grad_inputs[1] = TensorView{dm_only.data(), ms};
      sr::cpu::modulate_bwd(call);
      SR_REQUIRE_CLOSE(dm_only, plus(dm0, gm), sum_tol(p.s), sum_tol(p.s));

      std::vector<float> dx_only = dx0;  // dm not wanted
      call.grad_inputs[0] = TensorView{dx_only.data(), xs};
      call.grad_inputs[1] = TensorView{};
      sr::cpu::modulate_bwd(call);
      SR_REQUIRE_CLOSE(dx_only, plus(dx0, gx), kMulAddTol, kMulAddTol);
    }
  }
}

TEST_CASE("prelu_fwd and prelu_bwd match their formula and finite differences",
          "[grad][elementwise]") {
  const Shape shape{3, 37, 5};
  HostTensor x = random_tensor(shape, 21);
  keep_off_zero(x.values);
  HostTensor dy = random_tensor(shape, 22);
  HostTensor y(shape);
  for (float& v : y.values) v = std::nanf("");  // poisoned: every element must be written
  const std::vector<float> dx0 = random_vector(size_t(shape.numel()), 23);
  std::vector<float> alpha = {0.3f};
  const float da0 = 0.7f;
  Vec xd = to_double(x.values);
  const Vec dyd = to_double(dy.values);
  Vec ad = {double(alpha[0])};
  auto naive = [&] {
    Vec r(xd.size());
    for (size_t i = 0; i < xd.size(); ++i) r[i] = xd[i] > 0 ? xd[i] : ad[0] * xd[i];
    return r;
  };

  OpGradCall call;
  call.forward.op = sr::Op::prelu;
  call.forward.inputs[0] = x.view();
  call.forward.weights[0] = sr::WeightView{alpha.data(), {1}};
  call.forward.output = y.view();
  call.grad_output = dy.view();
  std::vector<float> dx = dx0;
  std::vector<float> da = {da0};
  call.grad_inputs[0] = TensorView{dx.data(), shape};
  call.grad_weights[0] = da.data();
  sr::cpu::prelu_fwd(call.forward);
  SR_REQUIRE_CLOSE(y.values, naive(), 1e-7, 1e-7);  // one float multiply
  sr::cpu::prelu_bwd(call);
  const Vec gx = fd_gradient(xd, dyd, naive);
  SR_REQUIRE_CLOSE(dx, plus(dx0, gx), kMulAddTol, kMulAddTol);
  const Vec ga = fd_gradient(ad, dyd, naive);
  SR_REQUIRE_CLOSE(da, plus({da0}, ga), sum_tol(shape.numel()), sum_tol(shape.numel()));
  call.grad_inputs[0] = TensorView{};  // not wanted: skipped
  call.grad_weights[0] = nullptr;
  REQUIRE_NOTHROW(sr::cpu::prelu_bwd(call));
  // The slope must be one value.
  call.forward.weights[0] = sr::WeightView{alpha.data(), {2}};
  REQUIRE_THROWS_AS(sr::cpu::prelu_fwd(call.forward), sr::Error);
}
