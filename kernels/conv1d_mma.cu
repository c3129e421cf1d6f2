// Tensor-core implicit GEMM for conv1d (TF32 and BF16 inputs, FP32 accumulation), on mma.sync
// with fragments loaded by ldmatrix from shared memory (the PTX: mma_ptx.cuh). Geometry and tile
// maps: conv1d_tiling.h (mma_tile), replayed on the CPU by tests/gpu/test_conv_tiling_emu.cpp; the
// kernel itself runs on the CPU in tests/kernels_host (host execution, fragments exchanged lane by
// lane with the PTX ISA's layouts).
//
// Block tile 128 (output positions) x 128 (output channels) x 32 (k = tap * Cin + ci), 8 warps of
// 64 x 32, 3-stage cp.async pipeline (16-byte copies; zero-fill for padding taps, rows past M and
// columns past Cout). Because Cin % 32 == 0, a k-tile lies inside one tap j: the dilation enters
// only as the row shift tap_offset(j) of the A tile, computed once per k-tile.
//
// A warp's k-step (TF32: k = 8, m16n8k8; BF16: k = 16, m16n8k16) multiplies 4 A fragments (16 rows
// each, one ldmatrix.x4 apiece) by 4 B fragments (8 columns each) into 4 x 4 accumulator tiles of
// 16 x 8. B is the weight tile, k rows of n: BF16 loads it with ldmatrix.x4.trans (two fragments
// per instruction); ldmatrix cannot transpose 32-bit elements, so in TF32 each lane reads its two
// B words itself (rows 136 floats apart: the 32 lanes hit 32 banks). TF32 operands are rounded
// with cvt.rna after the load (the tensor core would truncate them).
//
// The epilogue stages 16 x 16 of accumulators (two n8 tiles) at a time in shared memory, then lane
// l reads rows 2e + l/16, so lanes l and l + 16 hold a pool pair (rows 2e, 2e + 1) and one shuffle
// gives lane l both. Bias, pool, activation and shuffle are applied there, or the raw sums go to
// `partial` (split-K, odd L) for conv_epilogue_kernel.
//
// Next steps once it runs on a device (see docs/BENCHMARKS.md): a wider warp tile (64 x 64) for
// the deep-K up layers, then wgmma with TMA (sm_90a) for U1 and U0.
#include <algorithm>
#include <cstdint>

#include "conv1d_internal.cuh"
#include "mma_ptx.cuh"
#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

namespace mt = mma_tile;

// One warp's fragments for a k-step, per input type: A, four 16 x kK fragments 16 rows apart
// (row-major in the A tile, `ld` elements a row), and B, the four kK x 8 fragments of the warp's
// 32 columns (k rows of the B tile). Layouts of the PTX ISA, g = lane / 4, t = lane % 4.
template <typename T>
struct MmaOps;

// TF32 m16n8k8: a[i] = A[g + 8 (i % 2)][t + 4 (i / 2)], b[i] = B[t + 4 i][g].
template <>
struct MmaOps<float> {
  static __device__ __forceinline__ void load_a(uint32_t (&a)[4][4], const float* tile, int ld,
                                                int lane) {
    // Matrices 0-3: rows 0-7 / 8-15 by k 0-3 / 4-7; lane l gives row l % 16 of k-half l / 16.
    ldmatrix_x4<false>(a, tile + (lane % 16) * ld + (lane / 16) * 4, 16 * ld);
#pragma unroll
    for (int f = 0; f < 4; ++f)
#pragma unroll
      for (int i = 0; i < 4; ++i) a[f][i] = tf32_rna(__uint_as_float(a[f][i]));
  }
  static __device__ __forceinline__ void load_b(uint32_t (&b)[4][2], const float* tile, int ld,
                                                int lane) {
    const float* p = tile + (lane % 4) * ld + lane / 4;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      b[j][0] = tf32_rna(p[8 * j]);
      b[j][1] = tf32_rna(p[4 * ld + 8 * j]);
    }
  }
  static __device__ __forceinline__ void mma(float (&d)[4][4][4], const uint32_t (&a)[4][4],
                                             const uint32_t (&b)[4][2]) {
    mma_m16n8k8_tf32(d, a, b);
  }
};

