// The dropout mask: the integer threshold form the CPU ops use against the definition shared with
// the CUDA kernel (u = top 53 bits of splitmix64(seed, index) / 2^53, kept when u >= rate), over
// fresh seeds, many indices and rates including the ends; and the kept share near 1 - rate.
#include <cstdint>
#include <random>

#include "cpu/cpu_ops.h"
#include "test_util.h"

namespace {

bool keep_by_definition(uint64_t seed, uint64_t index, float rate) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
  return u >= rate;
}

}  // namespace

TEST_CASE("dropout mask: integer threshold equals the floating-point definition",
          "[cpu][dropout]") {
  std::mt19937_64 rng(20261207);
  std::uniform_real_distribution<float> any_rate(0.0f, 1.0f);
  std::vector<float> rates = {0.0f, 0.5f, 0.2f, 1.0f, 1e-7f, 0.9999999f};
  for (int i = 0; i < 20; ++i) rates.push_back(any_rate(rng));
  for (float rate : rates) {
    const uint64_t seed = rng(), threshold = sr::cpu::dropout_threshold(rate);
    int64_t kept = 0, mismatches = 0;
    const int64_t n = 200000;
    for (int64_t i = 0; i < n; ++i) {
      const bool fast = sr::cpu::dropout_keep_below(seed, i, threshold);
      mismatches += fast != keep_by_definition(seed, i, rate);
      kept += fast;
    }
    INFO("rate " << rate);
    REQUIRE(mismatches == 0);
    // Binomial: the kept share is within 5 standard deviations of 1 - rate.
    const double p = 1.0 - rate, sd = std::sqrt(p * (1 - p) / n);
    REQUIRE(std::fabs(static_cast<double>(kept) / n - p) <= 5 * sd + 1e-12);
  }
  // The boundary itself: k = threshold is kept, k = threshold - 1 is not, which is what u >= rate
  // says for k / 2^53 on either side of rate 2^53.
  REQUIRE(sr::cpu::dropout_threshold(0.5f) == (uint64_t{1} << 52));
  REQUIRE(sr::cpu::dropout_threshold(1.0f) == (uint64_t{1} << 53));
}
