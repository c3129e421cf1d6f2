// Defaults of the Backend interface that any backend can serve through its own primitives.
#include <vector>

#include "sr/backend.h"
#include "sr/error.h"

namespace sr {

void Backend::run_backward(const std::vector<OpGradCall>&, uint64_t) {
  fail("the ", description(), " backend has no backward passes yet: train with --backend cpu");
}

void Backend::fill_zero(float* ptr, size_t count) {
  const std::vector<float> zeros(count, 0.0f);
  upload(ptr, zeros.data(), count);
}

}  // namespace sr
