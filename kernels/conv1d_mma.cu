// Tensor-core implicit GEMM for conv1d (TF32 and BF16 inputs, FP32 accumulation), through the WMMA
// API: the fragment layouts stay the compiler's business, which is what an implementation that
// could not yet be run on a GPU should rely on. Geometry and tile maps: conv1d_tiling.h
// (mma_tile), replayed on the CPU by tests/gpu/test_conv_tiling_emu.cpp.
//
// Block tile 128 (output positions) x 128 (output channels) x 32 (k = tap * Cin + ci), 8 warps of
// 64 x 32, 3-stage cp.async pipeline (16-byte copies; zero-fill for padding taps, rows past M and
// columns past Cout). Because Cin % 32 == 0, a k-tile lies inside one tap j: the dilation enters
// only as the row shift tap_offset(j) of the A tile, computed once per k-tile. The epilogue stages
// each 16 x 16 accumulator fragment in shared memory; lane l holds rows 2e + l/16, so lanes l and
// l + 16 hold a pool pair (rows 2e, 2e + 1) and one shuffle gives lane l both. Bias, pool,
// activation and shuffle are applied there, or the raw sums go to `partial` (split-K, odd L) for
// conv_epilogue_kernel.
//
// Next steps once it runs on a device (see docs/BENCHMARKS.md): ldmatrix + mma.sync fragments, then
// wgmma with TMA (sm_90a) for the deep-K layers U1 and U0.
#include <mma.h>

#include <algorithm>

#include "conv1d_internal.cuh"
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

using namespace nvcuda;
namespace mt = mma_tile;

template <typename T>
struct MmaTraits;

template <>
struct MmaTraits<float> {  // TF32: fragments hold floats, rounded to TF32 after the load
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  template <typename Frag>
  static __device__ __forceinline__ void round(Frag& f) {
#pragma unroll
    for (int t = 0; t < f.num_elements; ++t) f.x[t] = wmma::__float_to_tf32(f.x[t]);
  }
};

template <>
struct MmaTraits<__nv_bfloat16> {
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major>;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  template <typename Frag>
  static __device__ __forceinline__ void round(Frag&) {}
};

// The pipeline's PTX; under SR_HOST_EXEC the host execution's deferred copies (host_exec.h).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
#ifdef SR_HOST_EXEC
  host::cp_async16(smem, gmem, valid);
