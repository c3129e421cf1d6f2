// Multi-resolution STFT loss: its hand-derived gradient against central finite differences in
// double, with and without the high-band weighting, and its value at known points.
#include <cmath>
#include <vector>

#include "test_util.h"
#include "train/stft_loss.h"

namespace {

std::vector<double> random_signal(int64_t n, uint32_t seed) {
  const std::vector<float> x = sr::test::random_vector(static_cast<size_t>(n), seed, 0.5f);
  return std::vector<double>(x.begin(), x.end());
}

void check_gradient(const sr::StftLossOptions& o, int64_t patches, int64_t length) {
  const int64_t n = patches * length;
  std::vector<double> y = random_signal(n, 11), t = random_signal(n, 12);
  for (int64_t i = 0; i < length; ++i) t[i] *= 0.1, y[i] *= 0.2;  // a quieter first patch
  std::vector<double> grad(n);
  const double loss = sr::mrstft_loss(y.data(), t.data(), patches, length, grad.data(), o);
  REQUIRE(loss > 0);
  for (int64_t i = 0; i < n; i += 7) {
    std::vector<double> yp = y, ym = y;
    const double h = 1e-6;
    yp[i] += h;
    ym[i] -= h;
    const double fd = (sr::mrstft_loss(yp.data(), t.data(), patches, length, nullptr, o) -
                       sr::mrstft_loss(ym.data(), t.data(), patches, length, nullptr, o)) /
                      (2 * h);
    INFO("sample " << i << ": analytic " << grad[i] << " finite difference " << fd);
    // |log A - log B| has kinks where A = B; random signals keep most bins away from them, and
    // the O(h^2) difference in double agrees to ~1e-7 where no kink is crossed (1e-5: a bin
    // crossing its kink within the step; a wrong derivation is off by far more).
    REQUIRE(std::fabs(fd - grad[i]) <= 1e-5 * std::fabs(fd) + 1e-8);
  }
}

}  // namespace

TEST_CASE("mrstft gradient matches central finite differences", "[train][stft]") {
  sr::StftLossOptions o;
  o.fft_sizes = {64, 32, 16};
  check_gradient(o, 1, 200);
  check_gradient(o, 3, 200);  // the norms run over the batch
  o.ratio = 2;
  o.high_band_weight = 3.0;
  check_gradient(o, 2, 200);
  sr::StftLossOptions big;  // the defaults (512, 256, 128) on a training-length patch
  check_gradient(big, 1, 1100);
}

TEST_CASE("mrstft is zero for identical signals and scale-invariant", "[train][stft]") {
  sr::StftLossOptions o;
  const std::vector<double> t = random_signal(2048, 5), y = random_signal(2048, 6);
  REQUIRE(sr::mrstft_loss(t.data(), t.data(), 1, 2048, nullptr, o) == Approx(0.0).margin(1e-12));
  std::vector<double> y10 = y, t10 = t;
  for (double& v : y10) v *= 10;
  for (double& v : t10) v *= 10;
  // eps = 1e-8 inside the root is far below these magnitudes: the same loss at 10x the level.
  REQUIRE(sr::mrstft_loss(y10.data(), t10.data(), 2, 1024, nullptr, o) ==
          Approx(sr::mrstft_loss(y.data(), t.data(), 2, 1024, nullptr, o)).epsilon(1e-6));
  REQUIRE_THROWS(sr::mrstft_loss(y.data(), t.data(), 1, 100, nullptr, o));  // shorter than 128
}

TEST_CASE("mrstft's spectral convergence runs over the batch, not per patch", "[train][stft]") {
  // A silent target patch next to a loud one: per patch its ||B|| ~ 0 would make the spectral
  // convergence explode; over the batch the loud patch sets the scale.
  sr::StftLossOptions o;
  std::vector<double> t = random_signal(2 * 1024, 8), y = random_signal(2 * 1024, 9);
  for (int64_t i = 0; i < 1024; ++i) t[i] = 0.0, y[i] *= 1e-3;
  const double loss = sr::mrstft_loss(y.data(), t.data(), 2, 1024, nullptr, o);
  REQUIRE(loss < 10.0);
}
