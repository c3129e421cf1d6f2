// Long-term spectrum and the cliff search of bandwidth.h.
#include "sr/dsp/bandwidth.h"

#include <algorithm>
#include <cmath>

#include "core/power_spectrum.h"
#include "sr/error.h"

namespace sr {

BandEstimate band_from_spectrum(const std::vector<double>& mean_power, double rate,
                                double min_drop_db) {
  SR_CHECK(mean_power.size() >= 8 && rate > 0, "spectrum too short");
  const int64_t bins = static_cast<int64_t>(mean_power.size());
  const double hz_per_bin = rate / 2 / (bins - 1);
  BandEstimate e;
  e.rate = rate;
  e.band_hz = e.edge_hz = rate / 2;
  double peak = 0;
  for (double p : mean_power) peak = std::max(peak, p);
  if (!(peak > 0)) {
    e.silent = true;
    return e;
  }
  // Levels in dB relative to the peak, floored 200 dB down (digital silence).
  std::vector<double> level(bins);
  for (int64_t k = 0; k < bins; ++k)
    level[k] = 10 * std::log10(std::max(mean_power[k] / peak, 1e-20));
  std::vector<double> max_above(bins + 1, -1e9);  // max of level[k..]
  for (int64_t k = bins - 1; k >= 0; --k) max_above[k] = std::max(max_above[k + 1], level[k]);

  // Drop(k): the level just below k over everything clearly above it.
  const int64_t k_min = std::max<int64_t>(4, static_cast<int64_t>(std::ceil(200 / hz_per_bin)));
  std::vector<double> drop(bins, -1e9);
  double best = -1e9;
  int64_t best_k = -1;
  for (int64_t k = k_min; k < bins; ++k) {
    const int64_t below = std::max<int64_t>(2, std::llround(0.03 * k));
    const int64_t guard = std::max<int64_t>(3, std::llround(0.05 * k));
    if (k + guard >= bins) break;
    double just_below = -1e9;
    for (int64_t j = k - below; j <= k; ++j) just_below = std::max(just_below, level[j]);
    drop[k] = just_below - max_above[k + guard];
    if (drop[k] > best) {
      best = drop[k];
      best_k = k;
    }
  }
  if (best_k < 0 || best < min_drop_db) return e;
  // The cliff's plateau: from the best bin, the highest bin still within 3 dB of the deepest drop
  // is where the content ends.
  int64_t k = best_k;
  while (k + 1 < bins && drop[k + 1] >= best - 3.0) ++k;
  // Gentle filters (decimate's Chebyshev) roll off over several percent before the floor: the
  // band ends where the level (max over +-1.5 %) falls 6 dB below the level a little lower down
  // (power mean over 80-92 % of the cliff), so the kept band holds only full-level content.
  const int64_t ref_lo = static_cast<int64_t>(0.80 * k), ref_hi = static_cast<int64_t>(0.92 * k);
  double ref_power = 0;
  for (int64_t j = ref_lo; j <= ref_hi; ++j) ref_power += std::pow(10.0, level[j] / 10);
  const double ref_level = 10 * std::log10(ref_power / (ref_hi - ref_lo + 1));
  int64_t top = ref_hi;
  for (int64_t j = ref_hi; j <= k; ++j) {
    const int64_t w = std::max<int64_t>(1, std::llround(0.015 * j));
    double local = -1e9;
    for (int64_t i = j - w; i <= std::min(j + w, bins - 1); ++i) local = std::max(local, level[i]);
    if (local >= ref_level - 6.0) top = j;
  }
  e.band_hz = top * hz_per_bin;
  e.edge_hz = k * hz_per_bin;
  e.drop_db = best;
  return e;
}

BandwidthEstimator::BandwidthEstimator(int rate, int channels) : rate_(rate), channels_(channels) {
  if (rate <= 0 || channels <= 0) fail("bandwidth: bad rate ", rate, " or channels ", channels);
  n_fft_ = 256;
  while (n_fft_ < rate / 16 && n_fft_ < (1 << 16)) n_fft_ *= 2;  // bins of at most ~16 Hz
  fft_ = std::make_unique<HannPowerSpectrum>(n_fft_);
  power_.assign(static_cast<size_t>(n_fft_ / 2 + 1), 0.0);
  frame_power_.resize(power_.size());
}

BandwidthEstimator::~BandwidthEstimator() = default;

void BandwidthEstimator::add_frame(const float* frame_start) {
  for (int c = 0; c < channels_; ++c) {
    double* frame = fft_->frame();
    for (int i = 0; i < n_fft_; ++i) frame[i] = frame_start[static_cast<size_t>(i) * channels_ + c];
    fft_->power(frame_power_.data());
    for (size_t k = 0; k < power_.size(); ++k) power_[k] += frame_power_[k];
  }
  ++frames_;
}

void BandwidthEstimator::push(const float* frames, size_t count) {
  pending_.insert(pending_.end(), frames, frames + count * channels_);
  const size_t frame = static_cast<size_t>(n_fft_) * channels_, hop = frame / 2;
  size_t start = 0;
  for (; start + frame <= pending_.size(); start += hop) add_frame(&pending_[start]);
  pending_.erase(pending_.begin(), pending_.begin() + start);
}

BandEstimate BandwidthEstimator::estimate() const {
  if (frames_ == 0) {  // shorter than one frame: one zero-padded frame
    std::vector<float> padded(pending_);
    padded.resize(static_cast<size_t>(n_fft_) * channels_, 0.0f);
    BandwidthEstimator once(rate_, channels_);
    once.add_frame(padded.data());
    return band_from_spectrum(once.power_, rate_);
  }
  return band_from_spectrum(power_, rate_);  // the sum over frames: the cliff is a ratio
}

}  // namespace sr
