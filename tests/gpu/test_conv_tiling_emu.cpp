// CPU emulation of the conv1d kernels' index math (kernels/conv1d_tiling.h), with no device: every
// thread's shared-memory loads of every k-tile of every block tile are replayed with the kernels'
// own functions into shared-memory images of the kernels' padded layouts; each tile element must be
// written exactly once per k-tile, the fragments are read back at the kernels' fragment offsets and
// multiplied in double, the epilogue's (warp, fragment, lane, element) -> (m, n) map must cover
// every output exactly once, and the result must equal a direct float64 convolution. What this
// cannot check is the hardware itself (ldmatrix/mma.sync fragment semantics, cp.async, barriers):
// the host execution runs the kernels with emulated ones (tests/kernels_host), the GPU tests with
// the real ones (test_gpu_conv.cpp).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "conv1d_tiling.h"
#include "test_util.h"

namespace {

using sr::cuda::a_offset;
using sr::cuda::a_row;
using sr::cuda::ARow;
using sr::cuda::ConvGeometry;
using sr::cuda::split_range;
using sr::cuda::TileMap;

std::vector<double> direct_conv(const ConvGeometry& g, const std::vector<float>& x,
                                const std::vector<float>& w) {
  std::vector<double> y(size_t(g.M()) * g.Cout, 0.0);
  const int half = (g.K - 1) / 2;
  for (int b = 0; b < g.B; ++b)
    for (int t = 0; t < g.L; ++t)
      for (int j = 0; j < g.K; ++j) {
        const int s = t + g.dilation * (j - half);
        if (s < 0 || s >= g.L) continue;
        for (int ci = 0; ci < g.Cin; ++ci) {
          const double xv = x[(size_t(b) * g.L + s) * g.Cin + ci];
          for (int co = 0; co < g.Cout; ++co)
            y[(size_t(b) * g.L + t) * g.Cout + co] +=
                xv * w[(size_t(j) * g.Cin + ci) * g.Cout + co];
        }
      }
  return y;
}

double max_rel_diff(const std::vector<double>& got, const std::vector<double>& ref) {
  double m = 0, scale = 1e-30;
  for (double r : ref) scale = std::max(scale, std::fabs(r));
  for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(got[i] - ref[i]) / scale);
  return m;
}

