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
// nothing the size of F x Cin x Cout is ever held. Wide layers with few segments (the big networks
// at small batches) make them for a block of input channels at a time instead, every bin, in a
// block that stays in the last-level cache, and mix each block into the outputs' spectra right
// away (the streamed path, mix_streamed).
#include "cpu/conv1d_fft.h"

#include <cblas.h>
#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

#include "core/power_spectrum.h"  // fftw_planner_mutex: one lock for every FFTW planner call
#include "cpu/cpu_ops.h"          // SR_VECTOR_CLONES
#include "cpu/simd.h"             // Float8
#include "sr/backend.h"
#include "sr/error.h"
#include "sr/memory_budget.h"

namespace sr::cpu {
namespace {

// Budgets: the spectra of one segment group (inputs and outputs), and one chunk of weight
// spectra. A bigger chunk makes the spectra GEMM less thin (2 x bins rows) and reads the taps
// fewer times: 64 MB took the default TFiLM's up.1 from 0.89 s (16 MB) to 0.48 s at batch 4, 128
// MB from 356 to 295 ms at batch 4 and from 192 to 156 ms at batch 1 (session 7, paired bins).
// Tests shrink both to reach several groups and chunks on small shapes.
constexpr double kDefaultGroupBytes = 48.0 * (1 << 20), kDefaultChunkBytes = 128.0 * (1 << 20);
double g_group_bytes = kDefaultGroupBytes;
double g_weight_chunk_bytes = kDefaultChunkBytes;
// The forward makes a chunk's spectra through real and imaginary rows of at most this many floats
// (16 MB), a block of channel pairs at a time, so the chunk is not held twice.
constexpr int64_t kSplitFloats = int64_t{1} << 22;
// Weight spectra kept between calls (per calling thread): one layer's whole spectra up to the
// entry size, all layers together up to the total. A forward at batch 1 spends more on making the
// spectra (2F x K x Cin x Cout) than the direct convolution costs, so small models' long layers
// gain from the FFT only when the spectra are reused. By default the big models' spectra
// (hundreds of MB a layer, ~1.9 GB for the default TFiLM) are made chunk by chunk at every call;
// SR_FFT_WEIGHT_CACHE=SIZE keeps up to SIZE of them (entry = total = SIZE, within the memory
// budget): memory for speed at small batches (docs/BENCHMARKS.md, "Kept weight spectra").
constexpr double kDefaultEntryBytes = 32.0 * (1 << 20), kDefaultTotalBytes = 96.0 * (1 << 20);
// The streamed path's block of weight spectra (Geometry::streamed): within the last-level cache
// with the group's spectra.
constexpr double kDefaultStreamBlockBytes = 12.0 * (1 << 20);
double g_spectra_entry_bytes = kDefaultEntryBytes;
double g_spectra_total_bytes = kDefaultTotalBytes;
double g_stream_block_bytes = kDefaultStreamBlockBytes;
// The streamed path (Geometry::streamed): -1 where the cost model picks it, 0 never, 1 wherever
// it applies. SR_FFT_STREAMED=0|1 sets it for A/B runs; tests set it with conv1d_fft_set_streamed.
int g_streamed_mode = -1;

// Reads SR_FFT_WEIGHT_CACHE once, before the first convolution (not at static initialisation:
// a bad value is an error, thrown to the caller).
void read_spectra_budget_once() {
  static const bool done = [] {
    const char* v = std::getenv("SR_FFT_WEIGHT_CACHE");
    if (v && *v) {  // empty: as if unset
      const uint64_t bytes = parse_byte_size(v, "SR_FFT_WEIGHT_CACHE");
      check_memory_budget(bytes, "SR_FFT_WEIGHT_CACHE");
      g_spectra_entry_bytes = g_spectra_total_bytes = static_cast<double>(bytes);
    }
    const char* streamed = std::getenv("SR_FFT_STREAMED");
    if (streamed && *streamed) {
      if (std::strcmp(streamed, "0") != 0 && std::strcmp(streamed, "1") != 0)
        fail("SR_FFT_STREAMED must be 0 or 1, not '", streamed, "'");
      g_streamed_mode = streamed[0] - '0';
    }
    return true;
  }();
  (void)done;
}

struct Geometry {
  int64_t span = 0, pad = 0, n = 0, bins = 0, valid = 0;
  int64_t segments = 0;   // B * blocks
  int64_t group = 0;      // segments transformed together
  int64_t bin_chunk = 0;  // bins whose weight spectra are made at once
  bool cached = false;    // the whole spectra are kept between calls (SpectraCache)
  bool few = false;       // small layer, few segments: mixed by mix_few, not per-bin cgemms
  // Wide layer, few segments, spectra not kept: made for a block of input channels and every
  // bin at a time and mixed right away (mix_streamed), not by per-bin cgemms.
  bool streamed = false;
  int64_t ci_block = 0;  // the streamed path's input channels per block
  // Bins whose weight spectra are made and kept: all of them, or with an even dilation only
  // f <= N/4, each also serving N/2 - f (paired_bins below).
  int64_t weight_bins = 0;
  double seconds = 0;  // the cost model's estimate
};

// With an even dilation d the taps sit at multiples of d, so conj(H)(f) = sum_j w_j e^(2 pi i f d
// j / N) repeats with period N/2 in f, and for real weights conj(H)(N/2 - f) = conj(conj(H)(f)):
// the bins above N/4 are the conjugates of those below. Only f <= N/4 are made and kept (half the
// work and memory); the few-segment mixing reads each such bin's weights once for both f and
// N/2 - f, the per-bin cgemms read them conjugated (CblasConjNoTrans) for N/2 - f.
bool paired_bins(int64_t dilation) {
  return dilation % 2 == 0;
}

// Small layers (Cin Cout up to 128 x 128) with up to 64 segments per group (the bundled models at
// inference) mix their channels with mix_few below; wider layers and training batches keep the
// per-bin cgemms.
constexpr double kFewPairs = 16384;
constexpr int64_t kFewSegments = 64;

// Wider layers with few segments per group and spectra that are not kept (the big networks at
// small batches) make their weight spectra for a block of input channels at a time, every bin,
// into a block small enough to stay in the last-level cache, and mix it into the outputs' spectra
// right away (mix_stream): the spectra never go to memory, and nothing is packed or interleaved.
constexpr int64_t kStreamSegments = 32;
constexpr double kStreamMakeRate = 60e9;       // FLOP/s of the spectra sgemm
constexpr double kStreamMixSeconds = 0.16e-9;  // per complex multiply-add of mix_stream
// The streamed estimate came within ~25 % of the measured layer times of the default TFiLM at
// batch 1 and 4 on a Zen 4 EPYC (AVX-512), the per-bin cgemms' estimate 1.0-1.8x above theirs
// (AVX-512 cgemm kernels); so the streamed path is taken where its estimate is 1.25x below.
constexpr double kStreamMargin = 1.25;

// Seconds on one core of the reference machine (EPYC, AVX2; docs/BENCHMARKS.md): per-tap GEMMs at
// ~80 GFLOP/s; the per-bin cgemms at ~40; the weight-spectra GEMM at ~30 GFLOP/s plus reading the
// taps (K Cin Cout floats) once per bin chunk at ~10 GB/s; the transforms with their fills at
// ~2.5 N log2 N flops per row at 3 GFLOP/s plus ~3 ns per sample. The few-segment path's three
// terms were fitted to 36 timings of the bundled models' layers (B 1, 2, 4; every N from the
// smallest to 4x; within ~20 % where it matters, docs/BENCHMARKS.md): 0.16 ns per complex
// multiply-add of the mixing, 0.26 ns per row sample and log2 N of the transforms (fills and
// bias included), 0.32 ns per kept complex weight read.
double direct_seconds(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K) {
  return 2.0 * B * L * static_cast<double>(Cin) * Cout * K / 80e9;
}

Geometry geometry(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation,
                  int64_t n, bool streamed_allowed) {
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
  const double groups = std::ceil(S / g.group);
  const double rows_log = S * (Cin + Cout) * n * std::log2(static_cast<double>(n));
  // Kept spectra are made once and reused by every later call with the same weights (inference):
  // the estimate counts only reading them; a training step (new weights every call) pays one
  // making per call, small next to its batch's mixing.
  g.weight_bins = paired_bins(dilation) ? n / 4 + 1 : g.bins;
  const double WB = static_cast<double>(g.weight_bins);
  g.cached = 8.0 * WB * pairs <= g_spectra_entry_bytes;
  const double making =
      groups * (4.0 * WB * K * pairs / 30e9 + std::ceil(WB / g.bin_chunk) * 4.0 * K * pairs / 10e9);
  g.few = pairs <= kFewPairs && g.group <= kFewSegments;
  if (g.few) {
    g.seconds = 0.16e-9 * S * F * pairs + 0.26e-9 * rows_log +
                (g.cached ? 0.32e-9 * groups * WB * pairs : making);
    return g;
  }
  const double mixing = 8.0 * S * F * pairs / 40e9;
  const double transforms = S * (Cin + Cout) * n * 3e-9 + 2.5 * rows_log / 3e9;
  g.seconds = mixing + (g.cached ? 0.0 : making) + transforms;
  if (streamed_allowed && g_streamed_mode != 0 && !g.cached && g.group <= kStreamSegments) {
    g.ci_block =
        std::clamp<int64_t>(static_cast<int64_t>(g_stream_block_bytes / (8.0 * WB * Cout)), 1, Cin);
    const double streamed =
        groups * (4.0 * WB * K * pairs / kStreamMakeRate + 4.0 * K * pairs / 10e9) +
        kStreamMixSeconds * S * F * pairs + transforms;
    if (g_streamed_mode == 1 || (g_streamed_mode < 0 && kStreamMargin * streamed < g.seconds))
      g.streamed = true, g.seconds = streamed;
  }
  return g;
}

// The cheapest transform size: from the smallest power of two with half its length as output
// (with the few-segment mixing: the smallest longer than the span) up to the one that holds the
// whole padded signal.
Geometry best_geometry(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation,
                       bool streamed_allowed = true) {
  const int64_t span = dilation * (K - 1) + 1;
  int64_t n = 16;
  while (n <= span) n *= 2;
  std::optional<Geometry> best;
  // Stop once one block holds the whole padded signal: longer transforms only add zeros.
  for (;; n *= 2) {
    const Geometry g = geometry(B, L, Cin, Cout, K, dilation, n, streamed_allowed);
    if ((g.few || g.streamed || n >= 2 * span) && (!best || g.seconds < best->seconds)) best = g;
    if ((n >= 2 * span && n >= L + span - 1) || n >= 16384) break;
  }
  return *best;
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
  std::vector<float> w_split;                // real and imaginary rows (make_spectra_chunk)
  FftwBuffer<float> y_split;                 // the streamed path's outputs (Geometry::streamed)
  int64_t in_size = 0, out_size = 0, x_size = 0, y_size = 0, w_size = 0, y_split_size = 0;

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
    if (g.streamed)  // split outputs [f][s][re Cout, im Cout]; no chunk of interleaved spectra
      ensure(y_split, y_split_size, F * G * 2 * Cout);
    else
      ensure(w_spec, w_size, g.bin_chunk * pairs);
  }
  float* split(int64_t count) {
    if (static_cast<int64_t>(w_split.size()) < count)
      w_split.assign(static_cast<size_t>(count), 0.0f);
    return w_split.data();
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The plans and the cos/sin table of one (geometry, channels) shape. The plans were made on the
// scratch arrays and run on them with FFTW's new-array execute, whatever their address is now.
// Each transform has a group plan (every row of the group, on the calling thread) and a segment
// plan (one segment's Cin or Cout rows) that threads run on their own segments; the segment plans
// apply where every segment's arrays have the alignment the plan was made with
// (fftwf_alignment_of; with even channel counts they do), else the group plan runs.
struct Shape {
  std::vector<float> dft;  // (2F x K): row 2f cos(2 pi f d j / N), 2f+1 sin(...)
  fftwf_plan forward_x = nullptr, inverse_y = nullptr;
  fftwf_plan forward_dy = nullptr;  // the weight gradient's: out[s][co][n] -> y_spec[f][s][co]
  fftwf_plan segment_x = nullptr, segment_inverse_y = nullptr, segment_dy = nullptr;
  bool segments_x = false, segments_y = false;  // whether the segment plans apply

  ~Shape() {
    std::lock_guard<std::mutex> lock(fftw_planner_mutex());
    for (fftwf_plan p :
         {forward_x, inverse_y, forward_dy, segment_x, segment_inverse_y, segment_dy})
      if (p) fftwf_destroy_plan(p);
  }
};

// Whether segment s's rows (at base + s step) share segment 0's alignment for every s < G.
template <typename T>
bool same_alignment(T* base, int64_t step, int64_t G) {
  const int a0 = fftwf_alignment_of(reinterpret_cast<float*>(base));
  for (int64_t s = 1; s < G; ++s)
    if (fftwf_alignment_of(reinterpret_cast<float*>(base + s * step)) != a0) return false;
  return true;
}

// The r2c transforms of segments [0, used): rows in[s][c][n] (N c-row blocks) -> spec[f][s][c].
void transform_segments(fftwf_plan group, fftwf_plan segment, bool per_segment, float* in,
                        fftwf_complex* spec, int64_t N, int64_t channels, int64_t used) {
  if (!per_segment) return fftwf_execute_dft_r2c(group, in, spec);
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < used; ++s)
    fftwf_execute_dft_r2c(segment, in + s * N * channels, spec + s * channels);
}

// Measured plans for the per-segment transforms, made reproducible: FFTW measures (times) the
// candidate algorithms when planning with FFTW_MEASURE, so two processes may pick different ones
// and give different last bits (CI caught sr-infer's output bytes changing between runs). Instead
// the measurements are made once on this machine class (scripts/make_fftw_wisdom.sh) and shipped
// as FFTW wisdom (engine/cpu/fftw_wisdom.inc): a segment plan comes from that wisdom when it holds
// the problem (FFTW_WISDOM_ONLY, no timing), else it is estimated, so every run plans the same.
// SR_FFTW_LEARN=FILE measures instead and writes the wisdom to FILE (for the script).
const char kShippedWisdom[] =
#include "cpu/fftw_wisdom.inc"
    ;

const char* learn_file() {
  static const char* file = std::getenv("SR_FFTW_LEARN");
  return file && *file ? file : nullptr;
}

// Called with the planner lock held; whether the shipped wisdom was read.
bool import_shipped_wisdom() {
  static bool done = false, loaded = false;
  if (done) return loaded;
  done = true;
  loaded = !learn_file() && kShippedWisdom[0] != '\0' &&
           fftwf_import_wisdom_from_string(kShippedWisdom) != 0;
  return loaded;
}

// A per-segment plan: from the shipped wisdom, else estimated (or measured when learning).
template <typename PlanFn>
fftwf_plan segment_plan(PlanFn plan) {
  if (learn_file()) {
    fftwf_plan p = plan(FFTW_MEASURE);
    fftwf_export_wisdom_to_filename(learn_file());
    return p;
  }
  if (fftwf_plan p = plan(FFTW_MEASURE | FFTW_WISDOM_ONLY)) return p;
  return plan(FFTW_ESTIMATE);
}

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
  import_shipped_wisdom();  // before any plan, so that every plan of the process sees it
  const int n = static_cast<int>(N);
  // in[s][ci][n] -> x_spec[f][s][ci]: row r = s Cin + ci lands at f G Cin + r.
  shape->forward_x = fftwf_plan_many_dft_r2c(1, &n, static_cast<int>(G * Cin), sc.in.get(), nullptr,
                                             1, n, sc.x_spec.get(), nullptr,
                                             static_cast<int>(G * Cin), 1, FFTW_ESTIMATE);
  // y_spec[f][s][co] -> out[s][co][n]
  shape->inverse_y = fftwf_plan_many_dft_c2r(1, &n, static_cast<int>(G * Cout), sc.y_spec.get(),
                                             nullptr, static_cast<int>(G * Cout), 1, sc.out.get(),
                                             nullptr, 1, n, FFTW_ESTIMATE);
  shape->forward_dy = fftwf_plan_many_dft_r2c(1, &n, static_cast<int>(G * Cout), sc.out.get(),
                                              nullptr, 1, n, sc.y_spec.get(), nullptr,
                                              static_cast<int>(G * Cout), 1, FFTW_ESTIMATE);
  // One segment: Cin (Cout) rows N floats apart, bins G Cin (G Cout) apart in the spectra. These
  // run whenever the channel counts are even; their plans come from the shipped wisdom.
  shape->segment_x = segment_plan([&](unsigned flags) {
    return fftwf_plan_many_dft_r2c(1, &n, static_cast<int>(Cin), sc.in.get(), nullptr, 1, n,
                                   sc.x_spec.get(), nullptr, static_cast<int>(G * Cin), 1, flags);
  });
  shape->segment_inverse_y = segment_plan([&](unsigned flags) {
    return fftwf_plan_many_dft_c2r(1, &n, static_cast<int>(Cout), sc.y_spec.get(), nullptr,
                                   static_cast<int>(G * Cout), 1, sc.out.get(), nullptr, 1, n,
                                   flags);
  });
  shape->segment_dy = segment_plan([&](unsigned flags) {
    return fftwf_plan_many_dft_r2c(1, &n, static_cast<int>(Cout), sc.out.get(), nullptr, 1, n,
                                   sc.y_spec.get(), nullptr, static_cast<int>(G * Cout), 1, flags);
  });
  SR_CHECK(shape->forward_x && shape->inverse_y && shape->forward_dy && shape->segment_x &&
               shape->segment_inverse_y && shape->segment_dy,
           "conv1d_fft: FFTW planning failed");
  shape->segments_x =
      same_alignment(sc.in.get(), N * Cin, G) && same_alignment(sc.x_spec.get(), Cin, G);
  shape->segments_y =
      same_alignment(sc.out.get(), N * Cout, G) && same_alignment(sc.y_spec.get(), Cout, G);
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

// What both passes set up for a layer: its geometry, this thread's scratch sized for it, and the
// plans and cos/sin table of its shape.
struct Layer {
  Geometry g;
  Scratch& ws;
  const Shape& shape;
};
Layer prepare(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation,
              bool streamed_allowed) {
  read_spectra_budget_once();
  const Geometry g = best_geometry(B, L, Cin, Cout, K, dilation, streamed_allowed);
  Scratch& ws = scratch();
  ws.reserve(g, Cin, Cout);
  return {g, ws, shape_for(g, Cin, Cout, K, dilation, ws)};
}

// The split real and imaginary rows of conj(H) for bins [f0, f0 + bins) and channel pairs
// [p0, p0 + width): row 2i the real parts of bin f0 + i, row 2i + 1 the imaginary, one sgemm of the
// cos/sin table with the K taps (w is (K, pairs)).
void spectra_rows(const float* w, const Shape& shape, int64_t f0, int64_t bins, int64_t K,
                  int64_t pairs, int64_t p0, int64_t width, float* split) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(2 * bins),
              static_cast<int>(width), static_cast<int>(K), 1.0f, shape.dft.data() + 2 * f0 * K,
              static_cast<int>(K), w + p0, static_cast<int>(pairs), 0.0f, split,
              static_cast<int>(width));
}

