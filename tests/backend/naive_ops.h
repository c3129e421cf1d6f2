// Naive double-precision forwards of the conv / pooling / layout families, written from the
// formulas in spec/MODELS.md sections 1.1, 2 and 3. The forward tests compare the CPU ops with
// them; the gradient tests differentiate them by central finite differences.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sr/ops.h"
#include "sr/tensor.h"

namespace sr::naive {

using Vec = std::vector<double>;

inline Vec to_double(const std::vector<float>& v) {
  return Vec(v.begin(), v.end());
}

// Index of (b, l, c) in a channels-last (B, L, C) buffer.
inline size_t at(const Shape& s, int64_t b, int64_t l, int64_t c) {
  return static_cast<size_t>((b * s.l + l) * s.c + c);
}

struct ConvDims {
  int64_t b, l, cin, cout, k, dilation;
};

// x: (B, L, Cin), w: (K, Cin, Cout), bias: (Cout) -> y: (B, L, Cout)
// y[b,t,co] = bias[co] + sum_j sum_ci w[j,ci,co] x[b, t + d(j - (K-1)/2), ci], zero outside [0, L).
inline Vec conv1d(const Vec& x, const Vec& w, const Vec& bias, const ConvDims& p) {
  const Shape xs{p.b, p.l, p.cin}, ys{p.b, p.l, p.cout};
  Vec y(static_cast<size_t>(ys.numel()));
  const int64_t half = (p.k - 1) / 2;
  for (int64_t b = 0; b < p.b; ++b)
    for (int64_t t = 0; t < p.l; ++t)
      for (int64_t co = 0; co < p.cout; ++co) {
        double acc = bias[co];
        for (int64_t j = 0; j < p.k; ++j) {
          const int64_t s = t + p.dilation * (j - half);
          if (s < 0 || s >= p.l) continue;
          for (int64_t ci = 0; ci < p.cin; ++ci)
            acc += w[(j * p.cin + ci) * p.cout + co] * x[at(xs, b, s, ci)];
        }
        y[at(ys, b, t, co)] = acc;
      }
  return y;
}

// y = x > 0 ? x : alpha * x
inline Vec leaky_relu(const Vec& x, double alpha) {
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
  return y;
}

// y = max(x, 0)
inline Vec relu(const Vec& x) {
  return leaky_relu(x, 0.0);
}

// y = a + b
inline Vec add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

// x: (B, L, C) -> y: (B, L/2, C), y[b,t,c] = max(x[b,2t,c], x[b,2t+1,c]); an odd last row is
// dropped.
inline Vec max_pool2(const Vec& x, const Shape& s) {
  const Shape ys{s.b, s.l / 2, s.c};
  Vec y(static_cast<size_t>(ys.numel()));
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t t = 0; t < ys.l; ++t)
      for (int64_t c = 0; c < s.c; ++c)
        y[at(ys, b, t, c)] = std::max(x[at(s, b, 2 * t, c)], x[at(s, b, 2 * t + 1, c)]);
  return y;
}

// x: (B, L, C) -> y: (B, L/S, C), y[b,n,c] = max_j x[b, n*S + j, c]
inline Vec block_max_pool(const Vec& x, const Shape& s, int64_t S) {
  const Shape ys{s.b, s.l / S, s.c};
  Vec y(static_cast<size_t>(ys.numel()));
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t n = 0; n < ys.l; ++n)
      for (int64_t c = 0; c < s.c; ++c) {
        double m = -INFINITY;
        for (int64_t j = 0; j < S; ++j) m = std::max(m, x[at(s, b, n * S + j, c)]);
        y[at(ys, b, n, c)] = m;
      }
  return y;
}

// x: (B, W, 2C) -> y: (B, 2W, C)
//   tf: y[b, 2w+k, c] = x[b, w, k*C + c]     pt: y[b, 2w+k, c] = x[b, w, 2c + k]
inline Vec subpixel(const Vec& x, const Shape& s, SubpixelOrder order) {
  const int64_t C = s.c / 2;
  const Shape ys{s.b, 2 * s.l, C};
  Vec y(static_cast<size_t>(ys.numel()));
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t w = 0; w < s.l; ++w)
      for (int64_t k = 0; k < 2; ++k)
        for (int64_t c = 0; c < C; ++c)
          y[at(ys, b, 2 * w + k, c)] =
              x[at(s, b, w, order == SubpixelOrder::tf ? k * C + c : 2 * c + k)];
  return y;
}

// a: (B, L, C1), b: (B, L, C2) -> y: (B, L, C1 + C2), a's channels first.
inline Vec concat(const Vec& a, const Shape& as, const Vec& b, const Shape& bs) {
  const Shape ys{as.b, as.l, as.c + bs.c};
  Vec y(static_cast<size_t>(ys.numel()));
  for (int64_t i = 0; i < as.b; ++i)
    for (int64_t l = 0; l < as.l; ++l)
      for (int64_t c = 0; c < ys.c; ++c)
        y[at(ys, i, l, c)] = c < as.c ? a[at(as, i, l, c)] : b[at(bs, i, l, c - as.c)];
  return y;
}

// x: (B, L, C), m: (B, L/S, C) -> y: (B, L, C), y[b, n*S + j, c] = x[b, n*S + j, c] * m[b, n, c]
inline Vec modulate(const Vec& x, const Shape& s, const Vec& m, int64_t S) {
  const Shape ms{s.b, s.l / S, s.c};
  Vec y(x.size());
  for (int64_t b = 0; b < s.b; ++b)
    for (int64_t t = 0; t < s.l; ++t)
      for (int64_t c = 0; c < s.c; ++c)
        y[at(s, b, t, c)] = x[at(s, b, t, c)] * m[at(ms, b, t / S, c)];
  return y;
}

}  // namespace sr::naive
