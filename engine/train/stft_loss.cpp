// Multi-resolution STFT loss and its gradient (see stft_loss.h for the derivation).
#include "train/stft_loss.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>

#include "core/power_spectrum.h"
#include "sr/error.h"

namespace sr {
namespace {

constexpr double kPi = 3.14159265358979323846;

// One FFT size: a forward real FFT and the complex-to-real FFT of the adjoint.
class StftPlan {
 public:
  explicit StftPlan(int n) : n_(n), window_(n) {
    for (int i = 0; i < n; ++i) window_[i] = 0.5 - 0.5 * std::cos(2.0 * kPi * i / n);
    real_ = fftw_alloc_real(n);
    spec_ = fftw_alloc_complex(n / 2 + 1);
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    forward_ = fftw_plan_dft_r2c_1d(n, real_, spec_, FFTW_ESTIMATE);
    inverse_ = fftw_plan_dft_c2r_1d(n, spec_, real_, FFTW_ESTIMATE);
    if (!forward_ || !inverse_) fail("FFTW could not plan an STFT of ", n);
  }
  ~StftPlan() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    if (forward_) fftw_destroy_plan(forward_);
    if (inverse_) fftw_destroy_plan(inverse_);
    fftw_free(real_);
    fftw_free(spec_);
  }
  StftPlan(const StftPlan&) = delete;
  StftPlan& operator=(const StftPlan&) = delete;

  // frame: (n,) -> spectrum (n/2+1,) of window * frame
  void forward(const double* frame, std::complex<double>* out) {
    for (int i = 0; i < n_; ++i) real_[i] = window_[i] * frame[i];
    fftw_execute(forward_);
    for (int k = 0; k <= n_ / 2; ++k) out[k] = {spec_[k][0], spec_[k][1]};
  }
  // Adjoint: g (n/2+1,) = dL/d(re, im) of each bin -> dL/dframe (n,) added to `frame_grad`:
  // window[i] * Re(sum_k g_k e^{+2 pi j i k / n}), each one-sided bin counted once.
  void adjoint(const std::complex<double>* g, double* frame_grad) {
    for (int k = 0; k <= n_ / 2; ++k) {
      const double half = (k == 0 || k == n_ / 2) ? 1.0 : 0.5;  // c2r doubles the inner bins
      spec_[k][0] = half * g[k].real();
      spec_[k][1] = half * g[k].imag();
    }
    fftw_execute(inverse_);
    for (int i = 0; i < n_; ++i) frame_grad[i] += window_[i] * real_[i];
  }

 private:
  int n_;
  std::vector<double> window_;
  double* real_ = nullptr;
  fftw_complex* spec_ = nullptr;
  fftw_plan forward_ = nullptr, inverse_ = nullptr;
};

// One resolution; returns SC + LM and adds its gradient to grad (when not null).
double stft_term(StftPlan& plan, int n, const double* y, const double* t, int64_t patches,
                 int64_t length, double* grad, const StftLossOptions& o) {
  const int hop = n / 4, bins = n / 2 + 1;
  const int64_t per_patch = 1 + (length - n) / hop, frames = patches * per_patch;
  // Frame m starts at this sample of the (patches, length) batch.
  auto start = [&](int64_t m) { return (m / per_patch) * length + (m % per_patch) * hop; };
  std::vector<std::complex<double>> Y(frames * bins), T(bins);
  std::vector<double> A(frames * bins), B(frames * bins), w(bins, 1.0);
  if (o.ratio > 0)
    for (int k = 0; k < bins; ++k)
      if (2 * k * o.ratio >= n) w[k] = o.high_band_weight;
  double diff2 = 0, ref2 = 0, log_sum = 0, weight_sum = 0;
  for (int64_t m = 0; m < frames; ++m) {
    plan.forward(y + start(m), &Y[m * bins]);
    plan.forward(t + start(m), T.data());
    for (int k = 0; k < bins; ++k) {
      const double a = std::sqrt(std::norm(Y[m * bins + k]) + o.eps);
      const double b = std::sqrt(std::norm(T[k]) + o.eps);
      A[m * bins + k] = a, B[m * bins + k] = b;
      diff2 += w[k] * (b - a) * (b - a);
      ref2 += w[k] * b * b;
      log_sum += w[k] * std::fabs(std::log(a) - std::log(b));
      weight_sum += w[k];
    }
  }
  const double diff = std::sqrt(diff2), ref = std::sqrt(ref2);
  const double loss = diff / ref + log_sum / weight_sum;
  if (!grad) return loss;
  std::vector<std::complex<double>> g(bins);
  for (int64_t m = 0; m < frames; ++m) {
    for (int k = 0; k < bins; ++k) {
      const double a = A[m * bins + k], b = B[m * bins + k];
      double da = (diff > 0 ? w[k] * (a - b) / (diff * ref) : 0.0);
      const double l = std::log(a) - std::log(b);
      da += w[k] * ((l > 0) - (l < 0)) / (a * weight_sum);
      g[k] = da * Y[m * bins + k] / a;  // dA/d(re, im) = (re, im) / A
    }
    plan.adjoint(g.data(), grad + start(m));
  }
  return loss;
}

int sign_of(double v) {
  return (v > 0) - (v < 0);
}

}  // namespace

