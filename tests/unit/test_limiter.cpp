// The added-band limiter (engine/dsp/limiter.h): the user's band is never changed, the output
// stays within the ceiling where the kept band allows, and the gain is smooth and shared.
#include <cmath>
#include <vector>

#include "sr/dsp/limiter.h"
#include "test_util.h"

TEST_CASE("AddedBandLimiter keeps quiet signals exactly and caps hot ones", "[dsp][limiter]") {
  const int channels = 2, n = 4000, window = 16;
  std::vector<float> kept(n * channels), added(n * channels);
  const std::vector<float> noise = sr::test::random_vector(n * channels, 21, 0.2f);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c) {
      kept[i * channels + c] = 0.8f * std::sin(0.01f * i + c);
      added[i * channels + c] = noise[i * channels + c];
    }
  sr::AddedBandLimiter limiter(channels, window, 0.99f);
  std::vector<float> out;
  for (int at = 0; at < n; at += 333)
    limiter.push(&kept[at * channels], &added[at * channels], std::min(333, n - at), out);
  limiter.finish(out);
  REQUIRE(out.size() == kept.size());
  REQUIRE(limiter.limited_frames() > 0);
  REQUIRE(limiter.clamped_samples() == 0);
  double max_out = 0;
  for (int i = 0; i < n; ++i) {
    // One gain per frame, shared by both channels, in [0, 1].
    double gain = -1;
    for (int c = 0; c < channels; ++c) {
      const size_t k = i * channels + c;
      max_out = std::max(max_out, double(std::abs(out[k])));
      if (std::abs(added[k]) > 1e-2) {  // the gain read back through float rounding: ~1e-5
        const double g = (out[k] - kept[k]) / added[k];
        REQUIRE(g >= -1e-4);
        REQUIRE(g <= 1 + 1e-4);
        if (gain >= 0) REQUIRE(std::abs(g - gain) < 1e-3);
        gain = g;
      }
    }
    // Where nothing within 2 windows needs limiting, the output is kept + added exactly.
    bool quiet = true;
    for (int j = std::max(0, i - 2 * window); j <= std::min(n - 1, i + 2 * window); ++j)
      for (int c = 0; c < channels; ++c)
        quiet &= std::abs(kept[j * channels + c] + added[j * channels + c]) <= 0.99f;
    if (quiet)
      for (int c = 0; c < channels; ++c)
        REQUIRE(out[i * channels + c] == kept[i * channels + c] + added[i * channels + c]);
  }
  REQUIRE(max_out <= 0.99 + 1e-6);
}

TEST_CASE("AddedBandLimiter clamps and counts a kept band over full scale", "[dsp][limiter]") {
  const std::vector<float> kept = {0.5f, 1.2f, -1.3f, 0.2f}, added = {0.1f, 0.1f, 0.1f, 0.1f};
  sr::AddedBandLimiter limiter(1, 1, 0.99f);
  std::vector<float> out;
  limiter.push(kept.data(), added.data(), kept.size(), out);
  limiter.finish(out);
  REQUIRE(out.size() == 4);
  REQUIRE(out[1] == 1.0f);
  REQUIRE(out[2] == -1.0f);
  REQUIRE(limiter.clamped_samples() == 2);
  for (float v : out) REQUIRE(std::abs(v) <= 1.0f);
}
