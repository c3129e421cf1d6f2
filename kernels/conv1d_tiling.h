// Index math of the implicit-GEMM convolution kernels, shared by the kernels (conv1d.cu,
// conv1d_mma.cu) and the host emulation test (tests/gpu/test_conv_tiling_emu.cpp), which replays
// every thread's loads and stores on the CPU and checks them against a direct convolution.
// Plain C++: no CUDA types, so the test compiles without nvcc.
//
// GEMM view of a 'same' dilated conv1d, x: (B, L, Cin), w: (K, Cin, Cout), y: (B, L, Cout):
//   M = B*L rows m = b*L + t, N = Cout, Ktot = K*Cin with k = j*Cin + ci,
//   A[m][k] = x[b, t + dilation*(j - (K-1)/2), ci] (0 outside [0, L)), B[k][n] = w[j][ci][n]
// B is the weight tensor itself, row-major (Ktot, Cout); only A needs address arithmetic.
// x rows are ldx floats apart (a channel slice of a concatenation buffer when ldx > Cin).
//
// The epilogue (ConvEpilogue) adds the bias, then applies the fused 2:1 max-pool over time, the
// activation and the subpixel shuffle of an inference graph (OpParams::pool2, act, shuffle) and
// stores into y, whose rows are ldy floats apart.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SR_HD __host__ __device__ __forceinline__
#define SR_UNROLL _Pragma("unroll")
#else
#define SR_HD inline
#define SR_UNROLL
#endif

