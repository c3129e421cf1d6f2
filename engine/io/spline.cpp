// Interpolating not-a-knot cubic spline on a uniform grid (spec 5.1 step 4), equal to scipy's
// splev(arange(n*r), splrep(arange(0, n*r, r), low)) and CubicSpline(bc_type='not-a-knot').
//
// Work in knot units (spacing 1). With M_i = S''(knot i) and d_i = y[i-1] - 2 y[i] + y[i+1], the
// interior continuity rows are M[i-1] + 4 M[i] + M[i+1] = 6 d_i (i = 1..n-2). Not-a-knot (S'''
// continuous at knots 1 and n-2) gives M0 = 2 M1 - M2 and M[n-1] = 2 M[n-2] - M[n-3]; putting those
// into rows 1 and n-2 collapses them to M1 = d_1 and M[n-2] = d_{n-2}. What is left is a diagonally
// dominant tridiagonal system (diag 4, off-diagonals 1) for M2..M[n-3], solved by the Thomas
// algorithm in double. n = 3 gives M0 = M1 = M2 = d_1: the parabola through the points, which is
// what not-a-knot reduces to; n = 2 is the line, n = 1 the constant.
#include "sr/io/spline.h"

#include "sr/error.h"

namespace sr {
namespace {

// Second derivatives at the knots, in knot units. x: (n,) -> M: (n,)
std::vector<double> not_a_knot_second_derivatives(const std::vector<float>& y) {
  const size_t n = y.size();
  std::vector<double> m(n, 0.0);
  if (n < 3) return m;  // constant or line
  auto d = [&](size_t i) { return double(y[i - 1]) - 2.0 * double(y[i]) + double(y[i + 1]); };
  if (n == 3) {
    m[0] = m[1] = m[2] = d(1);
    return m;
  }
  m[1] = d(1);
  m[n - 2] = d(n - 2);
  // Unknowns M2..M[n-3] (k = n-4 of them); row i: M[i-1] + 4 M[i] + M[i+1] = 6 d_i.
  if (n >= 5) {
    const size_t first = 2, last = n - 3;
    std::vector<double> c(n, 0.0);  // modified super-diagonal
    for (size_t i = first; i <= last; ++i) {
      double rhs = 6.0 * d(i);
      if (i == first) rhs -= m[1];
      if (i == last) rhs -= m[n - 2];
      double diag = 4.0, upper = (i == last) ? 0.0 : 1.0;
      if (i > first) {
        diag -= c[i - 1];
        rhs -= m[i - 1];
      }
      c[i] = upper / diag;
      m[i] = rhs / diag;
    }
    for (size_t i = last; i > first; --i) m[i - 1] -= c[i - 1] * m[i];
  }
  m[0] = 2.0 * m[1] - m[2];
  m[n - 1] = 2.0 * m[n - 2] - m[n - 3];
  return m;
}

}  // namespace

// low: (n,) -> out: (n*r,)
std::vector<float> spline_upsample(const std::vector<float>& low, int r) {
  if (r < 1) fail("spline_upsample: scale must be >= 1, got ", r);
  const size_t n = low.size();
  if (n == 0) fail("spline_upsample: empty input");
  const size_t ur = static_cast<size_t>(r);
  std::vector<float> out(n * ur);
  if (n == 1) {
    for (float& v : out) v = low[0];
    return out;
  }
  const std::vector<double> m = not_a_knot_second_derivatives(low);

  // On the piece from knot j to j+1, with u = offset / r (u > 1 extrapolates the last piece):
  //   S = M_j (1-u)^3/6 + M_{j+1} u^3/6 + (y_j - M_j/6)(1-u) + (y_{j+1} - M_{j+1}/6) u.
  // The grid is uniform, so the four basis weights depend only on the offset; tabulate them once.
  const size_t offsets = 2 * ur;  // the last piece also covers the r-1 extrapolated samples
  std::vector<double> w(4 * offsets);
  for (size_t k = 0; k < offsets; ++k) {
    double u = double(k) / double(r), v = 1.0 - u;
    w[4 * k + 0] = v * v * v / 6.0;
    w[4 * k + 1] = u * u * u / 6.0;
    w[4 * k + 2] = v;
    w[4 * k + 3] = u;
  }
  for (size_t j = 0; j + 1 < n; ++j) {
    const double mj = m[j], mk = m[j + 1];
    const double aj = double(low[j]) - mj / 6.0, ak = double(low[j + 1]) - mk / 6.0;
    const size_t count = (j + 2 == n) ? 2 * ur : ur;
    float* dst = out.data() + j * ur;
    for (size_t k = 0; k < count; ++k) {
      const double* wk = &w[4 * k];
      dst[k] = static_cast<float>(mj * wk[0] + mk * wk[1] + aj * wk[2] + ak * wk[3]);
    }
  }
  return out;
}

}  // namespace sr