// conj(H)[f] = sum_j w[j] (cos + i sin)(2 pi f dilation j / N) for bins [f0, f0 + bins), as
// GEMMs from the K taps into real and imaginary rows (ws.split), then interleaved into `dst`, one
// bin after another: [ci][co] for the per-bin cgemms, made a block of channel pairs at a time
// (rows of at most kSplitFloats), or blocked for mix_few ([co / 8][ci][8 complex] for the full
// blocks of 8 output channels, then [ci][the last Cout % 8]; small layers, all pairs at once),
// so that it reads each bin's weights in one sequential stream.
void make_spectra_chunk(const float* w, const Shape& shape, int64_t f0, int64_t bins, int64_t K,
                        int64_t Cin, int64_t Cout, bool blocked, Scratch& ws, fftwf_complex* dst) {
  const int64_t pairs = Cin * Cout;
  const int64_t cols =
      blocked ? pairs : std::max<int64_t>(1, std::min(pairs, kSplitFloats / (2 * bins)));
  float* split = ws.split(2 * bins * cols);
  for (int64_t p0 = 0; p0 < pairs; p0 += cols) {
    const int64_t width = std::min(cols, pairs - p0);
    spectra_rows(w, shape, f0, bins, K, pairs, p0, width, split);
    if (!blocked) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < bins; ++i) {
        const float* re = split + (2 * i) * width;
        const float* im = re + width;
        fftwf_complex* out = dst + i * pairs + p0;
        for (int64_t p = 0; p < width; ++p) out[p][0] = re[p], out[p][1] = im[p];
      }
    }
  }
  if (!blocked) return;
  const int64_t full = Cout / 8 * 8, tail = Cout - full;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < bins; ++i) {
    const float* re = split + (2 * i) * pairs;
    const float* im = re + pairs;
    fftwf_complex* out = dst + i * pairs;
    for (int64_t c0 = 0; c0 < full; c0 += 8)
      for (int64_t ci = 0; ci < Cin; ++ci)
        for (int64_t c = 0; c < 8; ++c, ++out)
          (*out)[0] = re[ci * Cout + c0 + c], (*out)[1] = im[ci * Cout + c0 + c];
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t c = 0; c < tail; ++c, ++out)
        (*out)[0] = re[ci * Cout + full + c], (*out)[1] = im[ci * Cout + full + c];
  }
}

