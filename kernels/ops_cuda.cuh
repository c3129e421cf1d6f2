// CUDA launchers, one per op and pass, all with the same signature (the dispatch table in
// backend_cuda.cu is generated from SR_OP_LIST). Each checks shapes like its CPU twin in
// engine/cpu/, launches on ctx.stream and checks the launch. Kernels live beside their launcher,
// one .cu per op family.
#pragma once

#include "cuda_context.cuh"
#include "sr/ops.h"

namespace sr::cuda {

// conv1d.cu (+ conv1d_mma.cu, conv1d_cudnn.cu)
void conv1d_fwd_cuda(const OpCall& call, CudaContext& ctx);
// elementwise.cu
void leaky_relu_fwd_cuda(const OpCall& call, CudaContext& ctx);
void relu_fwd_cuda(const OpCall& call, CudaContext& ctx);
void prelu_fwd_cuda(const OpCall& call, CudaContext& ctx);
void add_fwd_cuda(const OpCall& call, CudaContext& ctx);
void dropout_fwd_cuda(const OpCall& call, CudaContext& ctx);
// pooling.cu
void max_pool2_fwd_cuda(const OpCall& call, CudaContext& ctx);
void block_max_pool_fwd_cuda(const OpCall& call, CudaContext& ctx);
// layout.cu
void subpixel_fwd_cuda(const OpCall& call, CudaContext& ctx);
void concat_fwd_cuda(const OpCall& call, CudaContext& ctx);
void modulate_fwd_cuda(const OpCall& call, CudaContext& ctx);
// lstm.cu
void lstm_fwd_cuda(const OpCall& call, CudaContext& ctx);
// The recurrence kernel lstm_fwd_cuda runs for batch B and H units: "persistent" (one cooperative
// launch for all steps) or "step" (one launch per step, when the persistent one cannot fit).
const char* lstm_path_name(int64_t B, int64_t H, const CudaContext& ctx);
// attention.cu
void linear_fwd_cuda(const OpCall& call, CudaContext& ctx);
void attention_fwd_cuda(const OpCall& call, CudaContext& ctx);
void layer_norm_fwd_cuda(const OpCall& call, CudaContext& ctx);
void pos_encoding_fwd_cuda(const OpCall& call, CudaContext& ctx);

// One-time per-device setup of each family (shared-memory opt-ins), run by the backend before
// any capture: attribute changes are not stream work and stay out of graphs.
void conv1d_cuda_init(const CudaContext& ctx);
void lstm_cuda_init(const CudaContext& ctx);
void attention_cuda_init(const CudaContext& ctx);

// Shared by linear and lstm: y (rows, Dout) = x (rows, Din) * w (Din, Dout) + bias [, ReLU], all
// row-major, through cuBLAS; tf32 selects the TF32 tensor-core compute type.
void dense_forward(CudaContext& ctx, const float* x, int64_t rows, int64_t din, const float* w,
                   int64_t dout, const float* bias, float* y, bool relu, bool tf32);

// y (rows, cols) += bias (cols) [, ReLU]; elementwise.cu.
void bias_act_cuda(CudaContext& ctx, float* y, const float* bias, int64_t rows, int64_t cols,
                   bool relu);

}  // namespace sr::cuda
