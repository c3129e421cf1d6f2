// CPU ops of the FiLM blocks (lstm, linear, attention, layer_norm, pos_encoding) against naive
// float64 references written here, independently of engine/cpu.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu_ops.h"
#include "sr/error.h"
#include "test_util.h"

namespace {

using sr::GateActivation;
using sr::HostTensor;
using sr::Op;
using sr::OpCall;
using sr::test::poisoned_tensor;
using sr::test::random_tensor;
using sr::test::random_vector;
using sr::test::weight_view;

constexpr double kEps32 = std::numeric_limits<float>::epsilon();  // 1.19e-7

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// ---------------------------------------------------------------------------------------------
// LSTM

double ref_gate(double z, bool hard) {
  if (hard) return std::clamp(0.2 * z + 0.5, 0.0, 1.0);
  return 1.0 / (1.0 + std::exp(-z));
}

// Keras layout: kernel[c][gate*H + j], recurrent[m][gate*H + j], gates in order i, f, g, o.
std::vector<double> lstm_reference(const HostTensor& x, const std::vector<float>& kernel,
                                   const std::vector<float>& recurrent,
                                   const std::vector<float>& bias, int64_t H, bool hard) {
  const int64_t B = x.shape.b, N = x.shape.l, Cin = x.shape.c;
  std::vector<double> out(static_cast<size_t>(B * N * H));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> h(H, 0.0), c(H, 0.0), h_next(H);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t j = 0; j < H; ++j) {
        double z[4];
        for (int gate = 0; gate < 4; ++gate) {
          const int64_t col = gate * H + j;
          double s = bias[col];
          for (int64_t ci = 0; ci < Cin; ++ci)
            s += double(x.at(b, n, ci)) * kernel[ci * 4 * H + col];
          for (int64_t m = 0; m < H; ++m) s += h[m] * recurrent[m * 4 * H + col];
          z[gate] = s;
        }
        const double in_gate = ref_gate(z[0], hard), forget = ref_gate(z[1], hard);
        const double cand = std::tanh(z[2]), out_gate = ref_gate(z[3], hard);
        c[j] = forget * c[j] + in_gate * cand;
        h_next[j] = out_gate * std::tanh(c[j]);
      }
      h = h_next;
      for (int64_t j = 0; j < H; ++j) out[(b * N + n) * H + j] = h[j];
    }
  }
  return out;
}

TEST_CASE("lstm_fwd matches a float64 recurrence", "[ops][lstm]") {
  struct Case {
    int64_t B, N, Cin, H;
  };
  const Case cases[] = {{1, 1, 5, 4}, {2, 7, 3, 8}, {3, 33, 16, 12}, {2, 33, 8, 64}};
  uint32_t seed = 100;
  for (const Case& cs : cases) {
    for (GateActivation gate : {GateActivation::sigmoid, GateActivation::hard_sigmoid}) {
      const bool hard = gate == GateActivation::hard_sigmoid;
      CAPTURE(cs.B, cs.N, cs.Cin, cs.H, hard);
      const int64_t G = 4 * cs.H;
      // Inputs of scale 2 push gate pre-activations past +-2.5, into hard_sigmoid's clipped range.
      HostTensor x = random_tensor({cs.B, cs.N, cs.Cin}, ++seed, 2.0f);
      const auto kernel = random_vector(static_cast<size_t>(cs.Cin * G), ++seed, 0.5f);
      const auto recurrent = random_vector(static_cast<size_t>(cs.H * G), ++seed,
                                           1.5f / std::sqrt(static_cast<float>(cs.H)));
      const auto bias = random_vector(static_cast<size_t>(G), ++seed, 1.0f);
      HostTensor y = poisoned_tensor({cs.B, cs.N, cs.H});

      OpCall call;
      call.op = Op::lstm;
      call.params.gate = gate;
      call.inputs[0] = x.view();
      call.weights[0] = weight_view(kernel, {cs.Cin, G});
      call.weights[1] = weight_view(recurrent, {cs.H, G});
      call.weights[2] = weight_view(bias, {G});
      call.output = y.view();
      sr::cpu::lstm_fwd(call);

      const auto ref = lstm_reference(x, kernel, recurrent, bias, cs.H, hard);
      // Each step rounds sums of Cin + H bounded products in float32 and the cell state carries
      // that error forward (forget gate up to 1): random-walk growth in (Cin + H) * N terms.
      const double atol = 2 * kEps32 * std::sqrt(static_cast<double>((cs.Cin + cs.H) * cs.N));
      SR_REQUIRE_CLOSE(y.values, ref, atol, 8 * kEps32);
    }
  }
}

