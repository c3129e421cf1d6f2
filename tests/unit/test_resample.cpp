// libsoxr resampling: output lengths and a round trip of a band-limited tone.
#include <cmath>
#include <vector>

#include "sr/error.h"
#include "sr/io/resample.h"
#include "test_util.h"

TEST_CASE("resample output length is round(n * out / in)", "[io][resample]") {
  const std::vector<float> x = sr::test::random_vector(1000, 3, 0.5f);
  REQUIRE(sr::resample(x, 16000, 8000).size() == 500);
  REQUIRE(sr::resample(x, 16000, 44100).size() == 2756);  // 2756.25
  REQUIRE(sr::resample(x, 44100, 16000).size() == 363);   // 362.81
  REQUIRE(sr::resample(std::vector<float>(3, 0.1f), 16000, 48000).size() == 9);
  REQUIRE(sr::resample(std::vector<float>(7, 0.1f), 48000, 16000).size() == 2);  // 2.33
  REQUIRE(sr::resample(x, 16000, 16000) == x);
  REQUIRE(sr::resample({}, 16000, 8000).empty());
}

TEST_CASE("resample 16k -> 8k -> 16k keeps a 1 kHz tone", "[io][resample]") {
  const double pi = 3.14159265358979323846;
  std::vector<float> x(16000), x8(8000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * std::sin(2 * pi * i / 16));
  for (size_t i = 0; i < x8.size(); ++i) x8[i] = static_cast<float>(0.5 * std::sin(2 * pi * i / 8));
  const std::vector<float> down = sr::resample(x, 16000, 8000);
  const std::vector<float> back = sr::resample(down, 8000, 16000);
  REQUIRE(back.size() == x.size());
  // Away from the edges (where the filter sees the signal start and stop) HQ soxr keeps ~20 bits
  // (measured error 3e-7); 1e-4 leaves room for other soxr builds and still catches gain, delay
  // and aliasing bugs (a one-sample delay alone is an error of 0.2).
  const size_t edge = 400;
  std::vector<float> mid_down(down.begin() + edge / 2, down.end() - edge / 2);
  std::vector<float> mid_x8(x8.begin() + edge / 2, x8.end() - edge / 2);
  SR_REQUIRE_CLOSE(mid_down, mid_x8, 1e-4, 1e-4);
  std::vector<float> mid_back(back.begin() + edge, back.end() - edge);
  std::vector<float> mid_x(x.begin() + edge, x.end() - edge);
  SR_REQUIRE_CLOSE(mid_back, mid_x, 1e-4, 1e-4);
}

TEST_CASE("resample refuses non-positive rates", "[io][resample]") {
  REQUIRE_THROWS_AS(sr::resample({1.0f}, 0, 8000), sr::Error);
  REQUIRE_THROWS_AS(sr::resample({1.0f}, 16000, -1), sr::Error);
}
