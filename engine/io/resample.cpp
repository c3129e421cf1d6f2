// Band-limited sample-rate conversion with libsoxr (high quality preset), one channel.
#include "sr/io/resample.h"

#include <soxr.h>

#include <cstdint>

#include "sr/error.h"

namespace sr {

// x: (n,) at in_rate -> (round(n * out_rate / in_rate),) at out_rate
std::vector<float> resample(const std::vector<float>& x, int in_rate, int out_rate) {
  if (in_rate <= 0 || out_rate <= 0)
    fail("resample: sample rates must be positive (got ", in_rate, " -> ", out_rate, ")");
  if (in_rate == out_rate || x.empty()) return x;
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t out_len = (n * out_rate + in_rate / 2) / in_rate;  // round half up
  std::vector<float> y(static_cast<size_t>(out_len), 0.0f);
  if (out_len == 0) return y;

  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, x.data(), x.size(), nullptr, y.data(),
                                  y.size(), &done, &io, &quality, nullptr);
  if (err) fail("resample ", in_rate, " -> ", out_rate, " Hz failed: ", err);
  // soxr may stop a sample short of the rounded length; that tail stays zero (it is at most one
  // sample past the end of the input signal).
  return y;
}

}  // namespace sr
