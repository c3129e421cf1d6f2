// The CUDA backend is a loadable module (libsr_cuda.so, built beside the executables) so that the
// tools start without the CUDA libraries: a CPU run never loads cuBLAS or cuDNN, and a binary
// built with CUDA still runs, on the CPU, where they are not installed. The module exports one
// C function returning this table; kernels/cuda_loader.cpp loads it on first use and forwards
// sr::cuda_available, sr::make_cuda_backend and sr::cuda_tools through it. Both sides are built
// by the same compiler in one build, so C++ types and sr::Error cross the boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cuda_tools.h"
#include "sr/backend.h"
#include "sr/ops.h"

namespace sr {

// Bumped whenever the table or a type it passes changes; the loader refuses other versions.
constexpr int kCudaModuleAbi = 1;

struct CudaModuleApi {
  int abi;
  bool (*cuda_available)();
  std::unique_ptr<Backend> (*make_cuda_backend)(const BackendOptions& options);
  bool (*has_cudnn)();
  std::string (*device_summary)();
  std::vector<double> (*time_nodes)(Backend& backend, const std::vector<OpCall>& program,
                                    int passes);
  double (*time_replay)(Backend& backend, const std::vector<OpCall>& program, uint64_t id, int reps,
                        int rounds);
  std::string (*conv1d_path)(Backend& backend, const OpCall& call);
  cuda_tools::Ceilings (*measure_ceilings)(int gemm_n, size_t copy_bytes);
};

}  // namespace sr

#define SR_CUDA_MODULE_ENTRY "sr_cuda_module_api"
#define SR_CUDA_MODULE_FILE "libsr_cuda.so"
extern "C" const sr::CudaModuleApi* sr_cuda_module_api();
