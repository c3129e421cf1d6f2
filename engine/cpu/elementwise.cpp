// Element-wise activations and sums: one pass over contiguous memory, shape-agnostic.
#include <cstdint>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

namespace {
// Below this many elements, starting a thread team costs more than the loop itself.
constexpr int64_t kParallelMin = int64_t{1} << 15;
}  // namespace

// x: (B, L, C) -> y: (B, L, C), y = x > 0 ? x : alpha * x
void leaky_relu_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  SR_CHECK(x.shape == y.shape, "leaky_relu: output ", y.shape.str(), " != input ", x.shape.str());
  const float alpha = call.params.alpha;
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x.data[i];
    y.data[i] = v > 0.0f ? v : alpha * v;
  }
}

// x: (B, L, C) -> y: (B, L, C), y = max(x, 0)
void relu_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  SR_CHECK(x.shape == y.shape, "relu: output ", y.shape.str(), " != input ", x.shape.str());
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x.data[i];
    y.data[i] = v > 0.0f ? v : 0.0f;
  }
}

// a: (B, L, C), b: (B, L, C) -> y: (B, L, C), y = a + b
void add_fwd(const OpCall& call) {
  const TensorView& a = call.inputs[0];
  const TensorView& b = call.inputs[1];
  const TensorView& y = call.output;
  SR_CHECK(a.shape == b.shape, "add: shapes ", a.shape.str(), " and ", b.shape.str(), " differ");
  SR_CHECK(a.shape == y.shape, "add: output ", y.shape.str(), " != input ", a.shape.str());
  const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y.data[i] = a.data[i] + b.data[i];
}

}  // namespace sr::cpu
