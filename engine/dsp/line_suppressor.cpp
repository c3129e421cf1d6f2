// The steady-line suppressor of line_suppressor.h.
//
// Frames: the input is preceded by pad = n - hop zeros, frame j covers padded samples
// [j hop, j hop + n), so every real sample lies in n / hop frames. Frame j's cut is known once
// frames up to j + half_window are analysed; after it is overlap-added, padded samples below
// (j + 1) hop are final.
#include "sr/dsp/line_suppressor.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <deque>
#include <mutex>
#include <new>

#include "core/power_spectrum.h"
#include "sr/error.h"

namespace sr {

namespace {
constexpr double kPi = 3.14159265358979323846;
constexpr int kMainLobeBins = 2;  // periodic Hann: a line spreads over +-2 bins

int power_of_two_near(double x) {
  int n = 2;
  while (n * 2 <= x * 1.5) n *= 2;  // nearest power of two, rounding up from 3/4 of the way
  return std::max(n, 16);
}

// row[0, count) sorted: insert v (count grows by one; room for it is the caller's) or remove one
// element equal to v (the last one if none is, which only NaN levels can cause).
void sorted_insert(float* row, int64_t count, float v) {
  float* at = std::upper_bound(row, row + count, v);
  std::copy_backward(at, row + count, row + count + 1);
  *at = v;
}
void sorted_erase(float* row, int64_t count, float v) {
  float* at = std::min(std::lower_bound(row, row + count, v), row + count - 1);
  std::copy(at + 1, row + count, at);
}

}  // namespace

struct SteadyLineSuppressor::State {
  int channels, n, hop, bins, pad, half_window, floor_bins;
  int k_lo, k_hi;    // bins that may be cut
  int kf_lo, kf_hi;  // bins whose steady level is needed (cut bins, their lobes and floors)
  double threshold_db, max_cut_db;
  std::vector<double> window;
  double ola_norm = 1;  // sum over frames of window^2 at any sample

  // FFTW (double): one real-to-complex and one complex-to-real plan on their own buffers.
  double* real = nullptr;
  fftw_complex* spec = nullptr;
  fftw_plan forward = nullptr, inverse = nullptr;

  // Analysed, not yet final frames from frames_base: per channel, the complex bins k_lo..k_hi.
  std::deque<std::vector<std::complex<double>>> frames;
  int64_t frames_base = 0, next_analyse = 0, next_final = 0;
  // The dB levels of bins kf_lo..kf_hi of the last `ring_size` analysed frames (a window and the
  // frame leaving it), by (channel, bin, frame t % ring_size); and per (channel, bin) the levels
  // of the current window [win_from, win_to], sorted (win_count of 2 half_window + 1 places).
  int ring_size = 0;
  std::vector<float> ring, sorted;
  int64_t win_from = 0, win_to = -1, win_count = 0;

  // Interleaved input and removed part, both from padded frame `base`.
  std::vector<float> input;
  std::vector<double> removed;
  int64_t base = 0, received = 0, next_out = 0, end = -1;  // end: padded length when ended

  std::vector<float> gather, steady, floor_level, cut_db;
  double deepest = 0;
  int64_t cut_frames = 0;

  ~State() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (forward) fftw_destroy_plan(forward);
    if (inverse) fftw_destroy_plan(inverse);
    if (real) fftw_free(real);
    if (spec) fftw_free(spec);
  }

  void analyse(int64_t j) {
    const int nk = k_hi - k_lo + 1, nf = kf_hi - kf_lo + 1;
    std::vector<std::complex<double>> bins_of(static_cast<size_t>(nk) * channels);
    const size_t slot = static_cast<size_t>(j % ring_size);
    for (int c = 0; c < channels; ++c) {
      const float* at = &input[static_cast<size_t>((j * hop - base) * channels + c)];
      for (int i = 0; i < n; ++i) real[i] = window[i] * at[static_cast<size_t>(i) * channels];
      fftw_execute(forward);
      for (int k = k_lo; k <= k_hi; ++k)
        bins_of[static_cast<size_t>(c * nk + k - k_lo)] = {spec[k][0], spec[k][1]};
      for (int k = kf_lo; k <= kf_hi; ++k) {
        const double p = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
        ring[(static_cast<size_t>(c) * nf + (k - kf_lo)) * ring_size + slot] =
            static_cast<float>(10 * std::log10(p + 1e-30));
      }
    }
    frames.push_back(std::move(bins_of));
  }

  // Moves every bin's sorted window to frame j's frames [j - half_window, j + half_window] (cut
  // to [0, last]): the frames leaving first (the ring still holds them), then those entering.
  void advance_window(int64_t j, int64_t last) {
    const int64_t from = std::max<int64_t>(0, j - half_window),
                  to = std::min(last, j + half_window);
    const size_t rows = static_cast<size_t>(channels) * (kf_hi - kf_lo + 1),
                 width = 2 * half_window + 1;
    for (; win_from < from; ++win_from, --win_count)
      for (size_t r = 0; r < rows; ++r)
        sorted_erase(&sorted[r * width], win_count,
                     ring[r * ring_size + static_cast<size_t>(win_from % ring_size)]);
    for (; win_to < to; ++win_count) {
      ++win_to;
      for (size_t r = 0; r < rows; ++r)
        sorted_insert(&sorted[r * width], win_count,
                      ring[r * ring_size + static_cast<size_t>(win_to % ring_size)]);
    }
  }

