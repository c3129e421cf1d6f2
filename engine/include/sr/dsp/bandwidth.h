// Effective bandwidth of a recording: the highest frequency with real content, found as the top
// of the steepest deep cliff in its long-term spectrum. A band-limited signal (resampled,
// decimated, telephone, codec low-pass) ends in a cliff of tens of dB within a few percent of its
// cutoff, followed by whatever floor is left (dither, noise, a resampler's stop band, a codec's
// shelf); natural spectra fall gradually. Without such a cliff the band is the file's Nyquist.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sr {

class HannPowerSpectrum;

struct BandEstimate {
  double rate = 0;     // of the analysed signal
  double band_hz = 0;  // highest frequency with full-level content; rate / 2 without a cliff
  double edge_hz = 0;  // where the cliff reaches the floor: nothing above; rate / 2 without one
  double drop_db = 0;  // depth of the cliff at band_hz (0 without one)
  bool cliff() const { return drop_db > 0; }
  bool silent = false;  // no energy at all (the band is then reported as rate / 2)
};

// Finds the band in a long-term power spectrum: mean_power[k] for bins k = 0 .. n_fft / 2 of
// frames at `rate`. A cliff counts when the level just below a frequency (max over 3 % of it) is
// at least `min_drop_db` above everything from 5 % higher up to Nyquist.
BandEstimate band_from_spectrum(const std::vector<double>& mean_power, double rate,
                                double min_drop_db = 20.0);

// Accumulates the long-term spectrum of a stream (Hann frames of about 16 Hz resolution, half
// overlap, channels' powers summed) in constant memory.
class BandwidthEstimator {
 public:
  BandwidthEstimator(int rate, int channels);
  ~BandwidthEstimator();
  BandwidthEstimator(const BandwidthEstimator&) = delete;
  BandwidthEstimator& operator=(const BandwidthEstimator&) = delete;
  void push(const float* frames, size_t count);  // interleaved
  BandEstimate estimate() const;                 // of everything pushed so far

 private:
  void add_frame(const float* frame_start);  // interleaved frame of n_fft_ samples per channel

  int rate_, channels_, n_fft_;
  std::unique_ptr<HannPowerSpectrum> fft_;
  std::vector<float> pending_;  // interleaved, not yet a full frame
  std::vector<double> power_;   // summed over frames
  std::vector<double> frame_power_;
  int64_t frames_ = 0;
};

}  // namespace sr
