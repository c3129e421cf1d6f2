// The bandwidth estimator (engine/dsp/bandwidth.h) on synthetic spectra: full-band noise,
// band-limited noise at a higher rate, with a dither floor, with a codec-like shelf, pink noise,
// tones, silence, and the bundled 8 kHz speech example.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "sr/dsp/bandwidth.h"
#include "sr/io/audio.h"
#include "sr/io/resample.h"
#include "test_util.h"

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> gaussian(size_t n, uint32_t seed, float sigma) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

sr::BandEstimate estimate(const std::vector<float>& x, int rate, int channels = 1) {
  sr::BandwidthEstimator e(rate, channels);
  for (size_t at = 0; at < x.size(); at += 10007)  // odd chunks: frames span pushes
    e.push(&x[at], std::min<size_t>(10007, x.size() - at) / channels);
  return e.estimate();
}

// White noise at `band_rate`, resampled (band-limited) to `rate`: content up to ~0.91-0.95 of
// band_rate / 2, then the resampler's stop band.
std::vector<float> band_limited_noise(int band_rate, int rate, double seconds, uint32_t seed) {
  return sr::resample(gaussian(static_cast<size_t>(band_rate * seconds), seed, 0.1f), band_rate,
                      rate);
}

}  // namespace

TEST_CASE("bandwidth: white noise fills its rate, silence is silent", "[dsp][bandwidth]") {
  const sr::BandEstimate white = estimate(gaussian(48000, 1, 0.1f), 16000);
  REQUIRE_FALSE(white.cliff());
  REQUIRE(white.band_hz == 8000);
  const sr::BandEstimate silence = estimate(std::vector<float>(16000, 0.0f), 16000);
  REQUIRE(silence.silent);
  REQUIRE(silence.band_hz == 8000);
  // Shorter than one analysis frame still gives an answer.
  REQUIRE_FALSE(estimate(gaussian(100, 2, 0.1f), 16000).cliff());
}

TEST_CASE("bandwidth: a 4 kHz band stored at 48 kHz is a 4 kHz band", "[dsp][bandwidth]") {
  const std::vector<float> x = band_limited_noise(8000, 48000, 3, 3);
  const sr::BandEstimate e = estimate(x, 48000);
  REQUIRE(e.cliff());
  REQUIRE(e.drop_db > 40);
  REQUIRE(e.band_hz > 3500);  // soxr HQ passes ~91 % of 4 kHz at full level
  REQUIRE(e.band_hz <= e.edge_hz);
  REQUIRE(e.edge_hz < 4100);
}

TEST_CASE("bandwidth: a dither floor and a codec shelf do not hide the band", "[dsp][bandwidth]") {
  // 16-bit TPDF-like dither (~-101 dBFS) over the whole 44.1 kHz band.
  std::vector<float> x = band_limited_noise(8000, 44100, 3, 4);
  const std::vector<float> dither = gaussian(x.size(), 5, 1.0f / 32768);
  for (size_t i = 0; i < x.size(); ++i) x[i] += dither[i];
  sr::BandEstimate e = estimate(x, 44100);
  REQUIRE(e.edge_hz > 3500);
  REQUIRE(e.edge_hz < 4100);
  // A codec-like shelf: full content to 16 kHz, a 35 dB lower shelf above it to Nyquist.
  std::vector<float> full = band_limited_noise(32000, 44100, 3, 6);
  const std::vector<float> shelf = gaussian(full.size(), 7, 0.1f * std::pow(10.0f, -35.0f / 20));
  for (size_t i = 0; i < full.size(); ++i) full[i] += shelf[i];
  e = estimate(full, 44100);
  REQUIRE(e.cliff());
  REQUIRE(e.edge_hz > 14500);
  REQUIRE(e.edge_hz < 16100);
}

TEST_CASE("bandwidth: natural slopes and tone complexes are full band", "[dsp][bandwidth]") {
  // Pink-ish noise (-3 dB/octave, by summing octave-spaced one-pole low-passes) at 16 kHz.
  const std::vector<float> w = gaussian(48000, 8, 0.1f);
  std::vector<float> pink(w.size(), 0.0f);
  for (int octave = 0; octave < 8; ++octave) {
    const double a = std::exp(-2 * kPi * (8000.0 / (1 << octave)) / 16000);
    double state = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      state = a * state + (1 - a) * w[i];
      pink[i] += static_cast<float>(state);
    }
  }
  REQUIRE(estimate(pink, 16000).edge_hz > 7200);
  // Tones every 500 Hz up to 7.5 kHz at 16 kHz: the band is the highest tone's.
  std::vector<float> tones(32000, 0.0f);
  for (int k = 1; k <= 15; ++k)
    for (size_t i = 0; i < tones.size(); ++i)
      tones[i] += 0.03f * static_cast<float>(std::sin(2 * kPi * 500 * k * i / 16000 + k));
  const sr::BandEstimate e = estimate(tones, 16000);
  REQUIRE(e.edge_hz >= 7400);
}

TEST_CASE("bandwidth: stereo powers add, and the bundled 8 kHz speech has its 3.6 kHz band",
          "[dsp][bandwidth]") {
  const std::vector<float> left = band_limited_noise(8000, 32000, 2, 9);
  std::vector<float> stereo(left.size() * 2, 0.0f);
  for (size_t i = 0; i < left.size(); ++i) stereo[2 * i] = left[i];  // right channel silent
  const sr::BandEstimate e = estimate(stereo, 32000, 2);
  REQUIRE(e.edge_hz > 3500);
  REQUIRE(e.edge_hz < 4100);
  const sr::Audio speech =
      sr::read_audio(std::string(SR_FIXTURE_DIR) + "/../../examples/speech_ru_8k.wav");
  const sr::BandEstimate s = estimate(speech.samples, speech.sample_rate);
  REQUIRE(s.cliff());
  REQUIRE(s.band_hz > 3000);
  REQUIRE(s.edge_hz < 3900);
}
