// CPU reference ops: the readable definition of every op, and the CPU fallback. One launcher per
// pass, all with the same signature; shapes are in sr/ops.h and in the comment of each function.
// Forward and (later) backward of a family live side by side in engine/cpu/<family>.cpp.
#pragma once

#include <cstdint>
#include <utility>

#include "sr/ops.h"

namespace sr::cpu {

// Part `index` of [0, n) split into `parts` near-equal contiguous ranges, as [first, second): how
// the ops share rows, taps or units among the threads of one parallel region.
inline std::pair<int64_t, int64_t> thread_share(int64_t n, int64_t parts, int64_t index) {
  return {n * index / parts, n * (index + 1) / parts};
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

// dropout.cpp: inverted dropout, mask from dropout_keep(seed, index, rate)
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
// forward and backward (and any backend) agree without storing a mask.
bool dropout_keep(uint64_t seed, uint64_t index, float rate);

// Sinusoidal table value (spec 4): sin for even i, cos for odd i, angle pos / 10000^(2*(i/2)/d),
// computed in double.
float sinusoid(int64_t pos, int64_t i, int64_t d);

}  // namespace sr::cpu
