// 'same' dilated conv1d, channels-last (engine/cpu/conv1d.cpp): the dispatch between kernels and
// the FP32 paths.
//
//   Cin < 8            conv1d_direct_kernel   a stencil, one thread per output (D0: Cin = 1, K =
//   65) Cout <= 8          conv1d_thin_kernel     one warp per output row (F: Cout = 2) tf32 /
//   bf16, Cin % 32 == 0, Cout % 8 == 0, 16-byte aligned x and w
//                      conv1d_mma.cu          tensor-core implicit GEMM (+ split-K at small M)
//   otherwise          conv1d_fp32_kernel     exact FP32 implicit GEMM (FFMA)
// With BackendOptions::conv_impl = cudnn, cuDNN runs instead wherever it has an algorithm.
// The index math of the GEMM view is in conv1d_tiling.h (emulated on the CPU by tests/gpu).
#include <vector>

#include "conv1d_internal.cuh"
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kDirectMaxCin = 8;  // below this, a GEMM's inner dimension is too thin (CPU: same)
constexpr int kThinMaxCout = 8;
constexpr int kThreads = 256;

// One thread per output element (m, co), co fastest: the warp shares x reads (broadcast) and reads
// consecutive weights. Summation order is the CPU direct loop's: bias, then taps, then channels.
__global__ void conv1d_direct_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                     const float* __restrict__ bias, float* __restrict__ y,
                                     ConvGeometry g) {
  const int total = g.M() * g.Cout;
  SR_GRID_STRIDE(i, total) {
    const int co = static_cast<int>(i % g.Cout), m = static_cast<int>(i / g.Cout);
    const ARow r = a_row(g, m);
    float acc = bias[co];
    for (int j = 0; j < g.K; ++j) {
      const int64_t off = a_offset(g, r, g.tap_offset(j), 0);
      if (off < 0) continue;  // zero padding
      const float* xr = x + off;
      const float* wr = w + static_cast<int64_t>(j) * g.Cin * g.Cout + co;
      for (int ci = 0; ci < g.Cin; ++ci)
        acc = fmaf(xr[ci], wr[static_cast<int64_t>(ci) * g.Cout], acc);
    }
    y[i] = acc;
  }
}

// One warp per output row m (Cout <= 8): lanes split the input channels of each tap, every lane
// keeps Cout partial sums, a butterfly reduction adds them and lane co writes channel co.
__global__ void conv1d_thin_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                   const float* __restrict__ bias, float* __restrict__ y,
                                   ConvGeometry g) {
  const int lane = threadIdx.x % 32;
  const int warps_total = gridDim.x * (blockDim.x / 32);
  for (int m = (blockIdx.x * blockDim.x + threadIdx.x) / 32; m < g.M(); m += warps_total) {
    const ARow r = a_row(g, m);
    float acc[kThinMaxCout];
#pragma unroll
    for (int co = 0; co < kThinMaxCout; ++co) acc[co] = 0.0f;
    for (int j = 0; j < g.K; ++j) {
      const int64_t off = a_offset(g, r, g.tap_offset(j), 0);  // the same for the whole warp
      if (off < 0) continue;
      const float* xr = x + off;
      const float* wr = w + static_cast<int64_t>(j) * g.Cin * g.Cout;
      for (int ci = lane; ci < g.Cin; ci += 32) {
        const float xv = xr[ci];
        const float* wc = wr + static_cast<int64_t>(ci) * g.Cout;
#pragma unroll
        for (int co = 0; co < kThinMaxCout; ++co)
          if (co < g.Cout) acc[co] = fmaf(xv, wc[co], acc[co]);
      }
    }
#pragma unroll
    for (int co = 0; co < kThinMaxCout; ++co) {
      const float s = warp_sum(acc[co]);
      if (co < g.Cout && lane == co) y[static_cast<int64_t>(m) * g.Cout + co] = s + bias[co];
    }
  }
}

namespace ft = fp32_tile;

