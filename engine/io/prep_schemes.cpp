// The robust-SR recipe's data preparation (see sr/io/prep_schemes.h).
#include "sr/io/prep_schemes.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>

#include "core/power_spectrum.h"
#include "sr/error.h"
#include "sr/io/iir_design.h"

namespace sr {

// x: (n,) -> (end - start,)
std::vector<float> trim_silence(const std::vector<float>& x, double threshold, int frame_length,
                                int hop_length) {
  SR_CHECK(threshold > 0 && threshold < 1, "silence threshold must be in (0, 1)");
  SR_CHECK(frame_length > 0 && hop_length > 0, "frame and hop must be positive");
  const int64_t n = static_cast<int64_t>(x.size()), pad = frame_length / 2;
  if (n == 0) return {};
  const int64_t frames = 1 + (n + 2 * pad - frame_length) / hop_length;
  std::vector<double> db(frames);
  double loudest = -1e300;
  for (int64_t t = 0; t < frames; ++t) {
    double sum = 0;
    for (int64_t i = t * hop_length - pad; i < t * hop_length - pad + frame_length; ++i)
      if (i >= 0 && i < n) sum += static_cast<double>(x[i]) * x[i];
    // amplitude_to_db with amin 1e-5
    db[t] = 20.0 * std::log10(std::max(1e-5, std::sqrt(sum / frame_length)));
    loudest = std::max(loudest, db[t]);
  }
  const double top_db = -10.0 * std::log10(threshold);
  int64_t first = -1, last = -1;
  for (int64_t t = 0; t < frames; ++t)
    if (db[t] - loudest > -top_db) {
      if (first < 0) first = t;
      last = t;
    }
  const int64_t start = first * hop_length, end = std::min(n, (last + 1) * hop_length);
  return std::vector<float>(x.begin() + start, x.begin() + end);
}

void mean_variance_normalize(std::vector<float>& x) {
  if (x.empty()) return;
  double mean = 0, var = 0;
  for (float v : x) mean += v;
  mean /= static_cast<double>(x.size());
  for (float v : x) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(x.size()));
  for (float& v : x) v = static_cast<float>(sd > 0 ? (v - mean) / sd : v - mean);
}

// x: (n,) -> (num,)
std::vector<float> fft_resample(const std::vector<float>& x, size_t num) {
  const size_t nx = x.size();
  SR_CHECK(nx >= 2 && num >= 2, "fft_resample needs at least 2 samples in and out");
  double* in = fftw_alloc_real(nx);
  fftw_complex* spec = fftw_alloc_complex(nx / 2 + 1);
  double* out = fftw_alloc_real(num);
  fftw_complex* ospec = fftw_alloc_complex(num / 2 + 1);
  fftw_plan forward, inverse;
  {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    forward = fftw_plan_dft_r2c_1d(static_cast<int>(nx), in, spec, FFTW_ESTIMATE);
    inverse = fftw_plan_dft_c2r_1d(static_cast<int>(num), ospec, out, FFTW_ESTIMATE);
  }
  for (size_t i = 0; i < nx; ++i) in[i] = x[i];
  fftw_execute(forward);
  for (size_t k = 0; k <= num / 2; ++k) ospec[k][0] = ospec[k][1] = 0.0;
  const size_t n = std::min(num, nx), nyq = n / 2 + 1;
  for (size_t k = 0; k < nyq; ++k) ospec[k][0] = spec[k][0], ospec[k][1] = spec[k][1];
  if (n % 2 == 0 && num < nx) ospec[n / 2][0] *= 2.0, ospec[n / 2][1] *= 2.0;
  if (n % 2 == 0 && nx < num) ospec[n / 2][0] *= 0.5, ospec[n / 2][1] *= 0.5;
  fftw_execute(inverse);
  // irfft divides by num; scipy then scales by num / nx.
  std::vector<float> y(num);
  for (size_t i = 0; i < num; ++i) y[i] = static_cast<float>(out[i] / static_cast<double>(nx));
  {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    fftw_destroy_plan(forward);
    fftw_destroy_plan(inverse);
  }
  fftw_free(in);
  fftw_free(spec);
  fftw_free(out);
  fftw_free(ospec);
  return y;
}

// x: (n,) -> (ceil(n / r),)
std::vector<float> cheby1_causal_subsample(const std::vector<float>& x, int r) {
  SR_CHECK(r >= 2, "cheby1_causal_subsample: r must be at least 2");
  IirSpec spec;
  spec.family = IirFamily::cheby1;
  spec.order = 8;
  spec.ripple_db = 1.0;
  spec.cutoff = 1.0 / r;
  std::vector<double> y(x.begin(), x.end());
  sosfilt(iir_lowpass_sos(spec), y);
  std::vector<float> out((y.size() + r - 1) / r);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(y[i * r]);
  return out;
}

}  // namespace sr
