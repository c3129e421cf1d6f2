// Transformer pieces of the AFiLM block (engine/cpu/attention.cpp, spec 4): dense layers through
// cuBLAS, the multi-head attention core, layer norm and sinusoidal positions.
#include <cmath>
#include <vector>

#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kAttentionWarps = 4;  // query rows per block of the attention core

// q, k, v, y: (B, N, D); head h owns features [h*dh, (h+1)*dh). One warp per query row i of head
// h: scores (lanes over keys) into this warp's N floats of shared memory, softmax in FP32 with the
// max subtracted, then y = sum_j p_j v_j (lanes over features) scaled by 1 / sum_j p_j. Keys and
// values are read from global memory (L1/L2 resident: the block's 4 rows share them); at the
// token counts of the default networks (32 per FiLM site) the core is a negligible cost.
// Grid: (ceil(N / 4), heads, B).
__global__ void attention_kernel(const float* __restrict__ q, const float* __restrict__ k,
                                 const float* __restrict__ v, float* __restrict__ y, int N, int D,
                                 int dh, float scale) {
  SR_DYNAMIC_SHARED(float, scores_all);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int i = blockIdx.x * kAttentionWarps + warp;
  const int h = blockIdx.y, b = blockIdx.z;
  if (i >= N) return;  // whole warps only; no block-wide barrier follows
  float* sc = scores_all + static_cast<size_t>(warp) * N;
  const size_t batch0 = static_cast<size_t>(b) * N;
  const float* qi = q + (batch0 + i) * D + h * dh;

  // s_j = sum_t (q_t * scale) * k_jt, as the CPU forms it.
  float m = -INFINITY;
  for (int j = lane; j < N; j += 32) {
    const float* kj = k + (batch0 + j) * D + h * dh;
    float s = 0.0f;
    for (int t = 0; t < dh; ++t) s += (qi[t] * scale) * kj[t];
    sc[j] = s;
    m = fmaxf(m, s);
  }
  m = warp_max(m);
  float sum = 0.0f;
  for (int j = lane; j < N; j += 32) {
    const float e = expf(sc[j] - m);
    sc[j] = e;
    sum += e;
  }
  sum = warp_sum(sum);
  __syncwarp();  // every lane's probabilities are visible to the whole warp
  const float inv = 1.0f / sum;
  float* yi = y + (batch0 + i) * D + h * dh;
  for (int t = lane; t < dh; t += 32) {
    float acc = 0.0f;
    for (int j = 0; j < N; ++j) acc += sc[j] * v[(batch0 + j) * D + h * dh + t];
    yi[t] = acc * inv;
  }
}

// x, y: (rows, D); one warp per row. Two passes in double like the CPU (no E[x^2] - E[x]^2
// cancellation), then y = (x - mean) * inv_std * gamma + beta evaluated in double as the CPU does.
__global__ void layer_norm_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                  const float* __restrict__ beta, float* __restrict__ y, int rows,
                                  int D, double eps) {
  const int warps_per_block = blockDim.x / 32;
  const int lane = threadIdx.x % 32;
  for (unsigned r = blockIdx.x * warps_per_block + threadIdx.x / 32;
       r < static_cast<unsigned>(rows); r += gridDim.x * warps_per_block) {
    const float* xr = x + static_cast<size_t>(r) * D;
    float* yr = y + static_cast<size_t>(r) * D;
    double s = 0.0;
    for (int i = lane; i < D; i += 32) s += xr[i];
    const double mean = warp_sum(s) / static_cast<double>(D);
    double s2 = 0.0;
    for (int i = lane; i < D; i += 32) {
      const double d = xr[i] - mean;
      s2 += d * d;
    }
    const double var = warp_sum(s2) / static_cast<double>(D);
    const double inv_std = 1.0 / sqrt(var + eps);
    for (int i = lane; i < D; i += 32)
      yr[i] = static_cast<float>((xr[i] - mean) * inv_std * gamma[i] + beta[i]);
  }
}

// engine/cpu/attention.cpp's sinusoid(): computed in double, rounded once to float.
__device__ __forceinline__ float sinusoid(int pos, int i, int d) {
  const double exponent = static_cast<double>(2 * (i / 2)) / static_cast<double>(d);
  const double angle = static_cast<double>(pos) / pow(10000.0, exponent);
  return static_cast<float>(i % 2 == 0 ? sin(angle) : cos(angle));
}

// x, y: (B, N, D); y = x * scale + PE[n, i]. __fmul_rn/__fadd_rn keep the CPU's two roundings
// (no FMA contraction).
__global__ void pos_encoding_kernel(const float* __restrict__ x, float* __restrict__ y, int total,
                                    int N, int D, float scale) {
  SR_GRID_STRIDE(idx, total) {
    const unsigned i = idx % D, n = (idx / D) % N;
    y[idx] =
        __fadd_rn(__fmul_rn(x[idx], scale), sinusoid(static_cast<int>(n), static_cast<int>(i), D));
  }
}

size_t attention_smem_bytes(int64_t N) {
  return static_cast<size_t>(kAttentionWarps) * static_cast<size_t>(N) * sizeof(float);
}

}  // namespace

void attention_cuda_init(const CudaContext& ctx) {
  SR_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(ctx.smem_optin)));
}