// conv1d_mma_kernel for elements of kBytes bytes (4: TF32, 2: BF16), values kept as double.
template <int kBytes>
std::vector<double> emulate_mma(const ConvGeometry& g, const std::vector<float>& x,
                                const std::vector<float>& w, int splits) {
  namespace mt = sr::cuda::mma_tile;
  using S = mt::Layout<kBytes>;
  using AMap = TileMap<mt::kBM, mt::kBK, S::kE, mt::kThreads>;
  using BMap = TileMap<mt::kBK, mt::kBN, S::kE, mt::kThreads>;
  REQUIRE(g.Cin % mt::kBK == 0);
  REQUIRE(g.Cout % 8 == 0);
  const int KT = g.Ktot() / mt::kBK;
  const int per_split = (KT + splits - 1) / splits;
  REQUIRE((KT + per_split - 1) / per_split == splits);  // no empty split (as launch_mma checks)
  const int n_tiles_n = (g.Cout + mt::kBN - 1) / mt::kBN;
  const int blocks = ((g.M() + mt::kBM - 1) / mt::kBM) * n_tiles_n;
  std::vector<double> partial(size_t(splits) * g.M() * g.Cout, 0.0);
  std::vector<int> out_writes(partial.size(), 0);

  for (int z = 0; z < splits; ++z) {
    int kt_begin, kt_end;
    split_range(KT, per_split, z, kt_begin, kt_end);
    REQUIRE(kt_end > kt_begin);
    for (int block = 0; block < blocks; ++block) {
      int m0, n0;
      mt::block_tile(block, n_tiles_n, m0, n0);
      std::vector<double> acc(size_t(mt::kBM) * mt::kBN, 0.0);  // [row][col] of the block tile
      for (int kt = kt_begin; kt < kt_end; ++kt) {
        // One stage of shared memory, with the kernel's padded strides; NaN = never written.
        std::vector<double> sA(S::kStageA, std::nan("")), sB(S::kStageB, std::nan(""));
        std::vector<int> a_writes(S::kStageA, 0), b_writes(S::kStageB, 0);
        const int k0 = kt * mt::kBK;
        const int j = k0 / g.Cin, ci0 = k0 - j * g.Cin;
        const int tap = g.tap_offset(j);
        int misaligned = 0;
        for (int tid = 0; tid < mt::kThreads; ++tid) {
          ARow rows[AMap::kPerThread];
          for (int i = 0; i < AMap::kPerThread; ++i) rows[i] = a_row(g, m0 + AMap::row(tid, i));
          const int a_col = AMap::col(tid);
          for (int i = 0; i < AMap::kPerThread; ++i) {
            const int64_t off = a_offset(g, rows[i], tap, ci0 + a_col);
            const int dst = AMap::row(tid, i) * S::kLdA + a_col;
            misaligned += dst % S::kE != 0;              // 16-byte aligned destination
            misaligned += off >= 0 && off % S::kE != 0;  // 16-byte aligned source
            for (int e = 0; e < S::kE; ++e) {
              sA[dst + e] = off >= 0 ? double(x[size_t(off) + e]) : 0.0;
              ++a_writes[dst + e];
            }
          }
          const int b_col = BMap::col(tid), n = n0 + b_col;
          for (int i = 0; i < BMap::kPerThread; ++i) {
            const int r = BMap::row(tid, i);
            const bool ok = n < g.Cout;
            const int dst = r * S::kLdB + b_col;
            for (int e = 0; e < S::kE; ++e) {
              sB[dst + e] = ok ? double(w[size_t(k0 + r) * g.Cout + n + e]) : 0.0;
              ++b_writes[dst + e];
            }
          }
        }
        REQUIRE(misaligned == 0);
        // Every element of the logical tiles written exactly once (padding never).
        int bad = 0;
        for (int r = 0; r < mt::kBM; ++r)
          for (int c = 0; c < S::kLdA; ++c)
            bad += a_writes[r * S::kLdA + c] != (c < mt::kBK ? 1 : 0);
        for (int r = 0; r < mt::kBK; ++r)
          for (int c = 0; c < S::kLdB; ++c)
            bad += b_writes[r * S::kLdB + c] != (c < mt::kBN ? 1 : 0);
        REQUIRE(bad == 0);
        // Fragment products at the kernel's fragment offsets (16 x 16 blocks, leading dim kLd).
        for (int warp = 0; warp < mt::kThreads / 32; ++warp)
          for (int kk = 0; kk < mt::kBK; kk += S::kWK)
            for (int fi = 0; fi < 4; ++fi)
              for (int fj = 0; fj < 2; ++fj) {
                const int a_base = S::a_frag(warp, fi, kk), b_base = S::b_frag(warp, fj, kk);
                for (int r = 0; r < 16; ++r)
                  for (int c = 0; c < 16; ++c) {
                    double s = 0;
                    for (int q = 0; q < S::kWK; ++q)
                      s += sA[a_base + r * S::kLdA + q] * sB[b_base + q * S::kLdB + c];
                    acc[size_t(mt::warp_row0(warp) + fi * 16 + r) * mt::kBN + mt::warp_col0(warp) +
                        fj * 16 + c] += s;
                  }
              }
      }
      // Epilogue: staged fragment element (stage_row, stage_col) of lane, element e.
      for (int warp = 0; warp < mt::kThreads / 32; ++warp)
        for (int fi = 0; fi < 4; ++fi)
          for (int fj = 0; fj < 2; ++fj)
            for (int lane = 0; lane < 32; ++lane) {
              const int n = n0 + mt::warp_col0(warp) + fj * 16 + mt::stage_col(lane);
              for (int e = 0; e < 8; ++e) {
                const int r = mt::stage_row(e, lane);
                const int m = m0 + mt::warp_row0(warp) + fi * 16 + r;
                if (m < g.M() && n < g.Cout) {
                  const size_t at = size_t(z) * g.M() * g.Cout + size_t(m) * g.Cout + n;
                  partial[at] = acc[size_t(m - m0) * mt::kBN + (n - n0)];
                  ++out_writes[at];
                }
              }
            }
    }
  }
  REQUIRE(std::count(out_writes.begin(), out_writes.end(), 1) == int64_t(out_writes.size()));
  std::vector<double> y(size_t(g.M()) * g.Cout, 0.0);  // splitk_reduce_kernel, bias left out
  for (int z = 0; z < splits; ++z)
    for (size_t i = 0; i < y.size(); ++i) y[i] += partial[size_t(z) * y.size() + i];
  return y;
}

