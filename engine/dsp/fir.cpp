// FIR design (Kaiser-windowed sinc, zero-phase equivalents of IIR filters) and the streaming
// zero-phase filter.
#include "sr/dsp/fir.h"

#include <algorithm>
#include <cmath>

#include "sr/error.h"

namespace sr {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Modified Bessel function of the first kind, order 0 (power series; converges for the Kaiser
// window's arguments, at most ~15).
double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  for (int k = 1; k < 200; ++k) {
    term *= (x / (2.0 * k)) * (x / (2.0 * k));
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return sum;
}

}  // namespace

std::vector<float> lowpass_taps(double cutoff_hz, double transition_hz, double rate,
                                double stop_db) {
  if (!(rate > 0) || !(cutoff_hz > 0) || !(cutoff_hz < rate / 2) || !(transition_hz > 0))
    fail("low-pass design: cutoff ", cutoff_hz, " Hz and transition ", transition_hz,
         " Hz do not fit a rate of ", rate, " Hz");
  // Kaiser's formulas for the window's shape and length.
  const double beta = stop_db > 50
                          ? 0.1102 * (stop_db - 8.7)
                          : 0.5842 * std::pow(stop_db - 21, 0.4) + 0.07886 * (stop_db - 21);
  const double width = 2 * kPi * transition_hz / rate;
  int64_t half = static_cast<int64_t>(std::ceil((stop_db - 7.95) / (2.285 * width) / 2));
  half = std::max<int64_t>(half, 1);
  if (half > (1 << 16))
    fail("low-pass design: a ", transition_hz, " Hz transition at ", rate,
         " Hz needs too long a filter");
  const double fc = cutoff_hz / rate;  // cycles per sample
  std::vector<double> h(2 * half + 1);
  double sum = 0;
  for (int64_t n = -half; n <= half; ++n) {
    const double t = static_cast<double>(n) / half;
    const double window = bessel_i0(beta * std::sqrt(std::max(0.0, 1 - t * t))) / bessel_i0(beta);
    const double sinc = n == 0 ? 2 * fc : std::sin(2 * kPi * fc * n) / (kPi * n);
    h[n + half] = sinc * window;
    sum += h[n + half];
  }
  std::vector<float> taps(h.size());
  for (size_t i = 0; i < h.size(); ++i) taps[i] = static_cast<float>(h[i] / sum);
  return taps;
}

std::vector<float> filtfilt_taps(const std::vector<Biquad>& sos, int max_half) {
  // Impulse response of the cascade, cut where its tail is negligible.
  std::vector<double> h(static_cast<size_t>(max_half) * 4, 0.0);
  h[0] = 1.0;
  sosfilt(sos, h);
  double energy = 0;
  for (double v : h) energy += v * v;
  double h_tail = 0;
  while (h.size() > 256 && h_tail + h.back() * h.back() < 1e-18 * energy) {
    h_tail += h.back() * h.back();
    h.pop_back();
  }
  if (h.size() > static_cast<size_t>(max_half) * 2)
    fail("filtfilt_taps: the filter's response is longer than ", max_half, " taps each side");
  // Forwards then backwards = the autocorrelation of h; keep lags until the rest is negligible.
  const size_t n = h.size();
  std::vector<double> g;
  double total = 0;
  for (size_t lag = 0; lag < n; ++lag) {
    double acc = 0;
    for (size_t i = 0; i + lag < n; ++i) acc += h[i] * h[i + lag];
    g.push_back(acc);
    total += std::abs(acc);
  }
  size_t half = n - 1;
  double tail = 0;
  while (half > 1 && tail + std::abs(g[half]) < 1e-14 * total) tail += std::abs(g[half--]);
  if (half > static_cast<size_t>(max_half))
    fail("filtfilt_taps: the filter's response is longer than ", max_half, " taps each side");
  std::vector<float> taps(2 * half + 1);
  for (size_t k = 0; k <= half; ++k) taps[half + k] = taps[half - k] = static_cast<float>(g[k]);
  return taps;
}

std::vector<float> periodic_notch_taps(int period, int span) {
  SR_CHECK(period >= 1 && span >= 1, "notch period and span");
  const int half = period * span;
  std::vector<float> taps(2 * half + 1, 0.0f);
  const float share = 1.0f / (2 * span + 1);
  for (int m = -span; m <= span; ++m) taps[half + m * period] -= share;
  taps[half] += 1.0f;
  return taps;
}

ZeroPhaseFir::ZeroPhaseFir(std::vector<float> taps, int channels, int step)
    : taps_(std::move(taps)), channels_(channels), step_(step) {
  SR_CHECK(taps_.size() % 2 == 1, "zero-phase taps must have odd length");
  SR_CHECK(channels_ > 0 && step_ > 0, "bad channels/step");
  half_ = static_cast<int>(taps_.size() / 2);
  size_t nonzero = 0;
  for (float t : taps_) nonzero += t != 0.0f;
  if (3 * nonzero <= taps_.size())
    for (size_t k = 0; k < taps_.size(); ++k)
      if (taps_[k] != 0.0f)
        sparse_at_.push_back(static_cast<int>(k)), sparse_taps_.push_back(taps_[k]);
  // The zeros before the signal: frames -half .. -1.
  history_.assign(static_cast<size_t>(channels_),
                  std::vector<float>(static_cast<size_t>(half_), 0.0f));
  history_base_ = -half_;
}

void ZeroPhaseFir::push(const float* frames, size_t count, std::vector<float>& out) {
  SR_CHECK(!ended_, "push after finish");
  for (int c = 0; c < channels_; ++c) {
    std::vector<float>& h = history_[static_cast<size_t>(c)];
    const size_t at = h.size();
    h.resize(at + count);
    for (size_t f = 0; f < count; ++f) h[at + f] = frames[f * channels_ + c];
  }
  input_count_ += static_cast<int64_t>(count);
  emit_until(input_count_ - half_, out);
}

void ZeroPhaseFir::finish(std::vector<float>& out) {
  if (ended_) return;
  ended_ = true;
  for (auto& h : history_) h.insert(h.end(), static_cast<size_t>(half_), 0.0f);
  emit_until(input_count_, out);
}

void ZeroPhaseFir::emit_until(int64_t end, std::vector<float>& out) {
  const int taps = static_cast<int>(taps_.size()), nonzero = static_cast<int>(sparse_at_.size());
  const float* t = taps_.data();
  const int* sparse_at = sparse_at_.data();
  const float* sparse_taps = sparse_taps_.data();
  for (; next_out_ < end; next_out_ += step_) {
    const size_t first = static_cast<size_t>(next_out_ - half_ - history_base_);
    for (int c = 0; c < channels_; ++c) {
      const float* x = &history_[static_cast<size_t>(c)][first];
      float sum = 0;  // float lanes vectorise; the taps sum to ~1, so float is exact enough
      if (nonzero > 0) {
        for (int i = 0; i < nonzero; ++i) sum += sparse_taps[i] * x[sparse_at[i]];
      } else {
#pragma omp simd reduction(+ : sum)
        for (int k = 0; k < taps; ++k) sum += t[k] * x[k];
      }
      out.push_back(sum);
    }
  }
  // Keep what the next output needs: frames from next_out_ - half on.
  const int64_t keep_from = next_out_ - half_;
  if (keep_from > history_base_) {
    const int64_t drop =
        std::min<int64_t>(keep_from - history_base_, static_cast<int64_t>(history_[0].size()));
    for (auto& h : history_) h.erase(h.begin(), h.begin() + drop);
    history_base_ += drop;
  }
}

}  // namespace sr
