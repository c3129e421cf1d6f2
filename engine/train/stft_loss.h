// Multi-resolution STFT loss (ParallelWaveGAN, Yamamoto et al. 2020) with its hand-derived
// gradient, in double. Per resolution (FFT size n, hop n/4, periodic Hann window, frames fully
// inside the patch, no padding), with A = |STFT(y)|, B = |STFT(t)|, |X| = sqrt(re^2 + im^2 + eps)
// and bin weights w (1, or high_band_weight above the cutoff bin):
//   spectral convergence  SC = sqrt(sum w (B - A)^2) / sqrt(sum w B^2)
//   log magnitude         LM = sum w |log A - log B| / sum w
// loss = mean over resolutions of SC + LM, the sums running over every frame of every patch of the
// batch (as ParallelWaveGAN's norms over the batch tensor: a silent patch, whose own ||B|| is ~0,
// cannot blow the spectral convergence up). Gradient: dSC/dA = w (A - B) / (||B - A|| ||B||),
// dLM/dA = w sign(log A - log B) / (A sum w); dA/dY = Y / A (Y complex); dY/dy by the adjoint of
// the windowed real FFT (a half-weighted complex-to-real FFT times the window).
#pragma once

#include <cstdint>
#include <vector>

namespace sr {

struct StftLossOptions {
  std::vector<int> fft_sizes{512, 256, 128};  // sizes longer than the patch are skipped
  int ratio = 0;                              // bins at or above n / (2 ratio) get high_band_weight
  double high_band_weight = 1.0;
  double eps = 1e-8;  // inside the magnitude's square root (the loss stays smooth at 0)
};

// y, t: (patches, length); grad: (patches, length) dL/dy, written when not null.
double mrstft_loss(const double* y, const double* t, int64_t patches, int64_t length, double* grad,
                   const StftLossOptions& o);

}  // namespace sr