// Weight spectra conj(H)[f] of whole layers, kept per calling thread. An entry is keyed by the
// weights' address and shape and holds a copy of the weights it was made from: a call whose
// weights differ in any bit (a training step, another network at the same address) remakes it.
struct SpectraCache {
  struct Entry {
    const float* w = nullptr;
    int64_t n = 0, K = 0, Cin = 0, Cout = 0, dilation = 0;
    bool blocked = false;               // the layout (make_spectra_chunk)
    std::vector<float> weights;         // (K, Cin, Cout) as last made
    FftwBuffer<fftwf_complex> spectra;  // [f][ci][co], or blocked
    int64_t bytes = 0;
  };
  std::vector<std::unique_ptr<Entry>> entries;  // oldest first
  int64_t bytes = 0;

  // The entry for these weights, made or remade as needed; null when it cannot be kept.
  const fftwf_complex* get(const float* w, const Geometry& g, int64_t Cin, int64_t Cout, int64_t K,
                           int64_t dilation, const Shape& shape, Scratch& ws) {
    const int64_t F = g.weight_bins, pairs = Cin * Cout, count = K * pairs;
    const int64_t entry_bytes = 8 * F * pairs + 4 * count;
    if (entry_bytes > g_spectra_total_bytes) return nullptr;
    Entry* e = nullptr;
    for (auto& it : entries)
      if (it->w == w && it->n == g.n && it->K == K && it->Cin == Cin && it->Cout == Cout &&
          it->dilation == dilation && it->blocked == g.few)
        e = it.get();
    // memcmp: every bit (a float compare would take -0 for +0), and vectorised by libc.
    if (e && std::memcmp(w, e->weights.data(), sizeof(float) * count) == 0) return e->spectra.get();
    if (!e) {
      while (!entries.empty() && bytes + entry_bytes > g_spectra_total_bytes) {
        bytes -= entries.front()->bytes;
        entries.erase(entries.begin());
      }
      entries.push_back(std::make_unique<Entry>(Entry{w,
                                                      g.n,
                                                      K,
                                                      Cin,
                                                      Cout,
                                                      dilation,
                                                      g.few,
                                                      {},
                                                      fftw_buffer<fftwf_complex>(F * pairs),
                                                      entry_bytes}));
      e = entries.back().get();
      bytes += entry_bytes;
    }
    e->weights.assign(w, w + count);
    for (int64_t f0 = 0; f0 < F; f0 += g.bin_chunk) {
      const int64_t bins = std::min(g.bin_chunk, F - f0);
      make_spectra_chunk(w, shape, f0, bins, K, Cin, Cout, g.few, ws,
                         e->spectra.get() + f0 * pairs);
    }
    return e->spectra.get();
  }
  void clear() {
    entries.clear();
    bytes = 0;
  }
};

