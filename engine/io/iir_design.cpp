// scipy.signal's IIR low-pass design in double: analog prototypes (scipy/signal/_filter_design.py
// buttap, cheb1ap, cheb2ap, ellipap with _ellipdeg and _arc_jac_sn, besselap norm='phase'),
// lp2lp_zpk, bilinear_zpk, sections.
#include "sr/io/iir_design.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "sr/error.h"

namespace sr {
namespace {

using cplx = std::complex<double>;
constexpr double kPi = 3.14159265358979323846;

struct Zpk {
  std::vector<cplx> z, p;
  double k = 1.0;
};

// m = -n+1, -n+3, ..., n-1
std::vector<int> odd_steps(int n) {
  std::vector<int> m;
  for (int i = -n + 1; i < n; i += 2) m.push_back(i);
  return m;
}

Zpk buttap(int n) {
  Zpk a;
  for (int m : odd_steps(n)) a.p.push_back(-std::exp(cplx(0, kPi * m / (2.0 * n))));
  return a;
}

Zpk cheb1ap(int n, double rp) {
  Zpk a;
  const double eps = std::sqrt(std::pow(10.0, 0.1 * rp) - 1.0);
  const double mu = std::asinh(1.0 / eps) / n;
  cplx prod = 1.0;
  for (int m : odd_steps(n)) {
    a.p.push_back(-std::sinh(cplx(mu, kPi * m / (2.0 * n))));
    prod *= -a.p.back();
  }
  a.k = prod.real();
  if (n % 2 == 0) a.k /= std::sqrt(1.0 + eps * eps);
  return a;
}

Zpk cheb2ap(int n, double rs) {
  Zpk a;
  const double de = 1.0 / std::sqrt(std::pow(10.0, 0.1 * rs) - 1.0);
  const double mu = std::asinh(1.0 / de) / n;
  for (int m : odd_steps(n))
    if (m != 0) a.z.push_back(-std::conj(cplx(0, 1) / std::sin(m * kPi / (2.0 * n))));
  cplx pz = 1.0, pp = 1.0;
  for (int m : odd_steps(n)) {
    const cplx e = -std::exp(cplx(0, kPi * m / (2.0 * n)));
    a.p.push_back(1.0 / cplx(std::sinh(mu) * e.real(), std::cosh(mu) * e.imag()));
    pp *= -a.p.back();
  }
  for (const cplx& z : a.z) pz *= -z;
  a.k = (pp / pz).real();
  return a;
}

// Complete elliptic integral of the first kind K(m) by the arithmetic-geometric mean; `m1` = 1 - m
// is passed separately so that m near 1 keeps its precision.
double ellipk_m1(double m1) {
  double a = 1.0, b = std::sqrt(m1);
  for (int i = 0; i < 60 && std::fabs(a - b) > 1e-16 * a; ++i) {
    const double t = 0.5 * (a + b);
    b = std::sqrt(a * b);
    a = t;
  }
  return kPi / (2.0 * a);
}
double ellipk(double m) {
  return ellipk_m1(1.0 - m);
}

// Jacobi elliptic functions sn, cn, dn of (u | m), cephes' ellpj (descending Landen / AGM).
void ellipj(double u, double m, double& sn, double& cn, double& dn) {
  if (m < 1e-9) {
    const double t = std::sin(u), b = std::cos(u), ai = 0.25 * m * (u - t * b);
    sn = t - ai * b;
    cn = b + ai * t;
    dn = 1.0 - 0.5 * m * t * t;
    return;
  }
  if (m >= 0.9999999999) {
    double ai = 0.25 * (1.0 - m);
    const double b = std::cosh(u), t = std::tanh(u), phi = 1.0 / b, twon = b * std::sinh(u);
    sn = t + ai * (twon - u) / (b * b);
    ai *= t * phi;
    cn = phi - ai * (twon - u);
    dn = phi + ai * (twon + u);
    return;
  }
  double a[17], c[17];  // the AGM converges quadratically: 16 steps reach m within 1e-10 of 1
  a[0] = 1.0;
  double b = std::sqrt(1.0 - m);
  c[0] = std::sqrt(m);
  double twon = 1.0;
  int i = 0;
  while (std::fabs(c[i] / a[i]) > 4e-16) {  // cephes' MACHEP can stall one ulp short
    SR_CHECK(i < 16, "ellipj: no convergence");
    const double ai = a[i];
    ++i;
    c[i] = 0.5 * (ai - b);
    const double t = std::sqrt(ai * b);
    a[i] = 0.5 * (ai + b);
    b = t;
    twon *= 2.0;
  }
  double phi = twon * a[i] * u, prev = phi;
  do {
    const double t = c[i] * std::sin(phi) / a[i];
    prev = phi;
    phi = 0.5 * (std::asin(t) + phi);
  } while (--i);
  sn = std::sin(phi);
  cn = std::cos(phi);
  dn = cn / std::cos(phi - prev);
}

// scipy's _ellipdeg: the modulus m of degree n from m1, by nome series.
double ellipdeg(int n, double m1) {
  const double k1 = ellipk(m1), k1p = ellipk_m1(m1);
  const double q1 = std::exp(-kPi * k1p / k1);
  const double q = std::pow(q1, 1.0 / n);
  double num = 0, den = 0;
  for (int i = 0; i <= 7; ++i) num += std::pow(q, i * (i + 1));
  for (int i = 1; i <= 8; ++i) den += std::pow(q, i * i);
  den = 1.0 + 2.0 * den;
  return 16.0 * q * std::pow(num / den, 4);
}

// scipy's _arc_jac_sn for complex w (Landen transformations), and _arc_jac_sc1.
cplx arc_jac_sn(cplx w, double m) {
  auto complement = [](cplx kx) { return std::sqrt((1.0 - kx) * (1.0 + kx)); };
  const double k = std::sqrt(m);
  std::vector<double> ks{k};
  while (ks.back() != 0.0) {
    SR_CHECK(ks.size() < 12, "arc_jac_sn: no convergence");
    const double kp = complement(ks.back()).real();
    ks.push_back((1.0 - kp) / (1.0 + kp));
  }
  double big_k = kPi / 2;
  for (size_t i = 1; i < ks.size(); ++i) big_k *= 1.0 + ks[i];
  cplx wn = w;
  for (size_t i = 0; i + 1 < ks.size(); ++i)
    wn = 2.0 * wn / ((1.0 + ks[i + 1]) * (1.0 + complement(ks[i] * wn)));
  return big_k * (2.0 / kPi) * std::asin(wn);
}

Zpk ellipap(int n, double rp, double rs) {
  Zpk a;
  const double eps_sq = std::pow(10.0, 0.1 * rp) - 1.0, eps = std::sqrt(eps_sq);
  if (n == 1) {
    a.p = {-std::sqrt(1.0 / eps_sq)};
    a.k = -a.p[0].real();
    return a;
  }
  const double ck1_sq = eps_sq / (std::pow(10.0, 0.1 * rs) - 1.0);
  const double val0 = ellipk(ck1_sq);
  const double m = ellipdeg(n, ck1_sq);
  const double capk = ellipk(m);
  std::vector<double> s, c, d;
  for (int j = 1 - n % 2; j < n; j += 2) {
    double sj, cj, dj;
    ellipj(j * capk / n, m, sj, cj, dj);
    s.push_back(sj), c.push_back(cj), d.push_back(dj);
  }
  for (double sj : s)
    if (std::fabs(sj) > 2e-16) a.z.push_back(cplx(0, 1.0 / (std::sqrt(m) * sj)));
  const size_t nz = a.z.size();
  for (size_t i = 0; i < nz; ++i) a.z.push_back(std::conj(a.z[i]));
  const double r = arc_jac_sn(cplx(0, 1.0 / eps), ck1_sq).imag();
  const double v0 = capk * r / (n * val0);
  double sv, cv, dv;
  ellipj(v0, 1.0 - m, sv, cv, dv);
  std::vector<cplx> p;
  for (size_t i = 0; i < s.size(); ++i)
    p.push_back(-cplx(c[i] * d[i] * sv * cv, s[i] * dv) / (1.0 - (d[i] * sv) * (d[i] * sv)));
  a.p = p;
  double norm = 0;
  for (const cplx& x : p) norm += std::norm(x);
  for (const cplx& x : p)
    if (n % 2 == 0 || std::fabs(x.imag()) > 2e-16 * std::sqrt(norm)) a.p.push_back(std::conj(x));
  cplx pp = 1.0, pz = 1.0;
  for (const cplx& x : a.p) pp *= -x;
  for (const cplx& x : a.z) pz *= -x;
  a.k = (pp / pz).real();
  if (n % 2 == 0) a.k /= std::sqrt(1.0 + eps_sq);
  return a;
}

// besselap(n, norm='phase'): roots of the reverse Bessel polynomial, scaled so that the product
// of -p is 1 (the asymptotes of a Butterworth filter); k = 1.
Zpk besselap(int n) {
  // theta_n(s) = sum_k a_k s^k, a_k = (2n-k)! / (2^(n-k) k! (n-k)!); with s = c u and
  // c = a_0^(1/n) the monic polynomial in u has a constant term of 1 and tame coefficients.
  std::vector<double> a(n + 1);
  for (int k = 0; k <= n; ++k) {
    double v = 1.0;
    for (int i = n - k + 1; i <= 2 * n - k; ++i) v *= i;  // (2n-k)! / (n-k)!
    for (int i = 2; i <= k; ++i) v /= i;
    a[k] = v / std::pow(2.0, n - k);
  }
  const double c = std::pow(a[0], 1.0 / n);
  std::vector<double> b(n + 1);  // monic in u: b_k = a_k c^k / (a_n c^n)
  for (int k = 0; k <= n; ++k) b[k] = a[k] * std::pow(c, k) / (a[n] * std::pow(c, n));
  auto eval = [&](cplx u) {
    cplx v = b[n];
    for (int k = n - 1; k >= 0; --k) v = v * u + b[k];
    return v;
  };
  // Durand-Kerner from points on a circle of radius 1 (the roots lie near it).
  std::vector<cplx> r(n);
  for (int i = 0; i < n; ++i) r[i] = std::polar(1.0, 2 * kPi * (i + 0.25) / n + 0.4);
  for (int it = 0; it < 500; ++it) {
    double change = 0;
    for (int i = 0; i < n; ++i) {
      cplx den = 1.0;
      for (int j = 0; j < n; ++j)
        if (j != i) den *= r[i] - r[j];
      const cplx step = eval(r[i]) / den;
      r[i] -= step;
      change = std::max(change, std::abs(step));
    }
    if (change < 1e-15) break;
  }
  Zpk z;
  for (const cplx& u : r) {
    SR_CHECK(std::abs(eval(u)) < 1e-9, "besselap: root finding did not converge");
    z.p.push_back(std::abs(u.imag()) < 1e-12 ? cplx(u.real(), 0) : u);
  }
  return z;
}

cplx response(const std::vector<Biquad>& sos, cplx zinv) {
  cplx h = 1.0;
  for (const Biquad& c : sos)
    h *= (c[0] + zinv * (c[1] + zinv * c[2])) / (c[3] + zinv * (c[4] + zinv * c[5]));
  return h;
}

// Sections: complex pole pairs (nearest the unit circle last) each with the nearest remaining
// zero pair, else two real zeros; real poles in pairs; the gain in the first section.
std::vector<Biquad> to_sos(const Zpk& d) {
  auto split = [](const std::vector<cplx>& v, std::vector<cplx>& upper, std::vector<double>& real) {
    for (const cplx& x : v) {
      if (std::fabs(x.imag()) <= 1e-10 * std::max(1.0, std::abs(x)))
        real.push_back(x.real());
      else if (x.imag() > 0)
        upper.push_back(x);
    }
  };
  std::vector<cplx> pu, zu;
  std::vector<double> pr, zr;
  split(d.p, pu, pr);
  split(d.z, zu, zr);
  std::stable_sort(pu.begin(), pu.end(), [](const cplx& a, const cplx& b) {
    return std::fabs(1.0 - std::abs(a)) > std::fabs(1.0 - std::abs(b));
  });
  // Numerator for the next section: a zero pair nearest `target`, else up to two real zeros.
  auto numerator = [&](cplx target, int degree, Biquad& s) {
    if (degree == 2 && !zu.empty()) {
      size_t best = 0;
      for (size_t i = 1; i < zu.size(); ++i)
        if (std::abs(zu[i] - target) < std::abs(zu[best] - target)) best = i;
      const cplx z = zu[best];
      zu.erase(zu.begin() + best);
      s[0] = 1, s[1] = -2 * z.real(), s[2] = std::norm(z);
      return;
    }
    s[0] = 1, s[1] = 0, s[2] = 0;
    std::vector<double> take;
    while (static_cast<int>(take.size()) < degree && !zr.empty()) {
      take.push_back(zr.back());
      zr.pop_back();
    }
    if (take.size() == 1) s[1] = -take[0];
    if (take.size() == 2) s[1] = -(take[0] + take[1]), s[2] = take[0] * take[1];
  };
  std::vector<Biquad> sos;
  // Real poles first (they are far from the unit circle for these low-pass designs).
  for (size_t i = 0; i < pr.size(); i += 2) {
    Biquad s{};
    s[3] = 1;
    if (i + 1 < pr.size()) {
      s[4] = -(pr[i] + pr[i + 1]), s[5] = pr[i] * pr[i + 1];
      numerator(pr[i], 2, s);
    } else {
      s[4] = -pr[i], s[5] = 0;
      numerator(pr[i], 1, s);
    }
    sos.push_back(s);
  }
  for (const cplx& p : pu) {
    Biquad s{};
    s[3] = 1, s[4] = -2 * p.real(), s[5] = std::norm(p);
    numerator(p, 2, s);
    sos.push_back(s);
  }
  SR_CHECK(zu.empty() && zr.empty(), "iir design: more zeros than poles");
  for (int i = 0; i < 3; ++i) sos[0][i] *= d.k;
  return sos;
}

}  // namespace

const char* iir_family_name(IirFamily f) {
  switch (f) {
    case IirFamily::butter:
      return "butter";
    case IirFamily::cheby1:
      return "cheby1";
    case IirFamily::cheby2:
      return "cheby2";
    case IirFamily::ellip:
      return "ellip";
    case IirFamily::bessel:
      return "bessel";
  }
  return "?";
}

std::vector<Biquad> iir_lowpass_sos(const IirSpec& spec) {
  const int n = spec.order;
  if (n < 1 || n > 16) fail("iir_lowpass_sos: order must be 1..16, got ", n);
  if (!(spec.cutoff > 0.0 && spec.cutoff < 1.0))
    fail("iir_lowpass_sos: cutoff must be in (0, 1), got ", spec.cutoff);
  Zpk a;
  switch (spec.family) {
    case IirFamily::butter:
      a = buttap(n);
      break;
    case IirFamily::cheby1:
      a = cheb1ap(n, spec.ripple_db);
      break;
    case IirFamily::cheby2:
      a = cheb2ap(n, spec.stop_db);
      break;
    case IirFamily::ellip:
      a = ellipap(n, spec.ripple_db, spec.stop_db);
      break;
    case IirFamily::bessel:
      a = besselap(n);
      break;
  }
  // lp2lp_zpk to the prewarped cutoff, then bilinear_zpk, fs = 2 (iirfilter's digital design).
  const double fs2 = 4.0, warped = fs2 * std::tan(kPi * spec.cutoff / 2.0);
  for (cplx& z : a.z) z *= warped;
  for (cplx& p : a.p) p *= warped;
  a.k *= std::pow(warped, static_cast<double>(a.p.size() - a.z.size()));
  cplx num = 1.0, den = 1.0;
  for (cplx& z : a.z) num *= fs2 - z, z = (fs2 + z) / (fs2 - z);
  for (cplx& p : a.p) den *= fs2 - p, p = (fs2 + p) / (fs2 - p);
  a.k *= (num / den).real();
  a.z.resize(a.p.size(), cplx(-1.0, 0.0));
  return to_sos(a);
}

double sos_magnitude(const std::vector<Biquad>& sos, double w) {
  return std::abs(response(sos, std::exp(cplx(0, -kPi * w))));
}

}  // namespace sr
