// Shared CUDA helpers: the error checks of the one error policy (see sr/error.h), launch sizing
// and warp reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>
#include <tuple>

#include "sr/error.h"

#define SR_CUDA_CHECK(expr)                                                                     \
  do {                                                                                          \
    cudaError_t sr_cuda_status_ = (expr);                                                       \
    if (sr_cuda_status_ != cudaSuccess)                                                         \
      throw ::sr::Error(::sr::format("CUDA error: ", cudaGetErrorString(sr_cuda_status_), " [", \
                                     #expr, " at ", __FILE__, ":", __LINE__, "]"));             \
  } while (0)

// After every launch: catches bad configurations at the launch site.
#define SR_CUDA_CHECK_LAUNCH() SR_CUDA_CHECK(cudaGetLastError())

// Only in files that include <cublas_v2.h>.
#define SR_CUBLAS_CHECK(expr)                                                                    \
  do {                                                                                           \
    cublasStatus_t sr_cublas_status_ = (expr);                                                   \
    if (sr_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                              \
      throw ::sr::Error(::sr::format("cuBLAS error: ", cublasGetStatusString(sr_cublas_status_), \
                                     " [", #expr, " at ", __FILE__, ":", __LINE__, "]"));        \
  } while (0)

// Only in files that include <cudnn.h>.

namespace sr::cuda {

#ifndef SR_HOST_EXEC
// SR_LAUNCH_COOPERATIVE's launch object: the arguments converted to the kernel's parameter types,
// passed by address; a launch that cannot make every block resident throws.
template <typename... Params>
struct CooperativeLaunch {
  void (*kernel)(Params...);
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  template <typename... Args>
  void operator()(Args&&... args) const {
    std::tuple<Params...> values(static_cast<Params>(args)...);
    std::apply(
        [&](auto&... v) {
          void* ptrs[] = {static_cast<void*>(&v)...};
          SR_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), grid,
                                                    block, ptrs, smem, stream));
        },
        values);
  }
};
template <typename... Params>
CooperativeLaunch<Params...> cooperative_launch_of(void (*kernel)(Params...), dim3 grid, dim3 block,
                                                   size_t smem, cudaStream_t stream) {
  return {kernel, grid, block, smem, stream};
}
#endif

constexpr unsigned kFullMask = 0xffffffffu;

// Blocks for a grid-stride loop over n items: enough to fill the device several times over,
// never more than the items need.
inline unsigned grid_for(int64_t n, int threads, int sm_count) {
  const int64_t needed = (n + threads - 1) / threads;
  const int64_t cap = static_cast<int64_t>(sm_count > 0 ? sm_count : 132) * 16;
  return static_cast<unsigned>(needed < 1 ? 1 : (needed < cap ? needed : cap));
}

// Element-wise and layout kernels index with 32-bit integers (64-bit division is slow); their
// launchers check the element count with this first.
inline bool fits_int32(int64_t n) {
  return n >= 0 && n <= std::numeric_limits<int32_t>::max();
}

inline bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

// Launches and dynamic shared memory go through these two macros, which the host execution
// (kernels/host/host_exec.h, SR_HOST_EXEC) defines its own way:
//   SR_LAUNCH(kernel, grid, block, smem_bytes, stream)(args...)
//   SR_DYNAMIC_SHARED(T, name);  // T name[], the launch's dynamic shared memory
//   SR_LAUNCH_COOPERATIVE(kernel, grid, block, smem_bytes, stream)(args...): every block resident
//   at once, cooperative_groups::this_grid().sync() between phases (cudaLaunchCooperativeKernel)
#ifndef SR_HOST_EXEC
#define SR_LAUNCH(kernel, grid, block, smem, stream) kernel<<<grid, block, smem, stream>>>
#define SR_DYNAMIC_SHARED(T, name) extern __shared__ __align__(128) T name[]
#define SR_LAUNCH_COOPERATIVE(kernel, grid, block, smem, stream) \
  ::sr::cuda::cooperative_launch_of(kernel, grid, block, smem, stream)
#endif

#if defined(__CUDACC__) || defined(SR_HOST_EXEC)
// Grid-stride loop over n < 2^31 items: unsigned, so i + stride cannot overflow.
#define SR_GRID_STRIDE(i, n)                                                             \
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < static_cast<unsigned>(n); \
       i += gridDim.x * blockDim.x)

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
#endif

}  // namespace sr::cuda
