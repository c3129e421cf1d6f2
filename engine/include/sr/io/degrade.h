// Training-input degradations (issue 10): many ways of making the low-rate signal from a
// high-rate patch, so that a model learns to generate the missing band instead of undoing one
// anti-alias filter. One seeded draw per patch: a random anti-alias IIR filter (Butterworth,
// Chebyshev I/II, elliptic, Bessel; orders 2-12; cutoff uniform in [cutoff_min, cutoff_max] of the
// low-rate Nyquist; zero-phase or causal) then subsampling; scipy's decimate; a band-limited
// resampler (libsoxr at a random quality, the sr-infer path for "varied" models); plain
// subsampling (aliasing); G.711 mu-law or A-law at the low rate; and a random gain on the whole
// patch (input and target alike). Then the cubic spline back to the high rate, as the originals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sr {

// Shares of each way (normalised when drawn) and the ranges drawn from.
struct DegradeOptions {
  int r = 2;
  double share_iir = 0.38, share_decimate = 0.08, share_soxr = 0.36, share_subsample = 0.06,
         share_g711 = 0.12;
  double cutoff_min = 0.7, cutoff_max = 1.0;  // IIR cutoffs, fraction of the low-rate Nyquist
  double causal = 0.25;                       // share of IIR filters run causally (sosfilt)
  int order_min = 2, order_max = 12;
  double gain_min_db = -20.0, gain_max_db = 0.0;
};

// What one draw did (for logs and tests).
struct Degradation {
  std::string kind;  // "butter", "cheby1", ..., "decimate", "soxr", "subsample", "mulaw", "alaw"
  int order = 0;
  double cutoff = 0;  // fraction of the low-rate Nyquist (IIR kinds)
  bool causal = false;
  double gain_db = 0;
};

// high: (n,) high-rate patch, n a multiple of o.r, scaled in place by the drawn gain (the target).
// Returns the spline-interpolated low-rate input, (n,). Deterministic in `seed`.
std::vector<float> degrade(std::vector<float>& high, const DegradeOptions& o, uint64_t seed,
                           Degradation* what = nullptr);

// One-line JSON of the distribution, for the model metadata key `training_degradations`.
std::string degrade_description(const DegradeOptions& o);

// ITU-T G.711 companding of a signal in [-1, 1] (16-bit linear full scale): encode to 8 bits and
// decode, as the reference g711.c (Sun Microsystems) does.
float mulaw_roundtrip(float x);
float alaw_roundtrip(float x);

}  // namespace sr
