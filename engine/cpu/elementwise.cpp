// Element-wise activations and sums: one pass over contiguous memory, shape-agnostic.
#include <cstdint>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

namespace {
// Below this many elements, starting a thread team costs more than the loop itself.
constexpr int64_t kParallelMin = int64_t{1} << 15;

// Shared checks of the one-input backward passes: dy and (when wanted) dx have x's shape.
void check_unary_grad(const OpGradCall& call, const char* name) {
  const Shape& xs = call.forward.inputs[0].shape;
  SR_CHECK(call.grad_output.shape == xs, name, ": grad_output ", call.grad_output.shape.str(),
           " != input ", xs.str());
  SR_CHECK(!call.grad_inputs[0].data || call.grad_inputs[0].shape == xs, name, ": grad_input ",
           call.grad_inputs[0].shape.str(), " != input ", xs.str());
}
}  // namespace

namespace {
// x: (B, L, C) -> y: (B, L, C), y = x > 0 ? x : alpha * x: leaky_relu's fixed slope and prelu's
// learned one.
void slope_fwd(const OpCall& call, float alpha) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x.data[i];
    y.data[i] = v > 0.0f ? v : alpha * v;
  }
}
}  // namespace

void leaky_relu_fwd(const OpCall& call) {
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  slope_fwd(call, call.params.alpha);
}

// x, dy: (B, L, C) -> dx: (B, L, C), dx += x > 0 ? dy : alpha * dy
void leaky_relu_bwd(const OpGradCall& call) {
  check_unary_grad(call, "leaky_relu_bwd");
  float* dx = call.grad_inputs[0].data;
  if (!dx) return;
  const float* x = call.forward.inputs[0].data;
  const float* dy = call.grad_output.data;
  const float alpha = call.forward.params.alpha;
  const int64_t n = call.grad_output.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : alpha * dy[i];
}

// x: (B, L, C), alpha: (1) -> y: (B, L, C) (PReLU: one slope for every element)
void prelu_fwd(const OpCall& call) {
  check_op_call(call);
  slope_fwd(call, call.weights[0].data[0]);
}

// x, dy: (B, L, C) -> dx += x > 0 ? dy : alpha * dy; dalpha += sum over x <= 0 of x * dy
void prelu_bwd(const OpGradCall& call) {
  check_unary_grad(call, "prelu_bwd");
  const float* x = call.forward.inputs[0].data;
  const float* dy = call.grad_output.data;
  const float alpha = call.forward.weights[0].data[0];
  const int64_t n = call.grad_output.numel();
  if (float* dx = call.grad_inputs[0].data) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) dx[i] += x[i] > 0.0f ? dy[i] : alpha * dy[i];
  }
  if (float* da = call.grad_weights[0]) {
    double sum = 0;  // one scalar from many products: accumulate in double
#pragma omp parallel for schedule(static) reduction(+ : sum) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i)
      if (!(x[i] > 0.0f)) sum += static_cast<double>(x[i]) * dy[i];
    da[0] += static_cast<float>(sum);
  }
}

// x: (B, L, C) -> y: (B, L, C), y = max(x, 0)
void relu_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x.data[i];
    y.data[i] = v > 0.0f ? v : 0.0f;
  }
}

// x, dy: (B, L, C) -> dx: (B, L, C), dx += x > 0 ? dy : 0 (the derivative at 0 is taken as 0)
void relu_bwd(const OpGradCall& call) {
  check_unary_grad(call, "relu_bwd");
  float* dx = call.grad_inputs[0].data;
  if (!dx) return;
  const float* x = call.forward.inputs[0].data;
  const float* dy = call.grad_output.data;
  const int64_t n = call.grad_output.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i)
    if (x[i] > 0.0f) dx[i] += dy[i];
}

// a: (B, L, C), b: (B, L, C) -> y: (B, L, C), y = a + b
void add_fwd(const OpCall& call) {
  const TensorView& a = call.inputs[0];
  const TensorView& b = call.inputs[1];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int64_t n = a.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) y.data[i] = a.data[i] + b.data[i];
}

// dy: (B, L, C) -> da, db: (B, L, C), da += dy, db += dy. When a value is added to itself the two
// gradients are one buffer; the two += of an element run one after the other in the same
// iteration, so that buffer correctly gets 2 * dy.
void add_bwd(const OpGradCall& call) {
  const Shape& s = call.forward.inputs[0].shape;
  const TensorView& dy = call.grad_output;
  SR_CHECK(dy.shape == s, "add_bwd: grad_output ", dy.shape.str(), " != input ", s.str());
  for (int i = 0; i < 2; ++i)
    SR_CHECK(!call.grad_inputs[i].data || call.grad_inputs[i].shape == s, "add_bwd: grad_input ", i,
             " ", call.grad_inputs[i].shape.str(), " != input ", s.str());
  float* da = call.grad_inputs[0].data;
  float* db = call.grad_inputs[1].data;
  const int64_t n = dy.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    if (da) da[i] += dy.data[i];
    if (db) db[i] += dy.data[i];
  }
}

}  // namespace sr::cpu