SpectraCache& spectra_cache() {
  thread_local SpectraCache cache;
  return cache;
}

// Segment s of a group that starts at segment `first`: the N input rows from k V - P of patch b
// (zero outside [0, L)) into in[s][ci][n]; segments past `used` are zeros.
void fill_input_segments(const float* x, int64_t ldx, const Geometry& g, int64_t L, int64_t Cin,
                         int64_t first, int64_t used, float* in) {
  const int64_t N = g.n, V = g.valid, blocks = (L + V - 1) / V;
#pragma omp parallel for schedule(static)
  for (int64_t s = 0; s < g.group; ++s) {
    float* seg = in + s * N * Cin;
    if (s >= used) {
      std::fill(seg, seg + N * Cin, 0.0f);
      continue;
    }
    const int64_t b = (first + s) / blocks, k = (first + s) % blocks;
    // Transposed in tiles of 8 rows, so that each channel's 8 values go out as one contiguous
    // store; rows in the padding read a row of zeros.
    const float* zeros = zero_row(Cin);
    for (int64_t n0 = 0; n0 < N; n0 += 8) {
      const int64_t count = std::min<int64_t>(8, N - n0);
      const float* rows[8];
      for (int64_t r = 0; r < 8; ++r) {
        const int64_t t = k * V - g.pad + n0 + std::min(r, count - 1);
        rows[r] = t >= 0 && t < L ? x + (b * L + t) * ldx : zeros;
      }
      if (count == 8) {
        for (int64_t ci = 0; ci < Cin; ++ci) {
          float* dst = seg + ci * N + n0;
          for (int r = 0; r < 8; ++r) dst[r] = rows[r][ci];
        }
      } else {
        for (int64_t ci = 0; ci < Cin; ++ci)
          for (int64_t r = 0; r < count; ++r) seg[ci * N + n0 + r] = rows[r][ci];
      }
    }
  }
}

// The per-bin channel mixing Y_f = alpha X_f conj(H)_f of small layers with few segments (the
// bundled models at inference): a cgemm per bin then spends more on packing its operands than on
// the product, and reading the weight spectra (which do not stay in the caches between calls) is
// most of the cost. Here each bin's weights, blocked by make_spectra_chunk, are read once as one
// sequential stream, a block of 8 output channels at a time, and reused by every segment while
// they sit in L1; two segments' outputs are accumulated in registers at a time: with
// X = (xr, xi) and a weight row w (interleaved re, im), a += xr w and b += xi w, then Y = a + i b,
// i.e. re = a.re - b.im, im = a.im + b.re.

// y[0..8) = alpha (a + i b) for 4 interleaved complex values.
SR_ALWAYS_INLINE void store_combined(float* y, Float8 a, Float8 b, float alpha) {
  for (int k = 0; k < 8; k += 2) {
    y[k] = alpha * (a[k] - b[k + 1]);
    y[k + 1] = alpha * (a[k + 1] + b[k]);
  }
}