// conv1d_fp32_kernel, values as double.
std::vector<double> emulate_fp32(const ConvGeometry& g, const std::vector<float>& x,
                                 const std::vector<float>& w) {
  namespace ft = sr::cuda::fp32_tile;
  const int n_tiles_n = (g.Cout + ft::kBN - 1) / ft::kBN;
  const int blocks = ((g.M() + ft::kBM - 1) / ft::kBM) * n_tiles_n;
  const int KT = (g.Ktot() + ft::kBK - 1) / ft::kBK;
  std::vector<double> y(size_t(g.M()) * g.Cout, 0.0);
  std::vector<int> writes(y.size(), 0);
  for (int block = 0; block < blocks; ++block) {
    const int m0 = (block / n_tiles_n) * ft::kBM, n0 = (block % n_tiles_n) * ft::kBN;
    // Per-thread state: the k cursors advance per k-tile exactly as in the kernel.
    std::vector<std::array<ft::KCursor, 4>> cursors(ft::kThreads);
    for (int tid = 0; tid < ft::kThreads; ++tid)
      for (int e = 0; e < 4; ++e) cursors[tid][e].start(ft::a_load_k(tid, e), g.Cin);
    std::vector<double> acc(size_t(ft::kThreads) * 64, 0.0);
    for (int kt = 0; kt < KT; ++kt) {
      const int k0 = kt * ft::kBK;
      if (kt > 0)
        for (auto& c : cursors)
          for (auto& cur : c) cur.advance(g.Cin);
      std::vector<double> sA(size_t(ft::kBK) * (ft::kBM + 4), std::nan(""));
      std::vector<double> sB(size_t(ft::kBK) * ft::kBN, std::nan(""));
      std::vector<int> a_writes(sA.size(), 0), b_writes(sB.size(), 0);
      int cursor_errors = 0;
      for (int tid = 0; tid < ft::kThreads; ++tid) {
        const int ar = ft::a_load_row(tid);
        const ARow arow = a_row(g, m0 + ar);
        for (int e = 0; e < 4; ++e) {
          const int kl = ft::a_load_k(tid, e);
          double v = 0;
          if (k0 + kl < g.Ktot()) {
            const auto& cur = cursors[tid][e];
            cursor_errors += cur.j * g.Cin + cur.ci != k0 + kl;  // the cursor tracks k exactly
            const int64_t off = a_offset(g, arow, g.tap_offset(cur.j), cur.ci);
            if (off >= 0) v = x[size_t(off)];
          }
          sA[size_t(kl) * (ft::kBM + 4) + ar] = v;
          ++a_writes[size_t(kl) * (ft::kBM + 4) + ar];
        }
        const int bk = ft::b_load_k(tid), k = k0 + bk;
        for (int e = 0; e < 4; ++e) {
          const int col = ft::b_load_col(tid, e), n = n0 + col;
          sB[size_t(bk) * ft::kBN + col] =
              (k < g.Ktot() && n < g.Cout) ? double(w[size_t(k) * g.Cout + n]) : 0.0;
          ++b_writes[size_t(bk) * ft::kBN + col];
        }
      }
      REQUIRE(cursor_errors == 0);
      int bad = 0;
      for (int kk = 0; kk < ft::kBK; ++kk) {
        for (int r = 0; r < ft::kBM + 4; ++r)
          bad += a_writes[size_t(kk) * (ft::kBM + 4) + r] != (r < ft::kBM ? 1 : 0);
        for (int c = 0; c < ft::kBN; ++c) bad += b_writes[size_t(kk) * ft::kBN + c] != 1;
      }
      REQUIRE(bad == 0);
      for (int tid = 0; tid < ft::kThreads; ++tid)
        for (int kk = 0; kk < ft::kBK; ++kk)
          for (int i = 0; i < 8; ++i)
            for (int j = 0; j < 8; ++j)
              acc[size_t(tid) * 64 + i * 8 + j] +=
                  sA[size_t(kk) * (ft::kBM + 4) + ft::out_row(tid, i)] *
                  sB[size_t(kk) * ft::kBN + ft::out_col(tid, j)];
    }
    for (int tid = 0; tid < ft::kThreads; ++tid) {
      // The kernel reads rows out_row(tid, 0..3) and out_row(tid, 4..7) as two float4s.
      for (int i = 1; i < 4; ++i) {
        REQUIRE(ft::out_row(tid, i) == ft::out_row(tid, 0) + i);
        REQUIRE(ft::out_row(tid, 4 + i) == ft::out_row(tid, 4) + i);
        REQUIRE(ft::out_col(tid, i) == ft::out_col(tid, 0) + i);
        REQUIRE(ft::out_col(tid, 4 + i) == ft::out_col(tid, 4) + i);
      }
      REQUIRE(ft::out_row(tid, 0) % 4 == 0);
      REQUIRE(ft::out_col(tid, 0) % 4 == 0);
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) {
          const int m = m0 + ft::out_row(tid, i), n = n0 + ft::out_col(tid, j);
          if (m < g.M() && n < g.Cout) {
            y[size_t(m) * g.Cout + n] = acc[size_t(tid) * 64 + i * 8 + j];
            ++writes[size_t(m) * g.Cout + n];
          }
        }
    }
  }
  REQUIRE(std::count(writes.begin(), writes.end(), 1) == int64_t(writes.size()));
  return y;
}