TEST_CASE("lstm_fwd rejects mis-shaped weights", "[ops][lstm]") {
  HostTensor x = random_tensor({1, 3, 4}, 7);
  HostTensor y = poisoned_tensor({1, 3, 5});
  const auto kernel = random_vector(4 * 20, 8), recurrent = random_vector(5 * 20, 9);
  const auto bias = random_vector(20, 10);
  OpCall call;
  call.op = Op::lstm;
  call.inputs[0] = x.view();
  call.weights[0] = weight_view(kernel, {4, 20});
  call.weights[1] = weight_view(recurrent, {20, 5});  // transposed: PyTorch layout, not Keras
  call.weights[2] = weight_view(bias, {20});
  call.output = y.view();
  REQUIRE_THROWS_AS(sr::cpu::lstm_fwd(call), sr::Error);
}

// ---------------------------------------------------------------------------------------------
// linear

TEST_CASE("linear_fwd matches x*W + b with optional ReLU", "[ops][linear]") {
  const int64_t Din = 24, Dout = 40;
  uint32_t seed = 200;
  for (int64_t N : {1, 7, 33}) {
    for (bool relu : {false, true}) {
      CAPTURE(N, relu);
      const int64_t B = 3;
      HostTensor x = random_tensor({B, N, Din}, ++seed);
      const auto w = random_vector(static_cast<size_t>(Din * Dout), ++seed);
      const auto bias = random_vector(static_cast<size_t>(Dout), ++seed);
      HostTensor y = poisoned_tensor({B, N, Dout});

      OpCall call;
      call.op = Op::linear;
      call.params.relu = relu;
      call.inputs[0] = x.view();
      call.weights[0] = weight_view(w, {Din, Dout});
      call.weights[1] = weight_view(bias, {Dout});
      call.output = y.view();
      sr::cpu::linear_fwd(call);

      std::vector<double> ref(static_cast<size_t>(B * N * Dout));
      size_t negatives = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t o = 0; o < Dout; ++o) {
            double s = bias[o];
            for (int64_t i = 0; i < Din; ++i) s += double(x.at(b, n, i)) * w[i * Dout + o];
            negatives += s < 0;
            ref[(b * N + n) * Dout + o] = relu ? std::max(s, 0.0) : s;
          }
      REQUIRE(negatives > 0);  // the ReLU case really clips something
      // A float32 dot product of Din terms of magnitude <= 1: error <= Din * eps32 (worst case).
      SR_REQUIRE_CLOSE(y.values, ref, Din * kEps32, 8 * kEps32);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// attention

// Naive multi-head softmax attention in double; returns the output and the largest |score|.
std::vector<double> attention_reference(const HostTensor& q, const HostTensor& k,
                                        const HostTensor& v, int64_t heads, double* max_score) {
  const int64_t B = q.shape.b, N = q.shape.l, D = q.shape.c, dh = D / heads;
  std::vector<double> out(static_cast<size_t>(B * N * D));
  *max_score = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < N; ++i) {
        std::vector<double> s(N);
        for (int64_t j = 0; j < N; ++j) {
          double dot = 0;
          for (int64_t t = 0; t < dh; ++t)
            dot += double(q.at(b, i, h * dh + t)) * k.at(b, j, h * dh + t);
          s[j] = dot / std::sqrt(double(dh));
          *max_score = std::max(*max_score, std::fabs(s[j]));
        }
        const double m = *std::max_element(s.begin(), s.end());
        double total = 0;
        for (double& e : s) total += (e = std::exp(e - m));
        for (int64_t t = 0; t < dh; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < N; ++j) acc += s[j] * v.at(b, j, h * dh + t);
          out[(b * N + i) * D + h * dh + t] = acc / total;
        }
      }
  return out;
}

