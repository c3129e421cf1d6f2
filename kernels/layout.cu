// Ops that move or scale data (engine/cpu/layout.cpp): subpixel shuffle, channel concatenation and
// block-wise modulation. One thread per output element, channels fastest; pure copies or a single
// multiply, so results are bit-identical to the CPU.
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kThreads = 256;

// x: (B, W, 2C) -> y: (B, 2W, C); tf: y[b,2w+k,c] = x[b,w,k*C+c], pt: y[b,2w+k,c] = x[b,w,2c+k]
__global__ void subpixel_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int W,
                                int C, bool tf) {
  SR_GRID_STRIDE(i, n) {
    const unsigned c = i % C, r = i / C;  // r = b * 2W + t
    const unsigned b = r / (2 * W), t = r % (2 * W);
    const unsigned w = t / 2, k = t % 2;
    const float* xr = x + (static_cast<size_t>(b) * W + w) * (2 * C);
    y[i] = tf ? xr[k * C + c] : xr[2 * c + k];
  }
}

// a: (R, C1), b: (R, C2) -> y: (R, C1 + C2), R = B * L
__global__ void concat_kernel(const float* __restrict__ a, const float* __restrict__ b,
                              float* __restrict__ y, int n, int C1, int C2) {
  const unsigned C = C1 + C2;
  SR_GRID_STRIDE(i, n) {
    const unsigned c = i % C, r = i / C;
    y[i] = c < static_cast<unsigned>(C1) ? a[static_cast<size_t>(r) * C1 + c]
                                         : b[static_cast<size_t>(r) * C2 + (c - C1)];
  }
}

// x: (B, L, C), m: (B, L/S, C) -> y: (B, L, C), y[b,t,c] = x[b,t,c] * m[b, t/S, c]; y rows are
// ldy floats apart (a slice of a concatenation buffer when ldy > C).
__global__ void modulate_kernel(const float* __restrict__ x, const float* __restrict__ m,
                                float* __restrict__ y, int n, int L, int C, int S, int ldy) {
  const unsigned N = L / S;
  SR_GRID_STRIDE(i, n) {
    const unsigned c = i % C, r = i / C;  // r = b * L + t
    const unsigned b = r / L, t = r % L;
    y[static_cast<size_t>(r) * ldy + c] = x[i] * m[(static_cast<size_t>(b) * N + t / S) * C + c];
  }
}

}  // namespace

// x: (B, W, 2C) -> y: (B, 2W, C), factor 2, channel order params.order (spec section 2).
void subpixel_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t W = x.shape.l, C = x.shape.c / 2;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  SR_CHECK(fits_int32(y.numel()), "subpixel: output ", y.shape.str(), " too large");
  const int64_t n = y.numel();
  if (n == 0) return;
  SR_LAUNCH(subpixel_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, static_cast<int>(n), static_cast<int>(W), static_cast<int>(C),
   call.params.order == SubpixelOrder::tf);
  SR_CUDA_CHECK_LAUNCH();
}

// a: (B, L, C1), b: (B, L, C2) -> y: (B, L, C1 + C2), a's channels first.
void concat_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& a = call.inputs[0];
  const TensorView& b = call.inputs[1];
  const TensorView& y = call.output;
  const int64_t C1 = a.shape.c, C2 = b.shape.c;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  SR_CHECK(fits_int32(y.numel()), "concat: output ", y.shape.str(), " too large");
  const int64_t n = y.numel();
  if (n == 0) return;
  SR_LAUNCH(concat_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (a.data, b.data, y.data, static_cast<int>(n), static_cast<int>(C1), static_cast<int>(C2));
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, L, C), m: (B, N, C) with L = N*S, S = params.block -> y: (B, L, C)
void modulate_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& m = call.inputs[1];
  const TensorView& y = call.output;
  const int64_t L = x.shape.l, C = x.shape.c, S = call.params.block;
  check_op_call(call);
  SR_CHECK(fits_int32(x.numel()) && fits_int32(x.shape.b * L * y.row_stride()), "modulate: input ",
           x.shape.str(), " too large");
  const int64_t n = x.numel();
  if (n == 0) return;
  SR_LAUNCH(modulate_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, m.data, y.data, static_cast<int>(n), static_cast<int>(L), static_cast<int>(C),
   static_cast<int>(S), static_cast<int>(y.row_stride()));
  SR_CUDA_CHECK_LAUNCH();
}

}  // namespace sr::cuda
