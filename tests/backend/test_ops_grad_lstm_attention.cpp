// Backward passes of the FiLM-block sequence ops (lstm, linear, attention, layer_norm,
// pos_encoding) against central finite differences, in double, of the naive forwards in
// naive_seq_ops.h. The loss is L = sum(dy * y) for a random dy, so dL/dy = dy. Every gradient
// buffer starts with random values (the op must add, not overwrite) and each case also runs with
// one gradient wanted at a time (the others null).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "backend/naive_seq_ops.h"
#include "cpu/cpu_ops.h"
#include "test_util.h"

namespace {

using sr::GateActivation;
using sr::HostTensor;
using sr::OpCall;
using sr::OpGradCall;
using sr::Shape;
using sr::test::random_tensor;
using sr::test::random_vector;
using sr::test::weight_view;
using sr::test::naive::to_double;
namespace naive = sr::test::naive;

constexpr double kEps32 = std::numeric_limits<float>::epsilon();  // 1.19e-7
// Relative finite-difference step (times the value scale of the perturbed tensor). In double the
// central difference then errs by ~step^2 (truncation) + 1e-16/step (rounding), ~1e-10 relative:
// far below the float32 errors the tolerances allow, so the tolerances below are float32 budgets.
constexpr double kStep = 1e-6;

double loss(const std::vector<float>& dy, const std::vector<double>& y) {
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += dy[i] * y[i];
  return s;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// dL/dp by central differences: p is perturbed in place by +-step and restored; f() reads p.
template <class Loss>
std::vector<double> fd_gradient(std::vector<double>& p, double step, const Loss& f) {
  std::vector<double> g(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    const double orig = p[i], up = orig + step, down = orig - step;
    p[i] = up;
    const double l_up = f();
    p[i] = down;
    const double l_down = f();
    p[i] = orig;
    g[i] = (l_up - l_down) / (up - down);
  }
  return g;
}

// One gradient output of a backward call, pre-filled with random values (old) so that the test
// sees accumulation.
struct GradBuffer {
  std::vector<float> old, got;
  GradBuffer(size_t n, uint32_t seed) : old(random_vector(n, seed)), got(old) {}
  float* ptr(bool wanted) { return wanted ? got.data() : nullptr; }
};

// got == old + ref within atol + rtol * |old + ref|; untouched when the gradient was not wanted.
void require_gradient(const std::string& what, const GradBuffer& g, const std::vector<double>& ref,
                      bool wanted, double atol, double rtol) {
  INFO(what << (wanted ? "" : " (not wanted)"));
  if (!wanted) {
    REQUIRE(g.got == g.old);
    return;
  }
  std::vector<double> expected(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) expected[i] = g.old[i] + ref[i];
  SR_REQUIRE_CLOSE(g.got, expected, atol, rtol);
}

// Gradient subsets each case runs: all of them, then each one alone (the rest null).
std::vector<std::vector<bool>> wanted_sets(size_t n) {
  std::vector<std::vector<bool>> sets{std::vector<bool>(n, true)};
  for (size_t i = 0; i < n; ++i) {
    sets.emplace_back(n, false);
    sets.back()[i] = true;
  }
  return sets;
}

// Float32 accumulation budget shared by the tolerances: a float sum of K terms errs by at most
// K * eps32 * max|term|, and for random-sign terms the sum (the gradient) is ~sqrt(K) * |term|,
// so eps32 * sqrt(K) * max|gradient| is the worst case of one such sum in gradient units.
double sum_budget(double terms, const std::vector<double>& ref) {
  return kEps32 * std::sqrt(terms) * max_abs(ref);
}

// ---------------------------------------------------------------------------------------------
// lstm

TEST_CASE("lstm_bwd matches finite differences of a float64 LSTM", "[grad][lstm]") {
  struct Case {
    int64_t B, N, Cin, H;
  };
  const Case cases[] = {{2, 1, 5, 8}, {3, 5, 4, 6}, {2, 17, 5, 8}};
  uint32_t seed = 1000;
  for (const Case& cs : cases) {
    for (GateActivation gate : {GateActivation::sigmoid, GateActivation::hard_sigmoid}) {
      const bool hard = gate == GateActivation::hard_sigmoid;
      CAPTURE(cs.B, cs.N, cs.Cin, cs.H, hard);
      const int64_t G = 4 * cs.H;
      const Shape xs{cs.B, cs.N, cs.Cin};
      // Pre-activations spread with a standard deviation of ~1.7, so a good share of the gates
      // saturate (|z| > 2.5: hard_sigmoid clipped, sigmoid' < 0.07) and most do not.
      const float x_scale = 2.0f, k_scale = 0.8f, b_scale = 2.0f;
      const float u_scale = 1.5f / std::sqrt(static_cast<float>(cs.H));
      HostTensor x;
      std::vector<float> kernel, recurrent, bias;
      std::vector<double> preacts;
      // Finite differences across hard_sigmoid's kinks at +-2.5 are meaningless: redraw until no
      // pre-activation is within 1e-4 of one (steps move z by ~1e-6, float32 rounding by less).
      double kink_gap = 0;
      for (int attempt = 0; attempt < 20; ++attempt) {
        x = random_tensor(xs, ++seed, x_scale);
        kernel = random_vector(static_cast<size_t>(cs.Cin * G), ++seed, k_scale);
        recurrent = random_vector(static_cast<size_t>(cs.H * G), ++seed, u_scale);
        bias = random_vector(static_cast<size_t>(G), ++seed, b_scale);
        preacts.clear();
        naive::lstm(to_double(x.values), xs, to_double(kernel), to_double(recurrent),
                    to_double(bias), cs.H, hard, &preacts);
        kink_gap = std::numeric_limits<double>::infinity();
        for (double z : preacts) kink_gap = std::min(kink_gap, std::fabs(std::fabs(z) - 2.5));
        if (!hard || kink_gap > 1e-4) break;
      }
      if (hard) REQUIRE(kink_gap > 1e-4);
      const auto saturated = std::count_if(preacts.begin(), preacts.end(),
                                           [](double z) { return std::fabs(z) > 2.5; });
      REQUIRE(saturated > 0);
      REQUIRE(saturated < static_cast<int64_t>(preacts.size()));

      HostTensor y({cs.B, cs.N, cs.H});
      OpGradCall call;
      OpCall& fwd = call.forward;
      fwd.op = sr::Op::lstm;
      fwd.params.gate = gate;
      fwd.inputs[0] = x.view();
      fwd.weights[0] = weight_view(kernel, {cs.Cin, G});
      fwd.weights[1] = weight_view(recurrent, {cs.H, G});
      fwd.weights[2] = weight_view(bias, {G});
      fwd.output = y.view();
      sr::cpu::lstm_fwd(fwd);
      HostTensor dy = random_tensor(y.shape, ++seed);
      call.grad_output = dy.view();

      auto xd = to_double(x.values), kd = to_double(kernel), ud = to_double(recurrent),
           bd = to_double(bias);
      auto f = [&] { return loss(dy.values, naive::lstm(xd, xs, kd, ud, bd, cs.H, hard)); };
      const auto ref_x = fd_gradient(xd, kStep * x_scale, f);
      const auto ref_k = fd_gradient(kd, kStep * k_scale, f);
      const auto ref_u = fd_gradient(ud, kStep * u_scale, f);
      const auto ref_b = fd_gradient(bd, kStep * b_scale, f);

      for (const auto& wanted : wanted_sets(4)) {
        GradBuffer gx(x.values.size(), ++seed), gk(kernel.size(), ++seed),
            gu(recurrent.size(), ++seed), gb(bias.size(), ++seed);
        call.grad_inputs[0] = {gx.ptr(wanted[0]), x.shape};
        call.grad_weights = {gk.ptr(wanted[1]), gu.ptr(wanted[2]), gb.ptr(wanted[3])};
        sr::cpu::lstm_bwd(call);
        // The forward test's error model: each step rounds sums of Cin + H products (and the
        // backward dh sums of 4H, errors relative to the same scale) and dh, dc carry that error
        // back through N steps: random-walk growth in (Cin + H) * N terms, times the gradient's
        // own scale (dx sums 4H terms per row, the weights B*N rows: each ~eps32 relative).
        const double walk = 2 * kEps32 * std::sqrt(static_cast<double>((cs.Cin + cs.H) * cs.N));
        require_gradient("dx", gx, ref_x, wanted[0], walk * max_abs(ref_x), 4 * kEps32);
        require_gradient("dkernel", gk, ref_k, wanted[1], walk * max_abs(ref_k), 4 * kEps32);
        require_gradient("drecurrent", gu, ref_u, wanted[2], walk * max_abs(ref_u), 4 * kEps32);
        require_gradient("dbias", gb, ref_b, wanted[3], walk * max_abs(ref_b), 4 * kEps32);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// linear

TEST_CASE("linear_bwd matches finite differences, with and without the fused ReLU",
          "[grad][linear]") {
  const int64_t B = 2, Din = 12, Dout = 10;
  uint32_t seed = 2000;
  for (int64_t N : {1, 5, 17}) {
    for (bool relu : {false, true}) {
      CAPTURE(N, relu);
      const Shape xs{B, N, Din};
      const float x_scale = 1.0f, w_scale = 0.5f, b_scale = 0.5f;
      HostTensor x;
      std::vector<float> w, bias;
      std::vector<double> preacts;
      // No pre-activation within 1e-4 of the ReLU kink at 0 (the difference would straddle it).
      double kink_gap = 0;
      for (int attempt = 0; attempt < 20; ++attempt) {
        x = random_tensor(xs, ++seed, x_scale);
        w = random_vector(static_cast<size_t>(Din * Dout), ++seed, w_scale);
        bias = random_vector(static_cast<size_t>(Dout), ++seed, b_scale);
        preacts.clear();
        naive::linear(to_double(x.values), B * N, Din, to_double(w), to_double(bias), Dout, relu,
                      &preacts);
        kink_gap = std::numeric_limits<double>::infinity();
        for (double z : preacts) kink_gap = std::min(kink_gap, std::fabs(z));
        if (!relu || kink_gap > 1e-4) break;
      }
      if (relu) {
        REQUIRE(kink_gap > 1e-4);
        REQUIRE(std::count_if(preacts.begin(), preacts.end(), [](double z) { return z < 0; }) > 0);
      }

      HostTensor y({B, N, Dout});
      OpGradCall call;
      OpCall& fwd = call.forward;
      fwd.op = sr::Op::linear;
      fwd.params.relu = relu;
      fwd.inputs[0] = x.view();
      fwd.weights[0] = weight_view(w, {Din, Dout});
      fwd.weights[1] = weight_view(bias, {Dout});
      fwd.output = y.view();
      sr::cpu::linear_fwd(fwd);
      HostTensor dy = random_tensor(y.shape, ++seed);
      call.grad_output = dy.view();

      auto xd = to_double(x.values), wd = to_double(w), bd = to_double(bias);
      auto f = [&] { return loss(dy.values, naive::linear(xd, B * N, Din, wd, bd, Dout, relu)); };
      const auto ref_x = fd_gradient(xd, kStep * x_scale, f);
      const auto ref_w = fd_gradient(wd, kStep * w_scale, f);
      const auto ref_b = fd_gradient(bd, kStep * b_scale, f);

      for (const auto& wanted : wanted_sets(3)) {
        GradBuffer gx(x.values.size(), ++seed), gw(w.size(), ++seed), gb(bias.size(), ++seed);
        call.grad_inputs[0] = {gx.ptr(wanted[0]), x.shape};
        call.grad_weights = {gw.ptr(wanted[1]), gb.ptr(wanted[2]), nullptr};
        sr::cpu::linear_bwd(call);
        // One float32 sum per element: Dout terms for dx, B*N for dW and dbias.
        require_gradient("dx", gx, ref_x, wanted[0], 2 * sum_budget(Dout, ref_x), 2 * kEps32);
        require_gradient("dweight", gw, ref_w, wanted[1], 2 * sum_budget(B * N, ref_w), 2 * kEps32);
        require_gradient("dbias", gb, ref_b, wanted[2], 2 * sum_budget(B * N, ref_b), 2 * kEps32);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// attention

// Softmax attention sums: a score sums dh products, dS sums N of them (rowsum) and dQ, dK, dV
// sum N terms over keys or queries; float32 exp is good to a few ulp. Budget: N + dh terms.
double attention_atol(int64_t N, int64_t dh, const std::vector<double>& ref) {
  return 4 * sum_budget(static_cast<double>(N + dh), ref);
}

TEST_CASE("attention_bwd matches finite differences of float64 attention", "[grad][attention]") {
  const int64_t B = 2, heads = 8;
  uint32_t seed = 3000;
  for (int64_t D : {16, 32}) {
    for (int64_t N : {1, 5, 17}) {
      CAPTURE(D, N);
      const Shape s{B, N, D};
      // q, k of scale 2 give scores of several units: peaked, far-from-uniform softmax rows.
      const float qk_scale = 2.0f, v_scale = 1.0f;
      HostTensor q = random_tensor(s, ++seed, qk_scale), k = random_tensor(s, ++seed, qk_scale);
      HostTensor v = random_tensor(s, ++seed, v_scale), y(s);
      OpGradCall call;
      OpCall& fwd = call.forward;
      fwd.op = sr::Op::attention;
      fwd.params.heads = static_cast<int>(heads);
      fwd.inputs = {q.view(), k.view(), v.view()};
      fwd.output = y.view();
      sr::cpu::attention_fwd(fwd);
      HostTensor dy = random_tensor(s, ++seed);
      call.grad_output = dy.view();

      auto qd = to_double(q.values), kd = to_double(k.values), vd = to_double(v.values);
      auto f = [&] { return loss(dy.values, naive::attention(qd, kd, vd, s, heads)); };
      const auto ref_q = fd_gradient(qd, kStep * qk_scale, f);
      const auto ref_k = fd_gradient(kd, kStep * qk_scale, f);
      const auto ref_v = fd_gradient(vd, kStep * v_scale, f);

      for (const auto& wanted : wanted_sets(3)) {
        GradBuffer gq(q.values.size(), ++seed), gk(k.values.size(), ++seed),
            gv(v.values.size(), ++seed);
        call.grad_inputs = {sr::TensorView{gq.ptr(wanted[0]), s},
                            sr::TensorView{gk.ptr(wanted[1]), s},
                            sr::TensorView{gv.ptr(wanted[2]), s}};
        sr::cpu::attention_bwd(call);
        const int64_t dh = D / heads;
        // N = 1: softmax of one score is 1, so dq and dk are exactly 0; the atol floor of 1 ulp
        // of the scale of dv covers them.
        const double floor = kEps32 * max_abs(ref_v);
        require_gradient("dq", gq, ref_q, wanted[0], attention_atol(N, dh, ref_q) + floor,
                         4 * kEps32);
        require_gradient("dk", gk, ref_k, wanted[1], attention_atol(N, dh, ref_k) + floor,
                         4 * kEps32);
        require_gradient("dv", gv, ref_v, wanted[2], attention_atol(N, dh, ref_v), 4 * kEps32);
      }
    }
  }
}

TEST_CASE("attention_bwd adds every role's gradient when inputs share one buffer",
          "[grad][attention]") {
  // Self-attention passes one tensor as q, k and v (and one gradient buffer for all three); the
  // total is the derivative of attention(z, z, z). Also q = k with a separate v.
  const int64_t B = 2, N = 5, D = 16, heads = 8;
  const Shape s{B, N, D};
  uint32_t seed = 3500;
  for (bool v_shared : {true, false}) {
    CAPTURE(v_shared);
    HostTensor z = random_tensor(s, ++seed, 2.0f), w = random_tensor(s, ++seed), y(s);
    OpGradCall call;
    OpCall& fwd = call.forward;
    fwd.op = sr::Op::attention;
    fwd.params.heads = static_cast<int>(heads);
    fwd.inputs = {z.view(), z.view(), v_shared ? z.view() : w.view()};
    fwd.output = y.view();
    sr::cpu::attention_fwd(fwd);
    HostTensor dy = random_tensor(s, ++seed);
    call.grad_output = dy.view();

    auto zd = to_double(z.values), wd = to_double(w.values);
    auto f = [&] {
      return loss(dy.values, naive::attention(zd, zd, v_shared ? zd : wd, s, heads));
    };
    const auto ref_z = fd_gradient(zd, kStep * 2.0, f);
    const auto ref_w = fd_gradient(wd, kStep, f);

    GradBuffer gz(z.values.size(), ++seed), gw(w.values.size(), ++seed);
    const sr::TensorView gz_view{gz.got.data(), s}, gw_view{gw.got.data(), s};
    call.grad_inputs = {gz_view, gz_view, v_shared ? gz_view : gw_view};
    sr::cpu::attention_bwd(call);
    // Same budget as above; the shared buffer receives up to three of those sums.
    const int64_t dh = D / heads;
    require_gradient("dz", gz, ref_z, true, 3 * attention_atol(N, dh, ref_z), 4 * kEps32);
    require_gradient("dw", gw, ref_w, !v_shared, attention_atol(N, dh, ref_w), 4 * kEps32);
  }
}

// ---------------------------------------------------------------------------------------------
// layer_norm

TEST_CASE("layer_norm_bwd matches finite differences of a float64 layer norm",
          "[grad][layer_norm]") {
  const int64_t B = 2;
  const double eps = 1e-6;
  uint32_t seed = 4000;
  for (int64_t D : {16, 64}) {
    for (int64_t N : {1, 5, 17}) {
      CAPTURE(D, N);
      const Shape s{B, N, D};
      const float x_scale = 1.0f, g_scale = 2.0f, b_scale = 1.0f;
      HostTensor x = random_tensor(s, ++seed, x_scale);
      // Row (0, 0) sits at a mean of 1e3 against a spread of 1: float32 statistics would lose
      // ~1e3 * eps32 of the centred values; the backward must recompute them in double.
      for (int64_t i = 0; i < D; ++i) x.at(0, 0, i) += 1e3f;
      const auto gamma = random_vector(static_cast<size_t>(D), ++seed, g_scale);
      const auto beta = random_vector(static_cast<size_t>(D), ++seed, b_scale);
      HostTensor y(s);
      OpGradCall call;
      OpCall& fwd = call.forward;
      fwd.op = sr::Op::layer_norm;
      fwd.params.eps = static_cast<float>(eps);
      fwd.inputs[0] = x.view();
      fwd.weights[0] = weight_view(gamma, {D});
      fwd.weights[1] = weight_view(beta, {D});
      fwd.output = y.view();
      sr::cpu::layer_norm_fwd(fwd);
      HostTensor dy = random_tensor(s, ++seed);
      call.grad_output = dy.view();

      auto xd = to_double(x.values), gd = to_double(gamma), bd = to_double(beta);
      const double eps_f = fwd.params.eps;  // the float32 eps the op actually uses
      auto f = [&] { return loss(dy.values, naive::layer_norm(xd, B * N, D, gd, bd, eps_f)); };
      // The x step follows the spread (1), not the 1e3 offset: layer norm ignores the offset.
      const auto ref_x = fd_gradient(xd, kStep * x_scale, f);
      const auto ref_g = fd_gradient(gd, kStep * g_scale, f);
      const auto ref_b = fd_gradient(bd, kStep * b_scale, f);

      for (const auto& wanted : wanted_sets(3)) {
        GradBuffer gx(x.values.size(), ++seed), gg(gamma.size(), ++seed), gb(beta.size(), ++seed);
        call.grad_inputs[0] = {gx.ptr(wanted[0]), s};
        call.grad_weights = {gg.ptr(wanted[1]), gb.ptr(wanted[2]), nullptr};
        sr::cpu::layer_norm_bwd(call);
        // Row statistics and sums run in double: dx is one float32 rounding off, and the
        // finite differences of the 1e3-offset row carry ~1e3 * 1e-16 / 1e-6 = 1e-7 noise.
        require_gradient("dx", gx, ref_x, wanted[0], 4 * kEps32 * max_abs(ref_x), 2 * kEps32);
        // dgamma, dbeta: double sums over B*N rows of float32 products, rounded once.
        require_gradient("dgamma", gg, ref_g, wanted[1], 2 * kEps32 * max_abs(ref_g), 2 * kEps32);
        require_gradient("dbeta", gb, ref_b, wanted[2], 2 * kEps32 * max_abs(ref_b), 2 * kEps32);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// pos_encoding

TEST_CASE("pos_encoding_bwd matches finite differences", "[grad][pos_encoding]") {
  const int64_t B = 2;
  uint32_t seed = 5000;
  for (int64_t D : {16, 32}) {  // sqrt(32) is inexact in float32, sqrt(16) is not
    for (int64_t N : {1, 5, 17}) {
      CAPTURE(D, N);
      const Shape s{B, N, D};
      HostTensor x = random_tensor(s, ++seed), y(s);
      OpGradCall call;
      call.forward.op = sr::Op::pos_encoding;
      call.forward.inputs[0] = x.view();
      call.forward.output = y.view();
      sr::cpu::pos_encoding_fwd(call.forward);
      HostTensor dy = random_tensor(s, ++seed);
      call.grad_output = dy.view();

      auto xd = to_double(x.values);
      auto f = [&] { return loss(dy.values, naive::pos_encoding(xd, s)); };
      const auto ref_x = fd_gradient(xd, kStep, f);
      for (bool wanted : {true, false}) {
        GradBuffer gx(x.values.size(), ++seed);
        call.grad_inputs[0] = {gx.ptr(wanted), s};
        sr::cpu::pos_encoding_bwd(call);
        // float32 sqrt(D), the product and the sum with the old value: three roundings.
        require_gradient("dx", gx, ref_x, wanted, 2 * kEps32 * max_abs(ref_x), 2 * kEps32);
      }
    }
  }
}

}  // namespace