  // The cut of frame j in channel c (its window in place): cut_db over k_lo..k_hi; false if none.
  bool cut_of(int c) {
    const int nf = kf_hi - kf_lo + 1, nk = k_hi - k_lo + 1;
    const size_t width = 2 * half_window + 1;
    steady.resize(static_cast<size_t>(nf));
    for (int k = 0; k < nf; ++k)
      steady[static_cast<size_t>(k)] =
          sorted[(static_cast<size_t>(c) * nf + k) * width + win_count / 2];
    // The floor: a median over +-floor_bins, slid along the bins the same way.
    floor_level.resize(static_cast<size_t>(nf));
    gather.resize(static_cast<size_t>(2 * floor_bins + 1));
    int in_from = 0, in_to = -1, count = 0;
    for (int k = 0; k < nf; ++k) {
      const int a = std::max(0, k - floor_bins), b = std::min(nf - 1, k + floor_bins);
      for (; in_from < a; ++in_from, --count)
        sorted_erase(gather.data(), count, steady[static_cast<size_t>(in_from)]);
      for (; in_to < b; ++count)
        sorted_insert(gather.data(), count, steady[static_cast<size_t>(++in_to)]);
      floor_level[static_cast<size_t>(k)] = gather[static_cast<size_t>(count / 2)];
    }
    cut_db.assign(static_cast<size_t>(nk), 0.0f);
    bool any = false;
    for (int k = k_lo; k <= k_hi; ++k) {
      float excess = 0;
      for (int d = -kMainLobeBins; d <= kMainLobeBins; ++d) {
        const int i = k + d - kf_lo;
        if (i < 0 || i >= nf) continue;
        excess =
            std::max(excess, steady[static_cast<size_t>(i)] - floor_level[static_cast<size_t>(i)]);
      }
      const double cut = std::min(max_cut_db, static_cast<double>(excess) - threshold_db);
      if (cut > 0) {
        cut_db[static_cast<size_t>(k - k_lo)] = static_cast<float>(cut);
        deepest = std::max(deepest, cut);
        any = true;
      }
    }
    return any;
  }

  void finalise(int64_t j, int64_t last) {
    advance_window(j, last);
    bool any_channel = false;
    const int nk = k_hi - k_lo + 1;
    const auto& f = frames[static_cast<size_t>(j - frames_base)];
    for (int c = 0; c < channels; ++c) {
      if (!cut_of(c)) continue;
      any_channel = true;
      for (int k = 0; k < bins; ++k) spec[k][0] = spec[k][1] = 0;
      for (int k = k_lo; k <= k_hi; ++k) {
        if (cut_db[static_cast<size_t>(k - k_lo)] == 0) continue;
        const double keep = std::pow(10.0, -cut_db[static_cast<size_t>(k - k_lo)] / 20.0);
        const std::complex<double> x = f[static_cast<size_t>(c * nk + k - k_lo)] * (1 - keep);
        spec[k][0] = x.real();
        spec[k][1] = x.imag();
      }
      fftw_execute(inverse);
      double* r = &removed[static_cast<size_t>((j * hop - base) * channels + c)];
      const double scale = 1.0 / (n * ola_norm);
      for (int i = 0; i < n; ++i)
        r[static_cast<size_t>(i) * channels] += real[i] * window[i] * scale;
    }
    if (any_channel) ++cut_frames;
  }

  void emit(int64_t until, std::vector<float>& out) {
    for (; next_out < until; ++next_out) {
      if (next_out < pad) continue;
      const size_t at = static_cast<size_t>((next_out - base) * channels);
      for (int c = 0; c < channels; ++c)
        out.push_back(static_cast<float>(input[at + c] - removed[at + c]));
    }
  }

  // Analyse what the input allows, finalise what the analysis allows, emit, drop the consumed.
  void run(std::vector<float>& out) {
    const int64_t last_frame = end < 0 ? -1 : (end - 1) / hop;  // the last frame holding a sample
    // One frame at a time: the ring holds a window's frames, no more.
    for (;;) {
      const bool more =
          (end < 0 || next_analyse <= last_frame) && next_analyse * hop + n <= received;
      if (more) analyse(next_analyse++);
      const int64_t analysed = next_analyse - 1;
      while (next_final + half_window <= analysed) {
        finalise(next_final, analysed);
        ++next_final;
      }
      if (!more) break;
    }
    if (end >= 0)  // every frame analysed: the rest with their windows cut at the end
      for (; next_final < next_analyse; ++next_final) finalise(next_final, next_analyse - 1);
    emit(end >= 0 && next_final > last_frame ? end : next_final * hop, out);
    while (frames_base < next_final && !frames.empty()) {
      frames.pop_front();
      ++frames_base;
    }
    const int64_t drop = std::min(next_out, next_analyse * hop) - base;
    if (drop > 0) {
      input.erase(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(drop * channels));
      removed.erase(removed.begin(),
                    removed.begin() + static_cast<std::ptrdiff_t>(drop * channels));
      base += drop;
    }
  }

