// Overlap-save FFT convolution (see conv1d_fft.h). With span S = dilation (K-1) + 1 and pad
// P = dilation (K-1)/2, block k of V = N - S + 1 outputs reads the N input rows starting at
// k V - P. For each such segment s and channel pair, circular cross-correlation with the dilated
// kernel h[m] (= w[j] at m = dilation j) gives
//   c[n] = sum_m h[m] s[(n + m) mod N],  C(f) = S(f) conj(H(f)),
// and for n < V no index wraps, so c[n] = y[k V + n] - bias. All segments of a chunk are
// transformed together; per bin f, Y_f (segments x Cout) = X_f (segments x Cin) . conj(H)_f
// (Cin x Cout) is one cgemm, with FFTW's 1/N folded into alpha.
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
#include "sr/error.h"

namespace sr::cpu {
namespace {

struct Geometry {
  int64_t span, pad, n, bins, valid;
};

Geometry geometry(int64_t L, int64_t K, int64_t dilation) {
  Geometry g;
  g.span = dilation * (K - 1) + 1;
  g.pad = dilation * (K - 1) / 2;
  // Blocks of 4x the span keep 3/4 of each transform as output; no longer than the whole signal
  // plus its padding needs.
  int64_t n = 64;
  while (n < 4 * g.span) n *= 2;
  while (n / 2 >= L + g.span - 1 && n / 2 >= 2 * g.span) n /= 2;
  g.n = n;
  g.bins = n / 2 + 1;
  g.valid = n - g.span + 1;
  return g;
}

// Segments transformed together: bounded so the spectra of one chunk stay a few MB.
int64_t chunk_segments(const Geometry& g, int64_t Cin, int64_t Cout, int64_t segments) {
  const int64_t per_segment = g.bins * std::max(Cin, Cout) * 8;  // bytes of complex spectra
  return std::max<int64_t>(1, std::min(segments, (int64_t{8} << 20) / per_segment));
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

// Buffers and plans for one (geometry, channels, chunk) shape; plans execute on these buffers.
struct Workspace {
  Geometry g{};
  int64_t Cin = 0, Cout = 0, G = 0;
  FftwBuffer<float> in, out;   // [g][ci][n], [g][co][n]: one contiguous transform per row
  std::vector<float> dft;      // (2F x K): rows f: cos(2 pi f d j / N), rows F + f: sin(...)
  std::vector<float> w_split;  // (2F x Cin Cout): the real, then the imaginary parts
  FftwBuffer<fftwf_complex> x_rows, y_rows;          // [g][ci][f], [g][co][f] (FFTW's side)
  FftwBuffer<fftwf_complex> x_spec, y_spec, w_spec;  // [f][g][ci], [f][g][co], [f][ci][co]
  fftwf_plan forward_x = nullptr, inverse_y = nullptr;

  ~Workspace() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    for (fftwf_plan p : {forward_x, inverse_y})
      if (p) fftwf_destroy_plan(p);
  }
};

// dst[c][r] = src[r][c] for a rows x cols complex matrix, in cache-sized tiles.
void transpose(const fftwf_complex* src, int64_t rows, int64_t cols, fftwf_complex* dst) {
  constexpr int64_t kTile = 32;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t r0 = 0; r0 < rows; r0 += kTile)
    for (int64_t c0 = 0; c0 < cols; c0 += kTile)
      for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r) {
          dst[c * rows + r][0] = src[r * cols + c][0];
          dst[c * rows + r][1] = src[r * cols + c][1];
        }
}

std::unique_ptr<Workspace> make_workspace(const Geometry& g, int64_t Cin, int64_t Cout, int64_t G,
                                          int64_t K, int64_t dilation) {
  auto ws = std::make_unique<Workspace>();
  ws->g = g;
  ws->Cin = Cin;
  ws->Cout = Cout;
  ws->G = G;
  const int64_t N = g.n, F = g.bins;
  ws->in = fftw_buffer<float>(G * N * Cin);
  ws->out = fftw_buffer<float>(G * N * Cout);
  ws->dft.resize(static_cast<size_t>(2 * F * K));
  for (int64_t f = 0; f < F; ++f)
    for (int64_t j = 0; j < K; ++j) {
      // The phase in double and reduced mod N first: f d j reaches 10^5.
      const double theta = 2.0 * M_PI * static_cast<double>((f * dilation * j) % N) / N;
      ws->dft[f * K + j] = static_cast<float>(std::cos(theta));
      ws->dft[(F + f) * K + j] = static_cast<float>(std::sin(theta));
    }
  ws->w_split.resize(static_cast<size_t>(2 * F * Cin * Cout));
  ws->x_rows = fftw_buffer<fftwf_complex>(F * G * Cin);
  ws->y_rows = fftw_buffer<fftwf_complex>(F * G * Cout);
  ws->x_spec = fftw_buffer<fftwf_complex>(F * G * Cin);
  ws->y_spec = fftw_buffer<fftwf_complex>(F * G * Cout);
  ws->w_spec = fftw_buffer<fftwf_complex>(F * Cin * Cout);
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  {  // in[g][ci][n] -> x_rows[g][ci][f]
    const int n = static_cast<int>(N);
    ws->forward_x =
        fftwf_plan_many_dft_r2c(1, &n, static_cast<int>(G * Cin), ws->in.get(), nullptr, 1, n,
                                ws->x_rows.get(), nullptr, 1, static_cast<int>(F), FFTW_ESTIMATE);
    // y_rows[g][co][f] -> out[g][co][n]
    ws->inverse_y =
        fftwf_plan_many_dft_c2r(1, &n, static_cast<int>(G * Cout), ws->y_rows.get(), nullptr, 1,
                                static_cast<int>(F), ws->out.get(), nullptr, 1, n, FFTW_ESTIMATE);
  }
  SR_CHECK(ws->forward_x && ws->inverse_y, "conv1d_fft: FFTW planning failed");
  return ws;
}

