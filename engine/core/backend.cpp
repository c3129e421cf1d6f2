// Defaults of the Backend interface that any backend can serve through its own primitives, and
// backend selection by name and options (plain C++, built with and without CUDA).
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

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::fp32:
      return "fp32";
    case Precision::tf32:
      return "tf32";
    case Precision::bf16:
      return "bf16";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "tf32") return Precision::tf32;
  if (name == "bf16") return Precision::bf16;
  fail("unknown precision '", name, "' (expected fp32, tf32 or bf16)");
}

const char* conv_impl_name(ConvImpl impl) {
  return impl == ConvImpl::cudnn ? "cudnn" : "ours";
}

ConvImpl parse_conv_impl(const std::string& name) {
  if (name == "ours") return ConvImpl::ours;
  if (name == "cudnn") return ConvImpl::cudnn;
  fail("unknown convolution implementation '", name, "' (expected ours or cudnn)");
}

std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "cuda") return make_cuda_backend(options);
  if (name == "auto") {
    if (cuda_available()) {
      try {
        return make_cuda_backend(options);
      } catch (const Error&) {
        // A device without a usable CUDA backend: the CPU still serves the request.
      }
    }
    return make_cpu_backend();
  }
  fail("unknown backend '", name, "' (expected auto, cpu or cuda)");
}

}  // namespace sr
