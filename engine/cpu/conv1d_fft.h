// Overlap-save FFT convolution for the long dilated kernels (K = 17..65, dilation 2): channel
// mixing becomes one complex (segments x Cin) by (Cin x Cout) product per frequency bin, about
// 2.7/K of the per-tap GEMMs' arithmetic plus the transforms; the weight spectra are made on the
// fly, a few bins at a time, so memory stays bounded for any layer. conv1d.cpp chooses it per layer
// with conv1d_fft_pays (a measured cost model); the per-tap GEMMs stay the reference.
#pragma once

#include <cstdint>

namespace sr::cpu {

// Memory budgets of the segment groups' spectra and of one chunk of weight spectra, in bytes
// (defaults 48 MB and 64 MB; 0 restores a default). For tests, which reach several groups and
// chunks on small shapes with tiny budgets; not thread-safe against running convolutions.
void conv1d_fft_set_budgets(double group_bytes, double weight_chunk_bytes);

// True when the FFT path is expected to be faster than per-tap GEMMs for this layer.
bool conv1d_fft_pays(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation);

// x: (B, L, Cin) rows ldx apart, w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout) rows ldy
// apart: y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] x[b, t + dilation (j - (K-1)/2), ci],
// zero outside [0, L). K odd. Same contract as the per-tap GEMM path.
void conv1d_fft(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                int64_t dilation);

}  // namespace sr::cpu