struct EmuCase {
  int B, L, Cin, Cout, K, d;
};

}  // namespace

TEST_CASE("emulated tensor-core conv tiles equal a direct convolution", "[emu][conv]") {
  // Partial m- and n-tiles, tiles straddling batch items, L shorter than the span, several taps per
  // k-tile range, two n-tiles, split-K with uneven splits.
  const EmuCase cases[] = {{3, 63, 32, 24, 17, 2}, {2, 100, 64, 136, 9, 2}, {1, 3, 64, 16, 9, 2},
                           {5, 131, 96, 40, 5, 3}, {1, 1, 32, 8, 9, 2},     {2, 70, 64, 256, 3, 1}};
  uint32_t seed = 1;
  for (const EmuCase& c : cases) {
    const ConvGeometry g{c.B, c.L, c.Cin, c.Cout, c.K, c.d};
    const std::vector<float> x = sr::test::random_vector(size_t(g.M()) * g.Cin, seed++);
    const std::vector<float> w = sr::test::random_vector(size_t(g.Ktot()) * g.Cout, seed++);
    const std::vector<double> ref = direct_conv(g, x, w);
    const int KT = g.Ktot() / 32;
    for (int splits : {1, 2, 3}) {
      if (splits > KT) continue;
      const int per = (KT + splits - 1) / splits;
      if ((KT + per - 1) / per != splits) continue;  // launch_mma refuses empty splits
      CAPTURE(c.B, c.L, c.Cin, c.Cout, c.K, c.d, splits);
      REQUIRE(max_rel_diff(emulate_mma<4>(g, x, w, splits), ref) < 1e-12);
      REQUIRE(max_rel_diff(emulate_mma<2>(g, x, w, splits), ref) < 1e-12);
    }
  }
}

TEST_CASE("emulated FP32 conv tiles equal a direct convolution", "[emu][conv]") {
  const EmuCase cases[] = {{2, 129, 40, 40, 33, 2}, {2, 77, 96, 12, 5, 3},  {3, 45, 33, 9, 3, 1},
                           {1, 37, 1, 8, 65, 2},    {2, 20, 64, 130, 1, 1}, {1, 2, 8, 3, 9, 2}};
  uint32_t seed = 100;
  for (const EmuCase& c : cases) {
    CAPTURE(c.B, c.L, c.Cin, c.Cout, c.K, c.d);
    const ConvGeometry g{c.B, c.L, c.Cin, c.Cout, c.K, c.d};
    const std::vector<float> x = sr::test::random_vector(size_t(g.M()) * g.Cin, seed++);
    const std::vector<float> w = sr::test::random_vector(size_t(g.Ktot()) * g.Cout, seed++);
    REQUIRE(max_rel_diff(emulate_fp32(g, x, w), direct_conv(g, x, w)) < 1e-12);
  }
}