// BF16 m16n8k16: a[i] = A[g + 8 (i % 2)][2t + 8 (i / 2) + {0, 1}], b[i] = B[2t + 8 i + {0, 1}][g]
// (the lower k in the low half).
template <>
struct MmaOps<__nv_bfloat16> {
  static __device__ __forceinline__ void load_a(uint32_t (&a)[4][4], const __nv_bfloat16* tile,
                                                int ld, int lane) {
    // Matrices 0-3: rows 0-7 / 8-15 by k 0-7 / 8-15; lane l gives row l % 16 of k-half l / 16.
    ldmatrix_x4<false>(a, tile + (lane % 16) * ld + (lane / 16) * 8, 16 * ld);
  }
  static __device__ __forceinline__ void load_b(uint32_t (&b)[4][2], const __nv_bfloat16* tile,
                                                int ld, int lane) {
    // Transposed, per 16 columns: matrices k 0-7 / 8-15 of columns 0-7, then of columns 8-15;
    // lane l gives k row l % 16 at column 8 (l / 16).
    uint32_t r[2][4];
    ldmatrix_x4<true>(r, tile + (lane % 16) * ld + (lane / 16) * 8, 16);
#pragma unroll
    for (int jj = 0; jj < 2; ++jj) {
      b[2 * jj][0] = r[jj][0];
      b[2 * jj][1] = r[jj][1];
      b[2 * jj + 1][0] = r[jj][2];
      b[2 * jj + 1][1] = r[jj][3];
    }
  }
  static __device__ __forceinline__ void mma(float (&d)[4][4][4], const uint32_t (&a)[4][4],
                                             const uint32_t (&b)[4][2]) {
    mma_m16n8k16_bf16(d, a, b);
  }
};

// y (or partial[blockIdx.y]) for the block tile blockIdx.x and the k-tiles of split blockIdx.y.
template <typename T>
__global__ void __launch_bounds__(mt::kThreads, 2)
    conv1d_mma_kernel(const T* __restrict__ x, const T* __restrict__ w,
                      const float* __restrict__ bias, float* __restrict__ y,
                      float* __restrict__ partial, ConvGeometry g, ConvEpilogue ep, int n_tiles_n,
                      int per_split) {
  using Ops = MmaOps<T>;
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

  // acc[fi][nj]: the 16 x 8 tile at warp rows 16 fi, columns 8 nj; lane (g, t) holds its
  // elements (g, 2t), (g, 2t + 1), (g + 8, 2t), (g + 8, 2t + 1).
  float acc[4][4][4];
#pragma unroll
  for (int fi = 0; fi < 4; ++fi)
#pragma unroll
    for (int nj = 0; nj < 4; ++nj)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[fi][nj][e] = 0.0f;

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
      uint32_t a[4][4], b[4][2];
      Ops::load_a(a, a_s + S::a_frag(warp, 0, kk), S::kLdA, lane);
      Ops::load_b(b, b_s + S::b_frag(warp, 0, kk), S::kLdB, lane);
      Ops::mma(acc, a, b);  // 16 mma.sync: acc[fi][nj] += a[fi] * b[nj]
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
      // The n8 tiles 2 fj and 2 fj + 1 side by side: lane (g, t) writes its own elements.
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          stage[(lane / 4 + 8 * (e / 2)) * mt::kStageLd + 8 * h + 2 * (lane % 4) + e % 2] =
              acc[fi][2 * fj + h][e];
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
  // Two blocks per SM (__launch_bounds__) need 2 x kSmemBytes (210 KiB in TF32): the largest
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
