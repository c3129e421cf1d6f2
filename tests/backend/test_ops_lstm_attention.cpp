// CPU ops of the FiLM blocks (lstm, linear, attention, layer_norm, pos_encoding) against the naive
// float64 references of naive_seq_ops.h, written independently of engine/cpu.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backend/naive_seq_ops.h"
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
using sr::test::naive::to_double;
namespace naive = sr::test::naive;

constexpr double kEps32 = std::numeric_limits<float>::epsilon();  // 1.19e-7

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// ---------------------------------------------------------------------------------------------
// LSTM

TEST_CASE("lstm_fwd matches a float64 recurrence", "[ops][lstm]") {
  struct Case {
    int64_t B, N, Cin, H;
  };
  // H = 136 at batch 1: with two or more threads the units are split among them (H >= 128), so
  // each thread works on column ranges that start mid-gate.
  const Case cases[] = {
      {1, 1, 5, 4}, {2, 7, 3, 8}, {3, 33, 16, 12}, {2, 33, 8, 64}, {1, 9, 8, 136}};
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

      const auto ref = naive::lstm(to_double(x.values), x.shape, to_double(kernel),
                                   to_double(recurrent), to_double(bias), cs.H, hard);
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

      std::vector<double> preacts;
      const auto ref = naive::linear(to_double(x.values), B * N, Din, to_double(w), to_double(bias),
                                     Dout, relu, &preacts);
      const auto negatives =
          std::count_if(preacts.begin(), preacts.end(), [](double z) { return z < 0; });
      REQUIRE(negatives > 0);  // the ReLU case really clips something
      // A float32 dot product of Din terms of magnitude <= 1: error <= Din * eps32 (worst case).
      SR_REQUIRE_CLOSE(y.values, ref, Din * kEps32, 8 * kEps32);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// attention

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
        const auto ref = naive::attention(to_double(q.values), to_double(k.values),
                                          to_double(v.values), q.shape, heads, &max_score);
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

    const auto ref = naive::layer_norm(to_double(x.values), B * N, D, to_double(gamma),
                                       to_double(beta), double(call.params.eps));
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

      const auto ref = naive::pos_encoding(to_double(x.values), x.shape);
      // Three float32 roundings (sqrt, product, sum) on terms up to |x|*sqrt(D) + 1.
      const double atol = 4 * kEps32 * (max_abs(x.values) * std::sqrt(double(D)) + 1);
      SR_REQUIRE_CLOSE(y.values, ref, atol, 8 * kEps32);
    }
  }
}

}  // namespace