double pcm_loss(const double* y, const double* t, const double* x, int64_t patches, int64_t length,
                double* grad, int fft_size) {
  SR_CHECK(patches > 0, "pcm loss: no patches");
  SR_CHECK(fft_size >= 8 && fft_size % 2 == 0, "pcm loss: the STFT size must be even");
  if (fft_size > length)
    fail("pcm loss: the patch (", length, " samples) is shorter than its FFT (", fft_size, ")");
  if (grad) std::fill(grad, grad + patches * length, 0.0);
  StftPlan plan(fft_size);
  const int hop = fft_size / 2, bins = fft_size / 2 + 1;
  const int64_t per_patch = 1 + (length - fft_size) / hop, frames = patches * per_patch;
  const double count = static_cast<double>(frames) * bins;
  auto l1 = [](std::complex<double> z) { return std::fabs(z.real()) + std::fabs(z.imag()); };
  std::vector<std::complex<double>> Y(bins), T(bins), X(bins), g(bins);
  double sum = 0;
  for (int64_t m = 0; m < frames; ++m) {
    const int64_t start = (m / per_patch) * length + (m % per_patch) * hop;
    plan.forward(y + start, Y.data());
    plan.forward(t + start, T.data());
    plan.forward(x + start, X.data());
    for (int k = 0; k < bins; ++k) {
      const std::complex<double> rest_true = X[k] - T[k], rest_pred = X[k] - Y[k];
      const double d1 = l1(T[k]) - l1(Y[k]), d2 = l1(rest_true) - l1(rest_pred);
      sum += 0.5 * (std::fabs(d1) + std::fabs(d2));
      if (!grad) continue;
      const double re =
          -sign_of(d1) * sign_of(Y[k].real()) + sign_of(d2) * sign_of(rest_pred.real());
      const double im =
          -sign_of(d1) * sign_of(Y[k].imag()) + sign_of(d2) * sign_of(rest_pred.imag());
      g[k] = {0.5 * re / count, 0.5 * im / count};
    }
    if (grad) plan.adjoint(g.data(), grad + start);
  }
  return sum / count;
}

// y, t: (patches, length) -> mean over resolutions of SC + LM
double mrstft_loss(const double* y, const double* t, int64_t patches, int64_t length, double* grad,
                   const StftLossOptions& o) {
  SR_CHECK(patches > 0, "mrstft loss: no patches");
  if (grad) std::fill(grad, grad + patches * length, 0.0);
  double total = 0;
  int used = 0;
  for (int n : o.fft_sizes) {
    if (n > length) continue;
    SR_CHECK(n >= 8 && n % 4 == 0, "STFT size must be a multiple of 4");
    StftPlan plan(n);
    total += stft_term(plan, n, y, t, patches, length, grad, o);
    ++used;
  }
  if (used == 0) fail("mrstft loss: the patch (", length, " samples) is shorter than every FFT");
  if (grad)
    for (int64_t i = 0; i < patches * length; ++i) grad[i] /= used;
  return total / used;
}

}  // namespace sr