// Exact FP32 implicit GEMM (layout in conv1d_tiling.h, fp32_tile): 128 x 128 block tiles, k-tiles
// of 8, two shared-memory buffers fed from registers (the next tile's global loads are in flight
// while the current one is multiplied), 8 x 8 outputs per thread read as float4 from shared
// memory. A is stored transposed (k-major) so a thread reads 4 consecutive rows at once; its row
// stride of 132 floats keeps the transposing stores free of bank conflicts.
__global__ void __launch_bounds__(ft::kThreads)
    conv1d_fp32_kernel(const float* __restrict__ x, const float* __restrict__ w,
                       const float* __restrict__ bias, float* __restrict__ y, ConvGeometry g,
                       int n_tiles_n, bool vec_store) {
  __shared__ __align__(16) float sA[2][ft::kBK][ft::kBM + 4];
  __shared__ __align__(16) float sB[2][ft::kBK][ft::kBN];
  const int tid = threadIdx.x;
  const int m0 = (blockIdx.x / n_tiles_n) * ft::kBM;
  const int n0 = (blockIdx.x % n_tiles_n) * ft::kBN;
  const int M = g.M(), Ktot = g.Ktot(), Cout = g.Cout;

  const int ar = ft::a_load_row(tid);
  const ARow arow = a_row(g, m0 + ar);
  ft::KCursor cursor[4];
#pragma unroll
  for (int e = 0; e < 4; ++e) cursor[e].start(ft::a_load_k(tid, e), g.Cin);
  const int bk = ft::b_load_k(tid);
  const int bn = n0 + ft::b_load_col(tid, 0);
  float ra[4], rb[4];

  auto load = [&](int k0) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float v = 0.0f;
      if (k0 + ft::a_load_k(tid, e) < Ktot) {
        const int64_t off = a_offset(g, arow, g.tap_offset(cursor[e].j), cursor[e].ci);
        if (off >= 0) v = __ldg(x + off);
      }
      ra[e] = v;
    }
    const int k = k0 + bk;
#pragma unroll
    for (int e = 0; e < 4; ++e)
      rb[e] =
          (k < Ktot && bn + e < Cout) ? __ldg(w + static_cast<int64_t>(k) * Cout + bn + e) : 0.0f;
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int e = 0; e < 4; ++e) sA[buf][ft::a_load_k(tid, e)][ar] = ra[e];
    *reinterpret_cast<float4*>(&sB[buf][bk][ft::b_load_col(tid, 0)]) =
        make_float4(rb[0], rb[1], rb[2], rb[3]);
  };

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

  const int KT = (Ktot + ft::kBK - 1) / ft::kBK;
  // This thread's rows and columns: 4 consecutive at out_row(tid, 0) and out_row(tid, 4), etc.
  const int r0 = ft::out_row(tid, 0), r1 = ft::out_row(tid, 4);
  const int c0 = ft::out_col(tid, 0), c1 = ft::out_col(tid, 4);
  load(0);
  store(0);
  __syncthreads();
  for (int kt = 0; kt < KT; ++kt) {
    const int buf = kt & 1;
    const bool more = kt + 1 < KT;
    if (more) {
#pragma unroll
      for (int e = 0; e < 4; ++e) cursor[e].advance(g.Cin);
      load((kt + 1) * ft::kBK);
    }
#pragma unroll
    for (int kk = 0; kk < ft::kBK; ++kk) {
      const float4 a0 = *reinterpret_cast<const float4*>(&sA[buf][kk][r0]);
      const float4 a1 = *reinterpret_cast<const float4*>(&sA[buf][kk][r1]);
      const float4 b0 = *reinterpret_cast<const float4*>(&sB[buf][kk][c0]);
      const float4 b1 = *reinterpret_cast<const float4*>(&sB[buf][kk][c1]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // The other buffer was last read in iteration kt - 1, before the barrier that ended it.
    if (more) store(buf ^ 1);
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int m = m0 + ft::out_row(tid, i);
    if (m >= M) continue;
    float* yr = y + static_cast<int64_t>(m) * Cout;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int n = n0 + ft::out_col(tid, half * 4);
      if (vec_store && n + 3 < Cout) {
        *reinterpret_cast<float4*>(yr + n) =
            make_float4(acc[i][half * 4 + 0] + bias[n], acc[i][half * 4 + 1] + bias[n + 1],
                        acc[i][half * 4 + 2] + bias[n + 2], acc[i][half * 4 + 3] + bias[n + 3]);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (n + e < Cout) yr[n + e] = acc[i][half * 4 + e] + bias[n + e];
      }
    }
  }
}

