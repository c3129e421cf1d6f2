// Built when SR_CUDA=OFF or no nvcc was found: the CUDA backend is simply absent.
#include "sr/backend.h"
#include "sr/error.h"

namespace sr {

bool cuda_available() {
  return false;
}

std::unique_ptr<Backend> make_cuda_backend() {
  fail("this build has no CUDA backend (configured with SR_CUDA=OFF or without nvcc)");
}

}  // namespace sr
