// The entry point of libsr_cuda.so: the table of the CUDA backend's public functions
// (kernels/cuda_module.h). Only this symbol is exported (cuda_module.map).
#include "cuda_module.h"

extern "C" __attribute__((visibility("default"))) const sr::CudaModuleApi* sr_cuda_module_api() {
  static const sr::CudaModuleApi api = {
      sr::kCudaModuleAbi,
      &sr::cuda_available,
      &sr::make_cuda_backend,
      &sr::cuda_tools::has_cudnn,
      &sr::cuda_tools::device_summary,
      &sr::cuda_tools::time_nodes,
      &sr::cuda_tools::time_replay,
      &sr::cuda_tools::conv1d_path,
      &sr::cuda_tools::measure_ceilings,
  };
  return &api;
}
