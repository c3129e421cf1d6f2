// Overlap-save FFT convolution for the long dilated kernels (K = 17..65, dilation 2): channel
// mixing becomes one complex (segments x Cin) by (Cin x Cout) product per frequency bin, about
// 2.7/K of the per-tap GEMMs' arithmetic plus the transforms; the weight spectra are made on the
// fly, a few bins at a time, so memory stays bounded for any layer; a layer's whole spectra up to
// 32 MB are kept between calls with the same weights (inference), checked bit for bit. Small
// layers with few segments (the bundled models at inference) mix with their own kernel instead of
// per-bin cgemms, on weight spectra blocked for it. conv1d.cpp chooses the FFT per layer with
// conv1d_fft_pays (a measured cost model); the per-tap GEMMs stay the reference.
#pragma once

#include <cstdint>

namespace sr::cpu {

// Memory budgets of the segment groups' spectra, of one chunk of weight spectra and of one
// layer's kept weight spectra, in bytes (defaults 48 MB, 128 MB and 32 MB; 0 restores the first
// two defaults, -1 the third, 0 there keeps none); clears the calling thread's kept spectra. For
// tests, which reach several groups and chunks on small shapes with tiny budgets; not
// thread-safe against running convolutions.
void conv1d_fft_set_budgets(double group_bytes, double weight_chunk_bytes,
                            double spectra_entry_bytes = -1);

// The streamed mixing of wide layers with few segments (conv1d_fft.cpp, Geometry::streamed):
// mode -1 where the cost model picks it (the default), 0 never, 1 wherever it applies; the block
// of weight spectra it makes at a time, in bytes (0: the default 12 MB). For tests and A/B runs
// (SR_FFT_STREAMED=0|1 sets the mode for a process); not thread-safe against running convolutions.
void conv1d_fft_set_streamed(int mode, double block_bytes = 0);

// How conv1d_fft would mix this layer's channels: "few" (small layers, few segments), "streamed",
// "kept" (per-bin cgemms on whole kept spectra) or "cgemm" (per-bin cgemms on spectra made chunk
// by chunk at every call). For tests and profiles.
const char* conv1d_fft_mixing(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                              int64_t dilation);

// Whether the FFTW wisdom shipped for the per-segment plans (engine/cpu/fftw_wisdom.inc, made by
// scripts/make_fftw_wisdom.sh) was read; false when it is empty, unreadable or SR_FFTW_LEARN is
// set.
bool conv1d_fft_wisdom_loaded();

// True when the FFT path is expected to be faster than per-tap GEMMs for this layer.
bool conv1d_fft_pays(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation);

// x: (B, L, Cin) rows ldx apart, w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout) rows ldy
// apart: y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] x[b, t + dilation (j - (K-1)/2), ci],
// zero outside [0, L). K odd. Same contract as the per-tap GEMM path.
void conv1d_fft(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                int64_t dilation);

// The backward passes on the same transforms, both accumulated (+=), same shapes as
// conv1d_bwd with dense rows: dx[b,s,ci] += sum_j sum_co dy[b, s - o_j, co] w[j,ci,co] and
// dw[j,ci,co] += sum_b sum_t x[b, t + o_j, ci] dy[b,t,co], o_j = dilation (j - (K-1)/2).
void conv1d_fft_bwd_data(const float* dy, const float* w, float* dx, int64_t B, int64_t L,
                         int64_t Cin, int64_t Cout, int64_t K, int64_t dilation);
void conv1d_fft_bwd_weight(const float* x, const float* dy, float* dw, int64_t B, int64_t L,
                           int64_t Cin, int64_t Cout, int64_t K, int64_t dilation);

}  // namespace sr::cpu
