#include "cuda_context.cuh"

#include <cstdio>

namespace sr::cuda {

namespace {
// cuBLAS asks for a user workspace of at least 32 MiB on Hopper when it runs inside graph capture
// (it must not allocate there).
constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;
constexpr size_t kScratchGranule = size_t{1} << 20;
}  // namespace

CudaContext::CudaContext(const BackendOptions& opts) : options(opts) {
  SR_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  SR_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  sm_count = prop.multiProcessorCount;
  smem_optin = prop.sharedMemPerBlockOptin;
  try {
    SR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    SR_CUBLAS_CHECK(cublasCreate(&cublas));
    SR_CUBLAS_CHECK(cublasSetStream(cublas, stream));
    // Exact FP32 unless a call asks for TF32 through its compute type.
    SR_CUBLAS_CHECK(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH));
    SR_CUDA_CHECK(cudaMalloc(&cublas_workspace_, kCublasWorkspaceBytes));
    SR_CUBLAS_CHECK(cublasSetWorkspace(cublas, cublas_workspace_, kCublasWorkspaceBytes));
  } catch (...) {
    if (cublas) cublasDestroy(cublas);
    if (cublas_workspace_) cudaFree(cublas_workspace_);
    if (stream) cudaStreamDestroy(stream);
    throw;
  }
}

CudaContext::~CudaContext() {
  cudaStreamSynchronize(stream);
  for (auto& [key, d] : derived_) cudaFree(d.data);
  destroy_cudnn_state(cudnn);
  if (scratch_) cudaFree(scratch_);
  if (cublas) cublasDestroy(cublas);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  if (stream) cudaStreamDestroy(stream);
}

void* CudaContext::scratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return scratch_;
  SR_CHECK(!capturing, "CUDA scratch memory must grow during a graph capture (", bytes,
           " bytes needed, ", scratch_bytes_, " held): the program changed since its eager run");
  if (scratch_) {
    SR_CUDA_CHECK(cudaStreamSynchronize(stream));
    SR_CUDA_CHECK(cudaFree(scratch_));
    scratch_ = nullptr;
    scratch_bytes_ = 0;
    ++generation_;
  }
  const size_t want = (bytes + kScratchGranule - 1) / kScratchGranule * kScratchGranule;
  SR_CUDA_CHECK(cudaMalloc(&scratch_, want));
  scratch_bytes_ = want;
  return scratch_;
}

const void* CudaContext::derived(const float* weight, int64_t numel, DerivedWeight kind,
                                 size_t bytes, const std::function<void(void* dst)>& build) {
  const auto key = std::make_pair(weight, static_cast<int>(kind));
  auto it = derived_.find(key);
  if (it != derived_.end() && it->second.numel == numel) return it->second.data;
  SR_CHECK(!capturing, "a converted weight copy is missing during a graph capture");
  if (it != derived_.end()) {
    SR_CUDA_CHECK(cudaStreamSynchronize(stream));
    SR_CUDA_CHECK(cudaFree(it->second.data));
    derived_.erase(it);
    ++generation_;
  }
  void* data = nullptr;
  SR_CUDA_CHECK(cudaMalloc(&data, bytes > 0 ? bytes : 1));
  try {
    build(data);
  } catch (...) {
    cudaFree(data);
    throw;
  }
  derived_[key] = Derived{numel, data};
  return data;
}

void CudaContext::forget(const void* begin, size_t bytes) noexcept {
  const char* lo = static_cast<const char*>(begin);
  const char* hi = lo + bytes;
  for (auto it = derived_.begin(); it != derived_.end();) {
    const char* w_lo = reinterpret_cast<const char*>(it->first.first);
    const char* w_hi = w_lo + it->second.numel * sizeof(float);
    if (w_lo < hi && lo < w_hi) {
      if (cudaStreamSynchronize(stream) != cudaSuccess || cudaFree(it->second.data) != cudaSuccess)
        std::fprintf(stderr, "warning: freeing a converted CUDA weight copy failed\n");
      it = derived_.erase(it);
      ++generation_;
    } else {
      ++it;
    }
  }
}

}  // namespace sr::cuda
