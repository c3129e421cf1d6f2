// Overlap-save FFT convolution (see conv1d_fft.h). With span S = dilation (K-1) + 1 and pad
// P = dilation (K-1)/2, block k of V = N - S + 1 outputs reads the N input rows starting at
// k V - P. For each such segment s and channel pair, circular cross-correlation with the dilated
// kernel h[m] (= w[j] at m = dilation j) gives
//   c[n] = sum_m h[m] s[(n + m) mod N],  C(f) = S(f) conj(H(f)),
// and for n < V no index wraps, so c[n] = y[k V + n] - bias. Per bin f,
// Y_f (segments x Cout) = X_f (segments x Cin) . conj(H)_f (Cin x Cout) is one cgemm, with FFTW's
// 1/N folded into alpha.
//
// Memory stays bounded whatever the layer: segments go in groups whose spectra fit a budget, and
// the weight spectra are made for a few bins at a time, right before their cgemms, from the K taps
// (one small GEMM with a cos/sin table; ~N / (B L) of the direct convolution's arithmetic), so
// nothing the size of F x Cin x Cout is ever held.
#include "cpu/conv1d_fft.h"

#include <cblas.h>
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/power_spectrum.h"  // fftw_planner_mutex: one lock for every FFTW planner call
#include "sr/backend.h"
#include "sr/error.h"

namespace sr::cpu {
namespace {

// Budgets: the spectra of one segment group (inputs and outputs), and one chunk of weight
// spectra. A bigger chunk makes the spectra GEMM less thin (2 x bins rows) and reads the taps
// fewer times: 64 MB took the default TFiLM's up.1 from 0.89 s (16 MB) to 0.48 s at batch 4.
// Tests shrink both to reach several groups and chunks on small shapes.
double g_group_bytes = 48.0 * (1 << 20);
double g_weight_chunk_bytes = 64.0 * (1 << 20);

struct Geometry {
  int64_t span = 0, pad = 0, n = 0, bins = 0, valid = 0;
  int64_t segments = 0;   // B * blocks
  int64_t group = 0;      // segments transformed together
  int64_t bin_chunk = 0;  // bins whose weight spectra are made at once
  double seconds = 0;     // the cost model's estimate
};

// Seconds on one core of the reference machine (EPYC, AVX2; docs/BENCHMARKS.md): per-tap GEMMs at
// ~80 GFLOP/s; the per-bin cgemms at ~40; the weight-spectra GEMM at ~30 GFLOP/s plus reading the
// taps (K Cin Cout floats) once per bin chunk at ~10 GB/s; the transforms with their fills at
// ~2.5 N log2 N flops per row at 3 GFLOP/s plus ~3 ns per sample.
double direct_seconds(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K) {
  return 2.0 * B * L * static_cast<double>(Cin) * Cout * K / 80e9;
}

Geometry geometry(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation,
                  int64_t n) {
  Geometry g;
  g.span = dilation * (K - 1) + 1;
  g.pad = dilation * (K - 1) / 2;
  g.n = n;
  g.bins = n / 2 + 1;
  g.valid = n - g.span + 1;
  g.segments = B * ((L + g.valid - 1) / g.valid);
  const double per_segment = 8.0 * g.bins * static_cast<double>(Cin + Cout);
  g.group = std::max<int64_t>(1, std::min<int64_t>(g.segments, g_group_bytes / per_segment));
  const double pairs = static_cast<double>(Cin) * Cout;
  g.bin_chunk =
      std::max<int64_t>(1, std::min<int64_t>(g.bins, g_weight_chunk_bytes / (16.0 * pairs)));
  const double F = static_cast<double>(g.bins), S = static_cast<double>(g.segments);
  const double groups = std::ceil(S / g.group), chunks = std::ceil(F / g.bin_chunk);
  const double mixing = 8.0 * S * F * pairs / 40e9;
  const double weights = groups * (4.0 * F * K * pairs / 30e9 + chunks * 4.0 * K * pairs / 10e9);
  const double transforms =
      S * (Cin + Cout) * n * (2.5 * std::log2(static_cast<double>(n)) / 3e9 + 3e-9);
  g.seconds = mixing + weights + transforms;
  return g;
}

// The cheapest transform size: from the smallest power of two with half its length as output up
// to the one that holds the whole padded signal.
Geometry best_geometry(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                       int64_t dilation) {
  const int64_t span = dilation * (K - 1) + 1;
  int64_t n = 16;
  while (n < 2 * span) n *= 2;
  Geometry best = geometry(B, L, Cin, Cout, K, dilation, n);
  // Stop once one block holds the whole padded signal: longer transforms only add zeros.
  for (int64_t last = n; last < L + span - 1 && n < 16384;) {
    n *= 2;
    last = n;
    const Geometry g = geometry(B, L, Cin, Cout, K, dilation, n);
    if (g.seconds < best.seconds) best = g;
  }
  return best;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};
template <typename T>
using FftwBuffer = std::unique_ptr<T[], FftwFree>;
template <typename T>
FftwBuffer<T> fftw_buffer(int64_t count) {
  T* p =
      static_cast<T*>(fftwf_malloc(sizeof(T) * static_cast<size_t>(std::max<int64_t>(count, 1))));
  if (!p) throw std::bad_alloc();
  return FftwBuffer<T>(p);
}

// Scratch shared by every layer of this thread: it grows to the largest layer's need and stays
// (fftwf_malloc'd, so any of its arrays has the alignment the plans were made with).
struct Scratch {
  FftwBuffer<float> in, out;                 // [s][ci][n], [s][co][n]: one transform per row
  FftwBuffer<fftwf_complex> x_spec, y_spec;  // [f][s][ci], [f][s][co]: FFTW writes/reads these
  FftwBuffer<fftwf_complex> w_spec;          // [f - f0][ci][co]: one chunk of conj(H)
  std::vector<float> w_split;                // (2 chunk x Cin Cout): real and imaginary rows
  int64_t in_size = 0, out_size = 0, x_size = 0, y_size = 0, w_size = 0;