#else
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
               "r"(src_bytes));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef SR_HOST_EXEC
  host::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifdef SR_HOST_EXEC
  host::cp_async_wait(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// y (or partial[blockIdx.y]) for the block tile blockIdx.x and the k-tiles of split blockIdx.y.
template <typename T>
__global__ void __launch_bounds__(mt::kThreads, 2)
    conv1d_mma_kernel(const T* __restrict__ x, const T* __restrict__ w,
                      const float* __restrict__ bias, float* __restrict__ y,
                      float* __restrict__ partial, ConvGeometry g, ConvEpilogue ep, int n_tiles_n,
                      int per_split) {
  using Tr = MmaTraits<T>;
  using S = mt::Layout<static_cast<int>(sizeof(T))>;
  using AMap = TileMap<mt::kBM, mt::kBK, S::kE, mt::kThreads>;
  using BMap = TileMap<mt::kBK, mt::kBN, S::kE, mt::kThreads>;
  SR_DYNAMIC_SHARED(unsigned char, smem_raw);
  T* sA = reinterpret_cast<T*>(smem_raw);
  T* sB = sA + mt::kStages * S::kStageA;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  int m0, n0;
  mt::block_tile(blockIdx.x, n_tiles_n, m0, n0);
  const int KT = g.Ktot() / mt::kBK;
  int kt_begin, kt_end;
  split_range(KT, per_split, blockIdx.y, kt_begin, kt_end);
  const int nkt = kt_end - kt_begin;

  ARow rows[AMap::kPerThread];
#pragma unroll
  for (int i = 0; i < AMap::kPerThread; ++i) rows[i] = a_row(g, m0 + AMap::row(tid, i));
  const int a_col = AMap::col(tid);
  const int b_col = BMap::col(tid);

  auto load_tile = [&](int kt, int stage) {
    const int k0 = kt * mt::kBK;
    const int j = k0 / g.Cin;  // the whole k-tile lies in tap j (Cin % kBK == 0)
    const int ci0 = k0 - j * g.Cin;
    const int tap = g.tap_offset(j);
    T* a_dst = sA + stage * S::kStageA;
#pragma unroll
    for (int i = 0; i < AMap::kPerThread; ++i) {
      const int64_t off = a_offset(g, rows[i], tap, ci0 + a_col);
      cp_async16(a_dst + AMap::row(tid, i) * S::kLdA + a_col, off >= 0 ? x + off : x, off >= 0);
    }
    T* b_dst = sB + stage * S::kStageB;
    const int n = n0 + b_col;
#pragma unroll
    for (int i = 0; i < BMap::kPerThread; ++i) {
      const int r = BMap::row(tid, i);
      const bool ok = n < g.Cout;  // Cout % 8 == 0: a chunk is wholly inside or outside
      cp_async16(b_dst + r * S::kLdB + b_col,
                 ok ? w + static_cast<int64_t>(k0 + r) * g.Cout + n : w, ok);
    }
  };

  typename Tr::Acc acc[4][2];
#pragma unroll
  for (int fi = 0; fi < 4; ++fi)
#pragma unroll
    for (int fj = 0; fj < 2; ++fj) wmma::fill_fragment(acc[fi][fj], 0.0f);

  const int wr0 = mt::warp_row0(warp), wc0 = mt::warp_col0(warp);
#pragma unroll
  for (int s = 0; s < mt::kStages - 1; ++s) {
    if (s < nkt) load_tile(kt_begin + s, s);
    cp_async_commit();  // possibly empty: keeps the group count uniform
  }
  for (int it = 0; it < nkt; ++it) {
    cp_async_wait<mt::kStages - 2>();  // this thread's copies of k-tile `it` have landed
    __syncthreads();                   // everyone's have, and stage (it - 1) % kStages is free
    const int next = it + mt::kStages - 1;
    if (next < nkt) load_tile(kt_begin + next, next % mt::kStages);
    cp_async_commit();

    const T* a_s = sA + (it % mt::kStages) * S::kStageA;
    const T* b_s = sB + (it % mt::kStages) * S::kStageB;
#pragma unroll
    for (int kk = 0; kk < mt::kBK; kk += S::kWK) {
      typename Tr::FragA fa[4];
      typename Tr::FragB fb[2];
#pragma unroll
      for (int fi = 0; fi < 4; ++fi) {
        wmma::load_matrix_sync(fa[fi], a_s + S::a_frag(warp, fi, kk), S::kLdA);
        Tr::round(fa[fi]);
      }
#pragma unroll
      for (int fj = 0; fj < 2; ++fj) {
        wmma::load_matrix_sync(fb[fj], b_s + S::b_frag(warp, fj, kk), S::kLdB);
        Tr::round(fb[fj]);
      }
#pragma unroll
      for (int fi = 0; fi < 4; ++fi)
#pragma unroll
        for (int fj = 0; fj < 2; ++fj) wmma::mma_sync(acc[fi][fj], fa[fi], fb[fj], acc[fi][fj]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // the pipeline buffers become the epilogue's staging area

  float* stage = reinterpret_cast<float*>(smem_raw) + warp * 16 * mt::kStageLd;
  const int M = g.M(), Cout = g.Cout;
  float* raw = partial ? partial + static_cast<int64_t>(blockIdx.y) * M * Cout : nullptr;
#pragma unroll
  for (int fi = 0; fi < 4; ++fi) {
#pragma unroll
    for (int fj = 0; fj < 2; ++fj) {
      wmma::store_matrix_sync(stage, acc[fi][fj], mt::kStageLd, wmma::mem_row_major);
      __syncwarp();
      const int n = n0 + wc0 + fj * 16 + mt::stage_col(lane);
      const float bn = n < Cout ? bias[n] : 0.0f;
#pragma unroll
      for (int e = 0; e < 8; ++e) {
        const int r = mt::stage_row(e, lane);
        const int m = m0 + wr0 + fi * 16 + r;
        const float v = stage[r * mt::kStageLd + mt::stage_col(lane)];
        if (raw) {  // uniform across the block
          if (m < M && n < Cout) raw[static_cast<int64_t>(m) * Cout + n] = v;
        } else if (ep.pool2) {
          // Every lane takes part in the shuffle; lane l < 16 gets row r + 1 from lane l + 16.
          const float odd = __shfl_down_sync(0xffffffffu, v + bn, 16);
          if (lane < 16 && m < M && n < Cout)  // m even and M even: m + 1 < M too
            epilogue_store(y, g, ep, m, n, pool_max(v + bn, odd));
        } else if (m < M && n < Cout) {
          epilogue_store(y, g, ep, m, n, v + bn);
        }
      }
      __syncwarp();  // the staging tile is reused by the next fragment
    }
  }
}

template <typename T>
void launch_mma(CudaContext& ctx, const ConvGeometry& g, const T* x, const T* w, const float* bias,
                float* y, const ConvEpilogue& e, int splits, float* partial) {
  SR_CHECK(mma_supported(g), "conv1d: tensor-core path called for an unsupported shape");
  const int n_tiles_n = (g.Cout + mt::kBN - 1) / mt::kBN;
  const int64_t blocks = static_cast<int64_t>((g.M() + mt::kBM - 1) / mt::kBM) * n_tiles_n;
  SR_CHECK(blocks <= 0x7fffffff, "conv1d: too many tiles");
  const int KT = g.Ktot() / mt::kBK;
  const int per_split = (KT + splits - 1) / splits;
  const int used_splits = (KT + per_split - 1) / per_split;
  SR_CHECK(used_splits == splits, "conv1d: split-K count ", splits, " leaves empty splits");
  SR_CHECK(splits == 1 || partial, "conv1d: split-K needs a partial-sum buffer");
  SR_CHECK(partial || !e.pool2 || g.L % 2 == 0, "conv1d: in-kernel pooling needs an even length");
  // 16-byte cp.async chunks: aligned bases and x rows a whole number of chunks apart.
  constexpr int kChunk = 16 / static_cast<int>(sizeof(T));
  SR_CHECK(aligned16(x) && aligned16(w) && g.x_ld() % kChunk == 0,
           "conv1d: tensor-core path needs 16-byte aligned x and w and a row stride of ", kChunk,
           "k elements");
  const dim3 grid(static_cast<unsigned>(blocks), static_cast<unsigned>(splits));
  SR_LAUNCH(conv1d_mma_kernel<T>, grid, mt::kThreads,
            mt::Layout<static_cast<int>(sizeof(T))>::kSmemBytes, ctx.stream)
  (x, w, bias, y, partial, g, e, n_tiles_n, per_split);
  SR_CUDA_CHECK_LAUNCH();
}

}  // namespace

int mma_split_count(const ConvGeometry& g, int sm_count) {
  return mt::split_count(g, sm_count);
}

void conv1d_mma_init(const CudaContext& ctx) {
  SR_CHECK(
      mt::Layout<4>::kSmemBytes <= ctx.smem_optin && mt::Layout<2>::kSmemBytes <= ctx.smem_optin,
      "conv1d: the tensor-core kernel needs ", mt::Layout<4>::kSmemBytes,
      " bytes of shared memory per block, the device allows ", ctx.smem_optin);
  SR_CUDA_CHECK(cudaFuncSetAttribute(conv1d_mma_kernel<float>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(mt::Layout<4>::kSmemBytes)));
  SR_CUDA_CHECK(cudaFuncSetAttribute(conv1d_mma_kernel<__nv_bfloat16>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(mt::Layout<2>::kSmemBytes)));
  // Two blocks per SM (__launch_bounds__) need 2 x kSmemBytes (207 KiB in TF32): the largest
  // shared-memory carveout, set rather than left to the driver's choice.
  SR_CUDA_CHECK(cudaFuncSetAttribute(conv1d_mma_kernel<float>,
                                     cudaFuncAttributePreferredSharedMemoryCarveout,
                                     cudaSharedmemCarveoutMaxShared));
  SR_CUDA_CHECK(cudaFuncSetAttribute(conv1d_mma_kernel<__nv_bfloat16>,
                                     cudaFuncAttributePreferredSharedMemoryCarveout,
                                     cudaSharedmemCarveoutMaxShared));
}

void conv1d_mma_tf32(CudaContext& ctx, const ConvGeometry& g, const float* x, const float* w,
                     const float* bias, float* y, const ConvEpilogue& e, int splits,
                     float* partial) {
  launch_mma<float>(ctx, g, x, w, bias, y, e, splits, partial);
}

void conv1d_mma_bf16(CudaContext& ctx, const ConvGeometry& g, const __nv_bfloat16* x,
                     const __nv_bfloat16* w, const float* bias, float* y, const ConvEpilogue& e,
                     int splits, float* partial) {
  launch_mma<__nv_bfloat16>(ctx, g, x, w, bias, y, e, splits, partial);
}

}  // namespace sr::cuda
