// Zero-phase FIR design and streaming (engine/dsp/fir.h): the streaming filter against a direct
// convolution, the filtfilt equivalent against sosfiltfilt, the windowed sinc against its spec.
#include <cmath>
#include <complex>
#include <vector>

#include "sr/dsp/fir.h"
#include "sr/error.h"
#include "sr/io/decimate.h"
#include "test_util.h"

namespace {

constexpr double kPi = 3.14159265358979323846;

// y[n] = sum_k taps[k] x[n + k - half], zeros outside x; every step-th n.
std::vector<double> direct(const std::vector<float>& taps, const std::vector<float>& x, int step) {
  const int64_t half = static_cast<int64_t>(taps.size() / 2), n = static_cast<int64_t>(x.size());
  std::vector<double> y;
  for (int64_t i = 0; i < n; i += step) {
    double acc = 0;
    for (int64_t k = 0; k < static_cast<int64_t>(taps.size()); ++k) {
      const int64_t j = i + k - half;
      if (j >= 0 && j < n) acc += double(taps[k]) * x[j];
    }
    y.push_back(acc);
  }
  return y;
}

// |H(f)| of symmetric taps, f in Hz at `rate`.
double magnitude(const std::vector<float>& taps, double f, double rate) {
  std::complex<double> h = 0;
  for (size_t k = 0; k < taps.size(); ++k)
    h += double(taps[k]) * std::polar(1.0, -2 * kPi * f / rate * double(k));
  return std::abs(h);
}

}  // namespace

TEST_CASE("ZeroPhaseFir streams like one convolution, in any chunks, with subsampling",
          "[dsp][fir]") {
  const std::vector<float> taps = sr::test::random_vector(41, 11, 0.3f);
  std::vector<float> dense(taps), sparse(taps.size(), 0.0f);
  for (size_t k = 0; k < dense.size(); ++k) dense[k] = taps[std::min(k, dense.size() - 1 - k)];
  // Every fifth tap non-zero: the sparse path (positions and values only).
  for (size_t k = 0; k < sparse.size(); k += 5)
    sparse[k] = sparse[sparse.size() - 1 - k] = dense[k];
  const int channels = 2;
  const std::vector<float> x = sr::test::random_vector(2 * 1001, 12);
  for (const std::vector<float>& sym : {dense, sparse})
    for (int step : {1, 3}) {
      for (size_t chunk : {size_t{1}, size_t{7}, size_t{500}, size_t{5000}}) {
        sr::ZeroPhaseFir fir(sym, channels, step);
        std::vector<float> y;
        for (size_t at = 0; at < 1001; at += chunk)
          fir.push(&x[at * channels], std::min(chunk, 1001 - at), y);
        fir.finish(y);
        for (int c = 0; c < channels; ++c) {
          std::vector<float> xc, yc;
          for (size_t i = 0; i < 1001; ++i) xc.push_back(x[i * channels + c]);
          for (size_t i = c; i < y.size(); i += channels) yc.push_back(y[i]);
          INFO("step " << step << ", chunk " << chunk << ", channel " << c);
          const std::vector<double> ref = direct(sym, xc, step);
          REQUIRE(yc.size() == ref.size());
          // float accumulation of 41 products of O(1) values: ~1e-6 relative
          const auto stats = sr::test::compare(yc, ref, 1e-5);
          REQUIRE(stats.max_abs < 1e-5);
        }
      }
    }
}

TEST_CASE("filtfilt_taps equal sosfiltfilt away from the signal's ends", "[dsp][fir]") {
  for (int r : {2, 4}) {
    const auto sos = sr::cheby1_lowpass_sos(8, 0.05, 0.8 / r);
    const std::vector<float> taps = sr::filtfilt_taps(sos);
    const std::vector<float> x = sr::test::random_vector(6000, 13 + r);
    const std::vector<double> ref = sr::sosfiltfilt(sos, x);
    sr::ZeroPhaseFir fir(taps, 1);
    std::vector<float> y;
    fir.push(x.data(), x.size(), y);
    fir.finish(y);
    REQUIRE(y.size() == x.size());
    // sosfiltfilt pads the ends by odd reflection; in the middle the two are the same filter, up
    // to the float taps (~1e-7 each, ~1e-6 summed).
    const size_t edge = taps.size();
    REQUIRE(2 * edge < x.size());
    double worst = 0;
    for (size_t i = edge; i + edge < x.size(); ++i)
      worst = std::max(worst, std::abs(y[i] - ref[i]));
    INFO("r = " << r << ", " << taps.size() << " taps");
    REQUIRE(worst < 2e-6);
  }
}

TEST_CASE("lowpass_taps meet their pass band, -6 dB point and stop band", "[dsp][fir]") {
  const double rate = 48000, cutoff = 4200, width = 400;
  const std::vector<float> taps = sr::lowpass_taps(cutoff, width, rate, 90);
  REQUIRE(taps.size() % 2 == 1);
  for (double f : {0.0, 1000.0, 3000.0, 3990.0})
    REQUIRE(std::abs(magnitude(taps, f, rate) - 1) < 1e-3);  // Kaiser at 90 dB: ripple ~3e-5
  REQUIRE(std::abs(magnitude(taps, cutoff, rate) - 0.5) < 0.01);
  for (double f : {4410.0, 5000.0, 12000.0, 23999.0})
    REQUIRE(20 * std::log10(magnitude(taps, f, rate) + 1e-30) < -85);
  REQUIRE_THROWS_AS(sr::lowpass_taps(30000, 100, rate), sr::Error);
}

TEST_CASE("periodic_notch_taps remove a period-4 pattern and keep a tone", "[dsp][fir]") {
  const std::vector<float> taps = sr::periodic_notch_taps(4, 64);
  const double rate = 16000;
  REQUIRE(magnitude(taps, 4000, rate) < 1e-6);
  REQUIRE(magnitude(taps, 8000, rate) < 1e-6);
  REQUIRE(std::abs(magnitude(taps, 5000, rate) - 1) < 0.02);
  REQUIRE(std::abs(magnitude(taps, 3000, rate) - 1) < 0.02);
}
