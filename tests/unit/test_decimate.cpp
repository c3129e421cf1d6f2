// decimate against scipy.signal.decimate (fixtures from tests/fixtures/make_decimate_fixture.py):
// the filter design, the output for r = 2, 3, 4, 8 on random and sine inputs down to the shortest
// length scipy accepts, and the refusal below it.
#include <cmath>
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/decimate.h"
#include "sr/io/npy.h"
#include "test_util.h"

namespace {

std::string fixture(const std::string& name) {
  return std::string(SR_FIXTURE_DIR) + "/" + name;
}

}  // namespace

TEST_CASE("cheby1_lowpass_sos matches scipy's cheby1(8, 0.05, 0.8 / r, output='sos')",
          "[io][decimate]") {
  const sr::NpyArray ref = sr::read_npy(fixture("decimate_sos.npy"));  // float64 on disk
  REQUIRE(ref.dims == std::vector<int64_t>{4, 4, 6});
  // read_npy hands back float32; the design itself is checked in double through the filter
  // outputs below. Here: every coefficient to float32 rounding (b of section 0 is ~1e-8, so
  // relative).
  const int rs[] = {2, 3, 4, 8};
  for (int k = 0; k < 4; ++k) {
    INFO("r=" << rs[k]);
    const std::vector<sr::Biquad> sos = sr::cheby1_lowpass_sos(8, 0.05, 0.8 / rs[k]);
    REQUIRE(sos.size() == 4);
    for (int s = 0; s < 4; ++s)
      for (int j = 0; j < 6; ++j) {
        const double want = ref.values[(k * 4 + s) * 6 + j];
        INFO("section " << s << " coefficient " << j << ": " << sos[s][j] << " vs " << want);
        REQUIRE(std::fabs(sos[s][j] - want) <= 1e-7 * std::fabs(want));
      }
  }
}

TEST_CASE("decimate matches scipy.signal.decimate", "[io][decimate]") {
  const sr::NpyArray cases = sr::read_npy(fixture("decimate_cases.npy"));
  const sr::NpyArray in_all = sr::read_npy(fixture("decimate_in.npy"));
  const sr::NpyArray ref_all = sr::read_npy(fixture("decimate_ref.npy"));
  REQUIRE(cases.dims.size() == 2);
  REQUIRE(cases.dims[1] == 3);
  size_t in_pos = 0, ref_pos = 0;
  double worst = 0;
  for (int64_t k = 0; k < cases.dims[0]; ++k) {
    const int r = static_cast<int>(cases.values[3 * k]);
    const size_t n = static_cast<size_t>(cases.values[3 * k + 1]);
    const size_t m = (n + r - 1) / r;
    INFO("r=" << r << " n=" << n << " kind=" << cases.values[3 * k + 2]);
    REQUIRE(in_pos + n <= in_all.values.size());
    REQUIRE(ref_pos + m <= ref_all.values.size());
    const std::vector<float> x(in_all.values.begin() + in_pos, in_all.values.begin() + in_pos + n);
    const std::vector<float> ref(ref_all.values.begin() + ref_pos,
                                 ref_all.values.begin() + ref_pos + m);
    in_pos += n;
    ref_pos += m;
    const std::vector<float> got = sr::decimate(x, r);
    REQUIRE(got.size() == m);
    // Both sides compute in double (scipy's float64 path); what is left is the float32 rounding
    // of the reference (read_npy converts) and of our output, half an ulp each of values that are
    // O(1) (measured: identical after rounding, max 2e-15 on a value near 0). 1e-6 absolute is
    // ~8 ulps at 1.0; a design or padding error shows up at 1e-3 or more. (scipy's float32 path,
    // what the originals ran on librosa's float32, is 1e-6..1e-5 from this.)
    auto stats = sr::test::compare(got, ref, 1.0);
    worst = std::max(worst, stats.max_abs);
    INFO("max_abs=" << stats.max_abs);
    REQUIRE(stats.nonfinite == 0);
    REQUIRE(stats.max_abs <= 1e-6);
  }
  REQUIRE(in_pos == in_all.values.size());
  REQUIRE(ref_pos == ref_all.values.size());
  WARN("decimate vs scipy: max |diff| over all cases = " << worst);
}

TEST_CASE("decimate refuses signals scipy refuses (len <= padlen 27)", "[io][decimate]") {
  const std::vector<float> x = sr::test::random_vector(27, 5);
  REQUIRE_THROWS_AS(sr::decimate(x, 2), sr::Error);
  REQUIRE_THROWS_WITH(sr::decimate(x, 2), Catch::Contains("27"));
  REQUIRE(sr::decimate(sr::test::random_vector(28, 5), 2).size() == 14);
  REQUIRE_THROWS_AS(sr::decimate(sr::test::random_vector(100, 5), 0), sr::Error);
}

TEST_CASE("decimate passes DC and a low tone with unit gain, removes a tone above the cutoff",
          "[io][decimate]") {
  const double pi = 3.14159265358979323846;
  const int r = 4;
  const size_t n = 4000;
  std::vector<float> dc(n, 0.25f), low(n), high(n);
  for (size_t i = 0; i < n; ++i) {
    low[i] = static_cast<float>(0.5 * std::sin(2 * pi * 0.01 * i));  // 0.02 of Nyquist
    high[i] = static_cast<float>(0.5 * std::sin(2 * pi * 0.2 * i));  // 0.4 > 0.8 / 4 = 0.2
  }
  // Steady-state initial conditions: a constant comes through at the DC gain everywhere, edges
  // included. An even-order Chebyshev I sits at the bottom of its ripple at DC, |H(0)|^2 =
  // 10^(-0.05/10), and forward-backward filtering applies |H|^2.
  const double dc_gain = std::pow(10.0, -0.05 / 10);
  for (float v : sr::decimate(dc, r)) REQUIRE(std::fabs(v - 0.25 * dc_gain) < 1e-6);
  const std::vector<float> low_d = sr::decimate(low, r), high_d = sr::decimate(high, r);
  // Zero phase: the low tone comes back at the same samples, within the ripple (gain in
  // [0.9886, 1], so at most 0.0057 off at amplitude 0.5).
  for (size_t i = 50; i + 50 < low_d.size(); ++i) REQUIRE(std::fabs(low_d[i] - low[i * r]) < 6e-3);
  // Order-8 Chebyshev at twice the cutoff: far below -60 dB away from the edges.
  for (size_t i = 50; i + 50 < high_d.size(); ++i) REQUIRE(std::fabs(high_d[i]) < 5e-4);
}
