#include "cpu/ceilings.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sr::cpu {

namespace {

template <typename F>
double median_seconds(int repeat, F&& run) {
  run();  // warm-up: pages, BLAS buffers, threads
  std::vector<double> t;
  for (int i = 0; i < std::max(1, repeat); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

double sgemm_gflops(int n, int repeat) {
  std::vector<float> a(static_cast<size_t>(n) * n, 0.5f), b(a), c(a.size(), 0.0f);
  const double s = median_seconds(repeat, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
  });
  return 2.0 * n * n * n / s / 1e9;
}

double copy_gbps(size_t bytes, int repeat) {
  const int64_t n = static_cast<int64_t>(bytes / sizeof(float));
  std::vector<float> src(static_cast<size_t>(n), 1.0f), dst(static_cast<size_t>(n));
  constexpr int64_t kChunk = int64_t{1} << 18;  // 1 MiB per task
  const double s = median_seconds(repeat, [&] {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i += kChunk)
      std::memcpy(dst.data() + i, src.data() + i, sizeof(float) * std::min(kChunk, n - i));
  });
  return 2.0 * static_cast<double>(n) * sizeof(float) / s / 1e9;
}

}  // namespace sr::cpu
