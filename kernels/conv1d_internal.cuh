// Pieces of the conv1d family shared between conv1d.cu (dispatch, FP32 paths), conv1d_mma.cu
// (tensor cores) and conv1d_cudnn.cu (the cuDNN baseline).
#pragma once

#include <cuda_bf16.h>

#include <string>

#include "conv1d_tiling.h"
#include "cuda_context.cuh"
#include "sr/ops.h"

namespace sr::cuda {

// The geometry (x row stride included) and the fused epilogue (y row stride included) of a call.
ConvGeometry conv_geometry(const OpCall& call);
ConvEpilogue conv_epilogue_of(const OpCall& call);

// Tensor-core implicit GEMM: y = epilogue(conv(x, w) + bias). x and w hold TF32-rounded-on-load
// floats (T = float) or bf16 copies (T = __nv_bfloat16). With `partial` set, split z of `splits`
// writes its raw sums to partial[z][M][Cout] instead (no bias, no epilogue) and the caller runs
// conv_epilogue over them: split-K, or a pool over an odd length. Requirements: mma_supported(g)
// (conv1d_tiling.h), 16-byte aligned x and w, and g.x_ld() % 4 == 0.
int mma_split_count(const ConvGeometry& g, int sm_count);
void conv1d_mma_tf32(CudaContext& ctx, const ConvGeometry& g, const float* x, const float* w,
                     const float* bias, float* y, const ConvEpilogue& e, int splits,
                     float* partial);
void conv1d_mma_bf16(CudaContext& ctx, const ConvGeometry& g, const __nv_bfloat16* x,
                     const __nv_bfloat16* w, const float* bias, float* y, const ConvEpilogue& e,
                     int splits, float* partial);
void conv1d_mma_init(const CudaContext& ctx);

// y = epilogue(sum over the splits planes of z (M, Cout) + bias), one thread per output element.
void conv_epilogue(CudaContext& ctx, const float* z, int splits, const float* bias, float* y,
                   const ConvGeometry& g, const ConvEpilogue& e);
void conv_epilogue(CudaContext& ctx, const __nv_bfloat16* z, const float* bias, float* y,
                   const ConvGeometry& g, const ConvEpilogue& e);

// dst (rows, cols) dense = bf16(src rows, ld floats apart), round to nearest even.
void convert_rows_to_bf16(CudaContext& ctx, const float* src, int64_t ld, __nv_bfloat16* dst,
                          int64_t rows, int64_t cols);
// dst[i] = bf16(src[i]), round to nearest even.
void convert_to_bf16(CudaContext& ctx, const float* src, __nv_bfloat16* dst, int64_t n);
// Weights (K, Cin, Cout) -> (Cout, K, Cin), cuDNN's KRSC filter layout with R = 1, as float or
// bf16.
void conv_weight_to_krsc(CudaContext& ctx, const float* w, float* dst, int K, int Cin, int Cout);
void conv_weight_to_krsc_bf16(CudaContext& ctx, const float* w, __nv_bfloat16* dst, int K, int Cin,
                              int Cout);

// The kernel conv1d_fwd_cuda picks for this call under ctx.options ("mma tf32 split-k 9", ...).
std::string conv1d_path_name(const OpCall& call, const CudaContext& ctx);

// Whether this build has the cuDNN baseline and libcudnn.so.9 loads (it is opened at run time).
bool cudnn_loadable();

// cuDNN (conv1d_cudnn.cu). Returns false when cuDNN offers no algorithm for this shape and
// precision (the caller then runs ours); throws when this build has no cuDNN.
bool conv1d_cudnn_fwd(const OpCall& call, const ConvGeometry& g, const ConvEpilogue& e,
                      CudaContext& ctx);
// Whether cuDNN ran this call's shape under ctx.options: 1 yes, 0 no algorithm (ours ran), -1 not
// searched yet.
int conv1d_cudnn_state(const OpCall& call, const CudaContext& ctx);

}  // namespace sr::cuda
