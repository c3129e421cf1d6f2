// The overlap-save FFT convolution against a float64 direct convolution on fresh random inputs,
// over shapes that cover one and many blocks, a signal shorter than the kernel's span, dilation
// 1 and 2, strided input and output rows, and the bundled model's long layers.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "cpu/conv1d_fft.h"
#include "test_util.h"

namespace {

struct Case {
  int64_t B, L, Cin, Cout, K, dilation, ldx_extra, ldy_extra;
};

// y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] x[b, t + d (j - (K-1)/2), ci], in double.
std::vector<double> direct(const Case& c, const std::vector<float>& x, int64_t ldx,
                           const std::vector<float>& w, const std::vector<float>& bias) {
  std::vector<double> y(static_cast<size_t>(c.B * c.L * c.Cout));
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t t = 0; t < c.L; ++t)
      for (int64_t co = 0; co < c.Cout; ++co) {
        double acc = bias[co];
        for (int64_t j = 0; j < c.K; ++j) {
          const int64_t s = t + c.dilation * (j - (c.K - 1) / 2);
          if (s < 0 || s >= c.L) continue;
          for (int64_t ci = 0; ci < c.Cin; ++ci)
            acc += double(w[(j * c.Cin + ci) * c.Cout + co]) * x[(b * c.L + s) * ldx + ci];
        }
        y[(b * c.L + t) * c.Cout + co] = acc;
      }
  return y;
}

// Runs conv1d_fft on fresh random data of case c and compares it with the float64 direct sum.
void check_case(const Case& c, uint32_t seed) {
  INFO("B " << c.B << " L " << c.L << " Cin " << c.Cin << " Cout " << c.Cout << " K " << c.K
            << " dilation " << c.dilation);
  const int64_t ldx = c.Cin + c.ldx_extra, ldy = c.Cout + c.ldy_extra;
  const auto x = sr::test::random_vector(static_cast<size_t>(c.B * c.L * ldx), seed);
  const auto w = sr::test::random_vector(static_cast<size_t>(c.K * c.Cin * c.Cout), seed + 1, 0.2f);
  const auto bias = sr::test::random_vector(static_cast<size_t>(c.Cout), seed + 2);
  std::vector<float> y(static_cast<size_t>(c.B * c.L * ldy), std::nanf(""));
  sr::cpu::conv1d_fft(x.data(), ldx, w.data(), bias.data(), y.data(), ldy, c.B, c.L, c.Cin, c.Cout,
                      c.K, c.dilation);
  const std::vector<double> ref = direct(c, x, ldx, w, bias);
  double err = 0, norm = 0;
  for (int64_t r = 0; r < c.B * c.L; ++r)
    for (int64_t co = 0; co < c.Cout; ++co) {
      const double d = y[r * ldy + co] - ref[r * c.Cout + co];
      err += d * d;
      norm += ref[r * c.Cout + co] * ref[r * c.Cout + co];
    }
  // float32 transforms of N <= 1024 points and sums over K Cin products: relative rounding
  // ~1e-7 x sqrt(K Cin) x log2 N stays below 1e-5 for these sizes.
  REQUIRE(std::sqrt(err / norm) < 1e-5);
  for (int64_t r = 0; r < c.B * c.L && c.ldy_extra; ++r)  // the gap between rows is untouched
    REQUIRE(std::isnan(y[r * ldy + c.Cout]));
}

}  // namespace

TEST_CASE("conv1d_fft matches a float64 direct convolution", "[cpu][conv][fft]") {
  const Case cases[] = {
      {1, 64, 8, 8, 9, 1, 0, 0},       // one block
      {2, 100, 12, 20, 9, 2, 3, 5},    // blocks that do not divide L; strided rows
      {3, 50, 16, 8, 33, 2, 0, 0},     // L shorter than the span (65): all padding
      {1, 1000, 9, 7, 17, 2, 0, 2},    // many blocks
      {2, 512, 96, 64, 33, 2, 0, 0},   // the bundled r = 2 model's up.0
      {1, 300, 32, 48, 65, 2, 1, 0},   // the default models' first long kernel
      {1, 100, 300, 256, 9, 2, 0, 0},  // wider than the few-segment mixing takes: per-bin cgemms
      {24, 96, 8, 12, 9, 1, 0, 0},     // more segments than it takes: per-bin cgemms
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    check_case(c, seed);
    seed += 3;
  }
}

