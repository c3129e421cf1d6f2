// Metrics against float64 numpy references (tests/fixtures/make_metrics_fixture.py, with the STFT
// written out as librosa 0.8 defines it), plus exact properties: identical signals, silence,
// length checks.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/npy.h"
#include "sr/metrics.h"
#include "test_util.h"

namespace {

std::string fixture(const std::string& name) {
  return std::string(SR_FIXTURE_DIR) + "/" + name;
}

}  // namespace

TEST_CASE("SNR and LSD match the numpy references", "[metrics]") {
  const sr::NpyArray cases = sr::read_npy(fixture("metrics_cases.npy"));
  const sr::NpyArray refs = sr::read_npy(fixture("metrics_ref.npy"));
  const sr::NpyArray ests = sr::read_npy(fixture("metrics_est.npy"));
  // float64 on disk; read_npy gives float32, which is 1e-7 relative: far below the tolerances.
  const sr::NpyArray values = sr::read_npy(fixture("metrics_values.npy"));
  REQUIRE(cases.dims.size() == 2);
  REQUIRE(values.dims == std::vector<int64_t>{cases.dims[0], 4});
  size_t pos = 0;
  double worst[4] = {0, 0, 0, 0};
  for (int64_t k = 0; k < cases.dims[0]; ++k) {
    const size_t n = static_cast<size_t>(cases.values[2 * k]);
    INFO("case " << k << ": n=" << n << " kind=" << cases.values[2 * k + 1]);
    REQUIRE(pos + n <= refs.values.size());
    const float* y = refs.values.data() + pos;
    const float* x = ests.values.data() + pos;
    pos += n;
    const size_t patch = n >= 512 ? 512 : n;
    const double got[4] = {sr::snr_db(y, x, n),
                           sr::snr_k21(y, x, static_cast<int64_t>(n / patch), patch),
                           sr::lsd_k21(y, x, n), sr::lsd_papers(y, x, n)};
    const float* want = values.values.data() + 4 * k;
    // Both sides compute in double from the same float32 samples (the FFT too: a float32 FFT
    // measured 2.6e-4 / 5.3e-4 off on the pure tone, see metrics.cpp); what is left is the float32
    // copy of the reference value read_npy hands back (6e-8 relative; measured worst 6e-8).
    // 1e-6 keeps headroom for another FFTW's summation order and still catches a wrong window,
    // padding, axis order or log base (all >= 1e-2).
    const double rtol[4] = {1e-6, 1e-6, 1e-6, 1e-6};
    const char* names[4] = {"snr_db", "snr_k21", "lsd_k21", "lsd_papers"};
    for (int m = 0; m < 4; ++m) {
      INFO(names[m] << ": got " << got[m] << ", numpy " << want[m]);
      const double rel = std::fabs(got[m] - want[m]) / std::fabs(want[m]);
      worst[m] = std::max(worst[m], rel);
      REQUIRE(rel <= rtol[m]);
    }
  }
  REQUIRE(pos == refs.values.size());
  WARN("worst relative error vs numpy: snr_db " << worst[0] << ", snr_k21 " << worst[1]
                                                << ", lsd_k21 " << worst[2] << ", lsd_papers "
                                                << worst[3]);
}

TEST_CASE("Metrics of identical and silent signals", "[metrics]") {
  const std::vector<float> x = sr::test::random_vector(5000, 9, 0.5f);
  REQUIRE(std::isinf(sr::snr_db(x, x)));
  REQUIRE(sr::snr_db(x, x) > 0);
  // K21 adds 1e-8 under the root: sqrt(1e-8) = 1e-4 for identical spectra.
  REQUIRE(sr::lsd_k21(x.data(), x.data(), x.size()) == Approx(1e-4).epsilon(1e-9));
  REQUIRE(sr::lsd_papers(x.data(), x.data(), x.size()) == 0.0);
  const std::vector<float> zero(3000, 0.0f);
  REQUIRE(sr::lsd_papers(zero.data(), zero.data(), zero.size()) == 0.0);
  REQUIRE(sr::snr_db(zero, std::vector<float>(3000, 0.1f)) ==
          -std::numeric_limits<double>::infinity());
  // K21's SNR of a silent patch against itself: 20 log10(0 / 1e-3 + 1e-8) = -160 dB.
  REQUIRE(sr::snr_k21(zero.data(), zero.data(), 3, 1000) == Approx(-160.0).epsilon(1e-12));
  // The LSD clamp at 10: silence against loud noise.
  const std::vector<float> loud = sr::test::random_vector(3000, 4, 1.0f);
  REQUIRE(sr::lsd_k21(zero.data(), loud.data(), zero.size()) == 10.0);
}

TEST_CASE("Metrics refuse empty and mismatched signals", "[metrics]") {
  const std::vector<float> a(100, 0.1f), b(99, 0.1f);
  REQUIRE_THROWS_AS(sr::snr_db(a, b), sr::Error);
  REQUIRE_THROWS_AS(sr::snr_db(a.data(), a.data(), 0), sr::Error);
  REQUIRE_THROWS_AS(sr::lsd_k21(a.data(), a.data(), 0), sr::Error);
  REQUIRE_THROWS_AS(sr::snr_k21(a.data(), a.data(), 0, 10), sr::Error);
}

TEST_CASE("log_power_spectrogram puts a tone in its bin", "[metrics]") {
  const double pi = 3.14159265358979323846;
  std::vector<float> x(4096);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(2 * pi * 32 * i / 512));
  const sr::Spectrogram s = sr::log_power_spectrogram(x.data(), x.size(), 512, 128);
  REQUIRE(s.bins == 257);
  REQUIRE(s.frames == 1 + 4096 / 128);
  for (int64_t t = 2; t < s.frames - 2; ++t) {
    const float* row = s.db.data() + t * s.bins;
    REQUIRE(std::max_element(row, row + s.bins) - row == 32);
    // Hann: the peak power is (A N / 4)^2 = (128)^2 -> 42.1 dB.
    REQUIRE(row[32] == Approx(20 * std::log10(128.0)).margin(0.01));
  }
}