TEST_CASE("split-K counts of the default network's layers leave no split empty", "[emu][conv]") {
  // mma_tile::split_count is the rule conv1d_mma.cu launches with: for every layer of the default
  // network at batches 1..8 on 132 SMs (H100) and 78 SMs, the k-tile ranges are non-empty and
  // cover all k-tiles, a split launch fits the resident blocks (two per SM: one wave), and large
  // batches are not split.
  const EmuCase layers[] = {{1, 4096, 128, 256, 33, 2},  {1, 2048, 256, 512, 17, 2},
                            {1, 1024, 512, 512, 9, 2},   {1, 512, 512, 512, 9, 2},
                            {1, 256, 512, 1024, 9, 2},   {1, 512, 1024, 1024, 17, 2},
                            {1, 1024, 1024, 512, 33, 2}, {1, 2048, 512, 256, 65, 2}};
  for (const EmuCase& c : layers)
    for (int sms : {132, 78})
      for (int b = 1; b <= 8; ++b) {
        const ConvGeometry g{b, c.L, c.Cin, c.Cout, c.K, c.d};
        const int KT = g.Ktot() / 32;
        const int splits = sr::cuda::mma_tile::split_count(g, sms);
        const int tiles = ((g.M() + 127) / 128) * ((g.Cout + 127) / 128);
        CAPTURE(c.L, c.Cin, c.Cout, b, sms, splits, tiles);
        REQUIRE(splits >= 1);
        REQUIRE(splits <= 16);
        REQUIRE((splits == 1 || tiles * splits <= 2 * sms));
        const int per_split = (KT + splits - 1) / splits;
        REQUIRE((KT + per_split - 1) / per_split == splits);
        int covered = 0;
        for (int z = 0; z < splits; ++z) {
          int begin, end;
          split_range(KT, per_split, z, begin, end);
          REQUIRE(begin == covered);
          REQUIRE(end > begin);
          covered = end;
        }
        REQUIRE(covered == KT);
      }
  // U1 at batch 1: 32 tiles x 8 splits = 256 blocks <= 264 resident (9 splits made two waves).
  REQUIRE(sr::cuda::mma_tile::split_count(ConvGeometry{1, 1024, 1024, 512, 33, 2}, 132) == 8);
  // Batch 32 of the deepest layer fills the device without splitting.
  REQUIRE(sr::cuda::mma_tile::split_count(ConvGeometry{32, 1024, 1024, 512, 33, 2}, 132) == 1);
}

