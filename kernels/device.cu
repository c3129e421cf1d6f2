// Device discovery (make_cuda_backend is in backend_cuda.cu).
#include "common.cuh"
#include "sr/backend.h"

namespace sr {

bool cuda_available() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error so later calls start clean
    return false;
  }
  return count > 0;
}

}  // namespace sr
