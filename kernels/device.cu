// Device discovery. The CUDA op kernels and executor arrive with the CUDA backend issue; until
// then make_cuda_backend() refuses clearly and `--backend auto` uses the CPU.
#include "common.cuh"
#include "sr/backend.h"

namespace sr {

bool cuda_available() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

std::unique_ptr<Backend> make_cuda_backend() {
  if (!cuda_available()) fail("no CUDA device is visible to this process");
  fail("the CUDA backend's kernels are not implemented yet in this build; use --backend cpu");
}

}  // namespace sr