  template <typename T>
  static void ensure(FftwBuffer<T>& buffer, int64_t& size, int64_t count) {
    if (count <= size) return;
    buffer.reset();  // free first: the old and the new buffer are never held together
    buffer = fftw_buffer<T>(count);
    size = count;
  }
  void reserve(const Geometry& g, int64_t Cin, int64_t Cout) {
    const int64_t N = g.n, F = g.bins, G = g.group, pairs = Cin * Cout;
    ensure(in, in_size, G * Cin * N);
    ensure(out, out_size, G * Cout * N);
    ensure(x_spec, x_size, F * G * Cin);
    ensure(y_spec, y_size, F * G * Cout);
    ensure(w_spec, w_size, g.bin_chunk * pairs);
    if (static_cast<int64_t>(w_split.size()) < 2 * g.bin_chunk * pairs)
      w_split.assign(static_cast<size_t>(2 * g.bin_chunk * pairs), 0.0f);
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The plans and the cos/sin table of one (geometry, channels) shape. The plans were made on the
// scratch arrays and run on them with FFTW's new-array execute, whatever their address is now.
struct Shape {
  std::vector<float> dft;  // (2F x K): row 2f cos(2 pi f d j / N), 2f+1 sin(...)
  fftwf_plan forward_x = nullptr, inverse_y = nullptr;

  ~Shape() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    for (fftwf_plan p : {forward_x, inverse_y})
      if (p) fftwf_destroy_plan(p);
  }
};

std::unique_ptr<Shape> make_shape(const Geometry& g, int64_t Cin, int64_t Cout, int64_t K,
                                  int64_t dilation, Scratch& sc) {
  auto shape = std::make_unique<Shape>();
  const int64_t N = g.n, F = g.bins, G = g.group;
  shape->dft.resize(static_cast<size_t>(2 * F * K));
  for (int64_t f = 0; f < F; ++f)
    for (int64_t j = 0; j < K; ++j) {
      // The phase in double and reduced mod N first: f d j reaches 10^5.
      const double theta = 2.0 * M_PI * static_cast<double>((f * dilation * j) % N) / N;
      shape->dft[(2 * f) * K + j] = static_cast<float>(std::cos(theta));
      shape->dft[(2 * f + 1) * K + j] = static_cast<float>(std::sin(theta));
    }
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  const int n = static_cast<int>(N);
  // in[s][ci][n] -> x_spec[f][s][ci]: row r = s Cin + ci lands at f G Cin + r.
  shape->forward_x = fftwf_plan_many_dft_r2c(1, &n, static_cast<int>(G * Cin), sc.in.get(), nullptr,
                                             1, n, sc.x_spec.get(), nullptr,
                                             static_cast<int>(G * Cin), 1, FFTW_ESTIMATE);
  // y_spec[f][s][co] -> out[s][co][n]
  shape->inverse_y = fftwf_plan_many_dft_c2r(1, &n, static_cast<int>(G * Cout), sc.y_spec.get(),
                                             nullptr, static_cast<int>(G * Cout), 1, sc.out.get(),
                                             nullptr, 1, n, FFTW_ESTIMATE);
  SR_CHECK(shape->forward_x && shape->inverse_y, "conv1d_fft: FFTW planning failed");
  return shape;
}

// One Shape per layer shape and thread; small (plans and a table), so they stay.
Shape& shape_for(const Geometry& g, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation,
                 Scratch& sc) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;
  thread_local std::map<Key, std::unique_ptr<Shape>> cache;
  auto& slot = cache[{g.n, Cin, Cout, g.group, K, dilation}];
  if (!slot) slot = make_shape(g, Cin, Cout, K, dilation, sc);
  return *slot;
}

}  // namespace

void conv1d_fft_set_budgets(double group_bytes, double weight_chunk_bytes) {
  g_group_bytes = group_bytes > 0 ? group_bytes : 48.0 * (1 << 20);
  g_weight_chunk_bytes = weight_chunk_bytes > 0 ? weight_chunk_bytes : 64.0 * (1 << 20);
}

bool conv1d_fft_pays(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
  if (K < 9 || Cin < 8 || Cout < 8 || L < 64) return false;
  const Geometry g = best_geometry(B, L, Cin, Cout, K, dilation);
  return 1.2 * g.seconds < direct_seconds(B, L, Cin, Cout, K);
}

void conv1d_fft(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                int64_t dilation) {
  SR_CHECK(K % 2 == 1, "conv1d_fft: odd kernels only");
  const Geometry g = best_geometry(B, L, Cin, Cout, K, dilation);
  const int64_t N = g.n, F = g.bins, V = g.valid, G = g.group, pairs = Cin * Cout;
  const int64_t blocks = (L + V - 1) / V;
  Scratch& ws = scratch();
  ws.reserve(g, Cin, Cout);
  const Shape& shape = shape_for(g, Cin, Cout, K, dilation, ws);
  const std::complex<float> alpha(1.0f / static_cast<float>(N), 0.0f), beta(0.0f, 0.0f);

  for (int64_t first = 0; first < g.segments; first += G) {
    const int64_t used = std::min(G, g.segments - first);
    float* in = ws.in.get();
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < G; ++s) {
      float* seg = in + s * N * Cin;
      if (s >= used) {
        std::fill(seg, seg + N * Cin, 0.0f);
        continue;
      }
      const int64_t b = (first + s) / blocks, k = (first + s) % blocks;
      for (int64_t n = 0; n < N; ++n) {
        const int64_t t = k * V - g.pad + n;
        const bool inside = t >= 0 && t < L;
        const float* row = x + (b * L + (inside ? t : 0)) * ldx;
        for (int64_t ci = 0; ci < Cin; ++ci) seg[ci * N + n] = inside ? row[ci] : 0.0f;
      }
    }
    fftwf_execute_dft_r2c(shape.forward_x, ws.in.get(), ws.x_spec.get());

    for (int64_t f0 = 0; f0 < F; f0 += g.bin_chunk) {
      const int64_t bins = std::min(g.bin_chunk, F - f0);
      // conj(H)[f] = sum_j w[j] (cos + i sin)(2 pi f dilation j / N) for the chunk's bins, as
      // one GEMM from the K taps, then interleaved for cgemm.
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(2 * bins),
                  static_cast<int>(pairs), static_cast<int>(K), 1.0f, shape.dft.data() + 2 * f0 * K,
                  static_cast<int>(K), w, static_cast<int>(pairs), 0.0f, ws.w_split.data(),
                  static_cast<int>(pairs));
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < bins; ++i) {
        const float* re = ws.w_split.data() + (2 * i) * pairs;
        const float* im = re + pairs;
        fftwf_complex* dst = ws.w_spec.get() + i * pairs;
        for (int64_t p = 0; p < pairs; ++p) dst[p][0] = re[p], dst[p][1] = im[p];
      }
      // Per-bin cgemms on separate threads need OpenBLAS's OpenMP build (conv1d.cpp, conv1d_gemm).
#pragma omp parallel for schedule(dynamic) if (cpu_blas_uses_openmp())
      for (int64_t i = 0; i < bins; ++i)
        cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(used),
                    static_cast<int>(Cout), static_cast<int>(Cin), &alpha,
                    ws.x_spec.get() + (f0 + i) * G * Cin, static_cast<int>(Cin),
                    ws.w_spec.get() + i * pairs, static_cast<int>(Cout), &beta,
                    ws.y_spec.get() + (f0 + i) * G * Cout, static_cast<int>(Cout));
    }
    if (used < G)  // rows of unused segments: keep the inverse transform finite
#pragma omp parallel for schedule(static)
      for (int64_t f = 0; f < F; ++f) {
        fftwf_complex* row = ws.y_spec.get() + (f * G + used) * Cout;
        std::fill(&row[0][0], &row[0][0] + 2 * (G - used) * Cout, 0.0f);
      }
    fftwf_execute_dft_c2r(shape.inverse_y, ws.y_spec.get(), ws.out.get());

    const float* out = ws.out.get();
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < used; ++s) {
      const int64_t b = (first + s) / blocks, k = (first + s) % blocks;
      const int64_t rows = std::min(V, L - k * V);
      const float* src = out + s * Cout * N;  // [co][n]
      for (int64_t n = 0; n < rows; ++n) {
        float* dst = y + (b * L + k * V + n) * ldy;
        for (int64_t co = 0; co < Cout; ++co) dst[co] = src[co * N + n] + bias[co];
      }
    }
  }
}

}  // namespace sr::cpu
