// Low-pass filtering and subsampling equal to scipy.signal.decimate(x, r) with its defaults (spec
// 5.1 step 3, the originals' --low-pass): Chebyshev type I IIR, order 8, 0.05 dB ripple, cutoff
// 0.8/r of Nyquist, zero-phase (sosfiltfilt, odd padding of 27 samples, steady-state initial
// conditions), then samples 0, r, 2r, ... Designed and computed in double.
#pragma once

#include <array>
#include <vector>

namespace sr {

// One second-order section: b0, b1, b2, a0 (= 1), a1, a2, as scipy's sos rows.
using Biquad = std::array<double, 6>;

// scipy.signal.cheby1(order, ripple_db, cutoff, output='sos') for a digital low-pass (cutoff as
// a fraction of Nyquist, 0 < cutoff < 1; even order): analog prototype, bilinear transform with
// prewarping, sections ordered as scipy's zpk2sos (poles nearest the unit circle last, the gain
// in the first section).
std::vector<Biquad> cheby1_lowpass_sos(int order, double ripple_db, double cutoff);

// x: (n,) -> (ceil(n / r),), r >= 1 (r = 1 still filters at 0.8 of Nyquist, as scipy does).
// Needs n > 27 (scipy's padlen for 4 sections); throws sr::Error otherwise.
std::vector<float> decimate(const std::vector<float>& x, int r);

// One forward pass of the cascade from rest (scipy's sosfilt with zero initial state), in place.
void sosfilt(const std::vector<Biquad>& sos, std::vector<double>& x);

// The zero-phase filter alone (sosfiltfilt with scipy's defaults): x: (n,) -> (n,), n > 3 *
// (2 * sections + 1).
std::vector<double> sosfiltfilt(const std::vector<Biquad>& sos, const std::vector<float>& x);

}  // namespace sr
