// Takes steady narrow lines (whistles) out of the network's generated band (issue 10: "no steady
// tone more than 6 dB above the local floor"). The U-Net family leaves lines at fixed fractions of
// its rate (its up-sampling and block structure) and images of steady tones of the input; the
// fixed comb notch of the band extender removes the first kind at known frequencies only.
//
// Per channel, a short-time spectrum (periodic Hann, 1/4 hop) of the signal; for every frame and
// bin in [lo_hz, hi_hz] the *steady level* is the median of that bin's dB level over the frames
// within +-window_s / 2 (speech and music move, a line stays: a harmonic that changes pitch or
// stops within half the span does not survive the median; a median of the 20 % quietest levels
// instead, to catch lines in pauses, did worse on the harness); the *local floor* is the median of
// the steady levels over +-floor_hz; a bin whose steady level stands more than threshold_db above
// its floor (or whose neighbour within +-2 bins, the window's main lobe, does) is lowered by the
// excess, at most max_cut_db. The output is the input minus the overlap-added removed part, so a
// signal without lines comes back bit for bit (delayed internally, not in its output frames).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sr {

struct LineSuppressorOptions {
  double lo_hz = 0, hi_hz = 0;  // the bins treated (the generated band)
  double threshold_db = 4.0;    // prominence left alone
  double max_cut_db = 30.0;
  double window_s = 2.0;  // time span of the per-bin median
  double fft_s = 0.128;   // frame length (rounded to a power of two samples)
  double floor_hz = 150.0;
};

class SteadyLineSuppressor {
 public:
  SteadyLineSuppressor(int channels, int rate, const LineSuppressorOptions& options);
  ~SteadyLineSuppressor();
  SteadyLineSuppressor(const SteadyLineSuppressor&) = delete;
  SteadyLineSuppressor& operator=(const SteadyLineSuppressor&) = delete;

  // Appends the output frames that `count` more interleaved input frames complete.
  void push(const float* frames, size_t count, std::vector<float>& out);
  // Ends the input: appends the remaining frames (output length = input length).
  void finish(std::vector<float>& out);

  int fft_size() const;
  double deepest_cut_db() const;  // the largest cut applied so far (0 = none)
  int64_t cut_frames() const;     // analysis frames with any cut

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sr
