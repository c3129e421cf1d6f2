// 'same' dilated 1-D convolution (cross-correlation, no flip) with bias, channels-last.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/conv1d_fft.h"
#include "cpu/cpu_ops.h"
#include "cpu/simd.h"
#include "sr/backend.h"
#include "sr/error.h"

namespace sr::cpu {

namespace {

// Below this many input channels one GEMM per tap would have an inner dimension of Cin < 8: BLAS
// runs far below peak on such thin products, and the first layer (Cin = 1, K = 65) is exactly that
// case. The forward makes each output row directly there (conv1d_thin); the backward uses
// direct loops.
constexpr int64_t kDirectMaxCin = 8;

// Source row for output row t and tap j: t + dilation * (j - (K-1)/2).
inline int64_t tap_offset(int64_t j, int64_t kernel, int64_t dilation) {
  return dilation * (j - (kernel - 1) / 2);
}

// Rows of x are ldx floats apart and rows of y ldy apart (ld = channel count when dense; a
// larger stride reads or writes a channel slice of a concatenation buffer).

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout), for thin inputs
// (Cin < kDirectMaxCin: the first layer, Cin = 1, K = 33 or 65): per-tap GEMMs would have an inner
// dimension of Cin, so each output row is made directly: 32 output channels at a time held in
// four vectors, every tap's inputs broadcast against its contiguous weight rows.
SR_VECTOR_CLONES void thin_row(const float* x, int64_t ldx, const float* w, const float* bias,
                               float* yr, int64_t b, int64_t t, int64_t L, int64_t Cin,
                               int64_t Cout, int64_t K, int64_t dilation) {
  int64_t c0 = 0;
  for (; c0 + 32 <= Cout; c0 += 32) {
    Float8 a0 = load8(bias + c0), a1 = load8(bias + c0 + 8), a2 = load8(bias + c0 + 16),
           a3 = load8(bias + c0 + 24);
    for (int64_t j = 0; j < K; ++j) {
      const int64_t src = t + tap_offset(j, K, dilation);
      if (src < 0 || src >= L) continue;
      const float* xr = x + (b * L + src) * ldx;
      for (int64_t ci = 0; ci < Cin; ++ci) {
        const float* wr = w + (j * Cin + ci) * Cout + c0;
        const float xv = xr[ci];
        a0 += xv * load8(wr);
        a1 += xv * load8(wr + 8);
        a2 += xv * load8(wr + 16);
        a3 += xv * load8(wr + 24);
      }
    }
    store8(yr + c0, a0);
    store8(yr + c0 + 8, a1);
    store8(yr + c0 + 16, a2);
    store8(yr + c0 + 24, a3);
  }
  for (; c0 < Cout; ++c0) {  // the last Cout % 32 channels
    float acc = bias[c0];
    for (int64_t j = 0; j < K; ++j) {
      const int64_t src = t + tap_offset(j, K, dilation);
      if (src < 0 || src >= L) continue;
      for (int64_t ci = 0; ci < Cin; ++ci)
        acc += x[(b * L + src) * ldx + ci] * w[(j * Cin + ci) * Cout + c0];
    }
    yr[c0] = acc;
  }
}

void conv1d_thin(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                 int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                 int64_t dilation) {
#pragma omp parallel for schedule(static) if (B * L * Cout * K >= (int64_t{1} << 16))
  for (int64_t r = 0; r < B * L; ++r)
    thin_row(x, ldx, w, bias, y + r * ldy, r / L, r % L, L, Cin, Cout, K, dilation);
}

// Same contract as conv1d_gemm, for small layers (Cin Cout <= kTiledMaxPairs: the bundled
// models' K = 9 layers), where per-tap GEMMs of a few hundred rows spend much of their time
// packing operands. Tiles of 6 output rows by 16 output channels are accumulated in twelve
// registers over every tap and input channel, reading x's rows in place (a row of zeros in the
// padding) and the weights' 16-channel rows from cache: GEMM's micro-kernel without the packing.
constexpr int64_t kTiledMaxPairs = 16384;
constexpr int64_t kTileRows = 6;

template <int R>
SR_ALWAYS_INLINE void tiled_block(const float* const* rows, int64_t K, int64_t Cin, int64_t Cout,
                                  const float* w, const float* bias, float* y, int64_t ldy) {
  Float8 a[R][2];
  for (int r = 0; r < R; ++r) a[r][0] = load8(bias), a[r][1] = load8(bias + 8);
  for (int64_t j = 0; j < K; ++j) {
    const float* const* xj = rows + j * kTileRows;
    const float* wj = w + j * Cin * Cout;
    for (int64_t ci = 0; ci < Cin; ++ci) {
      const Float8 w0 = load8(wj + ci * Cout), w1 = load8(wj + ci * Cout + 8);
      for (int r = 0; r < R; ++r) {
        const float xv = xj[r][ci];
        a[r][0] += xv * w0;
        a[r][1] += xv * w1;
      }
    }
  }
  for (int r = 0; r < R; ++r) store8(y + r * ldy, a[r][0]), store8(y + r * ldy + 8, a[r][1]);
}

// tiled_block<R> for a run-time R in [1, Rmax].
template <int Rmax>
SR_ALWAYS_INLINE void tiled_block_of(int64_t R, const float* const* rows, int64_t K, int64_t Cin,
                                     int64_t Cout, const float* w, const float* bias, float* y,
                                     int64_t ldy) {
  if constexpr (Rmax > 1)
    if (R < Rmax) return tiled_block_of<Rmax - 1>(R, rows, K, Cin, Cout, w, bias, y, ldy);
  tiled_block<Rmax>(rows, K, Cin, Cout, w, bias, y, ldy);
}

// Output rows [t0, t0 + R) of patch b, every channel; rows[j][r]: x's row for tap j, row r.
SR_VECTOR_CLONES void tiled_rows(const float* const* rows, int64_t R, int64_t K, int64_t Cin,
                                 int64_t Cout, const float* w, const float* bias, float* y,
                                 int64_t ldy) {
  int64_t c0 = 0;
  for (; c0 + 16 <= Cout; c0 += 16) {
    tiled_block_of<kTileRows>(R, rows, K, Cin, Cout, w + c0, bias + c0, y + c0, ldy);
  }
  for (int64_t r = 0; r < R; ++r)  // the last Cout % 16 channels
    for (int64_t c = c0; c < Cout; ++c) {
      float acc = bias[c];
      for (int64_t j = 0; j < K; ++j)
        for (int64_t ci = 0; ci < Cin; ++ci)
          acc += rows[j * kTileRows + r][ci] * w[(j * Cin + ci) * Cout + c];
      y[r * ldy + c] = acc;
    }
}

void conv1d_tiled(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                  int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                  int64_t dilation) {
  const int64_t tiles = (L + kTileRows - 1) / kTileRows;
#pragma omp parallel
  {
    const float* zeros = zero_row(Cin);
    std::vector<const float*> rows(static_cast<size_t>(K * kTileRows));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t tile = 0; tile < tiles; ++tile) {
        const int64_t t0 = tile * kTileRows, R = std::min(kTileRows, L - t0);
        for (int64_t j = 0; j < K; ++j)
          for (int64_t r = 0; r < kTileRows; ++r) {
            const int64_t src = t0 + std::min(r, R - 1) + tap_offset(j, K, dilation);
            rows[j * kTileRows + r] = src >= 0 && src < L ? x + (b * L + src) * ldx : zeros;
          }
        tiled_rows(rows.data(), R, K, Cin, Cout, w, bias, y + (b * L + t0) * ldy, ldy);
      }
  }
}

