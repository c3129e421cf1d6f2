// Evaluation metrics (spec 7): SNR as the AFiLM paper and K21's training log define it, and the
// log-spectral distance in K21's and in the papers' form. Signals are float32; sums are in double.
//
// Every LSD uses the STFT of librosa 0.8 (what K21 called): n_fft 2048, periodic Hann window,
// hop 512, center=True with reflect padding of n_fft/2 each side (repeated reflection when the
// signal is shorter than that, as np.pad does), 1 + n / hop frames, 1025 bins. Everything after
// the float32 samples is double (FFTW's double FFT, as librosa's numpy rfft).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sr {

// AFiLM paper: 10 log10(sum y^2 / sum (y - yhat)^2), y the reference. +inf when the signals are
// equal (PT2's convention), -inf when the reference is silent and the estimate is not.
double snr_db(const float* reference, const float* estimate, size_t n);
double snr_db(const std::vector<float>& reference, const std::vector<float>& estimate);

// K21's training SNR for a batch: per patch
//   20 log10( sqrt(mean y^2) / sqrt(mean (yhat - y)^2 + 1e-6) + 1e-8 ),
// then the mean over patches. reference, estimate: (patches, length).
double snr_k21(const float* reference, const float* estimate, int64_t patches, int64_t length);

// K21's compute_log_distortion: X = ln(|S|^2 + 1e-8) (natural log of power);
//   min( mean over bins of sqrt( mean over frames of (X - Xhat)^2 + 1e-8 ), 10 ).
double lsd_k21(const float* reference, const float* estimate, size_t n);

// The papers' LSD: X = log10(|S|^2 + 1e-8) (base-10 log of power, the 1e-8 floor as above, no
// dB factor of 10); mean over frames of sqrt( mean over bins of (X - Xhat)^2 ). No clamp.
double lsd_papers(const float* reference, const float* estimate, size_t n);

// Both LSDs from one pass over the two STFTs.
struct LogSpectralDistance {
  double k21 = 0, papers = 0;
};
LogSpectralDistance log_spectral_distance(const float* reference, const float* estimate, size_t n);

// A picture's worth of STFT (same conventions, any even n_fft and hop > 0):
// 10 log10(|S|^2 + 1e-10) in dB, row-major (frames, bins), bins = n_fft / 2 + 1.
struct Spectrogram {
  int64_t frames = 0;
  int bins = 0;
  std::vector<float> db;
};
Spectrogram log_power_spectrogram(const float* x, size_t n, int n_fft, int hop);

}  // namespace sr
