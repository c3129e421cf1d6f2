// spline_upsample against scipy's splrep/splev (fixtures from
// tests/fixtures/make_spline_fixture.py) plus exact properties: identity at r = 1, knots
// reproduced, cubics reproduced.
#include <string>
#include <vector>

#include "sr/error.h"
#include "sr/io/npy.h"
#include "sr/io/spline.h"
#include "test_util.h"

namespace {

std::string fixture(const std::string& name) {
  return std::string(SR_FIXTURE_DIR) + "/" + name;
}

}  // namespace

TEST_CASE("spline_upsample matches scipy splrep/splev", "[io][spline]") {
  const sr::NpyArray cases = sr::read_npy(fixture("spline_cases.npy"));
  const sr::NpyArray low_all = sr::read_npy(fixture("spline_low.npy"));
  const sr::NpyArray ref_all = sr::read_npy(fixture("spline_ref.npy"));  // float64 on disk
  REQUIRE(cases.dims.size() == 2);
  REQUIRE(cases.dims[1] == 2);
  size_t low_pos = 0, ref_pos = 0;
  for (int64_t k = 0; k < cases.dims[0]; ++k) {
    const size_t n = static_cast<size_t>(cases.values[2 * k]);
    const int r = static_cast<int>(cases.values[2 * k + 1]);
    INFO("n=" << n << " r=" << r);
    REQUIRE(low_pos + n <= low_all.values.size());
    REQUIRE(ref_pos + n * r <= ref_all.values.size());
    std::vector<float> low(low_all.values.begin() + low_pos, low_all.values.begin() + low_pos + n);
    std::vector<float> ref(ref_all.values.begin() + ref_pos,
                           ref_all.values.begin() + ref_pos + n * r);
    low_pos += n;
    ref_pos += n * r;
    const std::vector<float> got = sr::spline_upsample(low, r);
    REQUIRE(got.size() == n * r);
    // Values are O(1); the solve is in double, so the error is float32 output rounding (half an
    // ulp, 6e-8 relative) on both sides: 1e-6 leaves ~10 ulps of room.
    SR_REQUIRE_CLOSE(got, ref, 1e-6, 1e-6);
    for (size_t i = 0; i < n; ++i) REQUIRE(got[i * r] == low[i]);  // interpolating: knots exact
  }
  REQUIRE(low_pos == low_all.values.size());
  REQUIRE(ref_pos == ref_all.values.size());
}

TEST_CASE("spline_upsample with r = 1 is the identity", "[io][spline]") {
  const std::vector<float> x = sr::test::random_vector(37, 11);
  REQUIRE(sr::spline_upsample(x, 1) == x);
}

TEST_CASE("spline_upsample reproduces a cubic, extrapolated tail included", "[io][spline]") {
  const int r = 4;
  const size_t n = 12;
  auto cubic = [](double t) { return 0.5 - 0.3 * t + 0.2 * t * t - 0.02 * t * t * t; };
  std::vector<float> low(n);
  for (size_t i = 0; i < n; ++i) low[i] = static_cast<float>(cubic(double(i)));
  std::vector<double> ref(n * r);
  for (size_t i = 0; i < n * r; ++i) ref[i] = cubic(double(i) / r);
  // Not-a-knot reproduces cubics exactly; the knots carry float32 rounding of values up to ~30,
  // which the spline passes on amplified by at most a small factor.
  SR_REQUIRE_CLOSE(sr::spline_upsample(low, r), ref, 1e-5, 1e-5);
}

TEST_CASE("spline_upsample small n: constant, line, parabola", "[io][spline]") {
  REQUIRE(sr::spline_upsample({2.5f}, 3) == std::vector<float>{2.5f, 2.5f, 2.5f});
  SR_REQUIRE_CLOSE(sr::spline_upsample({1.0f, 3.0f}, 2), (std::vector<double>{1, 2, 3, 4}), 1e-6,
                   1e-6);
  // y = t^2 at t = 0, 1, 2, evaluated at t = k/2 (the last sample extrapolates to t = 2.5).
  SR_REQUIRE_CLOSE(sr::spline_upsample({0.0f, 1.0f, 4.0f}, 2),
                   (std::vector<double>{0, 0.25, 1, 2.25, 4, 6.25}), 1e-6, 1e-6);
}

TEST_CASE("spline_upsample refuses bad arguments", "[io][spline]") {
  REQUIRE_THROWS_AS(sr::spline_upsample({}, 2), sr::Error);
  REQUIRE_THROWS_AS(sr::spline_upsample({1.0f, 2.0f}, 0), sr::Error);
}
