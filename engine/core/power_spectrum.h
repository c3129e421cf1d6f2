// |rfft(periodic Hann x frame)|^2 of one frame of n samples, in double (FFTW), for the metrics'
// STFT and the bandwidth estimator. Planning takes a process-wide lock (FFTW's planner is not
// thread-safe); distinct instances may run in parallel.
#pragma once

#include <mutex>
#include <vector>

namespace sr {

// Held while creating or destroying any FFTW plan (FFTW's planner is not thread-safe).
std::mutex& fftw_planner_mutex();

class HannPowerSpectrum {
 public:
  explicit HannPowerSpectrum(int n);  // n even, >= 2
  ~HannPowerSpectrum();
  HannPowerSpectrum(const HannPowerSpectrum&) = delete;
  HannPowerSpectrum& operator=(const HannPowerSpectrum&) = delete;

  int size() const { return n_; }
  int bins() const { return n_ / 2 + 1; }
  // The frame to fill with n raw samples before power(); the window is applied there.
  double* frame() { return in_; }
  // power: (bins,) = |rfft(window * frame)|^2. Overwrites the frame.
  void power(double* power);

 private:
  void release();
  int n_;
  std::vector<double> window_;
  double* in_ = nullptr;
  void* out_ = nullptr;   // fftw_complex[bins]
  void* plan_ = nullptr;  // fftw_plan
};

}  // namespace sr
