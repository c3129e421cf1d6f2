// Measurement helpers over the CUDA backend for tools (sr-bench) and tests. Plain C++: no CUDA
// types. In a build without CUDA every function throws sr::Error (device_summary returns "").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sr/backend.h"
#include "sr/ops.h"

namespace sr::cuda_tools {

// Whether this build has the cuDNN baseline (ConvImpl::cudnn); false without CUDA.
bool has_cudnn();

// "NVIDIA H100 80GB HBM3, 132 SMs, sm_90, 79.1 GiB, driver 13.0"; "" when no device is visible.
std::string device_summary();

// Runs `program` eagerly on a CUDA backend (after one untimed warm-up pass) with a CUDA event pair
// around every node; returns each node's median time over `passes`, in milliseconds.
std::vector<double> time_nodes(Backend& backend, const std::vector<OpCall>& program, int passes);

// Median milliseconds per replay of the program's CUDA graph over `rounds` rounds of `reps`
// back-to-back replays (device time, no host synchronisation inside a round). Captures the graph
// first when needed (one run() call).
double time_replay(Backend& backend, const std::vector<OpCall>& program, uint64_t id, int reps,
                   int rounds = 3);

// The conv1d kernel the backend's options select for this call (for reports).
std::string conv1d_path(Backend& backend, const OpCall& call);

// Ceilings measured on the device: large cuBLAS GEMMs (n x n x n) in FP32, TF32 and BF16 (FP32
// accumulation), and a device-to-device copy of `copy_bytes` (counting bytes read + written).
struct Ceilings {
  int gemm_n = 0;
  double fp32_tflops = 0, tf32_tflops = 0, bf16_tflops = 0;
  size_t copy_bytes = 0;
  double copy_gbps = 0;
};
Ceilings measure_ceilings(int gemm_n, size_t copy_bytes);

}  // namespace sr::cuda_tools