// One workspace per shape and thread (buffers are written during a call).
Workspace& workspace(const Geometry& g, int64_t Cin, int64_t Cout, int64_t G, int64_t K,
                     int64_t dilation) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;
  thread_local std::map<Key, std::unique_ptr<Workspace>> cache;
  auto& slot = cache[{g.n, Cin, Cout, G, K, dilation}];
  if (!slot) slot = make_workspace(g, Cin, Cout, G, K, dilation);
  return *slot;
}

}  // namespace

bool conv1d_fft_pays(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
  if (K < 9 || Cin < 8 || Cout < 8 || L < 64) return false;
  const Geometry g = geometry(L, K, dilation);
  const double pairs = static_cast<double>(Cin) * Cout, F = static_cast<double>(g.bins);
  // The conjugated weight spectra are F x Cin x Cout complex: the default TFiLM's up layers
  // would need 0.5-1 GB, so layers above 128 MB stay on the GEMMs.
  if (8.0 * F * pairs > 128.0 * (1 << 20)) return false;
  const double segments = static_cast<double>(B) * std::ceil(static_cast<double>(L) / g.valid);
  // Seconds on one core of the reference machine (EPYC, AVX2; docs/BENCHMARKS.md), measured on
  // the bundled and default TFiLM layers: per-tap GEMMs at ~55 GFLOP/s, the per-bin cgemms at
  // ~40, the weight spectra at ~20 GFLOP/s or 3 GB/s (24 bytes per bin and channel pair,
  // whichever is slower), the transforms with their fills and transposes at ~10 ns per sample.
  const double direct = 2.0 * B * L * pairs * K / 55e9;
  const double mixing = 8.0 * segments * F * pairs / 40e9;
  const double weights = std::max(4.0 * F * K * pairs / 20e9, 24.0 * F * pairs / 3e9);
  const double transforms =
      segments * (Cin + Cout) * g.n * (2.5 * std::log2(static_cast<double>(g.n)) / 3e9 + 3e-9);
  return 1.2 * (mixing + weights + transforms) < direct;
}

void conv1d_fft(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                int64_t dilation) {
  SR_CHECK(K % 2 == 1, "conv1d_fft: odd kernels only");
  const Geometry g = geometry(L, K, dilation);
  const int64_t N = g.n, F = g.bins, V = g.valid;
  const int64_t blocks = (L + V - 1) / V, segments = B * blocks;
  const int64_t G = chunk_segments(g, Cin, Cout, segments);
  Workspace& ws = workspace(g, Cin, Cout, G, K, dilation);

  // Conjugated weight spectra (cross-correlation), straight from the K taps as one GEMM:
  // conj(H)[f] = sum_j w[j] (cos + i sin)(2 pi f dilation j / N), then interleaved for cgemm.
  const int64_t pairs = Cin * Cout;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(2 * F),
              static_cast<int>(pairs), static_cast<int>(K), 1.0f, ws.dft.data(),
              static_cast<int>(K), w, static_cast<int>(pairs), 0.0f, ws.w_split.data(),
              static_cast<int>(pairs));
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < F; ++f) {
    const float* re = ws.w_split.data() + f * pairs;
    const float* im = ws.w_split.data() + (F + f) * pairs;
    fftwf_complex* dst = ws.w_spec.get() + f * pairs;
    for (int64_t i = 0; i < pairs; ++i) dst[i][0] = re[i], dst[i][1] = im[i];
  }

  const std::complex<float> alpha(1.0f / static_cast<float>(N), 0.0f), beta(0.0f, 0.0f);
  for (int64_t first = 0; first < segments; first += G) {
    const int64_t used = std::min(G, segments - first);
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
    fftwf_execute(ws.forward_x);
    transpose(ws.x_rows.get(), G * Cin, F, ws.x_spec.get());
    for (int64_t f = 0; f < F; ++f)
      cblas_cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(used),
                  static_cast<int>(Cout), static_cast<int>(Cin), &alpha,
                  ws.x_spec.get() + f * G * Cin, static_cast<int>(Cin),
                  ws.w_spec.get() + f * Cin * Cout, static_cast<int>(Cout), &beta,
                  ws.y_spec.get() + f * G * Cout, static_cast<int>(Cout));
    transpose(ws.y_spec.get(), F, G * Cout, ws.y_rows.get());
    fftwf_execute(ws.inverse_y);
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
