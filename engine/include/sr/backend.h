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
};

std::unique_ptr<Backend> make_cpu_backend();

// CUDA: true when this binary has the CUDA backend compiled in and a device is visible.
bool cuda_available();
std::unique_ptr<Backend> make_cuda_backend();  // throws sr::Error when unavailable

// "auto" picks CUDA when available, else the CPU.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace sr
