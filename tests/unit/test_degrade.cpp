// Training degradations: deterministic per seed, every way drawn, the target scaled by the same
// gain as the input, each way's low-rate band limit, and G.711 against g711.c's known codes.
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/degrade.h"
#include "test_util.h"

namespace {

std::vector<float> noise(size_t n, uint32_t seed) {
  return sr::test::random_vector(n, seed, 0.3f);
}

// Energy of x in the band [lo, hi) of the Nyquist, by a plain DFT on a few bins.
double band_energy(const std::vector<float>& x, double lo, double hi) {
  const size_t n = x.size();
  double e = 0;
  for (size_t k = static_cast<size_t>(lo * n / 2); k < static_cast<size_t>(hi * n / 2); k += 3) {
    double re = 0, im = 0;
    for (size_t i = 0; i < n; ++i) {
      const double a = 2 * M_PI * k * i / n;
      re += x[i] * std::cos(a), im -= x[i] * std::sin(a);
    }
    e += re * re + im * im;
  }
  return e;
}

}  // namespace

TEST_CASE("degrade is deterministic per seed and draws every way", "[io][degrade]") {
  sr::DegradeOptions o;
  o.r = 2;
  std::set<std::string> kinds;
  std::map<std::string, int> counts;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    std::vector<float> a = noise(1024, 7), b = a;
    sr::Degradation da, db;
    const std::vector<float> xa = sr::degrade(a, o, seed, &da);
    const std::vector<float> xb = sr::degrade(b, o, seed, &db);
    REQUIRE(xa == xb);
    REQUIRE(a == b);
    REQUIRE(xa.size() == 1024);
    REQUIRE(da.gain_db >= -20.0);
    REQUIRE(da.gain_db <= 0.0);
    for (float v : xa) REQUIRE(std::isfinite(v));
    ++counts[da.kind];
  }
  for (const char* k : {"butter", "cheby1", "cheby2", "ellip", "bessel", "decimate", "soxr",
                        "subsample", "mulaw", "alaw"}) {
    INFO(k);
    REQUIRE(counts[k] > 0);
  }
  REQUIRE(counts["soxr"] > 60);  // the largest share (sr-infer's path for varied models)
}

TEST_CASE("degrade scales the target by the drawn gain and band-limits the input",
          "[io][degrade]") {
  const std::vector<float> original = noise(2048, 3);
  for (int r : {2, 4}) {
    sr::DegradeOptions o;
    o.r = r;
    int checked = 0;
    for (uint64_t seed = 0; seed < 40; ++seed) {
      std::vector<float> high = original;
      sr::Degradation d;
      const std::vector<float> x = sr::degrade(high, o, seed, &d);
      const float g = static_cast<float>(std::pow(10.0, d.gain_db / 20.0));
      for (size_t i = 0; i < high.size(); i += 97)
        REQUIRE(std::fabs(high[i] - g * original[i]) <= 1e-6f);
      if (d.kind == "subsample" || d.kind == "mulaw" || d.kind == "alaw" || d.kind == "bessel" ||
          d.causal)
        continue;  // aliasing, quantisation noise, Bessel's gentle roll-off, causal delay
      // The spline input keeps the low band (well below the cutoff) and little above r's Nyquist.
      const double pass = band_energy(x, 0.0, 0.5 / r), ref = band_energy(high, 0.0, 0.5 / r);
      const double above = band_energy(x, 1.2 / r, 1.0),
                   ref_above = band_energy(high, 1.2 / r, 1.0);
      INFO("r " << r << " " << d.kind << " order " << d.order << " cutoff " << d.cutoff);
      REQUIRE(pass == Approx(ref).epsilon(0.3));  // pass-band ripple up to 1 dB
      REQUIRE(above < 0.05 * ref_above);
      ++checked;
    }
    REQUIRE(checked > 10);
  }
}

TEST_CASE("degrade succeeds for many seeds at every ratio", "[io][degrade]") {
  const std::vector<float> original = noise(1024, 9);
  for (int r : {2, 4, 8}) {
    sr::DegradeOptions o;
    o.r = r;
    for (uint64_t seed = 0; seed < 1500; ++seed) {
      std::vector<float> high = original;
      const std::vector<float> x = sr::degrade(high, o, seed * 31 + r);
      REQUIRE(x.size() == high.size());
      REQUIRE(std::isfinite(x[x.size() / 2]));
    }
  }
}

TEST_CASE("degrade refuses patches that are not a multiple of r", "[io][degrade]") {
  sr::DegradeOptions o;
  o.r = 4;
  std::vector<float> x(1022, 0.1f);
  REQUIRE_THROWS_AS(sr::degrade(x, o, 1), sr::Error);
}

TEST_CASE("G.711 mu-law and A-law round trips as g711.c", "[io][degrade]") {
  // g711.c: ulaw2linear(linear2ulaw(0)) = 0, A-law's smallest step decodes to +-8 (16-bit).
  REQUIRE(sr::mulaw_roundtrip(0.0f) == 0.0f);
  REQUIRE(sr::alaw_roundtrip(0.0f) * 32768.0f == Approx(8.0f));
  // Full scale clips to the largest codes: 32124 (mu-law) and 32256 (A-law).
  REQUIRE(sr::mulaw_roundtrip(1.0f) * 32768.0f == Approx(32124.0f));
  REQUIRE(sr::alaw_roundtrip(1.0f) * 32768.0f == Approx(32256.0f));
  REQUIRE(sr::mulaw_roundtrip(-1.0f) * 32768.0f == Approx(-32124.0f));
  // 8-bit logarithmic: relative error under about 1/16 above the smallest segments, monotonic.
  float prev_mu = -2, prev_a = -2;
  for (int i = -1000; i <= 1000; ++i) {
    const float x = i / 1000.0f;
    const float mu = sr::mulaw_roundtrip(x), a = sr::alaw_roundtrip(x);
    REQUIRE(mu >= prev_mu);
    REQUIRE(a >= prev_a);
    prev_mu = mu, prev_a = a;
    if (std::fabs(x) > 0.01f) {
      REQUIRE(std::fabs(mu - x) <= x * x / std::fabs(x) / 15.0f);
      REQUIRE(std::fabs(a - x) <= std::fabs(x) / 15.0f);
    }
  }
}
