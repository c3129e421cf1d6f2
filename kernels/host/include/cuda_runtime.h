// Host execution (../host_exec.h): the part of the CUDA runtime API the kernel files call, on host
// memory. Streams are nominal (a launch runs to completion before it returns), memory is
// posix_memalign'd with the exact size asked for, so AddressSanitizer sees an access past its end.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "../host_exec.h"

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = sr::host::kErrorInvalidValue,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = sr::host::kErrorInvalidConfiguration,
  cudaErrorCooperativeLaunchTooLarge = sr::host::kErrorCooperativeLaunchTooLarge,
};
using cudaError = cudaError_t;
struct CUstream_st;
using cudaStream_t = CUstream_st*;
constexpr unsigned cudaStreamNonBlocking = 1;
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
constexpr int cudaSharedmemCarveoutMaxShared = 100;

struct cudaDeviceProp {
  int multiProcessorCount = sr::host::sm_count();
  size_t sharedMemPerBlockOptin = sr::host::kSharedOptin;
};

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorCooperativeLaunchTooLarge:
      return "too many blocks in cooperative launch";
  }
  return "unknown error";
}
inline cudaError_t cudaGetLastError() {
  return static_cast<cudaError_t>(sr::host::take_last_error());
}
inline cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
inline cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int) {
  *prop = cudaDeviceProp{};
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = nullptr;
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t) {
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) {
  return cudaSuccess;
}
inline cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = nullptr;
  return posix_memalign(p, 256, bytes > 0 ? bytes : 1) == 0 ? cudaSuccess
                                                            : cudaErrorMemoryAllocation;
}
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t = nullptr) {
  std::memset(p, value, bytes);
  return cudaSuccess;
}
// The dynamic shared memory opt-in is enforced at launch; the carveout (a percentage, or -1 for
// the driver's default) is a hint with no host meaning, checked for range only.
template <typename... Params>
cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attr, int value) {
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout)
    return value >= -1 && value <= 100 ? cudaSuccess : cudaErrorInvalidValue;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      value > sr::host::kSharedOptin)
    return cudaErrorInvalidValue;
  sr::host::set_max_dynamic_shared(reinterpret_cast<const void*>(kernel), value);
  return cudaSuccess;
}

// Blocks of a kernel one SM holds at once, as the occupancy calculator counts them on an H100: at
// most 32 blocks and 2048 threads (whole warps), and 228 KiB of shared memory with 1 KiB reserved
// per block. Registers and static shared memory are not modelled.
template <typename... Params>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, void (*)(Params...),
                                                          int block_size, size_t smem) {
  if (block_size <= 0 || block_size > 1024) return cudaErrorInvalidValue;
  const size_t warps = (static_cast<size_t>(block_size) + 31) / 32;
  size_t n = std::min<size_t>(32, 64 / warps);
  n = std::min(n, static_cast<size_t>(sr::host::kSharedPerSm) / (smem + 1024));
  *blocks = static_cast<int>(n);
  return cudaSuccess;
}