__global__ void to_bf16_kernel(const float* __restrict__ src, __nv_bfloat16* __restrict__ dst,
                               int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

__global__ void bf16_to_float_bias_kernel(const __nv_bfloat16* __restrict__ src,
                                          const float* __restrict__ bias, float* __restrict__ dst,
                                          int n, int cols) {
  SR_GRID_STRIDE(i, n) dst[i] = __bfloat162float(src[i]) + bias[i % cols];
}

// w: (K, Cin, Cout) -> dst: (Cout, K, Cin); one thread per destination element.
template <typename T>
__global__ void krsc_kernel(const float* __restrict__ w, T* __restrict__ dst, int K, int Cin,
                            int Cout) {
  const int total = K * Cin * Cout;
  SR_GRID_STRIDE(i, total) {
    const int ci = static_cast<int>(i % Cin);
    const int j = static_cast<int>((i / Cin) % K);
    const int co = static_cast<int>(i / (static_cast<unsigned>(Cin) * K));
    const float v = w[(static_cast<int64_t>(j) * Cin + ci) * Cout + co];
    if constexpr (sizeof(T) == 2)
      dst[i] = __float2bfloat16_rn(v);
    else
      dst[i] = v;
  }
}

void conv1d_ours(const OpCall& call, const ConvGeometry& g, CudaContext& ctx) {
  const float* x = call.inputs[0].data;
  const float* w = call.weights[0].data;
  const float* bias = call.weights[1].data;
  float* y = call.output.data;
  const Precision precision = ctx.options.precision;

  if (g.Cin < kDirectMaxCin) {
    const int64_t total = static_cast<int64_t>(g.M()) * g.Cout;
    conv1d_direct_kernel<<<grid_for(total, kThreads, ctx.sm_count), kThreads, 0, ctx.stream>>>(
        x, w, bias, y, g);
    SR_CUDA_CHECK_LAUNCH();
    return;
  }
  if (g.Cout <= kThinMaxCout) {
    conv1d_thin_kernel<<<grid_for(g.M(), kThreads / 32, ctx.sm_count), kThreads, 0, ctx.stream>>>(
        x, w, bias, y, g);
    SR_CUDA_CHECK_LAUNCH();
    return;
  }
  if (precision != Precision::fp32 && mma_supported(g) && aligned16(x) && aligned16(w)) {
    const int splits = mma_split_count(g, ctx.sm_count);
    const bool bf16 = precision == Precision::bf16;
    ScratchLayout layout;
    const size_t x_off = bf16 ? layout.add<__nv_bfloat16>(static_cast<size_t>(g.M()) * g.Cin) : 0;
    const size_t p_off =
        splits > 1 ? layout.add<float>(static_cast<size_t>(splits) * g.M() * g.Cout) : 0;
    void* base = layout.bytes() > 0 ? ctx.scratch(layout.bytes()) : nullptr;
    float* partial = splits > 1 ? scratch_at<float>(base, p_off) : nullptr;
    if (!bf16) {
      conv1d_mma_tf32(ctx, g, x, w, bias, y, splits, partial);
      return;
    }
    const int64_t w_numel = call.weights[0].numel();
    const auto* wb = static_cast<const __nv_bfloat16*>(ctx.derived(
        w, w_numel, DerivedWeight::bf16, static_cast<size_t>(w_numel) * 2,
        [&](void* dst) { convert_to_bf16(ctx, w, static_cast<__nv_bfloat16*>(dst), w_numel); }));
    __nv_bfloat16* xb = scratch_at<__nv_bfloat16>(base, x_off);
    convert_to_bf16(ctx, x, xb, static_cast<int64_t>(g.M()) * g.Cin);
    conv1d_mma_bf16(ctx, g, xb, wb, bias, y, splits, partial);
    return;
  }
  const int n_tiles_n = (g.Cout + ft::kBN - 1) / ft::kBN;
  const int64_t blocks = static_cast<int64_t>((g.M() + ft::kBM - 1) / ft::kBM) * n_tiles_n;
  SR_CHECK(blocks <= 0x7fffffff, "conv1d: too many tiles");
  const bool vec_store = g.Cout % 4 == 0 && aligned16(y);
  conv1d_fp32_kernel<<<static_cast<unsigned>(blocks), ft::kThreads, 0, ctx.stream>>>(
      x, w, bias, y, g, n_tiles_n, vec_store);
  SR_CUDA_CHECK_LAUNCH();
}

}  // namespace

void convert_to_bf16(CudaContext& ctx, const float* src, __nv_bfloat16* dst, int64_t n) {
  if (n == 0) return;
  to_bf16_kernel<<<grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream>>>(src, dst, n);
  SR_CUDA_CHECK_LAUNCH();
}

void bf16_to_float_bias(CudaContext& ctx, const __nv_bfloat16* src, const float* bias, float* dst,
                        int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  SR_CHECK(fits_int32(n), "bf16_to_float_bias: too many elements");
  if (n == 0) return;
  bf16_to_float_bias_kernel<<<grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream>>>(
      src, bias, dst, static_cast<int>(n), static_cast<int>(cols));
  SR_CUDA_CHECK_LAUNCH();
}