// Same contract as conv1d_thin, for Cin >= kDirectMaxCin. For tap j with offset o, output rows t
// in [t0, t1) read input rows t + o, all inside [0, L): that is one (t1-t0) x Cin by Cin x Cout
// GEMM on contiguous row ranges, accumulated into y (beta = 1). Rows whose source falls in the
// padding get nothing from this tap, so no padded copy or im2col buffer is needed. When L is
// shorter than the receptive span, an outer tap can have t0 >= t1 and is skipped. OpenBLAS threads
// each GEMM itself.
void conv1d_gemm(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                 int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                 int64_t dilation) {
  // Each thread owns a contiguous range of the B*L output rows and runs every tap's GEMM on it
  // (OpenBLAS's OpenMP build runs a GEMM called inside a parallel region on its caller's thread):
  // one thread pool, one barrier per convolution, and the rows stay in the thread's cache across
  // the K accumulations.
  // With OpenBLAS's own pthread pool (clang builds) concurrent calls would queue on its lock:
  // there one thread walks all rows and OpenBLAS threads each GEMM, as before.
  const int64_t M = B * L;
#pragma omp parallel if (cpu_blas_uses_openmp())
  {
    const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    const auto [r0, r1] = thread_share(M, threads, me);
    for (int64_t row = r0; row < r1; ++row) std::copy(bias, bias + Cout, y + row * ldy);
    for (int64_t b = r0 / L; b * L < r1; ++b) {
      const int64_t ta = std::max(r0 - b * L, int64_t{0}), tb = std::min(r1 - b * L, L);
      for (int64_t j = 0; j < K; ++j) {
        const int64_t o = tap_offset(j, K, dilation);
        const int64_t t0 = std::max<int64_t>(ta, -o);
        const int64_t t1 = std::min<int64_t>(tb, L - o);
        if (t1 <= t0) continue;
        const float* a = x + (b * L + t0 + o) * ldx;  // (t1-t0) x Cin
        const float* wj = w + j * Cin * Cout;         // Cin x Cout, ldb = Cout
        float* c = y + (b * L + t0) * ldy;            // (t1-t0) x Cout
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(t1 - t0),
                    static_cast<int>(Cout), static_cast<int>(Cin), 1.0f, a, static_cast<int>(ldx),
                    wj, static_cast<int>(Cout), 1.0f, c, static_cast<int>(ldy));
      }
    }
  }
}

