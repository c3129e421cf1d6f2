// Streaming super-resolution of arbitrarily long signals in bounded memory: low-rate samples in,
// spline-interpolated and network-refined high-rate samples out. Memory depends on the patch
// length and batch, never on the signal length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "sr/network.h"

namespace sr {

struct UpsampleOptions {
  int ratio = 2;     // r: high rate = r x low rate
  int overlap = -1;  // high-rate samples shared by neighbouring patches (crossfaded); -1 = patch/8;
                     // 0 = the originals' tiling, zero padding included
  int batch = 4;     // patches per network call (per channel)
};

class Upsampler {
 public:
  // Receives finished high-rate frames, interleaved like the input.
  using Sink = std::function<void(const float* frames, size_t count)>;

  Upsampler(Network& network, int channels, const UpsampleOptions& options);
  // Low-rate frames at the model's low rate, interleaved.
  void push(const float* frames, size_t count, const Sink& sink);
  // Ends the signal; emits everything that is left. Output length = input length x r.
  void finish(const Sink& sink);

  int64_t patches_done() const { return next_patch_ * channels_; }
  int overlap() const { return overlap_; }

 private:
  bool ready() const;
  void run_group(const Sink& sink);
  void emit(int64_t until, const Sink& sink);
  int64_t patch_count() const;  // known once the input has ended
  int64_t knots_end() const;    // low-rate samples the spline sees (zero padding included)

  Network& net_;
  const int channels_, r_, patch_, batch_;
  int overlap_, hop_;
  std::vector<std::vector<float>> low_;  // per channel, low-rate samples from low_base_
  int64_t low_base_ = 0, low_count_ = 0;
  bool ended_ = false;
  int64_t high_total_ = 0;  // output length, known once ended
  int64_t next_patch_ = 0;
  std::vector<std::vector<double>> acc_, weight_;  // per channel, high-rate from out_base_
  int64_t out_base_ = 0;
  std::vector<float> window_, batch_in_, batch_out_, interleave_;
};

}  // namespace sr
