// scipy.signal.decimate(x, r) with its defaults, step by step as scipy 1.10 does it:
//   cheby1(8, 0.05, 0.8 / r, output='sos')  -> cheb1ap, lp2lp_zpk, bilinear_zpk, zpk2sos
//   sosfiltfilt(sos, x)                      -> odd_ext by 27, sosfilt_zi, forward, backward
//   y[::r]
// Every step in double (scipy on float64 input does the same).
#include "sr/io/decimate.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "sr/error.h"

namespace sr {
namespace {

using cplx = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

// One pass of scipy's _sosfilt (direct form II transposed) in place; z: (sections, 2) state.
void sosfilt_inplace(const std::vector<Biquad>& sos, std::vector<double>& x,
                     std::vector<std::array<double, 2>>& z) {
  for (double& v : x) {
    double cur = v;
    for (size_t s = 0; s < sos.size(); ++s) {
      const Biquad& c = sos[s];
      const double out = c[0] * cur + z[s][0];
      z[s][0] = c[1] * cur - c[4] * out + z[s][1];
      z[s][1] = c[2] * cur - c[5] * out;
      cur = out;
    }
    v = cur;
  }
}

// scipy's sosfilt_zi: each section's lfilter_zi (the 2x2 solve of zi = A zi + B, in closed form),
// scaled by the DC gain of the sections before it.
std::vector<std::array<double, 2>> sosfilt_zi(const std::vector<Biquad>& sos) {
  std::vector<std::array<double, 2>> zi(sos.size());
  double scale = 1.0;
  for (size_t s = 0; s < sos.size(); ++s) {
    const Biquad& c = sos[s];
    const double b0 = c[0] / c[3], b1 = c[1] / c[3], b2 = c[2] / c[3];
    const double a1 = c[4] / c[3], a2 = c[5] / c[3];
    // (I - companion(a).T) zi = B with B = b[1:] - a[1:] b0:
    //   (1 + a1) z0 - z1 = B0,  a2 z0 + z1 = B1.
    const double B0 = b1 - a1 * b0, B1 = b2 - a2 * b0;
    const double z0 = (B0 + B1) / (1.0 + a1 + a2);
    zi[s] = {scale * z0, scale * (B1 - a2 * z0)};
    scale *= (c[0] + c[1] + c[2]) / (c[3] + c[4] + c[5]);
  }
  return zi;
}

}  // namespace

std::vector<Biquad> cheby1_lowpass_sos(int order, double ripple_db, double cutoff) {
  if (order < 2 || order % 2 != 0) fail("cheby1_lowpass_sos: order must be even, got ", order);
  if (!(cutoff > 0.0 && cutoff < 1.0))
    fail("cheby1_lowpass_sos: cutoff must be in (0, 1), got ", cutoff);
  if (!(ripple_db > 0.0)) fail("cheby1_lowpass_sos: ripple must be positive, got ", ripple_db);
  const int n = order;
  // cheb1ap: poles -sinh(mu + j theta_m), theta_m = pi m / (2n), m = -n+1, -n+3, ..., n-1.
  const double eps = std::sqrt(std::pow(10.0, 0.1 * ripple_db) - 1.0);
  const double mu = std::asinh(1.0 / eps) / n;
  std::vector<cplx> poles;
  for (int m = -n + 1; m < n; m += 2) poles.push_back(-std::sinh(cplx(mu, kPi * m / (2.0 * n))));
  cplx prod = 1.0;
  for (const cplx& p : poles) prod *= -p;
  double gain = prod.real() / std::sqrt(1.0 + eps * eps);  // even order
  // lp2lp_zpk to the prewarped cutoff (fs = 2 as iirfilter uses for digital filters).
  const double fs = 2.0, fs2 = 2.0 * fs;
  const double warped = fs2 * std::tan(kPi * cutoff / fs);
  for (cplx& p : poles) p *= warped;
  gain *= std::pow(warped, n);
  // bilinear_zpk: z = (fs2 + s) / (fs2 - s); n zeros at -1; k *= real(1 / prod(fs2 - p)).
  cplx denominator = 1.0;
  for (cplx& p : poles) {
    denominator *= fs2 - p;
    p = (fs2 + p) / (fs2 - p);
  }
  gain *= (1.0 / denominator).real();
  // zpk2sos ('nearest'): conjugate pairs, the pole nearest the unit circle goes in the last
  // section; with all zeros at -1 each section's numerator is [1, 2, 1], the gain in the first.
  std::vector<cplx> upper;
  for (const cplx& p : poles)
    if (p.imag() > 0) upper.push_back(p);
  std::stable_sort(upper.begin(), upper.end(), [](const cplx& a, const cplx& b) {
    return std::fabs(1.0 - std::abs(a)) > std::fabs(1.0 - std::abs(b));
  });
  SR_CHECK(upper.size() == static_cast<size_t>(n / 2), "pole pairing");
  std::vector<Biquad> sos;
  for (size_t s = 0; s < upper.size(); ++s) {
    const cplx& p = upper[s];
    const double g = s == 0 ? gain : 1.0;
    sos.push_back({g, 2.0 * g, g, 1.0, -2.0 * p.real(), p.real() * p.real() + p.imag() * p.imag()});
  }
  return sos;
}

void sosfilt(const std::vector<Biquad>& sos, std::vector<double>& x) {
  std::vector<std::array<double, 2>> z(sos.size(), {0.0, 0.0});
  sosfilt_inplace(sos, x, z);
}

// x: (n,) -> (n,)
std::vector<double> sosfiltfilt(const std::vector<Biquad>& sos, const std::vector<float>& x) {
  // scipy: ntaps = 2 * sections + 1, less the sections that are really first order; padlen 3 ntaps.
  size_t b2_zero = 0, a2_zero = 0;
  for (const Biquad& c : sos) {
    b2_zero += c[2] == 0.0;
    a2_zero += c[5] == 0.0;
  }
  const size_t ntaps = 2 * sos.size() + 1 - std::min(b2_zero, a2_zero);
  const size_t edge = 3 * ntaps;
  const size_t n = x.size();
  if (n <= edge)
    fail("the signal is too short to low-pass filter: ", n,
         " samples; scipy's sosfiltfilt (decimate) needs more than ", edge);
  // odd_ext: 2 x[0] - x[edge..1] | x | 2 x[n-1] - x[n-2..n-1-edge]
  std::vector<double> ext(n + 2 * edge);
  for (size_t i = 0; i < edge; ++i) {
    ext[i] = 2.0 * double(x[0]) - double(x[edge - i]);
    ext[edge + n + i] = 2.0 * double(x[n - 1]) - double(x[n - 2 - i]);
  }
  for (size_t i = 0; i < n; ++i) ext[edge + i] = x[i];

  const std::vector<std::array<double, 2>> zi = sosfilt_zi(sos);
  auto scaled = [&](double s) {
    std::vector<std::array<double, 2>> z = zi;
    for (auto& row : z) row = {row[0] * s, row[1] * s};
    return z;
  };
  auto z = scaled(ext.front());
  sosfilt_inplace(sos, ext, z);
  std::reverse(ext.begin(), ext.end());
  z = scaled(ext.front());
  sosfilt_inplace(sos, ext, z);
  std::reverse(ext.begin(), ext.end());
  return std::vector<double>(ext.begin() + edge, ext.begin() + edge + n);
}

// x: (n,) -> (ceil(n / r),)
std::vector<float> decimate(const std::vector<float>& x, int r) {
  if (r < 1) fail("decimate: the factor must be at least 1, got ", r);
  const std::vector<double> y = sosfiltfilt(cheby1_lowpass_sos(8, 0.05, 0.8 / r), x);
  std::vector<float> out((y.size() + r - 1) / r);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(y[i * r]);
  return out;
}

}  // namespace sr
