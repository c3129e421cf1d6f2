// The steady-line suppressor (engine/dsp/line_suppressor.h): a steady whistle in the treated band
// comes down to its floor; what moves (a sweep), what lies outside the band and a signal without
// lines are left alone; the output has the input's length whatever the chunking.
#include <cmath>
#include <cstdint>
#include <vector>

#include "sr/dsp/line_suppressor.h"
#include "test_util.h"

namespace {

constexpr int kRate = 16000;
constexpr double kPi = 3.14159265358979323846;

struct Result {
  std::vector<float> y;
  int64_t cut_frames = 0;
  double deepest_cut_db = 0;
};

Result run(const std::vector<float>& x, int channels, const sr::LineSuppressorOptions& o,
           size_t chunk) {
  sr::SteadyLineSuppressor s(channels, kRate, o);
  Result r;
  const size_t frames = x.size() / channels;
  for (size_t at = 0; at < frames; at += chunk)
    s.push(&x[at * channels], std::min(chunk, frames - at), r.y);
  s.finish(r.y);
  r.cut_frames = s.cut_frames();
  r.deepest_cut_db = s.deepest_cut_db();
  return r;
}

// Amplitude of the component at hz in frames [from, to) of channel c (least squares on sin/cos).
double amplitude_at(const std::vector<float>& x, int channels, int c, double hz, size_t from,
                    size_t to) {
  double s = 0, k = 0;
  for (size_t i = from; i < to; ++i) {
    const double ph = 2 * kPi * hz * static_cast<double>(i) / kRate;
    s += x[i * channels + c] * std::sin(ph);
    k += x[i * channels + c] * std::cos(ph);
  }
  return 2 * std::hypot(s, k) / static_cast<double>(to - from);
}

sr::LineSuppressorOptions band(double lo, double hi, double threshold) {
  sr::LineSuppressorOptions o;
  o.lo_hz = lo, o.hi_hz = hi, o.threshold_db = threshold;
  return o;
}

}  // namespace

TEST_CASE("SteadyLineSuppressor lowers a steady whistle and little else", "[dsp][lines]") {
  // Two channels of white noise (a flat floor); channel 0 carries a steady 5 kHz line ~30 dB above
  // the floor's per-bin level, channel 1 a line at 2 kHz, below the treated band.
  const int channels = 2, n = 3 * kRate;
  std::vector<float> x = sr::test::random_vector(n * channels, 5, 0.01f);
  for (int i = 0; i < n; ++i) {
    x[i * channels + 0] += 0.05f * static_cast<float>(std::sin(2 * kPi * 5000.0 * i / kRate));
    x[i * channels + 1] += 0.05f * static_cast<float>(std::sin(2 * kPi * 2000.0 * i / kRate));
  }
  const Result r = run(x, channels, band(3000, 8000, 3.0), 777);
  const std::vector<float>& y = r.y;
  REQUIRE(y.size() == x.size());
  REQUIRE(r.cut_frames > 0);
  REQUIRE(r.deepest_cut_db > 20);
  const size_t from = kRate / 2, to = n - kRate / 2;
  const double before = amplitude_at(x, channels, 0, 5000, from, to);
  const double after = amplitude_at(y, channels, 0, 5000, from, to);
  INFO("5 kHz line: " << 20 * std::log10(after / before) << " dB");
  CHECK(after <
        before * std::pow(10.0, -20 / 20.0));  // ~29 dB above the floor, 3 dB left: >= 20 dB
  // Outside the band: the 2 kHz line is untouched.
  CHECK(std::abs(amplitude_at(y, channels, 1, 2000, from, to) /
                     amplitude_at(x, channels, 1, 2000, from, to) -
                 1) < 1e-3);
  // What was removed is the line: the removed part's power is the line's (0.05^2 / 2) within 10 %,
  // and channel 1 lost nothing (it has no line in the band; its noise may lose a random bump).
  double removed0 = 0, removed1 = 0, noise1 = 0;
  for (size_t i = from; i < to; ++i) {
    const double d0 = x[i * channels] - y[i * channels],
                 d1 = x[i * channels + 1] - y[i * channels + 1];
    removed0 += d0 * d0, removed1 += d1 * d1, noise1 += 1e-4 / 3;  // uniform +-0.01: var 1e-4 / 3
  }
  const double line_power = 0.05 * 0.05 / 2 * static_cast<double>(to - from);
  CHECK(std::abs(removed0 / line_power - 1) < 0.1);
  CHECK(removed1 < 0.01 * noise1);
}

TEST_CASE("SteadyLineSuppressor leaves moving tones and line-free signals alone", "[dsp][lines]") {
  const int n = 3 * kRate;
  // A sweep 4 -> 6 kHz over 3 s (~670 Hz per second: any bin holds it for a few ms).
  std::vector<float> sweep = sr::test::random_vector(n, 7, 0.001f);
  double phase = 0;
  for (int i = 0; i < n; ++i) {
    phase += 2 * kPi * (4000.0 + 2000.0 * i / n) / kRate;
    sweep[i] += 0.1f * static_cast<float>(std::sin(phase));
  }
  const std::vector<float> y = run(sweep, 1, band(3000, 8000, 3.0), 4096).y;
  double e_in = 0, e_out = 0;
  for (int i = kRate / 2; i < n - kRate / 2; ++i) e_in += sweep[i] * sweep[i], e_out += y[i] * y[i];
  INFO("sweep energy change " << 10 * std::log10(e_out / e_in) << " dB");
  CHECK(std::abs(10 * std::log10(e_out / e_in)) < 0.1);

  // White noise with nothing standing 10 dB over its floor: returned bit for bit.
  const std::vector<float> noise = sr::test::random_vector(n, 9, 0.3f);
  const Result z = run(noise, 1, band(3000, 8000, 10.0), 1000);
  CHECK(z.cut_frames == 0);
  CHECK(z.y == noise);
}

TEST_CASE("SteadyLineSuppressor: same output for any chunking, any length", "[dsp][lines]") {
  const int channels = 2;
  for (int n : {0, 1, 100, 511, 2049, 20000}) {
    std::vector<float> x =
        sr::test::random_vector(static_cast<size_t>(n) * channels, 11 + n, 0.01f);
    for (int i = 0; i < n; ++i)
      x[i * channels] += 0.05f * static_cast<float>(std::sin(2 * kPi * 6000.0 * i / kRate));
    const std::vector<float> whole =
        run(x, channels, band(3000, 8000, 3.0), static_cast<size_t>(n) + 1).y;
    REQUIRE(whole.size() == x.size());
    for (size_t chunk : {1, 37, 1000}) {
      INFO("n " << n << " chunk " << chunk);
      CHECK(run(x, channels, band(3000, 8000, 3.0), chunk).y == whole);
    }
  }
}

TEST_CASE("SteadyLineSuppressor rejects settings it cannot use", "[dsp][lines]") {
  CHECK_THROWS(sr::SteadyLineSuppressor(0, kRate, band(3000, 8000, 3)));
  CHECK_THROWS(sr::SteadyLineSuppressor(1, kRate, band(5000, 4000, 3)));
  sr::SteadyLineSuppressor s(1, kRate, band(3000, 8000, 3));
  std::vector<float> out;
  s.finish(out);
  CHECK(out.empty());
  const float one = 0.5f;
  CHECK_THROWS(s.push(&one, 1, out));
}
