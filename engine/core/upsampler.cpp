#include "sr/upsampler.h"

#include <algorithm>

#include "sr/error.h"
#include "sr/io/spline.h"

namespace sr {

namespace {
// Low-rate knots beyond each end of a spline window. The influence of a knot on a cubic spline
// decays by 2 - sqrt(3) ~ 0.27 per knot, so 48 knots make windowed and whole-signal splines agree
// to far below float precision.
constexpr int64_t kSplineMargin = 48;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
}  // namespace

Upsampler::Upsampler(Network& network, int channels, const UpsampleOptions& options)
    : net_(network),
      channels_(channels),
      r_(options.ratio),
      patch_(network.config().patch_length),
      batch_(options.batch) {
  SR_CHECK(channels_ > 0, "no channels");
  if (r_ < 1) fail("upscaling ratio must be at least 1, got ", r_);
  if (batch_ < 1) fail("batch must be at least 1, got ", batch_);
  overlap_ = options.overlap < 0 ? patch_ / 8 : options.overlap;
  if (overlap_ > patch_ / 2)
    fail("overlap ", overlap_, " must be at most half the patch length (", patch_, ")");
  if (overlap_ == 0 && patch_ % r_ != 0)
    fail("--overlap 0 pads like the originals and needs the patch length (", patch_,
         ") to be a multiple of r = ", r_);
  hop_ = patch_ - overlap_;
  low_.assign(channels_, {});
  acc_.assign(channels_, {});
  weight_.assign(channels_, {});
  // Crossfade window: linear ramps over the overlaps; outputs are normalised by the summed
  // weights, so the first and last samples of the signal keep full weight.
  window_.assign(patch_, 1.0f);
  for (int t = 0; t < overlap_; ++t) {
    float w = (t + 0.5f) / overlap_;
    window_[t] = std::min(window_[t], w);
    window_[patch_ - 1 - t] = std::min(window_[patch_ - 1 - t], w);
  }
}

int64_t Upsampler::knots_end() const {
  if (!ended_) return low_count_;
  if (overlap_ == 0) {
    // The originals zero-pad the high-rate signal to a multiple of the patch, adding a whole patch
    // when it already is one, before subsampling and interpolating.
    return (high_total_ / patch_ + 1) * patch_ / r_;
  }
  return low_count_;
}

int64_t Upsampler::patch_count() const {
  if (overlap_ == 0) return knots_end() * r_ / patch_;
  if (high_total_ <= patch_) return 1;
  return ceil_div(high_total_ - patch_, hop_) + 1;
}

bool Upsampler::ready() const {
  if (ended_) return next_patch_ < patch_count();
  const int64_t end = (next_patch_ + batch_ - 1) * hop_ + patch_;
  return ceil_div(end, r_) + kSplineMargin + 1 <= low_count_;
}

void Upsampler::push(const float* frames, size_t count, const Sink& sink) {
  SR_CHECK(!ended_, "push after finish");
  for (int c = 0; c < channels_; ++c) {
    auto& low = low_[c];
    for (size_t i = 0; i < count; ++i) low.push_back(frames[i * channels_ + c]);
  }
  low_count_ += static_cast<int64_t>(count);
  while (ready()) run_group(sink);
}

void Upsampler::finish(const Sink& sink) {
  if (ended_) return;
  if (low_count_ == 0) fail("no audio to upsample");
  ended_ = true;
  high_total_ = low_count_ * r_;
  while (ready()) run_group(sink);
  emit(high_total_, sink);
}

void Upsampler::run_group(const Sink& sink) {
  const int64_t first = next_patch_;
  const int64_t count = ended_ ? std::min<int64_t>(batch_, patch_count() - first) : batch_;
  const int64_t start = first * hop_;  // high-rate range of this group
  const int64_t end = (first + count - 1) * hop_ + patch_;
  const int64_t signal_end = overlap_ == 0 ? knots_end() * r_ : (ended_ ? high_total_ : end);

  // Spline over a window of knots around the group; at the true ends the window ends too.
  const int64_t knot_lo = std::max<int64_t>(0, start / r_ - kSplineMargin);
  const int64_t knot_hi = std::min(knots_end(), ceil_div(end, r_) + kSplineMargin + 1);
  const int64_t batch = static_cast<int64_t>(batch_) * channels_;
  batch_in_.assign(static_cast<size_t>(batch * patch_), 0.0f);
  batch_out_.resize(batch_in_.size());
  for (int c = 0; c < channels_; ++c) {
    std::vector<float> knots(static_cast<size_t>(knot_hi - knot_lo), 0.0f);
    for (int64_t k = knot_lo; k < std::min(knot_hi, low_count_); ++k)
      knots[k - knot_lo] = low_[c][k - low_base_];  // beyond low_count_: the originals' zeros
    std::vector<float> dense = spline_upsample(knots, r_);
    const int64_t dense_base = knot_lo * r_;
    for (int64_t p = 0; p < count; ++p) {
      float* row = &batch_in_[((p * channels_) + c) * patch_];
      for (int64_t t = 0; t < patch_; ++t) {
        int64_t pos = (first + p) * hop_ + t;
        if (pos < signal_end) row[t] = dense[pos - dense_base];
      }
    }
  }

  net_.forward(batch_in_.data(), batch, patch_, batch_out_.data());

  // Crossfade into the accumulators, which start at out_base_.
  for (int c = 0; c < channels_; ++c) {
    auto& acc = acc_[c];
    auto& weight = weight_[c];
    if (static_cast<int64_t>(acc.size()) < end - out_base_) {
      acc.resize(end - out_base_, 0.0);
      weight.resize(end - out_base_, 0.0);
    }
    for (int64_t p = 0; p < count; ++p) {
      const float* row = &batch_out_[((p * channels_) + c) * patch_];
      const int64_t base = (first + p) * hop_ - out_base_;
      for (int64_t t = 0; t < patch_; ++t) {
        acc[base + t] += static_cast<double>(window_[t]) * row[t];
        weight[base + t] += window_[t];
      }
    }
  }
  next_patch_ = first + count;

  // Everything before the next patch's start is final; low-rate samples the next window no
  // longer reaches are dropped.
  emit(ended_ ? std::min(next_patch_ * hop_, high_total_) : next_patch_ * hop_, sink);
  const int64_t keep_from =
      std::clamp<int64_t>(next_patch_ * hop_ / r_ - kSplineMargin - 1, low_base_, low_count_);
  if (keep_from > low_base_) {
    for (auto& low : low_) low.erase(low.begin(), low.begin() + (keep_from - low_base_));
    low_base_ = keep_from;
  }
}

void Upsampler::emit(int64_t until, const Sink& sink) {
  if (until <= out_base_) return;
  const int64_t n = until - out_base_;
  interleave_.resize(static_cast<size_t>(n * channels_));
  for (int c = 0; c < channels_; ++c) {
    for (int64_t t = 0; t < n; ++t) {
      double w = t < static_cast<int64_t>(weight_[c].size()) ? weight_[c][t] : 0.0;
      interleave_[t * channels_ + c] = w > 0 ? static_cast<float>(acc_[c][t] / w) : 0.0f;
    }
    const int64_t drop = std::min<int64_t>(n, acc_[c].size());
    acc_[c].erase(acc_[c].begin(), acc_[c].begin() + drop);
    weight_[c].erase(weight_[c].begin(), weight_[c].begin() + drop);
  }
  out_base_ = until;
  sink(interleave_.data(), static_cast<size_t>(n));
}

}  // namespace sr
