// The added-band limiter of limiter.h.
#include "sr/dsp/limiter.h"

#include <algorithm>
#include <cmath>

#include "sr/error.h"

namespace sr {

AddedBandLimiter::AddedBandLimiter(int channels, int window_frames, float ceiling)
    : channels_(channels), window_(window_frames), ceiling_(ceiling) {
  SR_CHECK(channels > 0 && window_frames >= 0 && ceiling > 0 && ceiling <= 1, "limiter settings");
  // Before the signal the needed gain is 1: 2 * window frames of history.
  base_ = -2 * window_;
  need_.assign(static_cast<size_t>(2 * window_), 1.0f);
  kept_.assign(need_.size() * channels_, 0.0f);
  added_.assign(need_.size() * channels_, 0.0f);
}

void AddedBandLimiter::push(const float* kept, const float* added, size_t count,
                            std::vector<float>& out) {
  SR_CHECK(!ended_, "push after finish");
  for (size_t f = 0; f < count; ++f) {
    float need = 1.0f;
    for (int c = 0; c < channels_; ++c) {
      const float k = kept[f * channels_ + c], a = added[f * channels_ + c];
      if (std::abs(k + a) <= ceiling_) continue;
      // Largest g with |k + g a| <= ceiling; 0 when the kept band alone is over it.
      float g = 0.0f;
      if (std::abs(k) < ceiling_ && a != 0.0f) g = ((a > 0 ? ceiling_ : -ceiling_) - k) / a;
      need = std::min(need, std::clamp(g, 0.0f, 1.0f));
    }
    need_.push_back(need);
  }
  kept_.insert(kept_.end(), kept, kept + count * channels_);
  added_.insert(added_.end(), added, added + count * channels_);
  total_ += static_cast<int64_t>(count);
  emit_until(total_ - 2 * window_, out);
}

void AddedBandLimiter::finish(std::vector<float>& out) {
  if (ended_) return;
  ended_ = true;
  const int64_t real_total = total_;
  // After the signal the needed gain is 1 as well.
  need_.insert(need_.end(), static_cast<size_t>(2 * window_), 1.0f);
  kept_.insert(kept_.end(), static_cast<size_t>(2 * window_) * channels_, 0.0f);
  added_.insert(added_.end(), static_cast<size_t>(2 * window_) * channels_, 0.0f);
  total_ += 2 * window_;
  emit_until(real_total, out);
}

void AddedBandLimiter::emit_until(int64_t end, std::vector<float>& out) {
  // Output frame t needs the needed gains of frames t - 2w .. t + 2w (all present: t + 2w < total).
  auto need_at = [&](int64_t i) { return need_[static_cast<size_t>(i - base_)]; };
  for (; next_out_ < end; ++next_out_) {
    const int64_t t = next_out_;
    double gain = 1.0;
    bool any = false;
    for (int64_t i = t - 2 * window_; i <= t + 2 * window_ && !any; ++i) any = need_at(i) < 1.0f;
    if (any) {  // mean over u in t +- w of (min over t +- w around u)
      double sum = 0;
      for (int64_t u = t - window_; u <= t + window_; ++u) {
        float m = 1.0f;
        for (int64_t i = u - window_; i <= u + window_; ++i) m = std::min(m, need_at(i));
        sum += m;
      }
      gain = sum / (2 * window_ + 1);
      ++limited_frames_;
      min_gain_ = std::min(min_gain_, gain);
    }
    const size_t at = static_cast<size_t>(t - base_) * channels_;
    for (int c = 0; c < channels_; ++c) {
      float y = kept_[at + c] + static_cast<float>(gain) * added_[at + c];
      if (std::abs(y) > 1.0f) {
        y = y > 0 ? 1.0f : -1.0f;
        ++clamped_samples_;
      }
      out.push_back(y);
    }
  }
  const int64_t keep_from = next_out_ - 2 * window_;
  if (keep_from > base_) {
    const size_t drop = static_cast<size_t>(keep_from - base_);
    need_.erase(need_.begin(), need_.begin() + drop);
    kept_.erase(kept_.begin(), kept_.begin() + drop * channels_);
    added_.erase(added_.begin(), added_.begin() + drop * channels_);
    base_ = keep_from;
  }
}

}  // namespace sr