TEST_CASE("attention_fwd matches naive multi-head softmax attention", "[ops][attention]") {
  const int64_t heads = 8, B = 2;
  uint32_t seed = 300;
  for (int64_t D : {16, 64}) {
    for (int64_t N : {1, 7, 33}) {
      // Scale 30 gives scores in the hundreds: exp overflows unless the row max is subtracted.
      for (float scale : {1.0f, 30.0f}) {
        CAPTURE(D, N, scale);
        HostTensor q = random_tensor({B, N, D}, ++seed, scale);
        HostTensor k = random_tensor({B, N, D}, ++seed, scale);
        HostTensor v = random_tensor({B, N, D}, ++seed, scale);
        HostTensor y = poisoned_tensor({B, N, D});

        OpCall call;
        call.op = Op::attention;
        call.params.heads = static_cast<int>(heads);
        call.inputs[0] = q.view();
        call.inputs[1] = k.view();
        call.inputs[2] = v.view();
        call.output = y.view();
        sr::cpu::attention_fwd(call);

        double max_score = 0;
        const auto ref = attention_reference(q, k, v, heads, &max_score);
        // A float32 score is off by ~eps32*|score|, which moves each softmax weight by that
        // relative amount, and the mix of N values adds ~eps32*sqrt(N); both scale with max|v|.
        const double atol = 4 * kEps32 * (max_score + std::sqrt(double(N))) * max_abs(v.values);
        SR_REQUIRE_CLOSE(y.values, ref, atol, 8 * kEps32);
      }
    }
  }
}

TEST_CASE("attention_fwd rejects heads that do not divide the width", "[ops][attention]") {
  HostTensor q = random_tensor({1, 4, 12}, 1);
  HostTensor y = poisoned_tensor({1, 4, 12});
  OpCall call;
  call.op = Op::attention;
  call.params.heads = 8;
  call.inputs[0] = call.inputs[1] = call.inputs[2] = q.view();
  call.output = y.view();
  REQUIRE_THROWS_AS(sr::cpu::attention_fwd(call), sr::Error);
}

// ---------------------------------------------------------------------------------------------
// layer_norm

TEST_CASE("layer_norm_fwd matches a two-pass float64 layer norm", "[ops][layer_norm]") {
  const int64_t B = 2, N = 7;
  uint32_t seed = 400;
  for (int64_t D : {16, 64}) {
    CAPTURE(D);
    HostTensor x = random_tensor({B, N, D}, ++seed);
    // Row (0,3): a mean of 1e4 against a spread of 1; float32 E[x^2]-E[x]^2 would lose it all.
    for (int64_t i = 0; i < D; ++i) x.at(0, 3, i) += 1e4f;
    // Row (1,5): constant, variance 0, so eps alone keeps the division finite (y = beta).
    for (int64_t i = 0; i < D; ++i) x.at(1, 5, i) = 0.75f;
    const auto gamma = random_vector(static_cast<size_t>(D), ++seed, 2.0f);
    const auto beta = random_vector(static_cast<size_t>(D), ++seed);
    HostTensor y = poisoned_tensor({B, N, D});

    OpCall call;
    call.op = Op::layer_norm;
    call.params.eps = 1e-6f;
    call.inputs[0] = x.view();
    call.weights[0] = weight_view(gamma, {D});
    call.weights[1] = weight_view(beta, {D});
    call.output = y.view();
    sr::cpu::layer_norm_fwd(call);

    std::vector<double> ref(static_cast<size_t>(B * N * D));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t n = 0; n < N; ++n) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < D; ++i) mean += x.at(b, n, i);
        mean /= D;
        for (int64_t i = 0; i < D; ++i) var += (x.at(b, n, i) - mean) * (x.at(b, n, i) - mean);
        var /= D;
        for (int64_t i = 0; i < D; ++i)
          ref[(b * N + n) * D + i] =
              (x.at(b, n, i) - mean) / std::sqrt(var + double(call.params.eps)) * gamma[i] +
              beta[i];
      }
    // Statistics are exact in double on both sides; only the final cast to float32 differs.
    SR_REQUIRE_CLOSE(y.values, ref, 2 * kEps32, 2 * kEps32);
  }
}

