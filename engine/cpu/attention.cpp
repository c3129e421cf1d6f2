// Transformer pieces of the AFiLM block (spec 4): dense layer, multi-head attention core,
// layer norm and sinusoidal positions.
#include <cblas.h>
#include <omp.h>

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
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
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
  check_op_call(call);
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
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
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
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
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

// ---------------------------------------------------------------------------------------------
// Backward passes. Gradients are accumulated (+=); a null pointer means the gradient is not
// wanted; softmax and normalisation statistics are recomputed from the forward's inputs.

namespace {

// dst (rows, cols) += src^T * ones: the column sums of a row-major matrix, by BLAS.
void add_column_sums(const float* src, int64_t rows, int64_t cols, float* dst) {
  const std::vector<float> ones(static_cast<size_t>(rows), 1.0f);
  cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, src,
              static_cast<int>(cols), ones.data(), 1, 1.0f, dst, 1);
}

}  // namespace

// x: (B, N, Din), weight (Din, Dout), bias (Dout), y, dy: (B, N, Dout)
//   -> dx += (B, N, Din), dweight += (Din, Dout), dbias += (Dout)
void linear_bwd(const OpGradCall& call) {
  const OpCall& fwd = call.forward;
  const TensorView& x = fwd.inputs[0];
  const WeightView& w = fwd.weights[0];
  const TensorView& y = fwd.output;
  const TensorView& dy = call.grad_output;
  float* dx = call.grad_inputs[0].data;
  float* dw = call.grad_weights[0];
  float* dbias = call.grad_weights[1];
  const int64_t rows = x.shape.b * x.shape.l, Din = x.shape.c, Dout = y.shape.c;
  SR_CHECK(w.dims == std::vector<int64_t>({Din, Dout}), "linear: weight must be (Din, Dout)");
  SR_CHECK(fwd.weights[1].dims == std::vector<int64_t>({Dout}), "linear: bias must be (Dout)");
  SR_CHECK(y.shape.b == x.shape.b && y.shape.l == x.shape.l, "linear: output must be (B, N, Dout)");
  SR_CHECK(dy.shape == y.shape, "linear: output gradient must be ", y.shape.str(), ", got ",
           dy.shape.str());
  SR_CHECK(!dx || call.grad_inputs[0].shape == x.shape, "linear: input gradient must be ",
           x.shape.str());
  if (rows == 0 || Dout == 0 || (!dx && !dw && !dbias)) return;

  // dz = dy, masked by the fused ReLU where it clipped (y = max(z, 0) > 0 iff z > 0).
  const float* dz = dy.data;
  std::vector<float> masked;
  if (fwd.params.relu) {
    const int64_t n = rows * Dout;
    masked.resize(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (n > 32768)
    for (int64_t i = 0; i < n; ++i) masked[i] = y.data[i] > 0.0f ? dy.data[i] : 0.0f;
    dz = masked.data();
  }
  const int iRows = static_cast<int>(rows), iDin = static_cast<int>(Din),
            iDout = static_cast<int>(Dout);
  if (dx && Din > 0)  // dx += dz * W^T, (rows, Dout) x (Dout, Din)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, iRows, iDin, iDout, 1.0f, dz, iDout,
                w.data, iDout, 1.0f, dx, iDin);
  if (dw && Din > 0)  // dW += x^T * dz, (Din, rows) x (rows, Dout)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iDin, iDout, iRows, 1.0f, x.data, iDin, dz,
                iDout, 1.0f, dw, iDout);
  if (dbias) add_column_sums(dz, rows, Dout, dbias);
}

