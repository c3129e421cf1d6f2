#include "core/power_spectrum.h"

#include <fftw3.h>

#include <cmath>
#include <mutex>
#include <new>

#include "sr/error.h"

namespace sr {

namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

HannPowerSpectrum::HannPowerSpectrum(int n) : n_(n), window_(static_cast<size_t>(n)) {
  SR_CHECK(n >= 2 && n % 2 == 0, "FFT size must be even");
  for (int i = 0; i < n; ++i) window_[i] = 0.5 - 0.5 * std::cos(2.0 * kPi * i / n);
  in_ = static_cast<double*>(fftw_malloc(sizeof(double) * n));
  out_ = fftw_malloc(sizeof(fftw_complex) * bins());
  if (in_ && out_) {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    plan_ = fftw_plan_dft_r2c_1d(n, in_, static_cast<fftw_complex*>(out_), FFTW_ESTIMATE);
  }
  if (!plan_) {
    const bool allocated = in_ && out_;
    release();
    if (!allocated) throw std::bad_alloc();
    fail("FFTW could not plan a real FFT of ", n);
  }
}

HannPowerSpectrum::~HannPowerSpectrum() {
  release();
}

void HannPowerSpectrum::release() {
  if (plan_) {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftw_destroy_plan(static_cast<fftw_plan>(plan_));
  }
  if (in_) fftw_free(in_);
  if (out_) fftw_free(out_);
  plan_ = nullptr;
  in_ = nullptr;
  out_ = nullptr;
}

void HannPowerSpectrum::power(double* power) {
  for (int i = 0; i < n_; ++i) in_[i] *= window_[i];
  fftw_execute(static_cast<fftw_plan>(plan_));
  const auto* out = static_cast<const fftw_complex*>(out_);
  for (int k = 0; k < bins(); ++k) power[k] = out[k][0] * out[k][0] + out[k][1] * out[k][1];
}

}  // namespace sr
