#include "cpu/ceilings.h"

#include <cblas.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

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

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

constexpr int64_t kPeakIterations = 20000000;

__attribute__((target("avx2,fma"))) float fma_loop(int64_t n) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  for (int64_t k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __asm__ volatile("" : "+x"(a));  // keeps the loop from being folded away
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f,avx512bf16"))) float bf16_loop(int64_t n) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  __m512i a = _mm512_set1_epi16(0x3f80), b = _mm512_set1_epi16(0x3800);  // 1.0, 2^-15 in BF16
  for (int64_t k = 0; k < n; ++k) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i)
      acc[i] =
          _mm512_dpbf16_ps(acc[i], reinterpret_cast<__m512bh>(a), reinterpret_cast<__m512bh>(b));
    __asm__ volatile("" : "+v"(a));
  }
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}

bool has_avx512_bf16() {
  if (!__builtin_cpu_supports("avx512f")) return false;  // also: the OS saves the zmm state
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax >> 5) & 1u;  // CPUID.(EAX=7, ECX=1):EAX bit 5, AVX512_BF16
}

template <typename F>
double peak_gflops(F&& loop, double flops_per_iteration) {
  volatile float sink = loop(kPeakIterations / 10);  // warm-up (clock ramp)
  const auto t0 = std::chrono::steady_clock::now();
  sink = loop(kPeakIterations);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  (void)sink;
  return flops_per_iteration * static_cast<double>(kPeakIterations) / s / 1e9;
}

}  // namespace

double fma_peak_gflops() {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0.0;
  return peak_gflops(fma_loop, 12 * 8 * 2);
}

double bf16_dot_peak_gflops() {
  if (!has_avx512_bf16()) return 0.0;
  return peak_gflops(bf16_loop, 12 * 32 * 2);
}
#else
double fma_peak_gflops() {
  return 0.0;
}
double bf16_dot_peak_gflops() {
  return 0.0;
}
#endif

}  // namespace sr::cpu