// S (1 or 2) segments' 8 output channels (16 floats at y) over all Cin inputs; w: the block's
// Cin rows of 8 complex weights, contiguous.
template <int S>
SR_ALWAYS_INLINE void mix_block(const float* x, int64_t ldx, const float* w, int64_t Cin,
                                float alpha, float* y, int64_t ldy) {
  Float8 a0[S] = {}, a1[S] = {}, b0[S] = {}, b1[S] = {};
  for (int64_t ci = 0; ci < Cin; ++ci) {
    const Float8 w0 = load8(w + 16 * ci), w1 = load8(w + 16 * ci + 8);
    for (int s = 0; s < S; ++s) {
      const float xr = x[s * ldx + 2 * ci], xi = x[s * ldx + 2 * ci + 1];
      a0[s] += xr * w0;
      a1[s] += xr * w1;
      b0[s] += xi * w0;
      b1[s] += xi * w1;
    }
  }
  for (int s = 0; s < S; ++s) {
    store_combined(y + s * ldy, a0[s], b0[s], alpha);
    store_combined(y + s * ldy + 8, a1[s], b1[s], alpha);
  }
}

// One bin: x (S rows of Cin complex, 2 Cin floats apart), w (Cin x Cout complex, blocked as
// make_spectra_chunk writes it), y (S rows of Cout complex, 2 Cout floats apart).
SR_VECTOR_CLONES void mix_few(const float* x, const float* w, float* y, int64_t S, int64_t Cin,
                              int64_t Cout, float alpha) {
  const int64_t ldx = 2 * Cin, ldy = 2 * Cout, full = Cout / 8 * 8, tail = Cout - full;
  for (int64_t co = 0; co < full; co += 8, w += 16 * Cin) {
    int64_t s = 0;
    for (; s + 2 <= S; s += 2)
      mix_block<2>(x + s * ldx, ldx, w, Cin, alpha, y + s * ldy + 2 * co, ldy);
    if (s < S) mix_block<1>(x + s * ldx, ldx, w, Cin, alpha, y + s * ldy + 2 * co, ldy);
  }
  for (int64_t s = 0; s < S; ++s)  // the last Cout % 8 channels: w is [ci][tail]
    for (int64_t c = 0; c < tail; ++c) {
      float re = 0, im = 0;
      for (int64_t ci = 0; ci < Cin; ++ci) {
        const float xr = x[s * ldx + 2 * ci], xi = x[s * ldx + 2 * ci + 1];
        const float wr = w[2 * (ci * tail + c)], wi = w[2 * (ci * tail + c) + 1];
        re += xr * wr - xi * wi;
        im += xr * wi + xi * wr;
      }
      y[s * ldy + 2 * (full + c)] = alpha * re;
      y[s * ldy + 2 * (full + c) + 1] = alpha * im;
    }
}

// y[0..8) = alpha (c - i d) conjugated, i.e. the product with conj(w) for c = xr w, d = xi w:
// re = c.re + d.im, im = d.re - c.im.
SR_ALWAYS_INLINE void store_conjugated(float* y, Float8 c, Float8 d, float alpha) {
  for (int k = 0; k < 8; k += 2) {
    y[k] = alpha * (c[k] + d[k + 1]);
    y[k + 1] = alpha * (d[k] - c[k + 1]);
  }
}

// Bins f and p = N/2 - f of the paired mixing (paired_bins): Y_f = alpha X_f W and
// Y_p = alpha X_p conj(W) with the one weight block W of bin f, read once for both.
SR_VECTOR_CLONES void mix_pair(const float* xf, const float* xp, const float* w, float* yf,
                               float* yp, int64_t S, int64_t Cin, int64_t Cout, float alpha) {
  const int64_t ldx = 2 * Cin, ldy = 2 * Cout, full = Cout / 8 * 8, tail = Cout - full;
  for (int64_t co = 0; co < full; co += 8, w += 16 * Cin)
    for (int64_t s = 0; s < S; ++s) {
      const float* x1 = xf + s * ldx;
      const float* x2 = xp + s * ldx;
      Float8 a0 = {}, a1 = {}, b0 = {}, b1 = {}, c0 = {}, c1 = {}, d0 = {}, d1 = {};
      for (int64_t ci = 0; ci < Cin; ++ci) {
        const Float8 w0 = load8(w + 16 * ci), w1 = load8(w + 16 * ci + 8);
        const float r1 = x1[2 * ci], i1 = x1[2 * ci + 1], r2 = x2[2 * ci], i2 = x2[2 * ci + 1];
        a0 += r1 * w0, a1 += r1 * w1, b0 += i1 * w0, b1 += i1 * w1;
        c0 += r2 * w0, c1 += r2 * w1, d0 += i2 * w0, d1 += i2 * w1;
      }
      store_combined(yf + s * ldy + 2 * co, a0, b0, alpha);
      store_combined(yf + s * ldy + 2 * co + 8, a1, b1, alpha);
      store_conjugated(yp + s * ldy + 2 * co, c0, d0, alpha);
      store_conjugated(yp + s * ldy + 2 * co + 8, c1, d1, alpha);
    }
  for (int64_t s = 0; s < S; ++s)  // the last Cout % 8 channels: w is [ci][tail]
    for (int64_t c = 0; c < tail; ++c) {
      float re1 = 0, im1 = 0, re2 = 0, im2 = 0;
      for (int64_t ci = 0; ci < Cin; ++ci) {
        const float wr = w[2 * (ci * tail + c)], wi = w[2 * (ci * tail + c) + 1];
        const float r1 = xf[s * ldx + 2 * ci], i1 = xf[s * ldx + 2 * ci + 1];
        const float r2 = xp[s * ldx + 2 * ci], i2 = xp[s * ldx + 2 * ci + 1];
        re1 += r1 * wr - i1 * wi, im1 += r1 * wi + i1 * wr;
        re2 += r2 * wr + i2 * wi, im2 += i2 * wr - r2 * wi;
      }
      yf[s * ldy + 2 * (full + c)] = alpha * re1, yf[s * ldy + 2 * (full + c) + 1] = alpha * im1;
      yp[s * ldy + 2 * (full + c)] = alpha * re2, yp[s * ldy + 2 * (full + c) + 1] = alpha * im2;
    }
}

