// Inverted dropout (training only): kept values are scaled by 1/(1-rate) so inference needs no
// rescaling. The mask is recomputed from (seed, index), never stored.
#include <cstdint>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

bool dropout_keep(uint64_t seed, uint64_t index, float rate) {
  // splitmix64 of (seed, index): a well-mixed 64-bit value per element.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
  return u >= rate;
}

// x: (B, L, C) -> y: same; y = keep ? x / (1 - rate) : 0
void dropout_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const float rate = call.params.rate;
  const float scale = 1.0f / (1.0f - rate);
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    y.data[i] = dropout_keep(call.params.seed, i, rate) ? x.data[i] * scale : 0.0f;
}

// dy -> dx += keep ? dy / (1 - rate) : 0
void dropout_bwd(const OpGradCall& call) {
  const TensorView& dx = call.grad_inputs[0];
  if (!dx.data) return;
  const TensorView& dy = call.grad_output;
  const float rate = call.forward.params.rate;
  const float scale = 1.0f / (1.0f - rate);
  const int64_t n = dy.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i)
    if (dropout_keep(call.forward.params.seed, i, rate)) dx.data[i] += dy.data[i] * scale;
}

}  // namespace sr::cpu