// q, k, v, dy: (B, N, D) -> dq, dk, dv += (B, N, D); per head h on features [h*dh, (h+1)*dh):
//   P = softmax(Q K^T / sqrt(dh)), dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)),
//   dQ = dS K / sqrt(dh), dK = dS^T Q / sqrt(dh).
void attention_bwd(const OpGradCall& call) {
  const OpCall& fwd = call.forward;
  const TensorView& q = fwd.inputs[0];
  const TensorView& k = fwd.inputs[1];
  const TensorView& v = fwd.inputs[2];
  const TensorView& dy = call.grad_output;
  float* dq = call.grad_inputs[0].data;
  float* dk = call.grad_inputs[1].data;
  float* dv = call.grad_inputs[2].data;
  const int64_t B = q.shape.b, N = q.shape.l, D = q.shape.c, H = fwd.params.heads;
  SR_CHECK(k.shape == q.shape && v.shape == q.shape && fwd.output.shape == q.shape,
           "attention: q, k, v and output must share one shape, got q ", q.shape.str(), " k ",
           k.shape.str(), " v ", v.shape.str(), " y ", fwd.output.shape.str());
  SR_CHECK(H > 0 && D % H == 0, "attention: ", H, " heads do not divide width ", D);
  SR_CHECK(dy.shape == q.shape, "attention: output gradient must be ", q.shape.str(), ", got ",
           dy.shape.str());
  for (int i = 0; i < 3; ++i)
    SR_CHECK(!call.grad_inputs[i].data || call.grad_inputs[i].shape == q.shape,
             "attention: input gradient ", i, " must be ", q.shape.str());
  if (B == 0 || N == 0 || D == 0 || (!dq && !dk && !dv)) return;
  const int64_t dh = D / H;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  const bool need_ds = dq || dk;

  // One thread owns one (batch, head) pair and with it the feature slice h of batch b in all
  // three gradients: no two threads touch one element, even when the caller passes one buffer
  // for several of dq, dk, dv (self-attention). Sums over queries (dK, dV) go to thread-local
  // (N, dh) buffers and reach the caller's arrays with a single += per element.
#pragma omp parallel
  {
    std::vector<float> p(static_cast<size_t>(N)), dp(static_cast<size_t>(N));
    std::vector<float> dq_row(static_cast<size_t>(dh));
    std::vector<float> dk_acc(static_cast<size_t>(N * dh)), dv_acc(static_cast<size_t>(N * dh));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        const int64_t base = b * N * D + h * dh;  // element (b, 0, h*dh)
        std::fill(dk_acc.begin(), dk_acc.end(), 0.0f);
        std::fill(dv_acc.begin(), dv_acc.end(), 0.0f);
        for (int64_t i = 0; i < N; ++i) {
          const float* qi = q.data + base + i * D;
          const float* doi = dy.data + base + i * D;
          // Softmax row of the forward: p_j = exp(s_j - max) / sum.
          for (int64_t j = 0; j < N; ++j) {
            const float* kj = k.data + base + j * D;
            float dot = 0.0f;
            for (int64_t t = 0; t < dh; ++t) dot += qi[t] * kj[t];
            p[j] = dot * scale;
          }
          const float m = *std::max_element(p.begin(), p.end());
          double sum = 0.0;
          for (int64_t j = 0; j < N; ++j) {
            p[j] = std::exp(p[j] - m);
            sum += p[j];
          }
          const float inv = static_cast<float>(1.0 / sum);
          for (int64_t j = 0; j < N; ++j) p[j] *= inv;

          if (dv)  // dV_j += p_j dO_i
            for (int64_t j = 0; j < N; ++j) {
              float* acc = dv_acc.data() + j * dh;
              for (int64_t t = 0; t < dh; ++t) acc[t] += p[j] * doi[t];
            }
          if (!need_ds) continue;
          // dP_j = dO_i . v_j; dS_j = p_j (dP_j - sum_l p_l dP_l)
          double row = 0.0;
          for (int64_t j = 0; j < N; ++j) {
            const float* vj = v.data + base + j * D;
            float dot = 0.0f;
            for (int64_t t = 0; t < dh; ++t) dot += doi[t] * vj[t];
            dp[j] = dot;
            row += static_cast<double>(p[j]) * dot;
          }
          const float rowf = static_cast<float>(row);
          for (int64_t j = 0; j < N; ++j) dp[j] = p[j] * (dp[j] - rowf) * scale;  // dS / sqrt(dh)
          if (dq) {  // dQ_i += sum_j dS_j k_j / sqrt(dh)
            std::fill(dq_row.begin(), dq_row.end(), 0.0f);
            for (int64_t j = 0; j < N; ++j) {
              const float* kj = k.data + base + j * D;
              for (int64_t t = 0; t < dh; ++t) dq_row[t] += dp[j] * kj[t];
            }
            float* dqi = dq + base + i * D;
            for (int64_t t = 0; t < dh; ++t) dqi[t] += dq_row[t];
          }
          if (dk)  // dK_j += dS_j q_i / sqrt(dh)
            for (int64_t j = 0; j < N; ++j) {
              float* acc = dk_acc.data() + j * dh;
              for (int64_t t = 0; t < dh; ++t) acc[t] += dp[j] * qi[t];
            }
        }
        for (int64_t j = 0; j < N; ++j) {
          if (dk) {
            float* dst = dk + base + j * D;
            for (int64_t t = 0; t < dh; ++t) dst[t] += dk_acc[j * dh + t];
          }
          if (dv) {
            float* dst = dv + base + j * D;
            for (int64_t t = 0; t < dh; ++t) dst[t] += dv_acc[j * dh + t];
          }
        }
      }
  }
}