void conv_weight_to_krsc(CudaContext& ctx, const float* w, float* dst, int K, int Cin, int Cout) {
  const int64_t n = static_cast<int64_t>(K) * Cin * Cout;
  if (n == 0) return;
  krsc_kernel<float>
      <<<grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream>>>(w, dst, K, Cin, Cout);
  SR_CUDA_CHECK_LAUNCH();
}

void conv_weight_to_krsc_bf16(CudaContext& ctx, const float* w, __nv_bfloat16* dst, int K, int Cin,
                              int Cout) {
  const int64_t n = static_cast<int64_t>(K) * Cin * Cout;
  if (n == 0) return;
  krsc_kernel<__nv_bfloat16>
      <<<grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream>>>(w, dst, K, Cin, Cout);
  SR_CUDA_CHECK_LAUNCH();
}

std::string conv1d_path_name(const OpCall& call, const CudaContext& ctx) {
  const TensorView& xv = call.inputs[0];
  const ConvGeometry g{static_cast<int>(xv.shape.b), static_cast<int>(xv.shape.l),
                       static_cast<int>(xv.shape.c), static_cast<int>(call.output.shape.c),
                       call.params.kernel,           call.params.dilation};
  const Precision precision = ctx.options.precision;
  std::string ours;
  if (g.Cin < kDirectMaxCin) {
    ours = "direct fp32";
  } else if (g.Cout <= kThinMaxCout) {
    ours = "thin fp32";
  } else if (precision != Precision::fp32 && mma_supported(g) && aligned16(xv.data) &&
             aligned16(call.weights[0].data)) {
    const int splits = mma_split_count(g, ctx.sm_count);
    ours = std::string("mma ") + precision_name(precision);
    if (splits > 1) ours += " split-k " + std::to_string(splits);
  } else {
    ours = "tiled fp32";
  }
  if (ctx.options.conv_impl == ConvImpl::cudnn) {
    const int state = conv1d_cudnn_state(call, ctx);
    if (state == 1) return std::string("cudnn ") + precision_name(precision);
    if (state == 0) return ours + " (cuDNN has no algorithm)";
    return std::string("cudnn ") + precision_name(precision) + " if it has an algorithm, else " +
           ours;
  }
  return ours;
}

void conv1d_cuda_init(const CudaContext& ctx) {
  conv1d_mma_init(ctx);
}

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout)
// y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] * x[b, t + dilation*(j - (K-1)/2), ci], zero
// outside [0, L).
void conv1d_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& xv = call.inputs[0];
  const WeightView& wv = call.weights[0];
  const WeightView& bv = call.weights[1];
  const TensorView& yv = call.output;
  const int64_t K = call.params.kernel;
  const int64_t dilation = call.params.dilation;
  SR_CHECK(K > 0 && K % 2 == 1, "conv1d: kernel must be odd and positive, got ", K);
  SR_CHECK(dilation >= 1, "conv1d: dilation must be >= 1, got ", dilation);
  SR_CHECK(wv.dims.size() == 3, "conv1d: weight must have rank 3 (K, Cin, Cout)");
  const int64_t B = xv.shape.b, L = xv.shape.l, Cin = xv.shape.c, Cout = wv.dims[2];
  SR_CHECK(wv.dims[0] == K && wv.dims[1] == Cin, "conv1d: weight (", wv.dims[0], ", ", wv.dims[1],
           ", ", wv.dims[2], ") does not match K=", K, " Cin=", Cin);
  SR_CHECK(bv.numel() == Cout, "conv1d: bias has ", bv.numel(), " values, expected ", Cout);
  SR_CHECK((yv.shape == Shape{B, L, Cout}), "conv1d: output ", yv.shape.str(), " expected (", B,
           ", ", L, ", ", Cout, ")");
  SR_CHECK(xv.data && wv.data && bv.data && yv.data, "conv1d: null buffer");
  if (B * L == 0 || Cout == 0) return;
  // 32-bit row and column indices (addresses are formed in 64 bits).
  SR_CHECK(fits_int32(B * L * Cout) && fits_int32(B * L * Cin) && fits_int32(K * Cin * Cout) &&
               dilation * K < (int64_t{1} << 29),
           "conv1d: ", xv.shape.str(), " with K=", K, " Cout=", Cout, " is too large");
  const ConvGeometry g{static_cast<int>(B),    static_cast<int>(L), static_cast<int>(Cin),
                       static_cast<int>(Cout), static_cast<int>(K), static_cast<int>(dilation)};
  if (ctx.options.conv_impl == ConvImpl::cudnn && conv1d_cudnn_fwd(call, ctx)) return;
  conv1d_ours(call, g, ctx);
}

}  // namespace sr::cuda
