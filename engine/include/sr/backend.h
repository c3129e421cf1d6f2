// A backend owns memory and runs ops. CPU now, CUDA in kernels/; no CUDA types cross this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sr/ops.h"

namespace sr {

enum class BackendKind { cpu, cuda };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  virtual std::string description() const = 0;

  // Backend memory (host memory for the CPU, device memory for CUDA), in floats.
  virtual float* allocate(size_t count) = 0;
  virtual void release(float* ptr) = 0;
  virtual void upload(float* dst, const float* src, size_t count) = 0;
  virtual void download(float* dst, const float* src, size_t count) = 0;

  // Runs a planned program: the same `program_id` always names the same calls and pointers, so a
  // backend may record it once and replay it (CUDA graphs). Returns when results are readable.
  virtual void run(const std::vector<OpCall>& program, uint64_t program_id) = 0;

  // Training: runs backward calls in the given order (see OpGradCall in sr/ops.h). Backends
  // without backward passes throw.
  virtual void run_backward(const std::vector<OpGradCall>& program, uint64_t program_id);
  // Sets `count` floats of backend memory to zero.
  virtual void fill_zero(float* ptr, size_t count);
};

// Arithmetic of the CUDA convolutions and dense layers (the CPU always computes in FP32):
//   fp32  FFMA, the same arithmetic as the CPU up to summation order
//   tf32  tensor cores, inputs rounded to 10 mantissa bits, FP32 accumulation
//   bf16  tensor cores, convolution inputs rounded to 7 mantissa bits, FP32 accumulation (dense
//         layers run tf32)
// LSTM recurrences, attention softmax, layer norm and element-wise ops are FP32 in every mode.
enum class Precision { fp32, tf32, bf16 };
// Which convolution runs on CUDA: our kernels, or cuDNN (a baseline for benchmarks).
enum class ConvImpl { ours, cudnn };

struct BackendOptions {
  Precision precision = Precision::tf32;
  ConvImpl conv_impl = ConvImpl::ours;
};

const char* precision_name(Precision precision);
Precision parse_precision(const std::string& name);  // fp32, tf32, bf16; throws sr::Error
const char* conv_impl_name(ConvImpl impl);
ConvImpl parse_conv_impl(const std::string& name);  // ours, cudnn; throws sr::Error

std::unique_ptr<Backend> make_cpu_backend();
// CPU threads for the ops and BLAS; 0 = the cores not busy with other work (load average). On a
// machine busy with other work, fewer threads avoid the cost of threads waiting for each other.
// Throws sr::Error outside 0..max_cpu_threads().
void set_cpu_threads(int threads);
int max_cpu_threads();  // 4x the cores this process may use
// True when OpenBLAS is its OpenMP build (one thread pool with our OpenMP loops).
bool cpu_blas_uses_openmp();

// CUDA: true when this binary has the CUDA backend (its module, kernels/cuda_module.h, loads) and a
// device is visible.
bool cuda_available();
// Why cuda_available() is false ("" when it is true): no CUDA in this build, the module could not
// be loaded (and why), or no device is visible.
std::string cuda_unavailable_reason();
// Throws sr::Error when unavailable.
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options = {});

// "auto" picks CUDA when available, else the CPU. The options apply to CUDA only.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options = {});

}  // namespace sr