// x, y, dy: (B, N, D), gamma (D), beta (D) -> dx += (B, N, D), dgamma += (D), dbeta += (D)
// With xh = (x - mean) / sqrt(var + eps) and g = dy * gamma, per row:
//   dx = (g - mean(g) - xh * mean(g * xh)) / sqrt(var + eps).
void layer_norm_bwd(const OpGradCall& call) {
  const OpCall& fwd = call.forward;
  const TensorView& x = fwd.inputs[0];
  const WeightView& gamma = fwd.weights[0];
  const TensorView& dy = call.grad_output;
  float* dx = call.grad_inputs[0].data;
  float* dgamma = call.grad_weights[0];
  float* dbeta = call.grad_weights[1];
  const int64_t rows = x.shape.b * x.shape.l, D = x.shape.c;
  SR_CHECK(gamma.dims == std::vector<int64_t>({D}), "layer_norm: gamma must be (D)");
  SR_CHECK(fwd.weights[1].dims == std::vector<int64_t>({D}), "layer_norm: beta must be (D)");
  SR_CHECK(dy.shape == x.shape, "layer_norm: output gradient must be ", x.shape.str(), ", got ",
           dy.shape.str());
  SR_CHECK(!dx || call.grad_inputs[0].shape == x.shape, "layer_norm: input gradient must be ",
           x.shape.str());
  if (rows == 0 || D == 0 || (!dx && !dgamma && !dbeta)) return;
  const double eps = fwd.params.eps;
  const bool need_params = dgamma || dbeta;

  // dgamma and dbeta sum over rows: each thread keeps double partials of its rows, (2, D), and
  // they are added in thread order afterwards (deterministic for a given thread count).
  const int threads = omp_get_max_threads();
  std::vector<double> partial(need_params ? static_cast<size_t>(threads * 2 * D) : 0, 0.0);
#pragma omp parallel num_threads(threads)
  {
    double* pg = need_params ? partial.data() + omp_get_thread_num() * 2 * D : nullptr;
    std::vector<double> xh(static_cast<size_t>(D));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data + r * D;
      const float* dyr = dy.data + r * D;
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
      for (int64_t i = 0; i < D; ++i) xh[i] = (xr[i] - mean) * inv_std;
      if (pg)
        for (int64_t i = 0; i < D; ++i) {
          pg[i] += static_cast<double>(dyr[i]) * xh[i];
          pg[D + i] += dyr[i];
        }
      if (!dx) continue;
      double mean_g = 0.0, mean_gx = 0.0;
      for (int64_t i = 0; i < D; ++i) {
        const double g = static_cast<double>(dyr[i]) * gamma.data[i];
        mean_g += g;
        mean_gx += g * xh[i];
      }
      mean_g /= static_cast<double>(D);
      mean_gx /= static_cast<double>(D);
      float* dxr = dx + r * D;
      for (int64_t i = 0; i < D; ++i) {
        const double g = static_cast<double>(dyr[i]) * gamma.data[i];
        dxr[i] += static_cast<float>((g - mean_g - xh[i] * mean_gx) * inv_std);
      }
    }
  }
  if (!need_params) return;
  for (int64_t i = 0; i < D; ++i) {
    double sg = 0.0, sb = 0.0;
    for (int t = 0; t < threads; ++t) {
      sg += partial[t * 2 * D + i];
      sb += partial[t * 2 * D + D + i];
    }
    if (dgamma) dgamma[i] += static_cast<float>(sg);
    if (dbeta) dbeta[i] += static_cast<float>(sb);
  }
}

// dy: (B, N, D) -> dx += dy * sqrt(D) (the table is constant)
void pos_encoding_bwd(const OpGradCall& call) {
  const TensorView& dy = call.grad_output;
  const TensorView& dx = call.grad_inputs[0];
  SR_CHECK(dy.shape == call.forward.inputs[0].shape, "pos_encoding: output gradient must be ",
           call.forward.inputs[0].shape.str(), ", got ", dy.shape.str());
  if (!dx.data) return;
  SR_CHECK(dx.shape == dy.shape, "pos_encoding: input gradient must be ", dy.shape.str());
  // float32 sqrt, the same factor the forward multiplied by.
  const float scale = std::sqrt(static_cast<float>(dy.shape.c));
  const int64_t n = dy.numel();
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) dx.data[i] += dy.data[i] * scale;
}

}  // namespace sr::cpu