  void append(const float* frames_in, size_t count) {
    input.insert(input.end(), frames_in, frames_in + count * channels);
    removed.resize(input.size(), 0.0);
    received += static_cast<int64_t>(count);
  }
};

SteadyLineSuppressor::SteadyLineSuppressor(int channels, int rate, const LineSuppressorOptions& o)
    : s_(std::make_unique<State>()) {
  SR_CHECK(channels > 0 && rate > 0, "line suppressor: channels and rate must be positive");
  SR_CHECK(o.lo_hz >= 0 && o.hi_hz > o.lo_hz && o.window_s > 0 && o.fft_s > 0 && o.floor_hz > 0 &&
               o.max_cut_db >= 0,
           "line suppressor: invalid settings");
  State& s = *s_;
  s.channels = channels;
  s.n = power_of_two_near(o.fft_s * rate);
  s.hop = s.n / 4;
  s.bins = s.n / 2 + 1;
  s.pad = s.n - s.hop;
  const double bin_hz = static_cast<double>(rate) / s.n;
  s.half_window = std::max(1, static_cast<int>(std::lround(o.window_s / 2 * rate / s.hop)));
  s.floor_bins = std::max(kMainLobeBins + 1, static_cast<int>(std::lround(o.floor_hz / bin_hz)));
  s.k_lo = std::clamp(static_cast<int>(std::ceil(o.lo_hz / bin_hz)), 1, s.bins - 2);
  s.k_hi = std::clamp(static_cast<int>(std::floor(o.hi_hz / bin_hz)), s.k_lo, s.bins - 2);
  s.kf_lo = std::max(1, s.k_lo - kMainLobeBins);
  s.kf_hi = std::min(s.bins - 2, s.k_hi + kMainLobeBins);
  s.ring_size = 2 * s.half_window + 2;
  const size_t rows = static_cast<size_t>(s.channels) * (s.kf_hi - s.kf_lo + 1);
  s.ring.assign(rows * s.ring_size, 0.0f);
  s.sorted.assign(rows * (2 * s.half_window + 1), 0.0f);
  s.threshold_db = o.threshold_db;
  s.max_cut_db = o.max_cut_db;
  s.window.resize(static_cast<size_t>(s.n));
  for (int i = 0; i < s.n; ++i) s.window[i] = 0.5 - 0.5 * std::cos(2 * kPi * i / s.n);
  s.ola_norm = 0;
  for (int i = 0; i < s.n; i += s.hop) s.ola_norm += s.window[i] * s.window[i];
  s.real = static_cast<double*>(fftw_malloc(sizeof(double) * s.n));
  s.spec = static_cast<fftw_complex*>(fftw_malloc(sizeof(fftw_complex) * s.bins));
  if (!s.real || !s.spec) throw std::bad_alloc();
  {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    s.forward = fftw_plan_dft_r2c_1d(s.n, s.real, s.spec, FFTW_ESTIMATE);
    s.inverse = fftw_plan_dft_c2r_1d(s.n, s.spec, s.real, FFTW_ESTIMATE);
  }
  SR_CHECK(s.forward && s.inverse, "FFTW could not plan a transform of ", s.n);
  // The padding before the signal.
  s.input.assign(static_cast<size_t>(s.pad) * channels, 0.0f);
  s.removed.assign(s.input.size(), 0.0);
  s.received = s.pad;
}

SteadyLineSuppressor::~SteadyLineSuppressor() = default;

void SteadyLineSuppressor::push(const float* frames, size_t count, std::vector<float>& out) {
  State& s = *s_;
  SR_CHECK(s.end < 0, "line suppressor: push after finish");
  s.append(frames, count);
  s.run(out);
}

void SteadyLineSuppressor::finish(std::vector<float>& out) {
  State& s = *s_;
  if (s.end >= 0) return;
  s.end = s.received;
  if (s.end > s.pad) {
    // Zeros after the signal, so the last frame holding a sample is whole.
    const int64_t last_frame = (s.end - 1) / s.hop;
    const int64_t need = last_frame * s.hop + s.n - s.received;
    if (need > 0) {
      const std::vector<float> zeros(static_cast<size_t>(need) * s.channels, 0.0f);
      s.append(zeros.data(), static_cast<size_t>(need));
    }
  }
  s.run(out);
}

int SteadyLineSuppressor::fft_size() const {
  return s_->n;
}
double SteadyLineSuppressor::deepest_cut_db() const {
  return s_->deepest;
}
int64_t SteadyLineSuppressor::cut_frames() const {
  return s_->cut_frames;
}

}  // namespace sr