// ---------------------------------------------------------------------------------------------
// Epilogues: the store maps of the three places that apply one (the tensor-core kernel's staged
// fragments with the lane-pair shuffle, the FP32 kernel's register rows, and the one-thread-per-
// output conv_epilogue_kernel, whose map the direct and thin kernels share), each replayed over
// raw sums with conv1d_tiling.h's own functions, against the plain ops' definitions in double.
namespace {

using sr::cuda::ConvEpilogue;

struct EpiCase {
  bool pool2;
  int act;
  bool shuffle, tf_order;
};

// max_pool2, relu / leaky_relu and subpixel as the op list defines them, over raw + bias.
std::vector<double> reference_epilogue(const ConvGeometry& g, const std::vector<double>& raw,
                                       const std::vector<float>& bias, const EpiCase& c,
                                       float alpha, int64_t ldy, int64_t y_off, size_t y_size) {
  const int Lo = c.pool2 ? g.L / 2 : g.L;
  std::vector<double> y(y_size, std::nan(""));
  for (int b = 0; b < g.B; ++b)
    for (int t = 0; t < Lo; ++t)
      for (int n = 0; n < g.Cout; ++n) {
        auto at = [&](int tt) { return raw[(size_t(b) * g.L + tt) * g.Cout + n] + bias[n]; };
        double v = c.pool2 ? std::max(at(2 * t), at(2 * t + 1)) : at(t);
        if (c.act == sr::cuda::kActRelu) v = std::max(v, 0.0);
        if (c.act == sr::cuda::kActLeakyRelu) v = v > 0 ? v : double(alpha) * v;
        int64_t row = int64_t(b) * Lo + t, ch = n;
        if (c.shuffle) {
          const int C = g.Cout / 2;
          const int k = c.tf_order ? n / C : n % 2;
          ch = c.tf_order ? n % C : n / 2;
          row = int64_t(b) * 2 * Lo + 2 * t + k;
        }
        y[size_t(row * ldy + y_off + ch)] = v;
      }
  return y;
}

// The case's epilogue with leaky_relu slope 0.2; ldy is set by each test.
ConvEpilogue epilogue_of(const EpiCase& c) {
  ConvEpilogue e;
  e.pool2 = c.pool2;
  e.act = c.act;
  e.alpha = 0.2f;
  e.shuffle = c.shuffle;
  e.tf_order = c.tf_order;
  return e;
}

enum class StorePath { mma, fp32, per_output };

// Replays one store path into a NaN-filled y; returns y and counts writes per element.
std::vector<double> replay_epilogue(StorePath path, const ConvGeometry& g, const ConvEpilogue& e,
                                    const std::vector<double>& raw, const std::vector<float>& bias,
                                    int64_t y_off, size_t y_size, std::vector<int>& writes) {
  std::vector<double> y(y_size, std::nan(""));
  writes.assign(y_size, 0);
  double* out = y.data() + y_off;
  auto count = [&](int m, int n) {  // the element epilogue_store(m, n) writes, if any
    const int b = m / g.L, t = m % g.L, to = e.pool2 ? t / 2 : t;
    if (to < e.out_length(g.L)) ++writes[size_t(y_off + e.offset(g, b, to, n))];
  };
  auto store = [&](int m, int n, double v) {
    count(m, n);
    sr::cuda::epilogue_store(out, g, e, m, n, v);
  };
  auto value = [&](int m, int n) { return raw[size_t(m) * g.Cout + n] + double(bias[n]); };
  if (path == StorePath::mma) {
    namespace mt = sr::cuda::mma_tile;
    const int n_tiles_n = (g.Cout + mt::kBN - 1) / mt::kBN;
    const int blocks = ((g.M() + mt::kBM - 1) / mt::kBM) * n_tiles_n;
    for (int block = 0; block < blocks; ++block) {
      int m0, n0;
      mt::block_tile(block, n_tiles_n, m0, n0);
      for (int warp = 0; warp < mt::kThreads / 32; ++warp)
        for (int fi = 0; fi < 4; ++fi)
          for (int fj = 0; fj < 2; ++fj)
            for (int e8 = 0; e8 < 8; ++e8)
              for (int lane = 0; lane < 32; ++lane) {
                const int n = n0 + mt::warp_col0(warp) + fj * 16 + mt::stage_col(lane);
                const int r = mt::stage_row(e8, lane);
                const int m = m0 + mt::warp_row0(warp) + fi * 16 + r;
                if (e.pool2) {
                  if (lane >= 16) continue;
                  // __shfl_down_sync(v, 16): lane + 16 holds the next row of the same column.
                  REQUIRE(mt::stage_row(e8, lane + 16) == r + 1);
                  REQUIRE(mt::stage_col(lane + 16) == mt::stage_col(lane));
                  REQUIRE(m % 2 == 0);
                  if (m < g.M() && n < g.Cout)
                    store(m, n, sr::cuda::pool_max(value(m, n), value(m + 1, n)));
                } else if (m < g.M() && n < g.Cout) {
                  store(m, n, value(m, n));
                }
              }
    }
  } else if (path == StorePath::fp32) {
    namespace ft = sr::cuda::fp32_tile;
    const int n_tiles_n = (g.Cout + ft::kBN - 1) / ft::kBN;
    const int blocks = ((g.M() + ft::kBM - 1) / ft::kBM) * n_tiles_n;
    for (int block = 0; block < blocks; ++block) {
      const int m0 = (block / n_tiles_n) * ft::kBM, n0 = (block % n_tiles_n) * ft::kBN;
      for (int tid = 0; tid < ft::kThreads; ++tid)
        for (int i = 0; i < 8; i += 2)
          for (int p = 0; p < 2; p += e.pool2 ? 2 : 1) {
            const int m = m0 + ft::out_row(tid, i + p);
            if (m >= g.M()) continue;
            if (e.pool2) REQUIRE(ft::out_row(tid, i + 1) == ft::out_row(tid, i) + 1);
            for (int j = 0; j < 8; ++j) {
              const int n = n0 + ft::out_col(tid, j);
              if (n >= g.Cout) continue;
              store(m, n, e.pool2 ? sr::cuda::pool_max(value(m, n), value(m + 1, n)) : value(m, n));
            }
          }
    }
  } else {  // conv_epilogue_kernel's own body over float raw sums (one split)
    const int total = g.B * e.out_length(g.L) * g.Cout;
    std::vector<float> z(raw.begin(), raw.end()), yf(y_size, std::nanf(""));
    for (int i = 0; i < total; ++i) {
      int n;
      const int m = sr::cuda::out_row(g, e, i, n);
      count(m, n);
      sr::cuda::epilogue_output(z.data(), 1, bias.data(), yf.data() + y_off, g, e, i,
                                [](float v) { return v; });
    }
    for (size_t k = 0; k < y_size; ++k) y[k] = yf[k];
  }
  return y;
}

}  // namespace

