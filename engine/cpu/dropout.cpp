// Inverted dropout (training only): kept values are scaled by 1/(1-rate) so inference needs no
// rescaling. The mask is recomputed from (seed, index), never stored.
#include <cstdint>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

// x: (B, L, C) -> y: same; y = keep ? x / (1 - rate) : 0
void dropout_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const float rate = call.params.rate;
  const float scale = 1.0f / (1.0f - rate);
  const int64_t n = x.numel();
  const uint64_t seed = call.params.seed, threshold = dropout_threshold(rate);
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    y.data[i] = dropout_keep_below(seed, i, threshold) ? x.data[i] * scale : 0.0f;
}

// dy -> dx += keep ? dy / (1 - rate) : 0
void dropout_bwd(const OpGradCall& call) {
  const TensorView& dx = call.grad_inputs[0];
  if (!dx.data) return;
  const TensorView& dy = call.grad_output;
  const float rate = call.forward.params.rate;
  const float scale = 1.0f / (1.0f - rate);
  const int64_t n = dy.numel();
  const uint64_t seed = call.forward.params.seed, threshold = dropout_threshold(rate);
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    if (dropout_keep_below(seed, i, threshold)) dx.data[i] += dy.data[i] * scale;
}

}  // namespace sr::cpu
