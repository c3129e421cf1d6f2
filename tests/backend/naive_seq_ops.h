// Naive float64 forwards of the FiLM-block sequence ops (lstm, linear, attention, layer_norm,
// pos_encoding), written from the spec independently of engine/cpu. The forward tests compare the
// CPU ops against them; the gradient tests differentiate them by central finite differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sr/tensor.h"

namespace sr::test::naive {

inline std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// Recurrent gate nonlinearity: logistic sigmoid, or Keras 1.2 hard_sigmoid clip(0.2z + 0.5, 0, 1).
inline double gate(double z, bool hard) {
  if (hard) return std::clamp(0.2 * z + 0.5, 0.0, 1.0);
  return 1.0 / (1.0 + std::exp(-z));
}

// x: (B, N, Cin), Keras layout kernel[c][gate*H + j] (Cin, 4H), recurrent[m][gate*H + j] (H, 4H),
// bias (4H), gates in order i, f, g, o, zero initial state -> h: (B, N, H). Every gate
// pre-activation is appended to *preacts when it is given.
inline std::vector<double> lstm(const std::vector<double>& x, Shape xs,
                                const std::vector<double>& kernel,
                                const std::vector<double>& recurrent,
                                const std::vector<double>& bias, int64_t H, bool hard,
                                std::vector<double>* preacts = nullptr) {
  const int64_t B = xs.b, N = xs.l, Cin = xs.c;
  std::vector<double> out(static_cast<size_t>(B * N * H));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<double> h(H, 0.0), c(H, 0.0), h_next(H);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t j = 0; j < H; ++j) {
        double z[4];
        for (int g = 0; g < 4; ++g) {
          const int64_t col = g * H + j;
          double s = bias[col];
          for (int64_t ci = 0; ci < Cin; ++ci)
            s += x[(b * N + n) * Cin + ci] * kernel[ci * 4 * H + col];
          for (int64_t m = 0; m < H; ++m) s += h[m] * recurrent[m * 4 * H + col];
          z[g] = s;
          if (preacts) preacts->push_back(s);
        }
        const double in_gate = gate(z[0], hard), forget = gate(z[1], hard);
        const double cand = std::tanh(z[2]), out_gate = gate(z[3], hard);
        c[j] = forget * c[j] + in_gate * cand;
        h_next[j] = out_gate * std::tanh(c[j]);
      }
      h = h_next;
      for (int64_t j = 0; j < H; ++j) out[(b * N + n) * H + j] = h[j];
    }
  }
  return out;
}

// x: (rows, Din), w (Din, Dout), bias (Dout) -> y = x*w + b [, ReLU]: (rows, Dout). Every
// pre-activation (before the ReLU) is appended to *preacts when it is given.
inline std::vector<double> linear(const std::vector<double>& x, int64_t rows, int64_t Din,
                                  const std::vector<double>& w, const std::vector<double>& bias,
                                  int64_t Dout, bool relu, std::vector<double>* preacts = nullptr) {
  std::vector<double> out(static_cast<size_t>(rows * Dout));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < Dout; ++o) {
      double s = bias[o];
      for (int64_t i = 0; i < Din; ++i) s += x[r * Din + i] * w[i * Dout + o];
      if (preacts) preacts->push_back(s);
      out[r * Dout + o] = relu ? std::max(s, 0.0) : s;
    }
  return out;
}

// q, k, v: (B, N, D) -> (B, N, D), multi-head softmax attention, head h on features
// [h*dh, (h+1)*dh), scores / sqrt(dh), no mask. The largest |score| goes to *max_score if given.
inline std::vector<double> attention(const std::vector<double>& q, const std::vector<double>& k,
                                     const std::vector<double>& v, Shape s, int64_t heads,
                                     double* max_score = nullptr) {
  const int64_t B = s.b, N = s.l, D = s.c, dh = D / heads;
  std::vector<double> out(static_cast<size_t>(B * N * D));
  if (max_score) *max_score = 0;
  std::vector<double> e(static_cast<size_t>(N));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < N; ++i) {
        for (int64_t j = 0; j < N; ++j) {
          double dot = 0;
          for (int64_t t = 0; t < dh; ++t)
            dot += q[(b * N + i) * D + h * dh + t] * k[(b * N + j) * D + h * dh + t];
          e[j] = dot / std::sqrt(double(dh));
          if (max_score) *max_score = std::max(*max_score, std::fabs(e[j]));
        }
        const double m = *std::max_element(e.begin(), e.end());
        double total = 0;
        for (double& x : e) total += (x = std::exp(x - m));
        for (int64_t t = 0; t < dh; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < N; ++j) acc += e[j] * v[(b * N + j) * D + h * dh + t];
          out[(b * N + i) * D + h * dh + t] = acc / total;
        }
      }
  return out;
}

// x: (rows, D), gamma (D), beta (D) -> (rows, D): two-pass mean and biased variance per row.
inline std::vector<double> layer_norm(const std::vector<double>& x, int64_t rows, int64_t D,
                                      const std::vector<double>& gamma,
                                      const std::vector<double>& beta, double eps) {
  std::vector<double> out(static_cast<size_t>(rows * D));
  for (int64_t r = 0; r < rows; ++r) {
    const double* xr = x.data() + r * D;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < D; ++i) mean += xr[i];
    mean /= D;
    for (int64_t i = 0; i < D; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= D;
    for (int64_t i = 0; i < D; ++i)
      out[r * D + i] = (xr[i] - mean) / std::sqrt(var + eps) * gamma[i] + beta[i];
  }
  return out;
}

// x: (B, N, D) -> x * sqrt(D) + PE, PE[n, i] = sin/cos(n / 10000^((i - i%2)/D)), even/odd i.
inline std::vector<double> pos_encoding(const std::vector<double>& x, Shape s) {
  const int64_t B = s.b, N = s.l, D = s.c;
  std::vector<double> out(static_cast<size_t>(B * N * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < D; ++i) {
        const double rate = std::pow(1e4, -double(i - i % 2) / double(D));
        const double pe = i % 2 ? std::cos(n * rate) : std::sin(n * rate);
        out[(b * N + n) * D + i] = x[(b * N + n) * D + i] * std::sqrt(double(D)) + pe;
      }
  return out;
}

}  // namespace sr::test::naive
