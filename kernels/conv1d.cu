// 'same' dilated conv1d, channels-last (engine/cpu/conv1d.cpp): the dispatch between kernels and
// the FP32 paths.
//
//   Cin < 8        conv1d_direct_kernel  a stencil, one thread per output (D0: Cin = 1, K = 65)
//   Cout <= 8      conv1d_thin_kernel    one warp per output row (F: Cout = 2)
//   tf32 / bf16, Cin % 32 == 0, Cout % 8 == 0, 16-byte aligned x (row stride % 4 == 0) and w
//                  conv1d_mma.cu         tensor-core implicit GEMM (+ split-K at small M)
//   otherwise      conv1d_fp32_kernel    exact FP32 implicit GEMM (FFMA)
// With BackendOptions::conv_impl = cudnn, cuDNN runs instead wherever it has an algorithm.
// Every path applies the fused epilogue of an inference graph (bias, 2:1 max-pool, activation,
// subpixel shuffle, strided store into a concatenation buffer): in its own store where one thread
// or warp holds both rows of a pool pair, else through conv_epilogue_kernel over raw sums (split-K,
// cuDNN, odd lengths). The index math is in conv1d_tiling.h (emulated on the CPU by tests/gpu).
#include <vector>

#include "conv1d_internal.cuh"
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kThreads = 256;

// One thread per output element (b, t, co) after the pool, co fastest: the warp shares x reads
// (broadcast) and reads consecutive weights. Body: direct_output (conv1d_tiling.h).
__global__ void conv1d_direct_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                     const float* __restrict__ bias, float* __restrict__ y,
                                     ConvGeometry g, ConvEpilogue e) {
  const int total = g.B * e.out_length(g.L) * g.Cout;
  SR_GRID_STRIDE(i, total) direct_output(x, w, bias, y, g, e, static_cast<int>(i));
}

// One warp per output row (b, t) after the pool (Cout <= 8): lanes split the input channels of
// each tap (thin_partial), a butterfly reduction gives every lane the totals and lane co stores
// channel co. Under pool2 the warp computes both rows of the pair.
__global__ void conv1d_thin_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                   const float* __restrict__ bias, float* __restrict__ y,
                                   ConvGeometry g, ConvEpilogue e) {
  const int lane = threadIdx.x % 32;
  const int warps_total = gridDim.x * (blockDim.x / 32);
  const int Lo = e.out_length(g.L);
  for (int r = (blockIdx.x * blockDim.x + threadIdx.x) / 32; r < g.B * Lo; r += warps_total) {
    int unused;
    const int m = out_row(g, e, r * g.Cout, unused);
    float out[kThinMaxCout];
    for (int pass = 0; pass < (e.pool2 ? 2 : 1); ++pass) {
      float acc[kThinMaxCout];
      thin_partial(x, w, g, m + pass, lane, acc);
#pragma unroll
      for (int co = 0; co < kThinMaxCout; ++co) {
        const float v = warp_sum(acc[co]) + (co < g.Cout ? bias[co] : 0.0f);
        out[co] = pass == 0 ? v : pool_max(out[co], v);
      }
    }
#pragma unroll
    for (int co = 0; co < kThinMaxCout; ++co)
      if (co < g.Cout && lane == co) epilogue_store(y, g, e, m, co, out[co]);
  }
}

// The epilogue over raw sums z (splits planes of (M, Cout), float or bf16, no bias): one thread per
// output element after the pool (epilogue_output); splits are added in order (deterministic).
__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <typename T>
__global__ void conv_epilogue_kernel(const T* __restrict__ z, int splits,
                                     const float* __restrict__ bias, float* __restrict__ y,
                                     ConvGeometry g, ConvEpilogue e) {
  const int total = g.B * e.out_length(g.L) * g.Cout;
  SR_GRID_STRIDE(i, total) {
    epilogue_output(z, splits, bias, y, g, e, static_cast<int>(i), [](T v) { return to_float(v); });
  }
}

template <typename T>
void launch_conv_epilogue(CudaContext& ctx, const T* z, int splits, const float* bias, float* y,
                          const ConvGeometry& g, const ConvEpilogue& e) {
  const int64_t total = static_cast<int64_t>(g.B) * e.out_length(g.L) * g.Cout;
  if (total == 0) return;
  SR_LAUNCH(conv_epilogue_kernel<T>, grid_for(total, kThreads, ctx.sm_count), kThreads, 0,
            ctx.stream)
  (z, splits, bias, y, g, e);
  SR_CUDA_CHECK_LAUNCH();
}

