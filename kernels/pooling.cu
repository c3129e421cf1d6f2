// Max pooling along the length axis (engine/cpu/pooling.cpp): one thread per output element,
// channels fastest so a warp reads contiguous channels. max(a, b) is the CPU's std::max, i.e.
// (a < b) ? b : a, so results are bit-identical.
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float std_max(float a, float b) {
  return (a < b) ? b : a;
}

// x: (B, L, C) -> y: (B, Lo, C), Lo = L / 2
__global__ void max_pool2_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int L,
                                 int Lo, int C) {
  SR_GRID_STRIDE(i, n) {
    const unsigned c = i % C, r = i / C;  // r = b * Lo + t
    const unsigned b = r / Lo, t = r % Lo;
    const float* x0 = x + (static_cast<size_t>(b) * L + 2 * t) * C + c;
    y[i] = std_max(x0[0], x0[C]);
  }
}

// x: (B, L, C) -> y: (B, N, C), N = L / S
__global__ void block_max_pool_kernel(const float* __restrict__ x, float* __restrict__ y, int n,
                                      int L, int N, int C, int S) {
  SR_GRID_STRIDE(i, n) {
    const unsigned c = i % C, r = i / C;  // r = b * N + block
    const unsigned b = r / N, blk = r % N;
    const float* xb = x + (static_cast<size_t>(b) * L + static_cast<size_t>(blk) * S) * C + c;
    float v = xb[0];
    for (int j = 1; j < S; ++j) v = std_max(v, xb[static_cast<size_t>(j) * C]);
    y[i] = v;
  }
}

}  // namespace

// x: (B, L, C) -> y: (B, L/2, C), y[b,t,c] = max(x[b,2t,c], x[b,2t+1,c]); an odd last row is
// dropped.
void max_pool2_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t L = x.shape.l, C = x.shape.c, Lo = L / 2;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  SR_CHECK(fits_int32(x.numel()), "max_pool2: input ", x.shape.str(), " too large");
  const int64_t n = y.numel();
  if (n == 0) return;
  SR_LAUNCH(max_pool2_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, static_cast<int>(n), static_cast<int>(L), static_cast<int>(Lo),
   static_cast<int>(C));
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, L, C) -> p: (B, L/S, C), p[b,n,c] = max_{0<=j<S} x[b, n*S + j, c]; S divides L.
void block_max_pool_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t L = x.shape.l, C = x.shape.c, S = call.params.block;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int64_t N = L / S;
  SR_CHECK(fits_int32(x.numel()), "block_max_pool: input ", x.shape.str(), " too large");
  const int64_t n = y.numel();
  if (n == 0) return;
  SR_LAUNCH(block_max_pool_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, static_cast<int>(n), static_cast<int>(L), static_cast<int>(N),
   static_cast<int>(C), static_cast<int>(S));
  SR_CUDA_CHECK_LAUNCH();
}

}  // namespace sr::cuda