// Same contract as conv1d_gemm, for narrow outputs (Cout <= kNarrowMaxCout: the final layer,
// Cout = r or 2 before its subpixel shuffle), where a per-tap GEMM would be Cout columns wide and
// run far below peak. Each output is one dot product per tap over the Cin inputs of a row, with
// the weights transposed once per call to (Cout, K, Cin) so that both operands are contiguous.
constexpr int64_t kNarrowMaxCout = 4;

// One output row: per output channel, four vectors of partial sums over every tap's Cin inputs
// (independent chains, so the FMAs overlap), summed across their lanes once at the end.
SR_VECTOR_CLONES void narrow_row(const float* x, int64_t ldx, const float* wt, const float* bias,
                                 float* yr, int64_t b, int64_t t, int64_t L, int64_t Cin,
                                 int64_t Cout, int64_t K, int64_t dilation) {
  const int64_t by32 = Cin / 32 * 32, by8 = Cin / 8 * 8;
  for (int64_t co = 0; co < Cout; ++co) {
    Float8 a0 = {}, a1 = {}, a2 = {}, a3 = {};
    float tail = 0.0f;
    for (int64_t j = 0; j < K; ++j) {
      const int64_t src = t + tap_offset(j, K, dilation);
      if (src < 0 || src >= L) continue;
      const float* xr = x + (b * L + src) * ldx;
      const float* wr = wt + (co * K + j) * Cin;
      int64_t ci = 0;
      for (; ci < by32; ci += 32) {
        a0 += load8(xr + ci) * load8(wr + ci);
        a1 += load8(xr + ci + 8) * load8(wr + ci + 8);
        a2 += load8(xr + ci + 16) * load8(wr + ci + 16);
        a3 += load8(xr + ci + 24) * load8(wr + ci + 24);
      }
      for (; ci < by8; ci += 8) a0 += load8(xr + ci) * load8(wr + ci);
      for (; ci < Cin; ++ci) tail += xr[ci] * wr[ci];
    }
    const Float8 a = (a0 + a1) + (a2 + a3);
    float sum = tail;
    for (int lane = 0; lane < 8; ++lane) sum += a[lane];
    yr[co] = bias[co] + sum;
  }
}

