// Element-wise activations, sums, dropout and bias: one grid-stride pass over contiguous memory.
// Each computes exactly what its CPU twin (engine/cpu/elementwise.cpp, dropout.cpp) computes, with
// the same single rounding per element, so results are bit-identical to the CPU.
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void leaky_relu_kernel(const float* __restrict__ x, float* __restrict__ y, int n,
                                  float alpha) {
  SR_GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : alpha * v;
  }
}

// alpha: one slope in device memory (a weight), read by every thread.
__global__ void prelu_kernel(const float* __restrict__ x, float* __restrict__ y, int n,
                             const float* __restrict__ alpha) {
  const float a = *alpha;
  SR_GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : a * v;
  }
}

__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int n) {
  SR_GRID_STRIDE(i, n) {
    const float v = x[i];
    y[i] = v > 0.0f ? v : 0.0f;
  }
}

__global__ void add_kernel(const float* __restrict__ a, const float* __restrict__ b,
                           float* __restrict__ y, int n) {
  SR_GRID_STRIDE(i, n)
  y[i] = a[i] + b[i];
}

// engine/cpu/cpu_ops.h's dropout_keep_below with dropout_threshold, bit for bit: splitmix64 of
// (seed, index), top 53 bits as a double in [0, 1).
__device__ __forceinline__ bool dropout_keep(uint64_t seed, uint64_t index, float rate) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
  return u >= static_cast<double>(rate);
}

__global__ void dropout_kernel(const float* __restrict__ x, float* __restrict__ y, int n,
                               float rate, float scale, uint64_t seed) {
  SR_GRID_STRIDE(i, n)
  y[i] = dropout_keep(seed, static_cast<uint64_t>(i), rate) ? x[i] * scale : 0.0f;
}

// y: (rows, cols), row-major; one thread per element.
__global__ void bias_act_kernel(float* __restrict__ y, const float* __restrict__ bias, int n,
                                int cols, bool relu) {
  SR_GRID_STRIDE(i, n) {
    const float v = y[i] + bias[i % cols];
    y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}

int checked_count(const TensorView& t, const char* op) {
  SR_CHECK(fits_int32(t.numel()), op, ": ", t.shape.str(), " has more than 2^31 elements");
  return static_cast<int>(t.numel());
}

}  // namespace

// x: (B, L, C) -> y: (B, L, C), y = x > 0 ? x : alpha * x
void leaky_relu_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int n = checked_count(x, "leaky_relu");
  if (n == 0) return;
  SR_LAUNCH(leaky_relu_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, n, call.params.alpha);
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, L, C), alpha: (1) -> y: (B, L, C), y = x > 0 ? x : alpha * x
void prelu_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);
  const int n = checked_count(x, "prelu");
  if (n == 0) return;
  SR_LAUNCH(prelu_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, n, call.weights[0].data);
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, L, C) -> y: (B, L, C), y = max(x, 0)
void relu_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int n = checked_count(x, "relu");
  if (n == 0) return;
  SR_LAUNCH(relu_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, n);
  SR_CUDA_CHECK_LAUNCH();
}

// a, b: (B, L, C) -> y: (B, L, C), y = a + b
void add_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& a = call.inputs[0];
  const TensorView& b = call.inputs[1];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int n = checked_count(a, "add");
  if (n == 0) return;
  SR_LAUNCH(add_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (a.data, b.data, y.data, n);
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, L, C) -> y: same; y = keep(seed, i) ? x / (1 - rate) : 0, i the flat element index
void dropout_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const float rate = call.params.rate;
  const float scale = 1.0f / (1.0f - rate);  // the CPU's expression, rounded the same way
  const int n = checked_count(x, "dropout");
  if (n == 0) return;
  SR_LAUNCH(dropout_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, n, rate, scale, call.params.seed);
  SR_CUDA_CHECK_LAUNCH();
}

void bias_act_cuda(CudaContext& ctx, float* y, const float* bias, int64_t rows, int64_t cols,
                   bool relu) {
  const int64_t n = rows * cols;
  SR_CHECK(fits_int32(n), "bias: ", rows, " x ", cols, " has more than 2^31 elements");
  if (n == 0) return;
  SR_LAUNCH(bias_act_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (y, bias, static_cast<int>(n), static_cast<int>(cols), relu);
  SR_CUDA_CHECK_LAUNCH();
}

}  // namespace sr::cuda