TEST_CASE("emulated conv epilogues store what the plain ops compute", "[emu][conv]") {
  const EpiCase epilogues[] = {
      {false, sr::cuda::kActNone, false, true},      // strided store only
      {true, sr::cuda::kActLeakyRelu, false, true},  // down blocks
      {false, sr::cuda::kActRelu, true, true},       // up blocks, TF order
      {false, sr::cuda::kActRelu, true, false},      // up blocks, PT order
      {false, sr::cuda::kActNone, true, false},      // final layer
      {true, sr::cuda::kActRelu, true, true},        // all three
  };
  // Partial m- and n-tiles, tiles straddling batch items, two n-tiles; odd L only on the
  // per-output path (the in-kernel pools need even L, conv1d.cu routes odd L there).
  const EmuCase cases[] = {
      {2, 70, 32, 48, 9, 2}, {3, 130, 64, 136, 5, 1}, {1, 6, 32, 16, 3, 1}, {2, 37, 32, 24, 9, 2}};
  uint32_t seed = 500;
  for (const EmuCase& c : cases) {
    const ConvGeometry g{c.B, c.L, c.Cin, c.Cout, c.K, c.d};
    const std::vector<float> rv = sr::test::random_vector(size_t(g.M()) * g.Cout, seed++);
    const std::vector<double> raw(rv.begin(), rv.end());
    const std::vector<float> bias = sr::test::random_vector(size_t(g.Cout), seed++);
    for (const EpiCase& ec : epilogues) {
      ConvEpilogue e = epilogue_of(ec);
      const int Lo = e.out_length(g.L);
      const int rows = c.B * (ec.shuffle ? 2 * Lo : Lo);
      const int width = ec.shuffle ? c.Cout / 2 : c.Cout;
      e.ldy = width + 5;  // a slice at channel 3 of a wider buffer
      const int64_t y_off = 3;
      const size_t y_size = size_t(rows) * e.ldy;
      const std::vector<double> ref =
          reference_epilogue(g, raw, bias, ec, e.alpha, e.ldy, y_off, y_size);
      for (StorePath path : {StorePath::mma, StorePath::fp32, StorePath::per_output}) {
        if (path != StorePath::per_output && e.pool2 && g.L % 2) continue;
        CAPTURE(c.B, c.L, c.Cout, ec.pool2, ec.act, ec.shuffle, ec.tf_order, int(path));
        std::vector<int> writes;
        const std::vector<double> got =
            replay_epilogue(path, g, e, raw, bias, y_off, y_size, writes);
        int wrong_count = 0, wrong_value = 0;
        for (size_t i = 0; i < y_size; ++i) {
          const int64_t ch = int64_t(i) % e.ldy;
          const bool inside = ch >= y_off && ch < y_off + width;
          wrong_count += writes[i] != (inside ? 1 : 0);
          // Double replays are exact; the kernel body's float arithmetic rounds once per operation.
          const double tol = path == StorePath::per_output ? 1e-6 : 1e-12;
          if (inside)
            wrong_value += !(std::fabs(got[i] - ref[i]) <= tol * (1 + std::fabs(ref[i])));
          else
            wrong_value += !std::isnan(got[i]);
        }
        REQUIRE(wrong_count == 0);
        REQUIRE(wrong_value == 0);
      }
    }
  }
}