void conv1d_narrow(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                   int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                   int64_t dilation) {
  thread_local std::vector<float> transposed;
  transposed.resize(static_cast<size_t>(Cout * K * Cin));
  float* wt = transposed.data();  // this thread's buffer: OpenMP workers have their own
  for (int64_t j = 0; j < K; ++j)
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t co = 0; co < Cout; ++co)
        wt[(co * K + j) * Cin + ci] = w[(j * Cin + ci) * Cout + co];
#pragma omp parallel for schedule(static) if (B * L * Cin * K >= (int64_t{1} << 16))
  for (int64_t r = 0; r < B * L; ++r)
    narrow_row(x, ldx, wt, bias, y + r * ldy, r / L, r % L, L, Cin, Cout, K, dilation);
}

// The fused epilogue of an inference graph (OpParams::pool2, act, shuffle), applied to the
// convolution z: (B, L, Cout) with its bias already added; the same arithmetic as the max_pool2,
// leaky_relu/relu and subpixel ops it replaces, so a fused graph gives the same bits:
//   v[b,t,n] = pool2 ? max(z[b,2t,n], z[b,2t+1,n]) : z[b,t,n],   t < L' = pool2 ? L/2 : L
//   v = act(v)
//   y[b,t,n] = v  or, with shuffle (C = Cout/2):
//   tf: y[b, 2t+k, c] = v[b,t,k*C + c]      pt: y[b, 2t+k, c] = v[b,t,2c + k]
// y rows are ldy floats apart.
void conv1d_epilogue(const float* z, const OpParams& p, float* y, int64_t ldy, int64_t B, int64_t L,
                     int64_t Cout) {
  const int64_t Lo = p.pool2 ? L / 2 : L;
  const int64_t C = Cout / 2;
  const bool tf = p.order == SubpixelOrder::tf;
  // Row by row through a small buffer, each stage its own loop over channels, so every loop
  // vectorises; small outputs stay on the calling thread.
#pragma omp parallel if (B * Lo * Cout >= (int64_t{1} << 15))
  {
    std::vector<float> row(static_cast<size_t>(Cout));
    float* v = row.data();
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t t = 0; t < Lo; ++t) {
        const float* z0 = z + (b * L + (p.pool2 ? 2 * t : t)) * Cout;
        if (p.pool2) {
          for (int64_t n = 0; n < Cout; ++n) v[n] = std::max(z0[n], z0[Cout + n]);
        } else {
          std::copy(z0, z0 + Cout, v);
        }
        if (p.act == Activation::relu) {
          for (int64_t n = 0; n < Cout; ++n) v[n] = v[n] > 0.0f ? v[n] : 0.0f;
        } else if (p.act == Activation::leaky_relu) {
          const float alpha = p.alpha;
          for (int64_t n = 0; n < Cout; ++n) v[n] = v[n] > 0.0f ? v[n] : alpha * v[n];
        }
        if (!p.shuffle) {
          std::copy(v, v + Cout, y + (b * Lo + t) * ldy);
        } else {
          float* y0 = y + (b * 2 * Lo + 2 * t) * ldy;  // rows 2t (k = 0) and 2t+1 (k = 1)
          float* y1 = y0 + ldy;
          if (tf) {
            std::copy(v, v + C, y0);
            std::copy(v + C, v + 2 * C, y1);
          } else {
            for (int64_t c = 0; c < C; ++c) {
              y0[c] = v[2 * c];
              y1[c] = v[2 * c + 1];
            }
          }
        }
      }
    }
  }
}

// Shapes of one conv1d call, checked once for the forward and the backward.
struct ConvDims {
  int64_t B, L, Cin, Cout, K, dilation;
};

ConvDims conv1d_dims(const OpCall& call) {
  // Kernel, dilation, weight and bias dims, the output shape with the epilogue, and which views
  // may be strided: all infer_shape's rule.
  check_op_call(call);
  const TensorView& xv = call.inputs[0];
  const int64_t Cout = call.weights[0].dims[2];
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  SR_CHECK(xv.shape.l <= kIntMax && Cout <= kIntMax && xv.row_stride() <= kIntMax &&
               call.output.row_stride() <= kIntMax,
           "conv1d: dimension too large");
  return {xv.shape.b, xv.shape.l, xv.shape.c, Cout, call.params.kernel, call.params.dilation};
}

