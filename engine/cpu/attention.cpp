// Transformer pieces of the AFiLM block (spec 4): dense layer, multi-head attention core,
// layer norm and sinusoidal positions.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

// x: (B, N, Din), weight (Din, Dout), bias (Dout) -> y: (B, N, Dout), y = x * W + b [, ReLU]
void linear_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const WeightView& w = call.weights[0];
  const WeightView& bias = call.weights[1];
  const TensorView& y = call.output;
  const int64_t rows = x.shape.b * x.shape.l, Din = x.shape.c, Dout = y.shape.c;
  SR_CHECK(w.dims == std::vector<int64_t>({Din, Dout}), "linear: weight must be (Din, Dout)");
  SR_CHECK(bias.dims == std::vector<int64_t>({Dout}), "linear: bias must be (Dout)");
  SR_CHECK(y.shape.b == x.shape.b && y.shape.l == x.shape.l, "linear: output must be (B, N, Dout)");
  if (rows == 0 || Dout == 0) return;

  // Start from the bias and let the GEMM accumulate onto it (beta = 1).
  for (int64_t r = 0; r < rows; ++r) std::copy(bias.data, bias.data + Dout, y.data + r * Dout);
  if (Din > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows),
                static_cast<int>(Dout), static_cast<int>(Din), 1.0f, x.data, static_cast<int>(Din),
                w.data, static_cast<int>(Dout), 1.0f, y.data, static_cast<int>(Dout));
  if (call.params.relu) {
    const int64_t n = rows * Dout;
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) y.data[i] = std::max(y.data[i], 0.0f);
  }
}

// q, k, v: (B, N, D) -> y: (B, N, D); head h attends with feature slice [h*dh, (h+1)*dh).
void attention_fwd(const OpCall& call) {
  const TensorView& q = call.inputs[0];
  const TensorView& k = call.inputs[1];
  const TensorView& v = call.inputs[2];
  const TensorView& y = call.output;
  const int64_t B = q.shape.b, N = q.shape.l, D = q.shape.c, H = call.params.heads;
  SR_CHECK(k.shape == q.shape && v.shape == q.shape && y.shape == q.shape,
           "attention: q, k, v and output must share one shape, got q ", q.shape.str(), " k ",
           k.shape.str(), " v ", v.shape.str(), " y ", y.shape.str());
  SR_CHECK(H > 0 && D % H == 0, "attention: ", H, " heads do not divide width ", D);
  if (B == 0 || N == 0 || D == 0) return;
  const int64_t dh = D / H;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));

  // K transposed per head, kt: (B, H, dh, N), so the score loop below runs over contiguous keys
  // (an axpy the compiler vectorises) instead of a strided dot product per key.
  std::vector<float> kt(static_cast<size_t>(B * N * D));
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < dh; ++t) {
        float* dst = kt.data() + ((b * H + h) * dh + t) * N;
        for (int64_t j = 0; j < N; ++j) dst[j] = k.data[(b * N + j) * D + h * dh + t];
      }

      // One query row of one head at a time keeps the scratch at N floats per thread, whatever N
      // is.
#pragma omp parallel
  {
    std::vector<float> p(static_cast<size_t>(N));
#pragma omp for collapse(3)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < N; ++i) {
          const float* qi = q.data + (b * N + i) * D + h * dh;
          const float* kth = kt.data() + (b * H + h) * dh * N;
          // scores p[j] = (q_i . k_j) / sqrt(dh)
          std::fill(p.begin(), p.end(), 0.0f);
          for (int64_t t = 0; t < dh; ++t) {
            const float qs = qi[t] * scale;
            const float* row = kth + t * N;
            for (int64_t j = 0; j < N; ++j) p[j] += qs * row[j];
          }
          // Stable softmax: exp(s - max) never overflows; normalise after the V sum.
          const float m = *std::max_element(p.begin(), p.end());
          double sum = 0.0;
          for (int64_t j = 0; j < N; ++j) {
            p[j] = std::exp(p[j] - m);
            sum += p[j];
          }
          float* yi = y.data + (b * N + i) * D + h * dh;
          std::fill(yi, yi + dh, 0.0f);
          for (int64_t j = 0; j < N; ++j) {
            const float* vj = v.data + (b * N + j) * D + h * dh;
            for (int64_t t = 0; t < dh; ++t) yi[t] += p[j] * vj[t];
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t t = 0; t < dh; ++t) yi[t] *= inv;
        }
  }
}

// x: (B, N, D), gamma (D), beta (D) -> y: (B, N, D), normalised over D with biased variance.
void layer_norm_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const WeightView& gamma = call.weights[0];
  const WeightView& beta = call.weights[1];
  const TensorView& y = call.output;
  const int64_t rows = x.shape.b * x.shape.l, D = x.shape.c;
  SR_CHECK(gamma.dims == std::vector<int64_t>({D}), "layer_norm: gamma must be (D)");
  SR_CHECK(beta.dims == std::vector<int64_t>({D}), "layer_norm: beta must be (D)");
  SR_CHECK(y.shape == x.shape, "layer_norm: output must match input ", x.shape.str());
  if (rows == 0 || D == 0) return;
  const double eps = call.params.eps;

  // Double sums: rows can carry a large offset against a small spread (two-pass for the same
  // reason: no E[x^2] - E[x]^2 cancellation).
#pragma omp parallel for
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data + r * D;
    float* yr = y.data + r * D;
    double mean = 0.0;
    for (int64_t i = 0; i < D; ++i) mean += xr[i];
    mean /= static_cast<double>(D);
    double var = 0.0;
    for (int64_t i = 0; i < D; ++i) {
      const double d = xr[i] - mean;
      var += d * d;
    }
    var /= static_cast<double>(D);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < D; ++i)
      yr[i] = static_cast<float>((xr[i] - mean) * inv_std * gamma.data[i] + beta.data[i]);
  }
}

float sinusoid(int64_t pos, int64_t i, int64_t d) {
  const double exponent = static_cast<double>(2 * (i / 2)) / static_cast<double>(d);
  const double angle = static_cast<double>(pos) / std::pow(10000.0, exponent);
  return static_cast<float>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
}

// x: (B, N, D) -> y: (B, N, D), y = x * sqrt(D) + PE[n, i]
void pos_encoding_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, N = x.shape.l, D = x.shape.c;
  SR_CHECK(y.shape == x.shape, "pos_encoding: output must match input ", x.shape.str());
  if (x.numel() == 0) return;

  // The table is shared by the batch: build it once, (N, D).
  std::vector<float> pe(static_cast<size_t>(N * D));
#pragma omp parallel for
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < D; ++i) pe[n * D + i] = sinusoid(n, i, D);

  // float32 sqrt, as the TF original scales in float32.
  const float scale = std::sqrt(static_cast<float>(D));
#pragma omp parallel for collapse(2)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      const float* xr = x.data + (b * N + n) * D;
      float* yr = y.data + (b * N + n) * D;
      const float* pr = pe.data() + n * D;
      for (int64_t i = 0; i < D; ++i) yr[i] = xr[i] * scale + pr[i];
    }
}

}  // namespace sr::cpu
