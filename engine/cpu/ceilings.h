// What this CPU can do with the current thread settings, for benchmarks to print next to their
// own figures (sr-bench --ceilings, bench_cpu_forward --gemm-peak): one large sgemm through the
// BLAS the engine uses, and a large copy through OpenMP threads.
#pragma once

#include <cstddef>

namespace sr::cpu {

// Median GFLOP/s of `repeat` n x n x n sgemms (after one untimed call).
double sgemm_gflops(int n, int repeat = 3);

// Median GB/s (bytes read + written) of `repeat` copies of `bytes` bytes, split across the OpenMP
// threads (after one untimed copy that also faults the pages in).
double copy_gbps(size_t bytes, int repeat = 3);

// Peak GFLOP/s of one core's multiply-adds, data in registers (12 independent accumulators): FP32
// FMA on 8-float vectors (AVX2 + FMA), and BF16 dot products (AVX512_BF16 vdpbf16ps: 32 products
// into 16 FP32 sums; 2 flops a product). 0 where the CPU lacks the instructions.
double fma_peak_gflops();
double bf16_dot_peak_gflops();

}  // namespace sr::cpu