// dy: (B, L, Cout), w: (K, Cin, Cout) -> dx: (B, L, Cin), accumulated.
// dx[b,s,ci] += sum_j sum_co dy[b, s - o_j, co] * w[j,ci,co]: the transpose of the forward,
// written as a gather so that each (b, s) row of dx belongs to one thread.
void conv1d_direct_bwd_data(const float* dy, const float* w, float* dx, const ConvDims& d) {
  const int64_t L = d.L, Cin = d.Cin, Cout = d.Cout, K = d.K;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < d.B; ++b) {
    for (int64_t s = 0; s < L; ++s) {
      float* dxr = dx + (b * L + s) * Cin;
      for (int64_t j = 0; j < K; ++j) {
        const int64_t t = s - tap_offset(j, K, d.dilation);
        if (t < 0 || t >= L) continue;  // dy row outside the signal
        const float* dyr = dy + (b * L + t) * Cout;
        for (int64_t ci = 0; ci < Cin; ++ci) {
          const float* wr = w + (j * Cin + ci) * Cout;
          float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
          for (int64_t co = 0; co < Cout; ++co) acc += dyr[co] * wr[co];
          dxr[ci] += acc;
        }
      }
    }
  }
}

// x: (B, L, Cin), dy: (B, L, Cout) -> dw: (K, Cin, Cout), accumulated.
// dw[j,ci,co] += sum_b sum_t x[b, t + o_j, ci] * dy[b,t,co]. Taps are independent, so threads
// split them and never write the same dw row; the innermost loop runs over Cout, contiguous in dy
// and dw. For Cin = 1 each tap is a (1 x n) by (n x Cout) product: a GEMV, not worth a GEMM call.
void conv1d_direct_bwd_weight(const float* x, const float* dy, float* dw, const ConvDims& d) {
  const int64_t L = d.L, Cin = d.Cin, Cout = d.Cout, K = d.K;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < K; ++j) {
    const int64_t o = tap_offset(j, K, d.dilation);
    const int64_t t0 = std::max<int64_t>(0, -o);
    const int64_t t1 = std::min<int64_t>(L, L - o);
    float* dwj = dw + j * Cin * Cout;
    for (int64_t b = 0; b < d.B; ++b) {
      for (int64_t t = t0; t < t1; ++t) {
        const float* xr = x + (b * L + t + o) * Cin;
        const float* dyr = dy + (b * L + t) * Cout;
        for (int64_t ci = 0; ci < Cin; ++ci) {
          const float xv = xr[ci];
          float* dwr = dwj + ci * Cout;
          for (int64_t co = 0; co < Cout; ++co) dwr[co] += xv * dyr[co];
        }
      }
    }
  }
}

