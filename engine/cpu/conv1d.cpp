// 'same' dilated 1-D convolution (cross-correlation, no flip) with bias, channels-last.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

namespace {

// Below this many input channels one GEMM per tap would have an inner dimension of Cin < 8: BLAS
// runs far below peak on such thin products, and the first layer (Cin = 1, K = 65) is exactly that
// case. A direct loop that vectorises over Cout is faster there.
constexpr int64_t kDirectMaxCin = 8;

// Source row for output row t and tap j: t + dilation * (j - (K-1)/2).
inline int64_t tap_offset(int64_t j, int64_t kernel, int64_t dilation) {
  return dilation * (j - (kernel - 1) / 2);
}

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout). Plain loops over (b, t);
// the innermost loop runs over Cout, contiguous in both w and y.
void conv1d_direct(const float* x, const float* w, const float* bias, float* y, int64_t B,
                   int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < L; ++t) {
      float* yr = y + (b * L + t) * Cout;
      for (int64_t co = 0; co < Cout; ++co) yr[co] = bias[co];
      for (int64_t j = 0; j < K; ++j) {
        const int64_t src = t + tap_offset(j, K, dilation);
        if (src < 0 || src >= L) continue;  // zero padding
        const float* xr = x + (b * L + src) * Cin;
        for (int64_t ci = 0; ci < Cin; ++ci) {
          const float xv = xr[ci];
          const float* wr = w + (j * Cin + ci) * Cout;
          for (int64_t co = 0; co < Cout; ++co) yr[co] += xv * wr[co];
        }
      }
    }
  }
}

// Same contract as conv1d_direct. For tap j with offset o, output rows t in [t0, t1) read input
// rows t + o, all inside [0, L): that is one (t1-t0) x Cin by Cin x Cout GEMM on contiguous row
// ranges, accumulated into y (beta = 1). Rows whose source falls in the padding get nothing from
// this tap, so no padded copy or im2col buffer is needed. When L is shorter than the receptive
// span, an outer tap can have t0 >= t1 and is skipped. OpenBLAS threads each GEMM itself.
void conv1d_gemm(const float* x, const float* w, const float* bias, float* y, int64_t B, int64_t L,
                 int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < B * L; ++row) std::copy(bias, bias + Cout, y + row * Cout);

  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < K; ++j) {
      const int64_t o = tap_offset(j, K, dilation);
      const int64_t t0 = std::max<int64_t>(0, -o);
      const int64_t t1 = std::min<int64_t>(L, L - o);
      if (t1 <= t0) continue;
      const float* a = x + (b * L + t0 + o) * Cin;  // (t1-t0) x Cin, lda = Cin
      const float* wj = w + j * Cin * Cout;         // Cin x Cout, ldb = Cout
      float* c = y + (b * L + t0) * Cout;           // (t1-t0) x Cout, ldc = Cout
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(t1 - t0),
                  static_cast<int>(Cout), static_cast<int>(Cin), 1.0f, a, static_cast<int>(Cin), wj,
                  static_cast<int>(Cout), 1.0f, c, static_cast<int>(Cout));
    }
  }
}

}  // namespace

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout)
// y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] * x[b, t + dilation*(j - (K-1)/2), ci], zero
// outside [0, L).
void conv1d_fwd(const OpCall& call) {
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

  if (Cin < kDirectMaxCin) {
    conv1d_direct(xv.data, wv.data, bv.data, yv.data, B, L, Cin, Cout, K, dilation);
  } else {
    constexpr int64_t kIntMax = std::numeric_limits<int>::max();
    SR_CHECK(L <= kIntMax && Cin <= kIntMax && Cout <= kIntMax, "conv1d: dimension too large");
    conv1d_gemm(xv.data, wv.data, bv.data, yv.data, B, L, Cin, Cout, K, dilation);
  }
}

}  // namespace sr::cpu
