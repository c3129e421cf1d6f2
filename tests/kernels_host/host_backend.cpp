#include "host_backend.h"

#include <cstring>

#include "conv1d_internal.cuh"
#include "cuda_context.cuh"
#include "ops_cuda.cuh"

namespace sr::kernel_host {

namespace {

using HostForward = void (*)(const OpCall&, cuda::CudaContext&);

constexpr HostForward kHostForward[] = {
#define SR_HOST_FORWARD(name, n_in, n_w) &cuda::name##_fwd_cuda,
    SR_OP_LIST(SR_HOST_FORWARD)
#undef SR_HOST_FORWARD
};
static_assert(sizeof(kHostForward) / sizeof(kHostForward[0]) == kOpCount, "host op table");

BackendOptions options(Precision precision) {
  BackendOptions o;
  o.precision = precision;
  return o;
}

class HostCudaBackend : public Backend {
 public:
  explicit HostCudaBackend(Precision precision) : ctx_(options(precision)) {
    // What the device backend does once per device (shared-memory opt-ins).
    cuda::conv1d_cuda_init(ctx_);
    cuda::lstm_cuda_init(ctx_);
    cuda::attention_cuda_init(ctx_);
  }
  BackendKind kind() const override { return BackendKind::cuda; }
  std::string description() const override { return "CUDA kernels, host execution"; }
  float* allocate(size_t count) override {
    void* p = nullptr;
    SR_CUDA_CHECK(cudaMalloc(&p, count * sizeof(float)));
    return static_cast<float*>(p);
  }
  void release(float* ptr) override {
    ctx_.forget(ptr, sizeof(float));  // derived copies are keyed by the first element's address
    cudaFree(ptr);
  }
  void upload(float* dst, const float* src, size_t count) override {
    ctx_.forget(dst, count * sizeof(float));
    std::memcpy(dst, src, count * sizeof(float));
  }
  void download(float* dst, const float* src, size_t count) override {
    std::memcpy(dst, src, count * sizeof(float));
  }
  void run(const std::vector<OpCall>& program, uint64_t) override {
    for (const OpCall& call : program) kHostForward[static_cast<int>(call.op)](call, ctx_);
  }

 private:
  cuda::CudaContext ctx_;
};

}  // namespace

std::unique_ptr<Backend> make_host_cuda_backend(Precision precision) {
  return std::make_unique<HostCudaBackend>(precision);
}

std::unique_ptr<Backend> make_reference_backend() {
  set_cpu_threads(1);
  return make_cpu_backend();
}

std::string conv1d_path(const OpCall& call, Precision precision) {
  const cuda::CudaContext ctx(options(precision));
  return cuda::conv1d_path_name(call, ctx);
}

std::string lstm_path(int64_t B, int64_t H) {
  const cuda::CudaContext ctx(options(Precision::fp32));
  return cuda::lstm_path_name(B, H, ctx);
}

}  // namespace sr::kernel_host