// The transposes of conv1d_gemm, tap by tap over the same valid row range [t0, t1), n = t1 - t0:
//   dx rows [t0+o, t1+o) += dy rows [t0, t1) . w_j^T          (n x Cout) by (Cout x Cin)
//   dw_j                 += x rows [t0+o, t1+o)^T . dy rows [t0, t1)   (Cin x n) by (n x Cout)
// beta = 1 gives the accumulation OpGradCall asks for. A null dx or dw is skipped.
void conv1d_gemm_bwd(const float* x, const float* w, const float* dy, float* dx, float* dw,
                     const ConvDims& d) {
  const int64_t L = d.L, Cin = d.Cin, Cout = d.Cout, K = d.K;
  const int ci = static_cast<int>(Cin), co = static_cast<int>(Cout);
  // One thread pool, as in conv1d_gemm: dx is split by its rows (each thread runs every tap's
  // GEMM for the dx rows it owns), dw by taps (each thread owns whole dw_j slices), so no two
  // threads write one element and the sums keep one order whatever the thread count.
  const int64_t M = d.B * L;
#pragma omp parallel if (cpu_blas_uses_openmp())
  {
    const int64_t threads = omp_get_num_threads(), me = omp_get_thread_num();
    if (dx) {
      const auto [r0, r1] = thread_share(M, threads, me);  // dx rows of this thread
      for (int64_t b = r0 / L; b * L < r1; ++b) {
        const int64_t sa = std::max(r0 - b * L, int64_t{0}), sb = std::min(r1 - b * L, L);
        for (int64_t j = 0; j < K; ++j) {
          const int64_t o = tap_offset(j, K, d.dilation);
          // dx row s takes dy row s - o, inside [0, L)
          const int64_t s0 = std::max<int64_t>(sa, o), s1 = std::min<int64_t>(sb, L + o);
          if (s1 <= s0) continue;
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s1 - s0), ci, co,
                      1.0f, dy + (b * L + s0 - o) * Cout, co, w + j * Cin * Cout, co, 1.0f,
                      dx + (b * L + s0) * Cin, ci);
        }
      }
    }
    if (dw) {
      for (int64_t j = me; j < K; j += threads) {
        const int64_t o = tap_offset(j, K, d.dilation);
        const int64_t t0 = std::max<int64_t>(0, -o);
        const int64_t t1 = std::min<int64_t>(L, L - o);
        if (t1 <= t0) continue;
        for (int64_t b = 0; b < d.B; ++b)
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ci, co, static_cast<int>(t1 - t0),
                      1.0f, x + (b * L + t0 + o) * Cin, ci, dy + (b * L + t0) * Cout, co, 1.0f,
                      dw + j * Cin * Cout, co);
      }
    }
  }
}

// dy: (B, L, Cout) -> db: (Cout), db[co] += sum over all rows of dy[., co]. Threads take column
// stripes (no shared target); the sum runs in double because it spans B*L rows.
void conv1d_bwd_bias(const float* dy, float* db, int64_t rows, int64_t Cout) {
  constexpr int64_t kStripe = 64;
  const int64_t stripes = (Cout + kStripe - 1) / kStripe;
#pragma omp parallel for schedule(static) if (rows * Cout >= (int64_t{1} << 16))
  for (int64_t s = 0; s < stripes; ++s) {
    const int64_t c0 = s * kStripe, c1 = std::min(Cout, c0 + kStripe);
    double acc[kStripe] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* dyr = dy + r * Cout;
      for (int64_t c = c0; c < c1; ++c) acc[c - c0] += dyr[c];
    }
    for (int64_t c = c0; c < c1; ++c) db[c] += static_cast<float>(acc[c - c0]);
  }
}