TEST_CASE("conv1d_fft_pays picks the long kernels of wide enough layers", "[cpu][conv][fft]") {
  REQUIRE(sr::cpu::conv1d_fft_pays(16, 512, 96, 64, 33, 2));   // bundled up.0 at batch 16
  REQUIRE(!sr::cpu::conv1d_fft_pays(16, 512, 96, 64, 3, 2));   // short kernel
  REQUIRE(!sr::cpu::conv1d_fft_pays(16, 2048, 1, 32, 65, 2));  // first layer: Cin = 1
  // The default TFiLM's widest long layers: their weight spectra (over 0.5 GB) are never held
  // whole, so they take the FFT too.
  REQUIRE(sr::cpu::conv1d_fft_pays(4, 1024, 1024, 512, 33, 2));  // up.1
  REQUIRE(sr::cpu::conv1d_fft_pays(4, 2048, 512, 256, 65, 2));   // up.0
  // At batch 1 they mix streamed (a few segments: per-bin cgemms would spend more on making,
  // interleaving and packing the spectra than on the products); at batch 4 up.1 still does, and
  // down.3 (K = 9, 40 segments) takes the cgemms.
  const std::string streamed = "streamed";
  REQUIRE(sr::cpu::conv1d_fft_mixing(1, 1024, 1024, 512, 33, 2) == streamed);
  REQUIRE(sr::cpu::conv1d_fft_mixing(1, 2048, 512, 256, 65, 2) == streamed);
  REQUIRE(sr::cpu::conv1d_fft_mixing(4, 1024, 1024, 512, 33, 2) == streamed);
  REQUIRE(sr::cpu::conv1d_fft_mixing(4, 1024, 512, 512, 9, 2) == std::string("cgemm"));
  REQUIRE(sr::cpu::conv1d_fft_mixing(16, 512, 96, 64, 33, 2) != streamed);  // training: small
}

TEST_CASE("conv1d_fft with tiny budgets: many segment groups and weight-spectra chunks",
          "[cpu][conv][fft]") {
  const Case cases[] = {
      {3, 700, 24, 16, 17, 2, 2, 1},
      {1, 333, 12, 40, 33, 2, 0, 0},
  };
  // A few segments per group, a few bins per chunk; no kept spectra, so every group makes its own
  // chunk by chunk; then the same with the whole spectra kept.
  sr::cpu::conv1d_fft_set_budgets(20000, 30000, 0);
  check_case(cases[0], 100);
  check_case(cases[1], 200);
  sr::cpu::conv1d_fft_set_budgets(20000, 30000, -1);
  check_case(cases[0], 110);
  check_case(cases[1], 210);
  sr::cpu::conv1d_fft_set_budgets(0, 0);
}

TEST_CASE("conv1d_fft's streamed mixing of wide layers with few segments", "[cpu][conv][fft]") {
  // Wider than the few-segment mixing takes (Cin Cout > 16384), nothing kept: the spectra made a
  // block of input channels at a time. Paired bins (dilation 2) and single bins (dilation 1), a
  // tail of Cout % 8 channels, segment counts that leave remainders of the 2- and 4-segment
  // tiles, two patches, strided rows.
  const Case cases[] = {
      {1, 300, 136, 130, 17, 2, 1, 3},
      {1, 200, 130, 136, 9, 1, 0, 0},
      {2, 700, 160, 128, 33, 2, 0, 0},
  };
  sr::cpu::conv1d_fft_set_budgets(0, 0, 0);
  for (const double block_bytes : {100000.0, 0.0}) {  // many blocks of a few channels; one block
    sr::cpu::conv1d_fft_set_streamed(1, block_bytes);
    uint32_t seed = 300;
    for (const Case& c : cases) {
      REQUIRE(std::string(sr::cpu::conv1d_fft_mixing(c.B, c.L, c.Cin, c.Cout, c.K, c.dilation)) ==
              "streamed");
      check_case(c, seed);
      seed += 3;
    }
  }
  sr::cpu::conv1d_fft_set_streamed(-1);
  sr::cpu::conv1d_fft_set_budgets(0, 0, -1);
}

