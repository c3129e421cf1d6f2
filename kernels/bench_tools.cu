// Device ceilings for sr-bench: large cuBLAS GEMMs per precision and a device-to-device copy,
// measured on the card as found (METHOD.md: datasheet rates are only leads).
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <vector>

#include "common.cuh"
#include "conv1d_internal.cuh"
#include "cuda_tools.h"

namespace sr::cuda_tools {

namespace {

// Deterministic, non-zero data (timings on zeros can be optimistic: METHOD.md).
__global__ void fill_kernel(float* p, size_t n, uint32_t seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    uint32_t z = static_cast<uint32_t>(i) * 2654435761u + seed;
    z ^= z >> 15;
    z *= 2246822519u;
    z ^= z >> 13;
    p[i] = static_cast<float>(z & 0xffff) / 65536.0f - 0.5f;
  }
}
__global__ void to_bf16(const float* src, __nv_bfloat16* dst, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) { SR_CUDA_CHECK(cudaMalloc(&p, bytes)); }
  ~DeviceBuffer() { cudaFree(p); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    SR_CUDA_CHECK(cudaEventCreate(&start));
    SR_CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~Events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  Events(const Events&) = delete;
  Events& operator=(const Events&) = delete;
};

// Median over 5 timed calls after 2 warm-up calls, in milliseconds.
template <typename F>
double time_ms(F&& body, cudaStream_t stream) {
  Events ev;
  for (int i = 0; i < 2; ++i) body();
  std::vector<double> t;
  for (int i = 0; i < 5; ++i) {
    SR_CUDA_CHECK(cudaEventRecord(ev.start, stream));
    body();
    SR_CUDA_CHECK(cudaEventRecord(ev.stop, stream));
    SR_CUDA_CHECK(cudaEventSynchronize(ev.stop));
    float ms = 0;
    SR_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.start, ev.stop));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

bool has_cudnn() {
  return cuda::cudnn_loadable();  // built with the header, and libcudnn.so.9 loads
}

std::string device_summary() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return "";
  }
  int device = 0, driver = 0;
  cudaGetDevice(&device);
  cudaDriverGetVersion(&driver);
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "";
  return format(prop.name, ", ", prop.multiProcessorCount, " SMs, sm_", prop.major, prop.minor,
                ", ", prop.totalGlobalMem / double(1 << 30), " GiB, driver ", driver / 1000, ".",
                (driver % 1000) / 10);
}

Ceilings measure_ceilings(int n, size_t copy_bytes) {
  SR_CHECK(n > 0 && copy_bytes > 0, "measure_ceilings: empty sizes");
  Ceilings c;
  c.gemm_n = n;
  c.copy_bytes = copy_bytes;
  cudaStream_t stream = nullptr;
  cublasHandle_t handle = nullptr;
  SR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  try {
    SR_CUBLAS_CHECK(cublasCreate(&handle));
    SR_CUBLAS_CHECK(cublasSetStream(handle, stream));
    const size_t elems = static_cast<size_t>(n) * n;
    DeviceBuffer a(elems * 4), b(elems * 4), out(elems * 4), a16(elems * 2), b16(elems * 2);
    fill_kernel<<<1024, 256, 0, stream>>>(static_cast<float*>(a.p), elems, 1);
    SR_CUDA_CHECK_LAUNCH();
    fill_kernel<<<1024, 256, 0, stream>>>(static_cast<float*>(b.p), elems, 2);
    SR_CUDA_CHECK_LAUNCH();
    to_bf16<<<1024, 256, 0, stream>>>(static_cast<float*>(a.p), static_cast<__nv_bfloat16*>(a16.p),
                                      elems);
    SR_CUDA_CHECK_LAUNCH();
    to_bf16<<<1024, 256, 0, stream>>>(static_cast<float*>(b.p), static_cast<__nv_bfloat16*>(b16.p),
                                      elems);
    SR_CUDA_CHECK_LAUNCH();
    const float alpha = 1.0f, beta = 0.0f;
    auto gemm = [&](const void* A, const void* B, cudaDataType_t type,
                    cublasComputeType_t compute) {
      SR_CUBLAS_CHECK(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, A, type, n, B,
                                   type, n, &beta, out.p, CUDA_R_32F, n, compute,
                                   CUBLAS_GEMM_DEFAULT));
    };
    const double flop = 2.0 * n * double(n) * n;
    c.fp32_tflops =
        flop / (time_ms([&] { gemm(a.p, b.p, CUDA_R_32F, CUBLAS_COMPUTE_32F); }, stream) * 1e-3) /
        1e12;
    c.tf32_tflops =
        flop /
        (time_ms([&] { gemm(a.p, b.p, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32); }, stream) *
         1e-3) /
        1e12;
    c.bf16_tflops =
        flop /
        (time_ms([&] { gemm(a16.p, b16.p, CUDA_R_16BF, CUBLAS_COMPUTE_32F); }, stream) * 1e-3) /
        1e12;

    DeviceBuffer src(copy_bytes), dst(copy_bytes);
    fill_kernel<<<1024, 256, 0, stream>>>(static_cast<float*>(src.p), copy_bytes / 4, 3);
    SR_CUDA_CHECK_LAUNCH();
    const double ms = time_ms(
        [&] {
          SR_CUDA_CHECK(
              cudaMemcpyAsync(dst.p, src.p, copy_bytes, cudaMemcpyDeviceToDevice, stream));
        },
        stream);
    c.copy_gbps = 2.0 * copy_bytes / (ms * 1e-3) / 1e9;  // read + write
  } catch (...) {
    if (handle) cublasDestroy(handle);
    cudaStreamDestroy(stream);
    throw;
  }
  cublasDestroy(handle);
  cudaStreamDestroy(stream);
  return c;
}

}  // namespace sr::cuda_tools
