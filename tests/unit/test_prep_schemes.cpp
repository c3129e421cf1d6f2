// The robust-SR recipe's data preparation: scipy.signal.resample and the causal Chebyshev I
// subsampling against scipy (fixtures/make_prep_schemes_fixture.py), the silence filter's frame
// rule, mean-variance normalisation.
#include <cmath>
#include <string>
#include <vector>

#include "sr/io/npy.h"
#include "sr/io/prep_schemes.h"
#include "test_util.h"

namespace {

std::vector<float> fixture(const std::string& name) {
  return sr::read_npy(std::string(SR_FIXTURE_DIR) + "/" + name).values;
}

void require_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("sample " << i << ": " << got[i] << " vs scipy " << want[i]);
    REQUIRE(std::fabs(got[i] - want[i]) <= 2e-6 + 1e-5 * std::fabs(want[i]));
  }
}

}  // namespace

TEST_CASE("fft_resample matches scipy.signal.resample", "[io][prep]") {
  const std::vector<float> x = fixture("prep_schemes_in.npy");
  require_close(sr::fft_resample(x, 500), fixture("prep_resample_500.npy"));
  require_close(sr::fft_resample(x, 334), fixture("prep_resample_334.npy"));
}

TEST_CASE("cheby1_causal_subsample matches cheby1(8, 1, 1/r) + lfilter + x[::r]", "[io][prep]") {
  const std::vector<float> x = fixture("prep_schemes_in.npy");
  require_close(sr::cheby1_causal_subsample(x, 2), fixture("prep_cheby1_r2.npy"));
  require_close(sr::cheby1_causal_subsample(x, 4), fixture("prep_cheby1_r4.npy"));
}

TEST_CASE("trim_silence cuts leading and trailing frames 13 dB under the loudest", "[io][prep]") {
  // 8192 silent samples, 8192 of a loud sine, 8192 of a sine 20 dB down, 8192 silent.
  std::vector<float> x(4 * 8192, 0.0f);
  for (int i = 0; i < 8192; ++i) {
    x[8192 + i] = 0.5f * std::sin(0.05f * i);
    x[16384 + i] = 0.05f * std::sin(0.05f * i);
  }
  const std::vector<float> y = sr::trim_silence(x, 0.05, 2048, 1024);
  // Centred 2048-sample frames every 1024: frame t covers [1024 t - 1024, 1024 t + 1024). The
  // first frame with enough of the sine starts at a hop multiple just before 8192; the quiet
  // part (-20 dB) is silent at a 13 dB threshold, so the end is just after 16384.
  REQUIRE(y.size() >= 8192);
  REQUIRE(y.size() <= 8192 + 2 * 1024);
  REQUIRE(y.size() % 1024 == 0);
  // Digital silence: every frame is as loud as the loudest, so librosa keeps it all.
  REQUIRE(sr::trim_silence(std::vector<float>(5000, 0.0f), 0.05, 2048, 1024).size() == 5000);
}

TEST_CASE("mean_variance_normalize gives zero mean and unit variance", "[io][prep]") {
  std::vector<float> x = sr::test::random_vector(4000, 3, 0.2f);
  for (float& v : x) v += 0.1f;
  sr::mean_variance_normalize(x);
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= x.size();
  for (float v : x) var += (v - mean) * (v - mean);
  REQUIRE(std::fabs(mean) < 1e-6);
  REQUIRE(var / x.size() == Approx(1.0).epsilon(1e-5));
}