TEST_CASE("emulated direct and thin conv kernels compute the fused convolution", "[emu][conv]") {
  // The kernels' own per-thread bodies (direct_output; thin_partial, the warp's sum and the lane's
  // store), run for every thread on the CPU, against a float64 convolution and the plain ops.
  struct Case {
    int B, L, Cin, Cout, K, d;
    bool thin;
  };
  const Case cases[] = {{2, 64, 1, 16, 65, 2, false},
                        {1, 37, 3, 6, 9, 2, false},
                        {2, 40, 24, 2, 9, 1, true},
                        {3, 33, 70, 5, 5, 2, true}};
  const EpiCase epilogues[] = {{true, sr::cuda::kActLeakyRelu, false, true},
                               {false, sr::cuda::kActRelu, true, false},
                               {false, sr::cuda::kActNone, true, true},
                               {false, sr::cuda::kActNone, false, true}};
  uint32_t seed = 900;
  for (const Case& c : cases) {
    const ConvGeometry g{c.B, c.L, c.Cin, c.Cout, c.K, c.d};
    const std::vector<float> x = sr::test::random_vector(size_t(g.M()) * g.Cin, seed++);
    const std::vector<float> w = sr::test::random_vector(size_t(g.Ktot()) * g.Cout, seed++);
    const std::vector<float> bias = sr::test::random_vector(size_t(g.Cout), seed++);
    const std::vector<double> raw = direct_conv(g, x, w);
    for (const EpiCase& ec : epilogues) {
      if (ec.shuffle && c.Cout % 2) continue;
      ConvEpilogue e = epilogue_of(ec);
      const int Lo = e.out_length(g.L);
      const int width = ec.shuffle ? c.Cout / 2 : c.Cout;
      e.ldy = width + 3;
      const int64_t y_off = 2;
      const size_t y_size = size_t(c.B) * (ec.shuffle ? 2 * Lo : Lo) * e.ldy;
      const std::vector<double> ref =
          reference_epilogue(g, raw, bias, ec, e.alpha, e.ldy, y_off, y_size);
      std::vector<float> y(y_size, std::nanf(""));
      float* out = y.data() + y_off;
      if (!c.thin) {
        for (int i = 0; i < c.B * Lo * c.Cout; ++i)
          sr::cuda::direct_output(x.data(), w.data(), bias.data(), out, g, e, i);
      } else {
        for (int r = 0; r < c.B * Lo; ++r) {  // one warp per output row
          int unused;
          const int m = sr::cuda::out_row(g, e, r * c.Cout, unused);
          float result[sr::cuda::kThinMaxCout];
          for (int pass = 0; pass < (e.pool2 ? 2 : 1); ++pass) {
            float total[sr::cuda::kThinMaxCout] = {};
            for (int lane = 0; lane < 32; ++lane) {
              float acc[sr::cuda::kThinMaxCout];
              sr::cuda::thin_partial(x.data(), w.data(), g, m + pass, lane, acc);
              for (int co = 0; co < sr::cuda::kThinMaxCout; ++co) total[co] += acc[co];
            }
            for (int co = 0; co < c.Cout; ++co) {
              const float v = total[co] + bias[co];
              result[co] = pass == 0 ? v : sr::cuda::pool_max(result[co], v);
            }
          }
          for (int co = 0; co < c.Cout; ++co)
            sr::cuda::epilogue_store(out, g, e, m, co, result[co]);
        }
      }
      CAPTURE(c.B, c.L, c.Cin, c.Cout, c.thin, ec.pool2, ec.act, ec.shuffle, ec.tf_order);
      // float32 sums of Cin*K products of U(-1, 1) terms: 1e-5 * sqrt(n), as the CPU conv tests.
      const double tol = 1e-5 * std::sqrt(double(c.Cin * c.K));
      int wrong = 0;
      for (size_t i = 0; i < y_size; ++i) {
        const bool inside = std::isfinite(ref[i]);
        wrong += inside ? !(std::fabs(y[i] - ref[i]) <= tol) : !std::isnan(y[i]);
      }
      REQUIRE(wrong == 0);
    }
  }
}