// ---------------------------------------------------------------------------------------------
// pos_encoding and sinusoid

TEST_CASE("sinusoid matches the direct formula", "[ops][pos_encoding]") {
  using sr::cpu::sinusoid;
  // pos 0: every angle is 0, so even columns are sin 0 = 0 and odd columns cos 0 = 1, exactly.
  for (int64_t i = 0; i < 64; ++i) REQUIRE(sinusoid(0, i, 64) == (i % 2 == 0 ? 0.0f : 1.0f));
  // d = 8: 10000^(2/8) = 10 and 10000^(4/8) = 100, so angles are by hand; d = 16: 10^1.5.
  const std::vector<float> got = {sinusoid(3, 0, 8),  sinusoid(3, 1, 8),       sinusoid(3, 2, 8),
                                  sinusoid(3, 3, 8),  sinusoid(50, 4, 8),      sinusoid(50, 5, 8),
                                  sinusoid(7, 6, 16), sinusoid(1000, 127, 128)};
  const std::vector<double> ref = {std::sin(3.0),
                                   std::cos(3.0),
                                   std::sin(0.3),
                                   std::cos(0.3),
                                   std::sin(0.5),
                                   std::cos(0.5),
                                   std::sin(7.0 / std::pow(10.0, 1.5)),
                                   std::cos(1000.0 * std::exp(-126.0 / 128.0 * std::log(1e4)))};
  // Computed in double and rounded once to float32: half an ulp of a value <= 1.
  SR_REQUIRE_CLOSE(got, ref, kEps32, kEps32);
}

TEST_CASE("pos_encoding_fwd adds the sinusoid table to x*sqrt(D)", "[ops][pos_encoding]") {
  const int64_t B = 2;
  uint32_t seed = 500;
  for (int64_t D : {16, 64}) {
    for (int64_t N : {1, 7, 33}) {
      CAPTURE(D, N);
      HostTensor x = random_tensor({B, N, D}, ++seed);
      HostTensor y = poisoned_tensor({B, N, D});
      OpCall call;
      call.op = Op::pos_encoding;
      call.inputs[0] = x.view();
      call.output = y.view();
      sr::cpu::pos_encoding_fwd(call);

      std::vector<double> ref(static_cast<size_t>(B * N * D));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t i = 0; i < D; ++i) {
            const double rate = std::pow(1e4, -double(i - i % 2) / double(D));
            const double pe = i % 2 ? std::cos(n * rate) : std::sin(n * rate);
            ref[(b * N + n) * D + i] = x.at(b, n, i) * std::sqrt(double(D)) + pe;
          }
      // Three float32 roundings (sqrt, product, sum) on terms up to |x|*sqrt(D) + 1.
      const double atol = 4 * kEps32 * (max_abs(x.values) * std::sqrt(double(D)) + 1);
      SR_REQUIRE_CLOSE(y.values, ref, atol, 8 * kEps32);
    }
  }
}

}  // namespace