TEST_CASE("conv1d_fft's kept weight spectra follow the weights", "[cpu][conv][fft]") {
  // Same weights buffer three times: made, reused, then changed in place (as a training step
  // does) and one weight changed by one ulp: every output must match the direct sum of the
  // weights it was called with.
  const Case c{2, 300, 16, 24, 17, 2, 0, 0};
  const auto x = sr::test::random_vector(static_cast<size_t>(c.B * c.L * c.Cin), 7);
  auto w = sr::test::random_vector(static_cast<size_t>(c.K * c.Cin * c.Cout), 8, 0.2f);
  const auto bias = sr::test::random_vector(static_cast<size_t>(c.Cout), 9);
  auto run = [&](const std::vector<float>& weights) {
    std::vector<float> y(static_cast<size_t>(c.B * c.L * c.Cout));
    sr::cpu::conv1d_fft(x.data(), c.Cin, weights.data(), bias.data(), y.data(), c.Cout, c.B, c.L,
                        c.Cin, c.Cout, c.K, c.dilation);
    return y;
  };
  auto error = [&](const std::vector<float>& y) {
    const std::vector<double> ref = direct(c, x, c.Cin, w, bias);
    double err = 0, norm = 0;
    for (size_t i = 0; i < y.size(); ++i) {
      err += (y[i] - ref[i]) * (y[i] - ref[i]);
      norm += ref[i] * ref[i];
    }
    return std::sqrt(err / norm);
  };
  const std::vector<float> first = run(w);
  REQUIRE(error(first) < 1e-5);
  REQUIRE(run(w) == first);  // reused: the same bits
  for (float& v : w) v = -0.5f * v;
  REQUIRE(error(run(w)) < 1e-5);
  const std::vector<float> before = run(w);
  w[w.size() / 2] = std::nextafter(w[w.size() / 2], 1.0f);
  const std::vector<float> after = run(w);
  REQUIRE(error(after) < 1e-5);
  REQUIRE(after != before);  // one ulp of one weight remade the spectra
}

