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

// Phase-constrained magnitude loss (PCM; A. Pandey and D. L. Wang, "Dense CNN with self-attention
// for time-domain speech enhancement", IEEE/ACM TASLP 29, 2021), the frequency-domain half of the
// T-PCM loss of H. M. Wang and D. L. Wang, "Towards Robust Speech Super-Resolution", IEEE/ACM
// TASLP 29, 2021. With the STFT magnitude taken as the L1 norm of its parts,
// M(Z) = |Re Z| + |Im Z|, and SM(a, b) = mean over frames and bins of |M(STFT a) - M(STFT b)|:
//   PCM = 0.5 SM(t, y) + 0.5 SM(x - t, x - y)
// where x is the network's input (the spline-upsampled low-rate signal): the second term compares
// the predicted and true "remainder" (for super-resolution, the missing band plus what the
// low-rate path changed), which constrains the phase of y through the sign of each part. One
// resolution: `fft_size` samples (512 = 32 ms at 16 kHz), hop half of it, periodic Hann window,
// frames inside the patch. The means run over every frame of the batch. Gradient (Y = STFT y):
//   dPCM/dRe Y = 0.5 (-sign(D1) sign(Re Y) + sign(D2) sign(Re X - Re Y)) / count,
// D1 = M(T) - M(Y), D2 = M(X - T) - M(X - Y), the same for Im, then the adjoint of the STFT.
double pcm_loss(const double* y, const double* t, const double* x, int64_t patches, int64_t length,
                double* grad, int fft_size = 512);

}  // namespace sr