void dense_forward(CudaContext& ctx, const float* x, int64_t rows, int64_t din, const float* w,
                   int64_t dout, const float* bias, float* y, bool relu, bool tf32) {
  if (rows == 0 || dout == 0) return;
  SR_CHECK(fits_int32(rows) && fits_int32(din) && fits_int32(dout),
           "dense: dimensions too large for cuBLAS (", rows, " x ", din, " x ", dout, ")");
  if (din == 0) {
    SR_CUDA_CHECK(
        cudaMemsetAsync(y, 0, static_cast<size_t>(rows * dout) * sizeof(float), ctx.stream));
  } else {
    // Row-major y (rows, dout) = x (rows, din) * w (din, dout) is, in cuBLAS's column-major terms,
    // y^T (dout x rows) = w^T (dout x din) * x^T (din x rows): the same bytes, no transposes.
    const float alpha = 1.0f, beta = 0.0f;
    SR_CUBLAS_CHECK(cublasGemmEx(
        ctx.cublas, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(dout), static_cast<int>(rows),
        static_cast<int>(din), &alpha, w, CUDA_R_32F, static_cast<int>(dout), x, CUDA_R_32F,
        static_cast<int>(din), &beta, y, CUDA_R_32F, static_cast<int>(dout),
        tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
  bias_act_cuda(ctx, y, bias, rows, dout, relu);
}

// x: (B, N, Din), weight (Din, Dout), bias (Dout) -> y: (B, N, Dout), y = x * W + b [, ReLU]
void linear_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const WeightView& w = call.weights[0];
  const WeightView& bias = call.weights[1];
  const TensorView& y = call.output;
  const int64_t rows = x.shape.b * x.shape.l, Din = x.shape.c, Dout = y.shape.c;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  // Dense layers stay FP32 in every mode: they are a sliver of the FLOPs, and AFiLM's encoder
  // amplifies operand rounding ~100x (TF32 here alone: residual NMSE 8e-5 at random init,
  // bench/precision_emulation.cpp), which would use most of the accuracy bound.
  dense_forward(ctx, x.data, rows, Din, w.data, Dout, bias.data, y.data, call.params.relu,
                /*tf32=*/false);
}

// q, k, v: (B, N, D) -> y: (B, N, D); head h attends with feature slice [h*dh, (h+1)*dh).
void attention_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& q = call.inputs[0];
  const TensorView& k = call.inputs[1];
  const TensorView& v = call.inputs[2];
  const TensorView& y = call.output;
  const int64_t B = q.shape.b, N = q.shape.l, D = q.shape.c, H = call.params.heads;
  check_op_call(call);
  if (B == 0 || N == 0 || D == 0) return;  // a zero grid dimension is a launch error
  SR_CHECK(fits_int32(q.numel()), "attention: ", q.shape.str(), " too large");
  SR_CHECK(H <= 65535 && B <= 65535, "attention: more than 65535 heads or batch rows");
  const size_t smem = attention_smem_bytes(N);
  SR_CHECK(smem <= ctx.smem_optin, "attention: ", N, " tokens need ", smem,
           " bytes of shared memory, the device allows ", ctx.smem_optin);
  const int64_t dh = D / H;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  const dim3 grid(static_cast<unsigned>((N + kAttentionWarps - 1) / kAttentionWarps),
                  static_cast<unsigned>(H), static_cast<unsigned>(B));
  SR_LAUNCH(attention_kernel, grid, kAttentionWarps * 32, smem, ctx.stream)
  (q.data, k.data, v.data, y.data, static_cast<int>(N), static_cast<int>(D), static_cast<int>(dh),
   scale);
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, N, D), gamma (D), beta (D) -> y: (B, N, D), normalised over D with biased variance.
void layer_norm_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const WeightView& gamma = call.weights[0];
  const WeightView& beta = call.weights[1];
  const TensorView& y = call.output;
  const int64_t rows = x.shape.b * x.shape.l, D = x.shape.c;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  if (rows == 0 || D == 0) return;
  SR_CHECK(fits_int32(x.numel()), "layer_norm: ", x.shape.str(), " too large");
  const int warps = kThreads / 32;
  const unsigned blocks = grid_for(rows, warps, ctx.sm_count);
  SR_LAUNCH(layer_norm_kernel, blocks, kThreads, 0, ctx.stream)
  (x.data, gamma.data, beta.data, y.data, static_cast<int>(rows), static_cast<int>(D),
   static_cast<double>(call.params.eps));
  SR_CUDA_CHECK_LAUNCH();
}

// x: (B, N, D) -> y: (B, N, D), y = x * sqrt(D) + PE[n, i]
void pos_encoding_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t N = x.shape.l, D = x.shape.c;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  if (x.numel() == 0) return;
  SR_CHECK(fits_int32(x.numel()), "pos_encoding: ", x.shape.str(), " too large");
  const float scale = std::sqrt(static_cast<float>(D));  // float32 sqrt, as the CPU
  const int64_t n = x.numel();
  SR_LAUNCH(pos_encoding_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (x.data, y.data, static_cast<int>(n), static_cast<int>(N), static_cast<int>(D), scale);
  SR_CUDA_CHECK_LAUNCH();
}

}  // namespace sr::cuda
