// The context every CUDA launcher receives: one stream, library handles, per-node scratch memory
// and weights converted once (bf16 copies, cuDNN filter layouts). No hidden globals (STYLE.md): the
// backend owns one context and passes it to each op.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "common.cuh"
#include "sr/backend.h"

namespace sr::cuda {

struct CudnnState;                            // conv1d_cudnn.cu
void destroy_cudnn_state(CudnnState* state);  // no-op without cuDNN

// Weights converted once per weight tensor and kept until it is released or re-uploaded.
enum class DerivedWeight { bf16, cudnn_fp32, cudnn_bf16 };

class CudaContext {
 public:
  explicit CudaContext(const BackendOptions& options);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  BackendOptions options;
  int device = 0;
  int sm_count = 0;
  size_t smem_optin = 0;   // largest dynamic shared memory a block may opt in to
  bool capturing = false;  // set by the backend while a program is captured into a CUDA graph
  CudnnState* cudnn = nullptr;

  // Scratch memory for the node being launched; every node may reuse the same bytes (one stream
  // orders them). Grows only outside graph capture: a captured graph holds raw pointers, so growth
  // (which frees the old buffer) bumps generation() and the backend re-captures stale graphs.
  void* scratch(size_t bytes);

  // A converted copy of `weight` (numel floats), built by `build(dst)` on the stream the first
  // time (outside capture), then reused. `bytes` is the size of the converted copy.
  const void* derived(const float* weight, int64_t numel, DerivedWeight kind, size_t bytes,
                      const std::function<void(void* dst)>& build);

  // Drops derived copies of weights that overlap [begin, begin + bytes): called on release and on
  // upload, so a freed-and-reused or overwritten weight never meets a stale copy. Never throws.
  void forget(const void* begin, size_t bytes) noexcept;

  // Changes whenever memory a captured graph may point into is freed.
  uint64_t generation() const { return generation_; }

 private:
  struct Derived {
    int64_t numel = 0;
    void* data = nullptr;
  };
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  void* cublas_workspace_ = nullptr;
  uint64_t generation_ = 0;
  std::map<std::pair<const float*, int>, Derived> derived_;
};

// Carves several aligned sub-buffers out of one scratch request.
class ScratchLayout {
 public:
  // Reserves `count` elements of T; returns the byte offset of the sub-buffer.
  template <typename T>
  size_t add(size_t count) {
    const size_t offset = (bytes_ + 255) / 256 * 256;
    bytes_ = offset + count * sizeof(T);
    return offset;
  }
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_ = 0;
};

template <typename T>
T* scratch_at(void* base, size_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

}  // namespace sr::cuda
