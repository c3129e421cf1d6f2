// Shared CUDA helpers: the error checks of the one error policy (see sr/error.h).
#pragma once

#include <cuda_runtime.h>

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
