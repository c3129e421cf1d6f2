// Built when SR_CUDA=OFF or no nvcc was found: the CUDA backend is simply absent.
#include "cuda_tools.h"
#include "sr/backend.h"
#include "sr/error.h"

namespace sr {

bool cuda_available() {
  return false;
}

std::string cuda_unavailable_reason() {
  return "this build has no CUDA backend";
}

std::unique_ptr<Backend> make_cuda_backend(const BackendOptions&) {
  fail("this build has no CUDA backend (configured with SR_CUDA=OFF or without nvcc)");
}

namespace cuda_tools {

namespace {
[[noreturn]] void no_cuda() {
  fail("this build has no CUDA backend (configured with SR_CUDA=OFF or without nvcc)");
}
}  // namespace

bool has_cudnn() {
  return false;
}
std::string device_summary() {
  return "";
}
std::vector<double> time_nodes(Backend&, const std::vector<OpCall>&, int) {
  no_cuda();
}
double time_replay(Backend&, const std::vector<OpCall>&, uint64_t, int, int) {
  no_cuda();
}
std::string conv1d_path(Backend&, const OpCall&) {
  no_cuda();
}
Ceilings measure_ceilings(int, size_t) {
  no_cuda();
}

}  // namespace cuda_tools
}  // namespace sr
