// Keeps the network's added band from pushing a recording over full scale. The output is
// kept + g * added, where kept is the user's own band (never altered) and g in [0, 1] is one gain
// per frame, shared by the channels: the largest gain that keeps every sample within the ceiling,
// then a minimum over +-window frames and a moving average over +-window frames (so the smoothed
// gain never exceeds the gain a sample needs, and changes without clicks). Where the kept band
// alone exceeds full scale (an input that was already clipped, plus the overshoot of band-limiting
// it), the sample is clamped to +-1 and counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sr {

class AddedBandLimiter {
 public:
  AddedBandLimiter(int channels, int window_frames, float ceiling = 0.99f);
  // kept, added: `count` interleaved frames each; appends finished output frames to `out`.
  void push(const float* kept, const float* added, size_t count, std::vector<float>& out);
  void finish(std::vector<float>& out);

  int64_t limited_frames() const { return limited_frames_; }  // frames with g < 1
  double min_gain() const { return min_gain_; }
  int64_t clamped_samples() const { return clamped_samples_; }  // kept band alone over full scale

 private:
  void emit_until(int64_t end, std::vector<float>& out);

  int channels_, window_;
  float ceiling_;
  // From frame base_ on: interleaved kept and added frames and the gain each frame needs.
  std::vector<float> kept_, added_, need_;
  int64_t base_ = 0, total_ = 0, next_out_ = 0;
  bool ended_ = false;
  int64_t limited_frames_ = 0, clamped_samples_ = 0;
  double min_gain_ = 1.0;
};

}  // namespace sr