// Converts x rows (ld floats apart) into a dense bf16 (rows, cols) copy.
__global__ void rows_to_bf16_kernel(const float* __restrict__ src, int64_t ld,
                                    __nv_bfloat16* __restrict__ dst, int rows, int cols) {
  const int total = rows * cols;
  SR_GRID_STRIDE(i, total) {
    const int r = static_cast<int>(i / cols), c = static_cast<int>(i % cols);
    dst[i] = __float2bfloat16_rn(src[r * ld + c]);
  }
}

namespace ft = fp32_tile;

// Exact FP32 implicit GEMM (layout in conv1d_tiling.h, fp32_tile): 128 x 128 block tiles, k-tiles
// of 8, two shared-memory buffers fed from registers (the next tile's global loads are in flight
// while the current one is multiplied), 8 x 8 outputs per thread read as float4 from shared
// memory. A is stored transposed (k-major) so a thread reads 4 consecutive rows at once; its row
// stride of 132 floats keeps the transposing stores free of bank conflicts. The epilogue pairs a
// thread's rows (0, 1), (2, 3), ... for the pool (even GEMM rows: even time steps when L is even);
// with `raw` set it writes the plain sums to raw (M, Cout) instead, for conv_epilogue_kernel.
// Two blocks per SM: at most 128 registers a thread (it took 130 unbounded, one block per SM; 128
// need no spill, which the build's spill gate checks: kernels/CMakeLists.txt).
__global__ void __launch_bounds__(ft::kThreads, 2)
    conv1d_fp32_kernel(const float* __restrict__ x, const float* __restrict__ w,
                       const float* __restrict__ bias, float* __restrict__ y,
                       float* __restrict__ raw, ConvGeometry g, ConvEpilogue e, int n_tiles_n,
                       bool vec_store) {
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

  if (raw) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = m0 + ft::out_row(tid, i);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int n = n0 + ft::out_col(tid, j);
        if (m < M && n < Cout) raw[static_cast<int64_t>(m) * Cout + n] = acc[i][j];
      }
    }
    return;
  }
  if (vec_store) {  // identity epilogue, ldy % 4 == 0, aligned y: float4 rows
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = m0 + ft::out_row(tid, i);
      if (m >= M) continue;
      float* yr = y + static_cast<int64_t>(m) * e.ldy;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int n = n0 + ft::out_col(tid, half * 4);
        if (n + 3 < Cout) {
          *reinterpret_cast<float4*>(yr + n) =
              make_float4(acc[i][half * 4 + 0] + bias[n], acc[i][half * 4 + 1] + bias[n + 1],
                          acc[i][half * 4 + 2] + bias[n + 2], acc[i][half * 4 + 3] + bias[n + 3]);
        } else {
#pragma unroll
          for (int q = 0; q < 4; ++q)
            if (n + q < Cout) yr[n + q] = acc[i][half * 4 + q] + bias[n + q];
        }
      }
    }
    return;
  }
  // Fully unrolled (constant trip counts): a runtime step would index acc dynamically and move it
  // to local memory.
