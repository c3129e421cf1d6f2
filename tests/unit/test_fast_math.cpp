// The vectorisable exp / sigmoid / tanh of the LSTM gates (engine/cpu/fast_math.h) against double
// on a dense grid and at the ends of the range, with the error bounds the header promises.
#include <algorithm>
#include <cmath>

#include "cpu/fast_math.h"
#include "test_util.h"

namespace {

// Every 1/4096 over [-90, 90] plus points just around 0 (where tanh's relative error would show).
template <typename F>
void for_grid(F&& check) {
  for (int i = -90 * 4096; i <= 90 * 4096; ++i) check(static_cast<float>(i) / 4096.0f);
  for (int e = -40; e <= -1; ++e) {
    check(std::ldexp(1.0f, e));
    check(-std::ldexp(1.0f, e));
  }
}

}  // namespace

TEST_CASE("fast_exp is within a few ulp of exp where exp is a normal float", "[fast_math]") {
  double worst = 0;
  for_grid([&](float x) {
    if (x < -87.0f || x > 88.0f) return;
    const double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(sr::cpu::fast_exp(x) - ref) / ref);
  });
  CAPTURE(worst);
  REQUIRE(worst < 3e-7);  // 2.5 ulp: polynomial (3e-9) + Cody-Waite reduction + final rounding
  // Beyond the clamp it saturates instead of overflowing or going denormal.
  REQUIRE(std::isfinite(sr::cpu::fast_exp(1000.0f)));
  REQUIRE(sr::cpu::fast_exp(-1000.0f) > 0.0f);
  REQUIRE(sr::cpu::fast_exp(-1000.0f) < 1e-37f);
}

TEST_CASE("fast_sigmoid and fast_tanh are within 3e-7 of the exact functions", "[fast_math]") {
  double worst_sigmoid = 0, worst_tanh = 0;
  for_grid([&](float x) {
    const double xd = x;
    worst_sigmoid =
        std::max(worst_sigmoid, std::abs(sr::cpu::fast_sigmoid(x) - 1.0 / (1.0 + std::exp(-xd))));
    worst_tanh = std::max(worst_tanh, std::abs(sr::cpu::fast_tanh(x) - std::tanh(xd)));
  });
  CAPTURE(worst_sigmoid, worst_tanh);
  // Absolute bounds: the outputs lie in (0, 1) and (-1, 1), where a float ulp is at most 6e-8.
  REQUIRE(worst_sigmoid < 2e-7);
  REQUIRE(worst_tanh < 3e-7);
  REQUIRE(sr::cpu::fast_tanh(0.0f) == 0.0f);
  REQUIRE(sr::cpu::fast_tanh(50.0f) == 1.0f);
  REQUIRE(sr::cpu::fast_tanh(-50.0f) == -1.0f);
  REQUIRE(sr::cpu::fast_sigmoid(-100.0f) >= 0.0f);
}