// The streamed path's mixing (Geometry::streamed). Y += X W for S segments over a block of c
// input channels, and with a partner bin (paired_bins) Yp += Xp conj(W) from the same weights:
// x, xp rows of c complex (ldx floats apart); W as split rows wr, wi ([ci][co], Cout floats
// apart), as the spectra sgemm writes them; y, yp rows of [re Cout][im Cout] (2 Cout apart).
// One block of 8 output channels over S segments, accumulated in registers over the c inputs
// while the block's weights sit in L1.
template <int S, bool Paired>
SR_ALWAYS_INLINE void stream_block(const float* xf, const float* xp, int64_t ldx, const float* w,
                                   int64_t c, float* yf, float* yp, int64_t Cout) {
  Float8 fr[S], fi[S], pr[S] = {}, pi[S] = {};
  for (int s = 0; s < S; ++s) {
    fr[s] = load8(yf + 2 * s * Cout), fi[s] = load8(yf + 2 * s * Cout + Cout);
    if constexpr (Paired) pr[s] = load8(yp + 2 * s * Cout), pi[s] = load8(yp + 2 * s * Cout + Cout);
  }
  for (int64_t ci = 0; ci < c; ++ci) {
    const Float8 a = load8(w + 16 * ci), b = load8(w + 16 * ci + 8);
    for (int s = 0; s < S; ++s) {
      const float xr = xf[s * ldx + 2 * ci], xi = xf[s * ldx + 2 * ci + 1];
      fr[s] += xr * a;  // (xr + i xi)(a + i b)
      fr[s] -= xi * b;
      fi[s] += xr * b;
      fi[s] += xi * a;
      if constexpr (Paired) {
        const float qr = xp[s * ldx + 2 * ci], qi = xp[s * ldx + 2 * ci + 1];
        pr[s] += qr * a;  // (qr + i qi)(a - i b)
        pr[s] += qi * b;
        pi[s] += qi * a;
        pi[s] -= qr * b;
      }
    }
  }
  for (int s = 0; s < S; ++s) {
    store8(yf + 2 * s * Cout, fr[s]), store8(yf + 2 * s * Cout + Cout, fi[s]);
    if constexpr (Paired) store8(yp + 2 * s * Cout, pr[s]), store8(yp + 2 * s * Cout + Cout, pi[s]);
  }
}

// One bin (and its partner when xp is not null) of the streamed mixing, every output channel.
SR_VECTOR_CLONES void mix_stream(const float* xf, const float* xp, int64_t ldx, const float* wr,
                                 const float* wi, float* yf, float* yp, int64_t S, int64_t c,
                                 int64_t Cout) {
  const int64_t ldy = 2 * Cout, full = Cout / 8 * 8;
  // The block's weights for 8 output channels, [ci][8 re, 8 im], one sequential stream: read in
  // place, a column of 8 floats every Cout floats would alias in L1 (4 KB apart for Cout 1024).
  thread_local std::vector<float> blocked;
  blocked.resize(static_cast<size_t>(16 * c));
  float* w = blocked.data();
  for (int64_t co = 0; co < full; co += 8) {
    for (int64_t ci = 0; ci < c; ++ci) {
      store8(w + 16 * ci, load8(wr + ci * Cout + co));
      store8(w + 16 * ci + 8, load8(wi + ci * Cout + co));
    }
    int64_t s = 0;
    if (xp) {
      for (; s + 2 <= S; s += 2)
        stream_block<2, true>(xf + s * ldx, xp + s * ldx, ldx, w, c, yf + s * ldy + co,
                              yp + s * ldy + co, Cout);
      if (s < S)
        stream_block<1, true>(xf + s * ldx, xp + s * ldx, ldx, w, c, yf + s * ldy + co,
                              yp + s * ldy + co, Cout);
    } else {
      for (; s + 4 <= S; s += 4)
        stream_block<4, false>(xf + s * ldx, nullptr, ldx, w, c, yf + s * ldy + co, nullptr, Cout);
      for (; s < S; ++s)
        stream_block<1, false>(xf + s * ldx, nullptr, ldx, w, c, yf + s * ldy + co, nullptr, Cout);
    }
  }
  for (int64_t s = 0; s < S; ++s)  // the last Cout % 8 channels
    for (int64_t co = full; co < Cout; ++co)
      for (int64_t ci = 0; ci < c; ++ci) {
        const float a = wr[ci * Cout + co], b = wi[ci * Cout + co];
        const float xr = xf[s * ldx + 2 * ci], xi = xf[s * ldx + 2 * ci + 1];
        yf[s * ldy + co] += xr * a - xi * b;
        yf[s * ldy + Cout + co] += xr * b + xi * a;
        if (xp) {
          const float qr = xp[s * ldx + 2 * ci], qi = xp[s * ldx + 2 * ci + 1];
          yp[s * ldy + co] += qr * a + qi * b;
          yp[s * ldy + Cout + co] += qi * a - qr * b;
        }
      }
}

// The streamed path for one segment group: for each block of ci_block input channels, the weight
// spectra of every kept bin as split rows (one sgemm from the taps: row 2i the real parts of bin
// i, row 2i + 1 the imaginary, [ci][co] each; the block is sized to stay in the last-level cache),
// then every bin's outputs accumulated from them in threads over bins (mix_stream). Leaves
// alpha Y of the used segments in y_spec, interleaved for the inverse transforms.
void mix_streamed(const float* w, const Shape& shape, const Geometry& g, int64_t used, int64_t Cin,
                  int64_t Cout, int64_t K, bool paired, Scratch& ws) {
  const int64_t N = g.n, F = g.bins, G = g.group, WB = g.weight_bins, pairs = Cin * Cout;
  float* ys = ws.y_split.get();
  const float* xs = &ws.x_spec[0][0];
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < F; ++f)
    std::fill(ys + f * G * 2 * Cout, ys + (f * G + used) * 2 * Cout, 0.0f);
  for (int64_t ci0 = 0; ci0 < Cin; ci0 += g.ci_block) {
    const int64_t c = std::min(g.ci_block, Cin - ci0), width = c * Cout;
    float* split = ws.split(2 * WB * width);
    spectra_rows(w, shape, 0, WB, K, pairs, ci0 * Cout, width, split);
#pragma omp parallel for schedule(static)
    for (int64_t f = 0; f < WB; ++f) {
      const int64_t partner = paired ? N / 2 - f : f;
      const float* wr = split + 2 * f * width;
      const bool two = partner != f;
      mix_stream(xs + 2 * (f * G * Cin + ci0), two ? xs + 2 * (partner * G * Cin + ci0) : nullptr,
                 2 * Cin, wr, wr + width, ys + f * G * 2 * Cout,
                 two ? ys + partner * G * 2 * Cout : nullptr, used, c, Cout);
    }
  }
  const float alpha = 1.0f / static_cast<float>(N);
  fftwf_complex* spec = ws.y_spec.get();
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < F; ++f)
    for (int64_t s = 0; s < used; ++s) {
      const float* yr = ys + (f * G + s) * 2 * Cout;
      fftwf_complex* out = spec + (f * G + s) * Cout;
      for (int64_t co = 0; co < Cout; ++co)
        out[co][0] = alpha * yr[co], out[co][1] = alpha * yr[Cout + co];
    }
}