namespace {

// The backward passes against float64 sums: dx = sum_j dy[s - o_j] w_j^T, dw_j = sum x[t + o_j]
// dy[t]^T, both added to what the buffers held (random, not zero: the passes accumulate).
void check_backward(const Case& c, uint32_t seed) {
  INFO("backward: B " << c.B << " L " << c.L << " Cin " << c.Cin << " Cout " << c.Cout << " K "
                      << c.K << " dilation " << c.dilation);
  const size_t nx = static_cast<size_t>(c.B * c.L * c.Cin),
               ny = static_cast<size_t>(c.B * c.L * c.Cout),
               nw = static_cast<size_t>(c.K * c.Cin * c.Cout);
  const auto x = sr::test::random_vector(nx, seed);
  const auto dy = sr::test::random_vector(ny, seed + 1);
  const auto w = sr::test::random_vector(nw, seed + 2, 0.2f);
  const auto dx0 = sr::test::random_vector(nx, seed + 3),
             dw0 = sr::test::random_vector(nw, seed + 4);
  std::vector<float> dx = dx0, dw = dw0;
  sr::cpu::conv1d_fft_bwd_data(dy.data(), w.data(), dx.data(), c.B, c.L, c.Cin, c.Cout, c.K,
                               c.dilation);
  sr::cpu::conv1d_fft_bwd_weight(x.data(), dy.data(), dw.data(), c.B, c.L, c.Cin, c.Cout, c.K,
                                 c.dilation);
  std::vector<double> rdx(dx0.begin(), dx0.end()), rdw(dw0.begin(), dw0.end());
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t t = 0; t < c.L; ++t)
      for (int64_t j = 0; j < c.K; ++j) {
        const int64_t s = t + c.dilation * (j - (c.K - 1) / 2);
        if (s < 0 || s >= c.L) continue;
        for (int64_t ci = 0; ci < c.Cin; ++ci)
          for (int64_t co = 0; co < c.Cout; ++co) {
            const double g = dy[(b * c.L + t) * c.Cout + co];
            rdx[(b * c.L + s) * c.Cin + ci] += g * w[(j * c.Cin + ci) * c.Cout + co];
            rdw[(j * c.Cin + ci) * c.Cout + co] += g * x[(b * c.L + s) * c.Cin + ci];
          }
      }
  // Compared on the gradient alone (what the pass added), relative to its norm: float32
  // transforms and sums over B L (dw) or K Cout (dx) products, as in the forward's bound.
  auto relative = [](const std::vector<float>& got, const std::vector<float>& start,
                     const std::vector<double>& ref) {
    double err = 0, norm = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const double added = ref[i] - start[i];
      err += (got[i] - ref[i]) * (got[i] - ref[i]);
      norm += added * added;
    }
    return std::sqrt(err / norm);
  };
  REQUIRE(relative(dx, dx0, rdx) < 1e-5);
  REQUIRE(relative(dw, dw0, rdw) < 1e-5);
}

}  // namespace

TEST_CASE("conv1d_fft backward passes match float64 sums", "[cpu][conv][fft]") {
  const Case cases[] = {
      {1, 64, 8, 8, 9, 1, 0, 0},      // one block
      {2, 100, 12, 20, 9, 2, 0, 0},   // blocks that do not divide L
      {3, 50, 16, 8, 33, 2, 0, 0},    // L shorter than the span
      {1, 1000, 9, 7, 17, 2, 0, 0},   // many blocks
      {2, 512, 96, 64, 33, 2, 0, 0},  // the bundled models' up.0
  };
  uint32_t seed = 50;
  for (const Case& c : cases) {
    check_backward(c, seed);
    seed += 5;
  }
  sr::cpu::conv1d_fft_set_budgets(20000, 30000);  // several segment groups and bin chunks
  check_backward({3, 700, 24, 16, 17, 2, 0, 0}, 300);
  check_backward({1, 333, 12, 40, 33, 2, 0, 0}, 310);
  sr::cpu::conv1d_fft_set_budgets(0, 0);
  // A wide layer: the data gradient (the forward's convolution with the taps reversed and
  // transposed) takes the streamed mixing, in blocks of a few channels; the weight gradient keeps
  // its per-bin cgemms.
  sr::cpu::conv1d_fft_set_budgets(0, 0, 0);  // nothing kept
  sr::cpu::conv1d_fft_set_streamed(1, 100000);
  REQUIRE(std::string(sr::cpu::conv1d_fft_mixing(1, 300, 130, 136, 17, 2)) == "streamed");
  check_backward({1, 300, 136, 130, 17, 2, 0, 0}, 320);
  sr::cpu::conv1d_fft_set_streamed(-1);
  sr::cpu::conv1d_fft_set_budgets(0, 0, -1);
}

TEST_CASE("conv1d_fft reads its shipped FFTW wisdom", "[cpu][conv][fft]") {
  // scripts/make_fftw_wisdom.sh measured the per-segment plans; an empty or corrupt
  // engine/cpu/fftw_wisdom.inc would silently fall back to estimated (slower) plans.
  if (std::getenv("SR_FFTW_LEARN")) {
    REQUIRE_FALSE(sr::cpu::conv1d_fft_wisdom_loaded());  // measuring instead
  } else {
    REQUIRE(sr::cpu::conv1d_fft_wisdom_loaded());
  }
}