#pragma unroll
  for (int i = 0; i < 8; i += 2) {
#pragma unroll
    for (int p = 0; p < 2; ++p) {
      if (p == 1 && e.pool2) continue;  // row i + 1 was the partner of row i
      const int m = m0 + ft::out_row(tid, i + p);
      if (m >= M) continue;  // under pool2 M is even, so m < M implies m + 1 < M
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int n = n0 + ft::out_col(tid, j);
        if (n >= Cout) continue;
        float v = acc[i + p][j] + bias[n];
        if (e.pool2) v = pool_max(v, acc[i + 1][j] + bias[n]);
        epilogue_store(y, g, e, m, n, v);
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

// Whether the tensor-core kernel can read x for this call at this precision.
bool mma_path(const ConvGeometry& g, const float* x, const float* w, Precision precision) {
  if (precision == Precision::fp32 || !mma_supported(g) || !aligned16(w)) return false;
  // bf16 reads a dense converted copy; tf32 reads x itself with 16-byte copies.
  return precision == Precision::bf16 || (aligned16(x) && g.x_ld() % 4 == 0);
}

void conv1d_ours(const OpCall& call, const ConvGeometry& g, const ConvEpilogue& e,
                 CudaContext& ctx) {
  const float* x = call.inputs[0].data;
  const float* w = call.weights[0].data;
  const float* bias = call.weights[1].data;
  float* y = call.output.data;
  const Precision precision = ctx.options.precision;
  // In-store pooling pairs even and odd GEMM rows: time steps of one item only when L is even.
  const bool pairs_ok = !e.pool2 || g.L % 2 == 0;

  const ConvKernel kernel = conv_kernel(g);
  if (kernel == ConvKernel::direct) {
    const int64_t total = static_cast<int64_t>(g.B) * e.out_length(g.L) * g.Cout;
    SR_LAUNCH(conv1d_direct_kernel, grid_for(total, kThreads, ctx.sm_count), kThreads, 0,
              ctx.stream)
    (x, w, bias, y, g, e);
    SR_CUDA_CHECK_LAUNCH();
    return;
  }
  if (kernel == ConvKernel::thin) {
    const int64_t rows = static_cast<int64_t>(g.B) * e.out_length(g.L);
    SR_LAUNCH(conv1d_thin_kernel, grid_for(rows, kThreads / 32, ctx.sm_count), kThreads, 0,
              ctx.stream)
    (x, w, bias, y, g, e);
    SR_CUDA_CHECK_LAUNCH();
    return;
  }
  const size_t plane = static_cast<size_t>(g.M()) * g.Cout;
  if (mma_path(g, x, w, precision)) {
    const int splits = mma_split_count(g, ctx.sm_count);
    const bool raw = splits > 1 || !pairs_ok;
    const bool bf16 = precision == Precision::bf16;
    ScratchLayout layout;
    const size_t x_off = bf16 ? layout.add<__nv_bfloat16>(static_cast<size_t>(g.M()) * g.Cin) : 0;
    const size_t p_off = raw ? layout.add<float>(static_cast<size_t>(splits) * plane) : 0;
    void* base = layout.bytes() > 0 ? ctx.scratch(layout.bytes()) : nullptr;
    float* partial = raw ? scratch_at<float>(base, p_off) : nullptr;
    if (!bf16) {
      conv1d_mma_tf32(ctx, g, x, w, bias, y, e, splits, partial);
    } else {
      const int64_t w_numel = call.weights[0].numel();
      const auto* wb = static_cast<const __nv_bfloat16*>(ctx.derived(
          w, w_numel, DerivedWeight::bf16, static_cast<size_t>(w_numel) * 2,
          [&](void* dst) { convert_to_bf16(ctx, w, static_cast<__nv_bfloat16*>(dst), w_numel); }));
      __nv_bfloat16* xb = scratch_at<__nv_bfloat16>(base, x_off);
      convert_rows_to_bf16(ctx, x, g.x_ld(), xb, g.M(), g.Cin);
      ConvGeometry dense = g;
      dense.ldx = 0;
      conv1d_mma_bf16(ctx, dense, xb, wb, bias, y, e, splits, partial);
    }
    if (raw) conv_epilogue(ctx, partial, splits, bias, y, g, e);
    return;
  }
  const int n_tiles_n = (g.Cout + ft::kBN - 1) / ft::kBN;
  const int64_t blocks = static_cast<int64_t>((g.M() + ft::kBM - 1) / ft::kBM) * n_tiles_n;
  SR_CHECK(blocks <= 0x7fffffff, "conv1d: too many tiles");
  float* raw = pairs_ok ? nullptr : static_cast<float*>(ctx.scratch(plane * sizeof(float)));
  const bool vec_store = e.identity() && e.ldy % 4 == 0 && aligned16(y);
  SR_LAUNCH(conv1d_fp32_kernel, static_cast<unsigned>(blocks), ft::kThreads, 0, ctx.stream)
  (x, w, bias, y, raw, g, e, n_tiles_n, vec_store);
  SR_CUDA_CHECK_LAUNCH();
  if (raw) conv_epilogue(ctx, raw, 1, bias, y, g, e);
}

}  // namespace

void convert_to_bf16(CudaContext& ctx, const float* src, __nv_bfloat16* dst, int64_t n) {
  if (n == 0) return;
  SR_LAUNCH(to_bf16_kernel, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (src, dst, n);
  SR_CUDA_CHECK_LAUNCH();
}

void conv_epilogue(CudaContext& ctx, const float* z, int splits, const float* bias, float* y,
                   const ConvGeometry& g, const ConvEpilogue& e) {
  launch_conv_epilogue(ctx, z, splits, bias, y, g, e);
}

void conv_epilogue(CudaContext& ctx, const __nv_bfloat16* z, const float* bias, float* y,
                   const ConvGeometry& g, const ConvEpilogue& e) {
  launch_conv_epilogue(ctx, z, 1, bias, y, g, e);
}

void convert_rows_to_bf16(CudaContext& ctx, const float* src, int64_t ld, __nv_bfloat16* dst,
                          int64_t rows, int64_t cols) {
  SR_CHECK(fits_int32(rows * cols), "convert_rows_to_bf16: too many elements");
  if (rows * cols == 0) return;
  SR_LAUNCH(rows_to_bf16_kernel, grid_for(rows * cols, kThreads, ctx.sm_count), kThreads, 0,
            ctx.stream)
  (src, ld, dst, static_cast<int>(rows), static_cast<int>(cols));
  SR_CUDA_CHECK_LAUNCH();
}

void conv_weight_to_krsc(CudaContext& ctx, const float* w, float* dst, int K, int Cin, int Cout) {
  const int64_t n = static_cast<int64_t>(K) * Cin * Cout;
  if (n == 0) return;
  SR_LAUNCH(krsc_kernel<float>, grid_for(n, kThreads, ctx.sm_count), kThreads, 0, ctx.stream)
  (w, dst, K, Cin, Cout);
  SR_CUDA_CHECK_LAUNCH();
}

void conv_weight_to_krsc_bf16(CudaContext& ctx, const float* w, __nv_bfloat16* dst, int K, int Cin,
                              int Cout) {
  const int64_t n = static_cast<int64_t>(K) * Cin * Cout;
  if (n == 0) return;
  SR_LAUNCH(krsc_kernel<__nv_bfloat16>, grid_for(n, kThreads, ctx.sm_count), kThreads, 0,
            ctx.stream)
  (w, dst, K, Cin, Cout);
  SR_CUDA_CHECK_LAUNCH();
}

std::string conv1d_path_name(const OpCall& call, const CudaContext& ctx) {
  const ConvGeometry g = conv_geometry(call);
  const Precision precision = ctx.options.precision;
  std::string ours;
  if (conv_kernel(g) == ConvKernel::direct) {
    ours = "direct fp32";
  } else if (conv_kernel(g) == ConvKernel::thin) {
    ours = "thin fp32";
  } else if (mma_path(g, call.inputs[0].data, call.weights[0].data, precision)) {
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

ConvGeometry conv_geometry(const OpCall& call) {
  const TensorView& xv = call.inputs[0];
  return ConvGeometry{static_cast<int>(xv.shape.b),
                      static_cast<int>(xv.shape.l),
                      static_cast<int>(xv.shape.c),
                      static_cast<int>(call.weights[0].dims.at(2)),
                      call.params.kernel,
                      call.params.dilation,
                      static_cast<int>(xv.row_stride())};
}

ConvEpilogue conv_epilogue_of(const OpCall& call) {
  ConvEpilogue e;
  e.pool2 = call.params.pool2;
  e.act = call.params.act == Activation::relu         ? kActRelu
          : call.params.act == Activation::leaky_relu ? kActLeakyRelu
                                                      : kActNone;
  e.alpha = call.params.alpha;
  e.shuffle = call.params.shuffle;
  e.tf_order = call.params.order == SubpixelOrder::tf;
  e.ldy = call.output.row_stride();
  return e;
}

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y, (B, L, Cout) before the epilogue:
// y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] * x[b, t + dilation*(j - (K-1)/2), ci], zero
// outside [0, L); then pool2 / activation / shuffle as OpParams says.
void conv1d_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  check_op_call(call);  // shapes (with the epilogue) and which views may be strided
  const TensorView& xv = call.inputs[0];
  const WeightView& wv = call.weights[0];
  const TensorView& yv = call.output;
  SR_CHECK(xv.data && wv.data && call.weights[1].data && yv.data, "conv1d: null buffer");
  const int64_t B = xv.shape.b, L = xv.shape.l, Cin = xv.shape.c, Cout = wv.dims[2];
  const int64_t K = call.params.kernel, dilation = call.params.dilation;
  if (B * L == 0 || Cout == 0) return;
  // 32-bit row and column indices (addresses are formed in 64 bits).
  SR_CHECK(fits_int32(B * L * Cout) && fits_int32(B * L * xv.row_stride()) &&
               fits_int32(yv.shape.b * yv.shape.l * yv.row_stride()) &&
               fits_int32(K * Cin * Cout) && dilation * K < (int64_t{1} << 29),
           "conv1d: ", xv.shape.str(), " with K=", K, " Cout=", Cout, " is too large");
  const ConvGeometry g = conv_geometry(call);
  const ConvEpilogue e = conv_epilogue_of(call);
  if (ctx.options.conv_impl == ConvImpl::cudnn && conv1d_cudnn_fwd(call, g, e, ctx)) return;
  conv1d_ours(call, g, e, ctx);
}

}  // namespace sr::cuda
