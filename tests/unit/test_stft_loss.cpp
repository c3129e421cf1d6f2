// Multi-resolution STFT loss: its hand-derived gradient against central finite differences in
// double, with and without the high-band weighting, and its value at known points.
#include <cmath>
#include <tuple>
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

TEST_CASE("pcm gradient matches central finite differences", "[train][stft]") {
  // PCM is piecewise linear in the STFT parts: away from the kinks (a part or a difference at
  // zero) the central difference is exact up to rounding; a kink crossed within the step shows as
  // an error of the size of one bin's slope, far above the tolerance below.
  for (const auto& [patches, length, fft] : {std::tuple<int64_t, int64_t, int>{1, 200, 64},
                                             std::tuple<int64_t, int64_t, int>{3, 150, 32},
                                             std::tuple<int64_t, int64_t, int>{1, 1100, 512}}) {
    const int64_t n = patches * length;
    std::vector<double> y = random_signal(n, 21), t = random_signal(n, 22),
                        x = random_signal(n, 23);
    std::vector<double> grad(n);
    const double loss =
        sr::pcm_loss(y.data(), t.data(), x.data(), patches, length, grad.data(), fft);
    REQUIRE(loss > 0);
    int checked = 0, mismatched = 0;
    for (int64_t i = 0; i < n; i += 5) {
      std::vector<double> yp = y, ym = y;
      const double h = 1e-5;  // smaller steps drown in the FFTs' rounding (~1e-14 per part)
      yp[i] += h;
      ym[i] -= h;
      const double fd =
          (sr::pcm_loss(yp.data(), t.data(), x.data(), patches, length, nullptr, fft) -
           sr::pcm_loss(ym.data(), t.data(), x.data(), patches, length, nullptr, fft)) /
          (2 * h);
      INFO("sample " << i << ": analytic " << grad[i] << " finite difference " << fd);
      ++checked;
      // 1e-5: a kink crossed near the end of the step moves the difference a little; a wrong
      // sign or scale is off by the whole slope of a bin.
      if (std::fabs(fd - grad[i]) > 1e-5 * std::fabs(fd) + 1e-9) ++mismatched;
    }
    // With ~10^3 piecewise-linear parts a step of 1e-7 crosses a kink at one sample in hundreds
    // at most; a wrong sign or scale in the derivation fails (nearly) every sample.
    REQUIRE(mismatched * 50 <= checked);
  }
}

TEST_CASE("pcm is zero for the target and constrains the phase", "[train][stft]") {
  const std::vector<double> t = random_signal(2048, 31), x = random_signal(2048, 32);
  REQUIRE(sr::pcm_loss(t.data(), t.data(), x.data(), 1, 2048, nullptr) ==
          Approx(0.0).margin(1e-15));
  // -t has t's magnitudes |Re| + |Im| in every bin, so the first half of PCM is zero for it; the
  // remainder x - (-t) differs from x - t, so PCM still sees the wrong phase.
  std::vector<double> flipped(t);
  for (double& v : flipped) v = -v;
  const std::vector<double> zero(2048, 0.0);
  REQUIRE(sr::pcm_loss(flipped.data(), t.data(), zero.data(), 1, 2048, nullptr) ==
          Approx(0.0).margin(1e-12));  // with x = 0 both halves see magnitudes only
  REQUIRE(sr::pcm_loss(flipped.data(), t.data(), x.data(), 1, 2048, nullptr) > 0.1);
  REQUIRE_THROWS(sr::pcm_loss(t.data(), t.data(), x.data(), 1, 500, nullptr));  // shorter than 512
}
