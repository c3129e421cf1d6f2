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

}  // namespace sr::cpu