// SR_CPU_CONV=gemm|fft|auto (default auto: conv1d_fft_pays decides per layer): the forward's and
// backward's path for Cin >= kDirectMaxCin, read once; for A/B measurements.
bool use_fft(const ConvDims& d) {
  static const int forced = [] {
    const char* v = std::getenv("SR_CPU_CONV");
    if (!v || std::strcmp(v, "auto") == 0) return -1;
    if (std::strcmp(v, "gemm") == 0) return 0;
    if (std::strcmp(v, "fft") == 0) return 1;
    fail("SR_CPU_CONV='", v, "': expected gemm, fft or auto");
  }();
  if (d.K % 2 == 0) return false;
  if (forced >= 0) return forced == 1;
  return conv1d_fft_pays(d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
}

// SR_CPU_TILED=0 turns the tiled direct path off (per-tap GEMMs instead); for A/B measurements.
bool use_tiled(const ConvDims& d) {
  static const bool enabled = [] {
    const char* v = std::getenv("SR_CPU_TILED");
    return !(v && std::strcmp(v, "0") == 0);
  }();
  return enabled && d.Cin * d.Cout <= kTiledMaxPairs && d.Cout >= 16;
}

}  // namespace

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout)
// y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] * x[b, t + dilation*(j - (K-1)/2), ci], zero
// outside [0, L).
void conv1d_fwd(const OpCall& call) {
  const ConvDims d = conv1d_dims(call);
  const float* x = call.inputs[0].data;
  const float* w = call.weights[0].data;
  const float* bias = call.weights[1].data;
  float* y = call.output.data;
  SR_CHECK(x && w && bias && y, "conv1d: null buffer");
  if (d.B * d.L == 0 || d.Cout == 0) return;
  const int64_t ldx = call.inputs[0].row_stride();
  const bool fused = conv_has_epilogue(call.params);

  // With an epilogue the plain convolution goes to a scratch buffer first (the CPU is the
  // reference here, not the fast path: one extra pass over the output).
  thread_local std::vector<float> scratch;
  float* z = y;
  int64_t ldz = call.output.row_stride();
  if (fused) {
    scratch.resize(static_cast<size_t>(d.B * d.L * d.Cout));
    z = scratch.data();
    ldz = d.Cout;
  }
  if (d.Cin < kDirectMaxCin) {
    conv1d_thin(x, ldx, w, bias, z, ldz, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
  } else if (d.Cout <= kNarrowMaxCout) {
    conv1d_narrow(x, ldx, w, bias, z, ldz, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
  } else if (use_fft(d)) {
    conv1d_fft(x, ldx, w, bias, z, ldz, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
  } else if (use_tiled(d)) {
    conv1d_tiled(x, ldx, w, bias, z, ldz, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
  } else {
    conv1d_gemm(x, ldx, w, bias, z, ldz, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
  }
  if (fused) conv1d_epilogue(z, call.params, y, call.output.row_stride(), d.B, d.L, d.Cout);
}

// dy: (B, L, Cout), x: (B, L, Cin), w: (K, Cin, Cout) -> dx: (B, L, Cin), dw: (K, Cin, Cout),
// db: (Cout), each accumulated and each optional:
//   dx[b,s,ci] += sum_j sum_co dy[b, s - o_j, co] w[j,ci,co]
//   dw[j,ci,co] += sum_b sum_t x[b, t + o_j, ci] dy[b,t,co]
//   db[co]     += sum_b sum_t dy[b,t,co]
// with o_j = dilation*(j - (K-1)/2) and dy, x zero outside [0, L). Same path split as the forward.
void conv1d_bwd(const OpGradCall& call) {
  const ConvDims d = conv1d_dims(call.forward);
  SR_CHECK(!conv_has_epilogue(call.forward.params) && call.forward.inputs[0].dense() &&
               call.forward.output.dense(),
           "conv1d_bwd: fused epilogues and strided views are for inference graphs only");
  const TensorView& dyv = call.grad_output;
  const TensorView& dxv = call.grad_inputs[0];
  float* dw = call.grad_weights[0];
  float* db = call.grad_weights[1];
  SR_CHECK((dyv.shape == Shape{d.B, d.L, d.Cout}), "conv1d_bwd: grad_output ", dyv.shape.str(),
           " expected (", d.B, ", ", d.L, ", ", d.Cout, ")");
  SR_CHECK(!dxv.data || dxv.shape == call.forward.inputs[0].shape, "conv1d_bwd: grad_input ",
           dxv.shape.str(), " != input ", call.forward.inputs[0].shape.str());
  const float* x = call.forward.inputs[0].data;
  const float* w = call.forward.weights[0].data;
  float* dx = dxv.data;
  if (d.B * d.L == 0 || d.Cout == 0) return;
  SR_CHECK(dyv.data, "conv1d_bwd: null grad_output");
  SR_CHECK(!dx || w, "conv1d_bwd: dx needs the weight");
  SR_CHECK(!dw || x, "conv1d_bwd: dw needs the input");

  if (db) conv1d_bwd_bias(dyv.data, db, d.B * d.L, d.Cout);
  if (d.Cin < kDirectMaxCin) {
    if (dx) conv1d_direct_bwd_data(dyv.data, w, dx, d);
    if (dw) conv1d_direct_bwd_weight(x, dyv.data, dw, d);
  } else if (use_fft(d)) {
    if (dx) conv1d_fft_bwd_data(dyv.data, w, dx, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
    if (dw) conv1d_fft_bwd_weight(x, dyv.data, dw, d.B, d.L, d.Cin, d.Cout, d.K, d.dilation);
  } else if (dx || dw) {
    conv1d_gemm_bwd(x, w, dyv.data, dx, dw, d);
  }
}

}  // namespace sr::cpu
