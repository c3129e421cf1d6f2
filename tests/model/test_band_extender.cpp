// The inference path of sr-infer (engine/core/band_extender.h) with the bundled r = 2 model:
// the plan's rules, full-band input passed through bit for bit, a 4 kHz band stored at 48 kHz kept
// exactly and extended at 48 kHz, and sine sweeps at every level never amplified in the kept band.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "sr/backend.h"
#include "sr/band_extender.h"
#include "sr/dsp/bandwidth.h"
#include "sr/dsp/fir.h"
#include "sr/error.h"
#include "sr/io/audio.h"
#include "sr/io/resample.h"
#include "sr/network.h"
#include "sr/weights.h"
#include "test_util.h"

using namespace sr;

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Loaded {
  std::unique_ptr<Backend> backend = make_cpu_backend();
  std::unique_ptr<Network> net;
};

Loaded bundled_r2() {
  Loaded m;
  const WeightFile w =
      load_weights(std::string(SR_FIXTURE_DIR) + "/../../models/speech_r2.safetensors");
  m.net = std::make_unique<Network>(w, *m.backend);
  return m;
}

BandEstimate detect(const std::vector<float>& x, int rate) {
  BandwidthEstimator e(rate, 1);
  e.push(x.data(), x.size());
  return e.estimate();
}

std::vector<float> extend(Network& net, const ExtensionPlan& plan, const std::vector<float>& x) {
  BandExtender ext(net, plan, 1, UpsampleOptions{});
  std::vector<float> out;
  auto sink = [&](const float* f, size_t n) { out.insert(out.end(), f, f + n); };
  for (size_t at = 0; at < x.size(); at += 3001)
    ext.push(&x[at], std::min<size_t>(3001, x.size() - at), sink);
  ext.finish(sink);
  return out;
}

std::vector<float> lowpass(const std::vector<float>& x, double cutoff, double rate) {
  ZeroPhaseFir fir(lowpass_taps(cutoff, 200, rate), 1);
  std::vector<float> y;
  fir.push(x.data(), x.size(), y);
  fir.finish(y);
  return y;
}

double energy(const std::vector<float>& x, size_t from = 0, size_t to = SIZE_MAX) {
  double e = 0;
  const size_t end = std::min(to, x.size());
  for (size_t i = from; i < end; ++i) e += double(x[i]) * x[i];
  return e;
}

// 10 log10(|a|^2 / |a - b|^2) over [from, to).
double snr(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  double err = 0;
  for (size_t i = from; i < to; ++i) err += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return 10 * std::log10(energy(a, from, to) / std::max(err, 1e-30));
}

}  // namespace

TEST_CASE("plan_extension: pass-through, output rates, crossover, raw", "[band_extender]") {
  ModelConfig c;  // 16 kHz, like the bundled models
  c.ratio = 2;
  ExtensionPlan p = plan_extension(16000, 7000, 7500, c, 2, 0, false);
  REQUIRE(p.mode == ExtensionPlan::Mode::pass_through);
  REQUIRE(p.out_rate == 16000);
  p = plan_extension(48000, 3900, 4000, c, 2, 0, false);
  REQUIRE(p.mode == ExtensionPlan::Mode::extend);
  REQUIRE(p.out_rate == 48000);
  REQUIRE(p.crossover_hz - p.crossover_width_hz / 2 == Approx(4000));  // starts at the edge
  REQUIRE(p.top_hz + p.top_width_hz / 2 == Approx(8000));
  p = plan_extension(8000, 4000, 4000, c, 2, 0, false);
  REQUIRE(p.mode == ExtensionPlan::Mode::extend);
  REQUIRE(p.out_rate == 16000);
  REQUIRE(plan_extension(8000, 4000, 4000, c, 2, 22050, false).out_rate == 22050);
  // An output rate that cannot hold more than the input has: nothing to add.
  REQUIRE(plan_extension(8000, 3600, 3800, c, 2, 8000, false).mode ==
          ExtensionPlan::Mode::pass_through);
  p = plan_extension(44100, 0, 0, c, 2, 0, true);
  REQUIRE(p.mode == ExtensionPlan::Mode::raw);
  REQUIRE(p.out_rate == 16000);
  REQUIRE_THROWS_AS(plan_extension(44100, 0, 0, c, 2, 44100, true), Error);
  REQUIRE_THROWS_AS(plan_extension(16000, 3000, 3000, c, 3, 0, false), Error);  // 16000 % 3
  REQUIRE_THROWS_AS(plan_extension(16000, 3000, 3000, c, 2, 0, false, 3.0), Error);
}

TEST_CASE("plan_extension: the comb notch for r > 2 and for varied-trained models",
          "[band_extender]") {
  ModelConfig c;  // decimate's filter (cheby1), like the bundled models
  REQUIRE(plan_extension(8000, 3600, 3800, c, 2, 0, false).notch_period == 0);
  REQUIRE(plan_extension(4000, 1800, 1900, c, 4, 0, false).notch_period == 4);
  c.input_filter.family = InputFilter::Family::varied;  // the robust models leave lines at r = 2
  REQUIRE(plan_extension(8000, 3600, 3800, c, 2, 0, false).notch_period == 32);
  REQUIRE(plan_extension(4000, 1800, 1900, c, 4, 0, false).notch_period == 4);
}

