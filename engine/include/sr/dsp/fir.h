// Linear-phase FIR filters for the inference path: their design (windowed sinc; the zero-phase
// equivalent of an IIR run forwards and backwards) and a streaming zero-phase filter over
// interleaved frames. Zero phase: output sample i lines up with input sample i (the filter's delay
// is taken out), so streams filtered this way stay aligned with unfiltered ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sr/io/decimate.h"

namespace sr {

// Symmetric low-pass taps (odd length, unit DC gain): a Kaiser-windowed sinc with its -6 dB point
// at `cutoff_hz`, passing [0, cutoff - transition/2] and stopping [cutoff + transition/2, rate/2]
// by at least `stop_db`.
std::vector<float> lowpass_taps(double cutoff_hz, double transition_hz, double rate,
                                double stop_db = 90.0);

// Symmetric taps equal to running the IIR `sos` forwards and then backwards (scipy's sosfiltfilt
// away from the signal's ends): the autocorrelation of its impulse response, cut where the tail
// holds less than 1e-14 of the energy. Throws if that takes more than `max_half` taps each side.
std::vector<float> filtfilt_taps(const std::vector<Biquad>& sos, int max_half = 1 << 14);

// Symmetric taps that remove what repeats every `period` samples: delta minus the average over
// 2 span + 1 periods (a comb that notches every multiple of rate / period, DC included, each
// about rate / (2 period (2 span + 1)) wide on either side).
std::vector<float> periodic_notch_taps(int period, int span);

// Streaming zero-phase FIR over interleaved frames. Before the first and after the last frame the
// signal is taken as zero. With `step` > 1 only every step-th output frame (0, step, 2 step, ...)
// is computed and emitted: filtering and subsampling in one pass.
class ZeroPhaseFir {
 public:
  ZeroPhaseFir(std::vector<float> taps, int channels, int step = 1);
  // Appends the output frames that `count` more input frames complete.
  void push(const float* frames, size_t count, std::vector<float>& out);
  // Ends the input: appends the remaining output frames (output length = ceil(input / step)).
  void finish(std::vector<float>& out);
  int half_length() const { return half_; }

 private:
  void emit_until(int64_t end, std::vector<float>& out);  // output frames < end

  std::vector<float> taps_;
  // Taps with at most a third non-zero (the comb notches): their positions and values alone.
  std::vector<int> sparse_at_;
  std::vector<float> sparse_taps_;
  int channels_, step_, half_;
  // Input frames from history_base_, one row per channel (planar: each output is one contiguous
  // dot product per channel).
  std::vector<std::vector<float>> history_;
  int64_t history_base_ = 0, input_count_ = 0, next_out_ = 0;
  bool ended_ = false;
};

}  // namespace sr