// The channel mixing of one segment group from whole kept spectra, or from spectra made chunk by
// chunk of bins (make_spectra_chunk): few-segment kernels for small layers, else one cgemm per
// bin. Leaves alpha Y of the used segments in y_spec.
void mix_in_chunks(const float* w, const fftwf_complex* kept, const Shape& shape, const Geometry& g,
                   int64_t used, int64_t Cin, int64_t Cout, int64_t K, bool paired, Scratch& ws) {
  const int64_t N = g.n, G = g.group, WB = g.weight_bins, pairs = Cin * Cout;
  const std::complex<float> alpha(1.0f / static_cast<float>(N), 0.0f), beta(0.0f, 0.0f);
  const int64_t chunk = kept ? WB : g.bin_chunk;
  for (int64_t f0 = 0; f0 < WB; f0 += chunk) {
    const int64_t bins = std::min(chunk, WB - f0);
    const fftwf_complex* spectra = kept ? kept + f0 * pairs : ws.w_spec.get();
    // (The per-bin cgemms below run on separate threads with OpenBLAS's OpenMP build only.)
    if (!kept) make_spectra_chunk(w, shape, f0, bins, K, Cin, Cout, g.few, ws, ws.w_spec.get());
    if (g.few) {
      const float* xs = &ws.x_spec[0][0];
      float* ys = &ws.y_spec[0][0];
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < bins; ++i) {
        const int64_t f = f0 + i, partner = paired ? N / 2 - f : f;
        const float* wf = &spectra[i * pairs][0];
        if (partner == f)
          mix_few(xs + 2 * f * G * Cin, wf, ys + 2 * f * G * Cout, used, Cin, Cout, alpha.real());
        else
          mix_pair(xs + 2 * f * G * Cin, xs + 2 * partner * G * Cin, wf, ys + 2 * f * G * Cout,
                   ys + 2 * partner * G * Cout, used, Cin, Cout, alpha.real());
      }
      continue;
    }
    // Each stored bin f serves f and, paired, N/2 - f with its weights conjugated.
#pragma omp parallel for schedule(dynamic) if (cpu_blas_uses_openmp())
    for (int64_t k = 0; k < 2 * bins; ++k) {
      const int64_t i = k / 2, f = f0 + i, bin = k % 2 ? N / 2 - f : f;
      if (k % 2 && (!paired || bin == f)) continue;
      cblas_cgemm(CblasRowMajor, CblasNoTrans, k % 2 ? CblasConjNoTrans : CblasNoTrans,
                  static_cast<int>(used), static_cast<int>(Cout), static_cast<int>(Cin), &alpha,
                  ws.x_spec.get() + bin * G * Cin, static_cast<int>(Cin), spectra + i * pairs,
                  static_cast<int>(Cout), &beta, ws.y_spec.get() + bin * G * Cout,
                  static_cast<int>(Cout));
    }
  }
}

}  // namespace

void conv1d_fft_set_budgets(double group_bytes, double weight_chunk_bytes,
                            double spectra_entry_bytes) {
  g_group_bytes = group_bytes > 0 ? group_bytes : kDefaultGroupBytes;
  g_weight_chunk_bytes = weight_chunk_bytes > 0 ? weight_chunk_bytes : kDefaultChunkBytes;
  read_spectra_budget_once();  // so that it cannot override these later
  g_spectra_entry_bytes = spectra_entry_bytes >= 0 ? spectra_entry_bytes : kDefaultEntryBytes;
  g_spectra_total_bytes = spectra_entry_bytes >= 0
                              ? std::max(kDefaultTotalBytes, spectra_entry_bytes)
                              : kDefaultTotalBytes;
  spectra_cache().clear();
}

void conv1d_fft_set_streamed(int mode, double block_bytes) {
  read_spectra_budget_once();  // so that it cannot override these later
  g_streamed_mode = mode < 0 ? -1 : mode > 0 ? 1 : 0;
  g_stream_block_bytes = block_bytes > 0 ? block_bytes : kDefaultStreamBlockBytes;
}

const char* conv1d_fft_mixing(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                              int64_t dilation) {
  read_spectra_budget_once();
  const Geometry g = best_geometry(B, L, Cin, Cout, K, dilation);
  return g.few ? "few" : g.streamed ? "streamed" : g.cached ? "kept" : "cgemm";
}

bool conv1d_fft_wisdom_loaded() {
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  return import_shipped_wisdom();
}

bool conv1d_fft_pays(int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
  read_spectra_budget_once();  // a bad SR_FFT_WEIGHT_CACHE fails at the first convolution
  if (K < 9 || Cin < 8 || Cout < 8 || L < 64) return false;
  const Geometry g = best_geometry(B, L, Cin, Cout, K, dilation);
  return 1.2 * g.seconds < direct_seconds(B, L, Cin, Cout, K);
}

void conv1d_fft(const float* x, int64_t ldx, const float* w, const float* bias, float* y,
                int64_t ldy, int64_t B, int64_t L, int64_t Cin, int64_t Cout, int64_t K,
                int64_t dilation) {
  SR_CHECK(K % 2 == 1, "conv1d_fft: odd kernels only");
  // Named references, not a structured binding: OpenMP regions below use them (clang refuses
  // bindings there).
  const Layer layer = prepare(B, L, Cin, Cout, K, dilation, /*streamed_allowed=*/true);
  const Geometry& g = layer.g;
  Scratch& ws = layer.ws;
  const Shape& shape = layer.shape;
  const int64_t N = g.n, F = g.bins, V = g.valid, G = g.group;
  const int64_t blocks = (L + V - 1) / V;
  // The layer's whole spectra, kept from an earlier call with the same weights, or null: then
  // they are made chunk by chunk for every segment group.
  const fftwf_complex* kept =
      g.cached ? spectra_cache().get(w, g, Cin, Cout, K, dilation, shape, ws) : nullptr;

  for (int64_t first = 0; first < g.segments; first += G) {
    const int64_t used = std::min(G, g.segments - first);
    fill_input_segments(x, ldx, g, L, Cin, first, used, ws.in.get());
    transform_segments(shape.forward_x, shape.segment_x, shape.segments_x, ws.in.get(),
                       ws.x_spec.get(), N, Cin, used);

    const bool paired = paired_bins(dilation);
    if (g.streamed)
      mix_streamed(w, shape, g, used, Cin, Cout, K, paired, ws);
    else
      mix_in_chunks(w, kept, shape, g, used, Cin, Cout, K, paired, ws);
    if (shape.segments_y) {  // each thread its own segments; unused ones are not transformed
      fftwf_complex* spec = ws.y_spec.get();
      float* out = ws.out.get();
#pragma omp parallel for schedule(static)
      for (int64_t s = 0; s < used; ++s)
        fftwf_execute_dft_c2r(shape.segment_inverse_y, spec + s * Cout, out + s * N * Cout);
    } else {
      if (used < G)  // rows of unused segments: keep the inverse transform finite
#pragma omp parallel for schedule(static)
        for (int64_t f = 0; f < F; ++f) {
          fftwf_complex* row = ws.y_spec.get() + (f * G + used) * Cout;
          std::fill(&row[0][0], &row[0][0] + 2 * (G - used) * Cout, 0.0f);
        }
      fftwf_execute_dft_c2r(shape.inverse_y, ws.y_spec.get(), ws.out.get());
    }

    const float* out = ws.out.get();
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < used; ++s) {
      const int64_t b = (first + s) / blocks, k = (first + s) % blocks;
      const int64_t rows = std::min(V, L - k * V);
      const float* src = out + s * Cout * N;  // [co][n]
      // Transposed back in tiles of 8 rows: each channel's 8 values are one contiguous load.
      int64_t n0 = 0;
      for (; n0 + 8 <= rows; n0 += 8) {
        float* dst = y + (b * L + k * V + n0) * ldy;
        for (int64_t co = 0; co < Cout; ++co)
          for (int r = 0; r < 8; ++r) dst[r * ldy + co] = src[co * N + n0 + r] + bias[co];
      }
      for (int64_t n = n0; n < rows; ++n) {
        float* dst = y + (b * L + k * V + n) * ldy;
        for (int64_t co = 0; co < Cout; ++co) dst[co] = src[co * N + n] + bias[co];
      }
    }
  }
}