TEST_CASE("a full-band tone complex at 16 kHz through r = 2 comes back unchanged",
          "[band_extender]") {
  Loaded m = bundled_r2();
  std::vector<float> x(24000, 0.0f);
  for (int k = 1; k <= 15; ++k)
    for (size_t i = 0; i < x.size(); ++i)
      x[i] += 0.04f * static_cast<float>(std::sin(2 * kPi * 500 * k * i / 16000.0 + k));
  const BandEstimate band = detect(x, 16000);
  const ExtensionPlan plan =
      plan_extension(16000, band.band_hz, band.edge_hz, m.net->config(), 2, 0, false);
  REQUIRE(plan.mode == ExtensionPlan::Mode::pass_through);
  REQUIRE(extend(*m.net, plan, x) == x);
}

TEST_CASE("a 4 kHz band stored at 48 kHz is kept exactly and extended at 48 kHz",
          "[band_extender]") {
  Loaded m = bundled_r2();
  const Audio speech = read_audio(std::string(SR_FIXTURE_DIR) + "/../../examples/speech_ru_8k.wav");
  const std::vector<float> x = resample(speech.samples, 8000, 48000);
  const BandEstimate band = detect(x, 48000);
  REQUIRE(band.cliff());
  REQUIRE(band.edge_hz < 4000);
  const ExtensionPlan plan =
      plan_extension(48000, band.band_hz, band.edge_hz, m.net->config(), 2, 0, false);
  REQUIRE(plan.mode == ExtensionPlan::Mode::extend);
  REQUIRE(plan.out_rate == 48000);
  const std::vector<float> y = extend(*m.net, plan, x);
  REQUIRE(y.size() == x.size());
  // Below the band the output is the input: the same low-pass of both agree to the filters'
  // ripple (Kaiser at 90 dB) and float rounding, far below what any change of the band would do.
  const std::vector<float> kept_in = lowpass(x, band.band_hz - 200, 48000);
  const std::vector<float> kept_out = lowpass(y, band.band_hz - 200, 48000);
  REQUIRE(snr(kept_in, kept_out, 0, x.size()) > 60);
  // Above it the network added content where the input had none.
  std::vector<float> high_in(x.size()), high_out(y.size());
  const std::vector<float> low_in = lowpass(x, 4600, 48000), low_out = lowpass(y, 4600, 48000);
  for (size_t i = 0; i < x.size(); ++i) {
    high_in[i] = x[i] - low_in[i];
    high_out[i] = y[i] - low_out[i];
  }
  REQUIRE(energy(high_out) > 100 * energy(high_in));
  // Nothing above the model's 8 kHz band.
  const std::vector<float> below_top = lowpass(y, 8400, 48000);
  double above_top = 0;
  for (size_t i = 0; i < y.size(); ++i) above_top += std::pow(double(y[i]) - below_top[i], 2);
  REQUIRE(above_top < 1e-6 * energy(y));
}

TEST_CASE("sine sweeps at any level are never amplified in the kept band", "[band_extender]") {
  Loaded m = bundled_r2();
  for (double level_db : {-40.0, -20.0, -6.0, -1.0}) {
    // A log sweep 50 Hz - 3.9 kHz at 8 kHz, 2 s.
    const double a = std::pow(10.0, level_db / 20), f0 = 50, f1 = 3900, T = 2.0;
    std::vector<float> x(16000);
    for (size_t i = 0; i < x.size(); ++i) {
      const double t = i / 8000.0, k = std::log(f1 / f0) / T;
      x[i] = static_cast<float>(a * std::sin(2 * kPi * f0 * (std::exp(k * t) - 1) / k));
    }
    const BandEstimate band = detect(x, 8000);
    const ExtensionPlan plan =
        plan_extension(8000, band.band_hz, band.edge_hz, m.net->config(), 2, 0, false);
    REQUIRE(plan.mode == ExtensionPlan::Mode::extend);
    const std::vector<float> y = extend(*m.net, plan, x);
    const std::vector<float> up = resample(x, 8000, 16000);
    REQUIRE(y.size() == up.size());
    const double edge = std::min(band.band_hz, 3800.0) - 200;
    const std::vector<float> kept_up = lowpass(up, edge, 16000), kept_y = lowpass(y, edge, 16000);
    INFO("sweep at " << level_db << " dBFS, band " << band.band_hz << " Hz");
    // Frame by frame (32 ms) the kept band's level never rises by more than 0.05 dB.
    for (size_t at = 0; at + 512 <= y.size(); at += 512) {
      const double e_in = energy(kept_up, at, at + 512), e_out = energy(kept_y, at, at + 512);
      if (e_in > 1e-9) REQUIRE(10 * std::log10(e_out / e_in) < 0.05);
    }
    // Away from the signal's abrupt ends (50 ms), where the filters ring, the kept band is the
    // input's to 100+ dB; 60 dB leaves room for other FFT and soxr builds.
    REQUIRE(snr(kept_up, kept_y, 800, y.size() - 800) > 60);
    for (float v : y) REQUIRE(std::abs(v) <= 1.0f);
  }
}
