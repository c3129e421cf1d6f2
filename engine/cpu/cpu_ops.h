// CPU reference ops: the readable definition of every op, and the CPU fallback. One launcher per
// pass, all with the same signature; shapes are in sr/ops.h and in the comment of each function.
// Forward and (later) backward of a family live side by side in engine/cpu/<family>.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "sr/ops.h"

// Hot loops marked SR_VECTOR_CLONES are compiled twice, for AVX2 + FMA and for the baseline, and
// picked at load time by the CPU's features (GCC function multi-versioning): the build itself
// targets x86-64-v2. The clone is x86-64-v3 (the ISA level: AVX2, FMA, BMI), whose resolver tests
// the feature bits; "arch=haswell" would compile the same code but pick it only on Intel Haswell
// cores (its resolver compares the CPU model), so every other CPU ran the baseline.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SR_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SR_VECTOR_CLONES
#endif

namespace sr::cpu {

// Part `index` of [0, n) split into `parts` near-equal contiguous ranges, as [first, second): how
// the ops share rows, taps or units among the threads of one parallel region.
inline std::pair<int64_t, int64_t> thread_share(int64_t n, int64_t parts, int64_t index) {
  return {n * index / parts, n * (index + 1) / parts};
}

// A row of at least n zeros, this thread's own: what the direct and FFT convolutions read for
// input rows in the padding.
inline const float* zero_row(int64_t n) {
  thread_local std::vector<float> zeros;
  if (static_cast<int64_t>(zeros.size()) < n) zeros.assign(static_cast<size_t>(n), 0.0f);
  return zeros.data();
}

// conv1d.cpp: 'same' dilated cross-correlation with bias, one GEMM per tap (no im2col buffer).
void conv1d_fwd(const OpCall& call);
// elementwise.cpp
void leaky_relu_fwd(const OpCall& call);
void relu_fwd(const OpCall& call);
void prelu_fwd(const OpCall& call);
void add_fwd(const OpCall& call);
// pooling.cpp
void max_pool2_fwd(const OpCall& call);
void block_max_pool_fwd(const OpCall& call);
// layout.cpp
void subpixel_fwd(const OpCall& call);
void concat_fwd(const OpCall& call);
void modulate_fwd(const OpCall& call);
// lstm.cpp
void lstm_fwd(const OpCall& call);
// attention.cpp: linear, multi-head attention core, layer norm, sinusoidal positions
void linear_fwd(const OpCall& call);
void attention_fwd(const OpCall& call);
void layer_norm_fwd(const OpCall& call);
void pos_encoding_fwd(const OpCall& call);

// dropout.cpp: inverted dropout, mask from dropout_keep_below(seed, index, threshold)
void dropout_fwd(const OpCall& call);
void dropout_bwd(const OpGradCall& call);

// Backward passes, one per op, same file as the forward (see OpGradCall in sr/ops.h: gradients
// are accumulated, null pointers are skipped, nothing is saved by the forward).
void conv1d_bwd(const OpGradCall& call);
void leaky_relu_bwd(const OpGradCall& call);
void relu_bwd(const OpGradCall& call);
void prelu_bwd(const OpGradCall& call);
void add_bwd(const OpGradCall& call);
void max_pool2_bwd(const OpGradCall& call);
void block_max_pool_bwd(const OpGradCall& call);
void subpixel_bwd(const OpGradCall& call);
void concat_bwd(const OpGradCall& call);
void modulate_bwd(const OpGradCall& call);
void lstm_bwd(const OpGradCall& call);
void linear_bwd(const OpGradCall& call);
void attention_bwd(const OpGradCall& call);
void layer_norm_bwd(const OpGradCall& call);
void pos_encoding_bwd(const OpGradCall& call);

// Whether dropout keeps element `index` for this seed: a counter-based hash (splitmix64), so the
// forward and backward (and any backend) agree without storing a mask. The top 53 bits k of the
// hash are u = k / 2^53 in [0, 1) and the element is kept when u >= rate, i.e. when
// k >= ceil(rate 2^53) (rate 2^53 is exact in double): dropout_threshold(rate) once per op, then
// an integer compare per element, inlined into the ops' loops.
inline uint64_t dropout_threshold(float rate) {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(rate) * 9007199254740992.0));
}
inline bool dropout_keep_below(uint64_t seed, uint64_t index, uint64_t threshold) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (z >> 11) >= threshold;
}

// Sinusoidal table value (spec 4): sin for even i, cos for odd i, angle pos / 10000^(2*(i/2)/d),
// computed in double.
float sinusoid(int64_t pos, int64_t i, int64_t d);

}  // namespace sr::cpu