// The forward's transpose is the same kind of convolution: dx[s] = sum_j w_j dy[s - o_j] is dy
// convolved with the taps reversed in time (o_{K-1-j} = -o_j) and each tap transposed (Cout ->
// Cin), so the forward's path runs it, into a scratch buffer that is then added to dx.
void conv1d_fft_bwd_data(const float* dy, const float* w, float* dx, int64_t B, int64_t L,
                         int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
  SR_CHECK(K % 2 == 1, "conv1d_fft: odd kernels only");
  thread_local std::vector<float> flipped, zeros, sum;
  flipped.resize(static_cast<size_t>(K * Cout * Cin));
  for (int64_t j = 0; j < K; ++j)
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t co = 0; co < Cout; ++co)
        flipped[((K - 1 - j) * Cout + co) * Cin + ci] = w[(j * Cin + ci) * Cout + co];
  zeros.assign(static_cast<size_t>(Cin), 0.0f);
  sum.resize(static_cast<size_t>(B * L * Cin));
  conv1d_fft(dy, Cout, flipped.data(), zeros.data(), sum.data(), Cin, B, L, Cout, Cin, K, dilation);
  const int64_t n = B * L * Cin;
  const float* added = sum.data();  // thread_local: other threads must not name it
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) dx[i] += added[i];
}

// dw[j,ci,co] = sum_b sum_t x[b, t + o_j, ci] dy[b,t,co] is, per channel pair, the
// cross-correlation of dy with x at the lags o_j, summed over patches. Per segment (the forward's
// N input rows xs from k V - P, and ds = the V rows of dy from k V, zero beyond), with
// m = P + o_j = dilation j:
//   c[m] = sum_n ds[n] xs[n + m]   (n < V, m < span: no index wraps, so circular = linear)
//   C(f) = conj(DS(f)) XS(f),  summed over segments: conj(G_f) with G_f = XS_f^H DS_f,
// one cgemm per bin ((Cin x segments) by (segments x Cout)). Back in time, for real c,
//   c[m] = (1/N) sum_{f <= N/2} a_f (Re G_f cos + Im G_f sin)(2 pi f m / N),  a_f = 1 at 0 and
// N/2, else 2: the transpose of the forward's weight-spectra GEMM (the same cos/sin table), one
// sgemm per bin chunk and segment group, accumulated into dw.
void conv1d_fft_bwd_weight(const float* x, const float* dy, float* dw, int64_t B, int64_t L,
                           int64_t Cin, int64_t Cout, int64_t K, int64_t dilation) {
  SR_CHECK(K % 2 == 1, "conv1d_fft: odd kernels only");
  // Named references, not a structured binding: OpenMP regions below use them (clang refuses
  // bindings there).
  const Layer layer = prepare(B, L, Cin, Cout, K, dilation, /*streamed_allowed=*/false);
  const Geometry& g = layer.g;
  Scratch& ws = layer.ws;
  const Shape& shape = layer.shape;
  const int64_t N = g.n, F = g.bins, V = g.valid, G = g.group, pairs = Cin * Cout;
  const int64_t blocks = (L + V - 1) / V;
  const std::complex<float> one(1.0f, 0.0f), zero(0.0f, 0.0f);

  for (int64_t first = 0; first < g.segments; first += G) {
    const int64_t used = std::min(G, g.segments - first);
    fill_input_segments(x, Cin, g, L, Cin, first, used, ws.in.get());
    float* out = ws.out.get();
#pragma omp parallel for schedule(static)
    for (int64_t s = 0; s < G; ++s) {
      float* seg = out + s * N * Cout;
      std::fill(seg, seg + N * Cout, 0.0f);
      if (s >= used) continue;
      const int64_t b = (first + s) / blocks, k = (first + s) % blocks;
      const int64_t rows = std::min(V, L - k * V);
      for (int64_t n = 0; n < rows; ++n) {
        const float* row = dy + (b * L + k * V + n) * Cout;
        for (int64_t co = 0; co < Cout; ++co) seg[co * N + n] = row[co];
      }
    }
    transform_segments(shape.forward_x, shape.segment_x, shape.segments_x, ws.in.get(),
                       ws.x_spec.get(), N, Cin, used);
    transform_segments(shape.forward_dy, shape.segment_dy, shape.segments_y, ws.out.get(),
                       ws.y_spec.get(), N, Cout, used);

    float* split = ws.split(2 * g.bin_chunk * pairs);  // a whole chunk's real and imaginary rows
    for (int64_t f0 = 0; f0 < F; f0 += g.bin_chunk) {
      const int64_t bins = std::min(g.bin_chunk, F - f0);
#pragma omp parallel for schedule(dynamic) if (cpu_blas_uses_openmp())
      for (int64_t i = 0; i < bins; ++i) {
        fftwf_complex* gf = ws.w_spec.get() + i * pairs;
        cblas_cgemm(CblasRowMajor, CblasConjTrans, CblasNoTrans, static_cast<int>(Cin),
                    static_cast<int>(Cout), static_cast<int>(used), &one,
                    ws.x_spec.get() + (f0 + i) * G * Cin, static_cast<int>(Cin),
                    ws.y_spec.get() + (f0 + i) * G * Cout, static_cast<int>(Cout), &zero, gf,
                    static_cast<int>(Cout));
        const int64_t f = f0 + i;
        const float scale = ((f == 0 || 2 * f == N) ? 1.0f : 2.0f) / static_cast<float>(N);
        float* re = split + (2 * i) * pairs;
        float* im = re + pairs;
        for (int64_t p = 0; p < pairs; ++p) re[p] = scale * gf[p][0], im[p] = scale * gf[p][1];
      }
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(K),
                  static_cast<int>(pairs), static_cast<int>(2 * bins), 1.0f,
                  shape.dft.data() + 2 * f0 * K, static_cast<int>(K), split,
                  static_cast<int>(pairs), 1.0f, dw, static_cast<int>(pairs));
    }
  }
}

}  // namespace sr::cpu