namespace sr::cuda {

struct ConvGeometry {
  int B = 0, L = 0, Cin = 0, Cout = 0, K = 0, dilation = 1;
  int ldx = 0;  // row stride of x in floats; 0 = Cin (dense)
  SR_HD int M() const { return B * L; }
  SR_HD int x_ld() const { return ldx ? ldx : Cin; }
  SR_HD int Ktot() const { return K * Cin; }
  SR_HD int half() const { return (K - 1) / 2; }
  // Offset (in rows) of tap j's source row from the output row.
  SR_HD int tap_offset(int j) const { return dilation * (j - half()); }
};

// A row of the GEMM resolved once per thread: the first row of its batch item and its time step.
// Rows past M get a time step so negative that every tap lands in the padding.
constexpr int kInvalidRow = -(1 << 30);
struct ARow {
  int batch_row0 = 0;  // b * L
  int t = kInvalidRow;
};

SR_HD ARow a_row(const ConvGeometry& g, int m) {
  ARow r;
  if (m < g.M()) {
    r.t = m % g.L;
    r.batch_row0 = m - r.t;
  }
  return r;
}

// Element offset into x of A[m][k] for the row `r`, tap offset `tap` and channel ci, or -1 when it
// is padding (or the row is past M).
SR_HD int64_t a_offset(const ConvGeometry& g, ARow r, int tap, int ci) {
  const int src = r.t + tap;
  if (src < 0 || src >= g.L) return -1;
  return static_cast<int64_t>(r.batch_row0 + src) * g.x_ld() + ci;
}

// ---------------------------------------------------------------------------------------------
// Epilogue. Kernels that see both rows of a pool pair in one thread (or one warp) apply it in
// place; the others write raw sums and conv_epilogue_kernel (conv1d.cu) applies it, one thread per
// output element. In-kernel pooling pairs GEMM rows (m, m + 1) with m even, which are time steps
// (t, t + 1) of one batch item only when L is even: odd L takes the separate kernel.
enum : int { kActNone = 0, kActRelu = 1, kActLeakyRelu = 2 };

struct ConvEpilogue {
  bool pool2 = false;
  int act = kActNone;
  float alpha = 0.0f;  // leaky_relu slope
  bool shuffle = false;
  bool tf_order = true;  // subpixel: tf y[b,2t+k,c] = v[b,t,k*C+c]; pt: v[b,t,2c+k]
  int64_t ldy = 0;       // row stride of y in floats
  SR_HD int out_length(int L) const { return pool2 ? L / 2 : L; }
  // Applied after the bias and the pool, as the relu / leaky_relu ops compute them.
  template <typename V>
  SR_HD V activate(V v) const {
    if (act == kActRelu) return v > V(0) ? v : V(0);
    if (act == kActLeakyRelu) return v > V(0) ? v : V(alpha) * v;
    return v;
  }
  // Offset in y of channel n of time step t (after the pool, t < out_length(L)) of batch item b.
  SR_HD int64_t offset(const ConvGeometry& g, int b, int t, int n) const {
    const int Lo = out_length(g.L);
    if (!shuffle) return (static_cast<int64_t>(b) * Lo + t) * ldy + n;
    const int C = g.Cout / 2;
    const int k = tf_order ? n / C : n % 2, c = tf_order ? n % C : n / 2;
    return (static_cast<int64_t>(b) * 2 * Lo + 2 * t + k) * ldy + c;
  }
  SR_HD bool identity() const { return !pool2 && act == kActNone && !shuffle; }
};

// max_pool2's choice between the even and the odd row (the CPU op's std::max(even, odd)).
template <typename V>
SR_HD V pool_max(V even, V odd) {
  return even < odd ? odd : even;
}

// Stores the value v of GEMM row m, column n: bias added and, under pool2, already the maximum of
// rows m and m + 1 (m even in time). A row whose time step the pool drops (the last of an odd L)
// is not stored.
template <typename V>
SR_HD void epilogue_store(V* y, const ConvGeometry& g, const ConvEpilogue& e, int m, int n, V v) {
  const int b = m / g.L, t = m - b * g.L;
  const int to = e.pool2 ? t / 2 : t;
  if (to >= e.out_length(g.L)) return;
  y[e.offset(g, b, to, n)] = e.activate(v);
}

// Which 16-byte chunk of a ROWS x COLS tile (COLS elements per row, E elements per chunk) the
// i-th copy of thread tid moves; THREADS threads move kPerThread chunks each.
template <int ROWS, int COLS, int E, int THREADS>
struct TileMap {
  static constexpr int kChunksPerRow = COLS / E;
  static constexpr int kChunks = ROWS * kChunksPerRow;
  static constexpr int kPerThread = kChunks / THREADS;
  static_assert(COLS % E == 0, "a row is a whole number of chunks");
  static_assert(kChunks % THREADS == 0, "every thread moves the same number of chunks");
  static_assert(THREADS % kChunksPerRow == 0, "a thread's chunks share one column");
  SR_HD static int row(int tid, int i) { return (tid + i * THREADS) / kChunksPerRow; }
  SR_HD static int col(int tid) { return (tid % kChunksPerRow) * E; }
};

// Split-K: k-tiles [begin, end) of split z when KT k-tiles are cut into pieces of `per_split`.
SR_HD void split_range(int KT, int per_split, int z, int& begin, int& end) {
  begin = z * per_split;
  end = begin + per_split < KT ? begin + per_split : KT;
}

// ---------------------------------------------------------------------------------------------
// Which kernel conv1d.cu runs for a geometry: a stencil for thin inputs (the first layer), one
// warp per row for thin outputs (the last layer), else an implicit GEMM: on tensor cores when
// mma_supported (below) and the run-time alignment checks allow and the precision asks for it.
constexpr int kDirectMaxCin = 8;  // below this, a GEMM's inner dimension is too thin (CPU: same)
constexpr int kThinMaxCout = 8;
enum class ConvKernel { direct, thin, gemm };
SR_HD ConvKernel conv_kernel(const ConvGeometry& g) {
  if (g.Cin < kDirectMaxCin) return ConvKernel::direct;
  if (g.Cout <= kThinMaxCout) return ConvKernel::thin;
  return ConvKernel::gemm;
}

// ---------------------------------------------------------------------------------------------
// Per-element bodies of the small kernels (conv1d.cu), shared with the host emulation. The pooled
// output element `i` (of B * out_length(L) * Cout, channel fastest) is GEMM row out_row(i) (the
// even row of the pair under pool2) and column i % Cout.
SR_HD int out_row(const ConvGeometry& g, const ConvEpilogue& e, int i, int& n) {
  const int Lo = e.out_length(g.L);
  n = i % g.Cout;
  const int r = i / g.Cout, b = r / Lo, to = r - b * Lo;
  return b * g.L + (e.pool2 ? 2 * to : to);
}

// bias[co] + the convolution at GEMM row m, channel co, in the CPU loop's order (taps, then
// channels).
SR_HD float direct_at(const float* x, const float* w, const ConvGeometry& g, int m, int co,
                      float acc) {
  const ARow r = a_row(g, m);
  for (int j = 0; j < g.K; ++j) {
    const int64_t off = a_offset(g, r, g.tap_offset(j), 0);
    if (off < 0) continue;  // zero padding
    const float* xr = x + off;
    const float* wr = w + static_cast<int64_t>(j) * g.Cin * g.Cout + co;
    for (int ci = 0; ci < g.Cin; ++ci)
      acc = fmaf(xr[ci], wr[static_cast<int64_t>(ci) * g.Cout], acc);
  }
  return acc;
}

// conv1d_direct_kernel's thread for output element i (under pool2 it computes both rows).
SR_HD void direct_output(const float* x, const float* w, const float* bias, float* y,
                         const ConvGeometry& g, const ConvEpilogue& e, int i) {
  int co;
  const int m = out_row(g, e, i, co);
  float v = direct_at(x, w, g, m, co, bias[co]);
  if (e.pool2) v = pool_max(v, direct_at(x, w, g, m + 1, co, bias[co]));
  epilogue_store(y, g, e, m, co, v);
}

// conv1d_thin_kernel (Cout <= kThinMaxCout): lane `lane`'s partial sums of GEMM row m, over the
// input channels lane, lane + 32, ... of every tap; the warp then adds the 32 partials.
SR_HD void thin_partial(const float* x, const float* w, const ConvGeometry& g, int m, int lane,
                        float* acc) {
  SR_UNROLL
  for (int co = 0; co < kThinMaxCout; ++co) acc[co] = 0.0f;
  const ARow row = a_row(g, m);
  for (int j = 0; j < g.K; ++j) {
    const int64_t off = a_offset(g, row, g.tap_offset(j), 0);  // the same for the whole warp
    if (off < 0) continue;
    const float* xr = x + off;
    const float* wr = w + static_cast<int64_t>(j) * g.Cin * g.Cout;
    for (int ci = lane; ci < g.Cin; ci += 32) {
      const float xv = xr[ci];
      const float* wc = wr + static_cast<int64_t>(ci) * g.Cout;
      SR_UNROLL
      for (int co = 0; co < kThinMaxCout; ++co)
        if (co < g.Cout) acc[co] = fmaf(xv, wc[co], acc[co]);
    }
  }
}

// conv_epilogue_kernel's thread for output element i, over `splits` planes of raw sums z (M, Cout)
// added in order; to_float widens T (float or bf16).
template <typename T, typename ToFloat>
SR_HD void epilogue_output(const T* z, int splits, const float* bias, float* y,
                           const ConvGeometry& g, const ConvEpilogue& e, int i, ToFloat to_float) {
  int n;
  const int m = out_row(g, e, i, n);
  const int64_t plane = static_cast<int64_t>(g.M()) * g.Cout;
  auto row = [&](int mm) {
    float s = 0.0f;
    for (int k = 0; k < splits; ++k)
      s += to_float(z[k * plane + static_cast<int64_t>(mm) * g.Cout + n]);
    return s + bias[n];
  };
  float v = row(m);
  if (e.pool2) v = pool_max(v, row(m + 1));
  epilogue_store(y, g, e, m, n, v);
}

// ---------------------------------------------------------------------------------------------
// Tensor-core kernel (conv1d_mma.cu): 128 x 128 x 32 block tiles, 8 warps in a 2 x 4 grid, each
// warp a 64 x 32 tile of 4 x 4 mma.sync 16 x 8 tiles (staged as 4 x 2 blocks of 16 x 16). Requires
// Cin % 32 == 0 (a k-tile never straddles two taps) and Cout % 8 == 0 (a 16-byte chunk of a weight
// row never straddles Cout).
namespace mma_tile {
constexpr int kBM = 128, kBN = 128, kBK = 32, kThreads = 256, kStages = 3;
constexpr int kWarpM = 64, kWarpN = 32, kWarpsN = kBN / kWarpN;
constexpr int kStageLd = 20;  // epilogue staging: a 16 x 16 fragment, row stride 20 floats

// Block tile of a linear block index: n-tiles vary fastest (blocks that share A rows run
// together and hit L2).
SR_HD void block_tile(int block, int n_tiles_n, int& m0, int& n0) {
  m0 = (block / n_tiles_n) * kBM;
  n0 = (block % n_tiles_n) * kBN;
}
SR_HD int warp_row0(int warp) {
  return (warp / kWarpsN) * kWarpM;
}
SR_HD int warp_col0(int warp) {
  return (warp % kWarpsN) * kWarpN;
}
// Epilogue: element e (0..7) of lane `lane` in a staged 16 x 16 fragment.
SR_HD int stage_row(int e, int lane) {
  return e * 2 + lane / 16;
}
SR_HD int stage_col(int lane) {
  return lane % 16;
}

// Split K when the output tiles cannot fill the device (small batch: U1 at batch 1 has 32 tiles
// for 132 SMs): as many splits as keep tiles x splits within the resident blocks (two per SM,
// __launch_bounds__(kThreads, 2)), so the launch is one wave (rounding up, 32 tiles x 9 splits =
// 288 blocks, left a second wave of 24 blocks), keep at least 8 k-tiles per split so the pipeline
// has work, at most 16 splits, and never leave a split empty (the count is rounded to what
// ceil(KT / ceil(KT / splits)) gives, never more).
SR_HD int split_count(const ConvGeometry& g, int sm_count) {
  const int tiles = ((g.M() + kBM - 1) / kBM) * ((g.Cout + kBN - 1) / kBN);
  const int KT = g.Ktot() / kBK;
  const int resident = 2 * (sm_count > 0 ? sm_count : 132);
  int splits = resident / tiles;
  const int by_depth = KT / 8 > 1 ? KT / 8 : 1;
  if (splits > by_depth) splits = by_depth;
  if (splits > 16) splits = 16;
  if (splits <= 1) return 1;
  const int per_split = (KT + splits - 1) / splits;
  return (KT + per_split - 1) / per_split;
}

// Shared-memory layout for elements of kBytes bytes (4: TF32 from floats, 2: BF16). A rows are
// padded by 16 bytes, so the 8 rows one ldmatrix phase reads fall in 8 different bank groups; B
// rows by 16 bytes in BF16 (ldmatrix.trans, likewise) and by 8 floats in TF32, where each lane
// reads its own B words (rows t and columns g of a fragment: 8 t + g covers the 32 banks).
// ldmatrix rows and cp.async chunks are 16-byte aligned (the static_asserts).
template <int kBytes>
struct Layout {
  static constexpr int kE = 16 / kBytes;            // elements per 16-byte chunk
  static constexpr int kWK = kBytes == 4 ? 8 : 16;  // k of one mma.sync (TF32: 8, BF16: 16)
  static constexpr int kLdA = kBK + kE;             // A tile: kBM rows of kBK (+ pad)
  static constexpr int kLdB = kBN + (kBytes == 4 ? 8 : kE);  // B tile: kBK rows of kBN (+ pad)
  static constexpr int kStageA = kBM * kLdA;                 // elements per stage
  static constexpr int kStageB = kBK * kLdB;
  static constexpr int kPipelineBytes = kStages * (kStageA + kStageB) * kBytes;
  static constexpr int kEpilogueBytes = (kThreads / 32) * 16 * kStageLd * 4;
  static constexpr int kSmemBytes =
      kPipelineBytes > kEpilogueBytes ? kPipelineBytes : kEpilogueBytes;
  // A fragment starts at row 16 * i, column kWK * s; B at row kWK * s, column 16 * j; ldmatrix
  // rows start there or 16 bytes further.
  static_assert((kLdA * kBytes) % 16 == 0 && (kWK * kBytes) % 16 == 0, "A ldmatrix rows");
  static_assert((kLdB * kBytes) % 16 == 0 && (16 * kBytes) % 16 == 0, "B ldmatrix rows");
  static_assert((kStageA * kBytes) % 128 == 0 && (kStageB * kBytes) % 128 == 0, "stage alignment");
  static_assert(kBytes != 4 || (kLdB % 32) == 8, "TF32 B reads: rows 8 banks apart");
  static_assert((16 * kStageLd * 4) % 16 == 0, "epilogue staging alignment");
  // Element offsets of a fragment's first element inside one stage.
  SR_HD static int a_frag(int warp, int fi, int kk) {
    return (warp_row0(warp) + fi * 16) * kLdA + kk;
  }
  SR_HD static int b_frag(int warp, int fj, int kk) {
    return kk * kLdB + warp_col0(warp) + fj * 16;
  }
};
}  // namespace mma_tile

// Shapes the tensor-core kernel handles: a k-tile never straddles two taps (Cin % 32 == 0) and a
// 16-byte chunk of a weight row never straddles Cout (Cout % 8 == 0).
SR_HD bool mma_supported(const ConvGeometry& g) {
  return g.Cin % mma_tile::kBK == 0 && g.Cout % 8 == 0 && g.Cout >= 8 && g.M() > 0;
}

// ---------------------------------------------------------------------------------------------
// Exact FP32 kernel (conv1d.cu): 128 x 128 x 8 block tiles, 256 threads, each an 8 x 8 register
// tile: rows {ty*4 + i, 64 + ty*4 + i}, columns {tx*4 + j, 64 + tx*4 + j}, ty = tid / 16,
// tx = tid % 16. Any Cin, Cout and alignment.
namespace fp32_tile {
constexpr int kBM = 128, kBN = 128, kBK = 8, kThreads = 256;
// A tile loads: thread tid loads row tid / 2, k offsets (tid % 2) * 4 + e, e < 4.
SR_HD int a_load_row(int tid) {
  return tid / 2;
}
SR_HD int a_load_k(int tid, int e) {
  return (tid % 2) * 4 + e;
}
// B tile loads: thread tid loads k row tid / 32, columns (tid % 32) * 4 + e, e < 4.
SR_HD int b_load_k(int tid) {
  return tid / 32;
}
SR_HD int b_load_col(int tid, int e) {
  return (tid % 32) * 4 + e;
}
// Output rows and columns of accumulator (i, j), i, j < 8; rows (and columns) 0-3 and 4-7 are
// each 4 consecutive positions, read from shared memory as one float4.
SR_HD int out_row(int tid, int i) {
  return (i < 4 ? 0 : 64) + (tid / 16) * 4 + (i & 3);
}
SR_HD int out_col(int tid, int j) {
  return (j < 4 ? 0 : 64) + (tid % 16) * 4 + (j & 3);
}
// The (tap, channel) pair of GEMM column k, advanced by kBK per k-tile without a division.
struct KCursor {
  int j = 0, ci = 0;
  SR_HD void start(int k, int Cin) {
    j = k / Cin;
    ci = k - j * Cin;
  }
  SR_HD void advance(int Cin) {
    ci += kBK;
    while (ci >= Cin) {
      ci -= Cin;
      ++j;
    }
  }
};
}  // namespace fp32_tile

}  // namespace sr::cuda
