// LSTM (engine/cpu/lstm.cpp, spec 3): Keras layout, gate blocks [i f g o], zero initial state,
// the full h sequence out. FP32 throughout, whatever the backend precision: the recurrence
// compounds rounding over the steps, and the FLOPs are small (COSTS.md: latency, not FLOPs).
//
// First version, correctness first:
//   1. z (B, N, 4H) = x * kernel + bias for all B*N rows at once: one cuBLAS SGEMM.
//   2. One launch of lstm_step_kernel per step n: z_n += h_{n-1} * U, gates, c and h.
// Plan for the persistent version (not built yet): one cooperative launch per LSTM whose CTAs
// each own a slice of hidden units and keep their columns of U (4H x H floats in all: 4 MiB at
// H = 512, 32 KiB per CTA over 128 CTAs) in shared memory for all N steps; h_{n} is exchanged
// through global memory (or distributed shared memory within a thread-block cluster) behind one
// grid-wide barrier per step. That removes N launches and N re-reads of U per LSTM.
#include <vector>

#include "ops_cuda.cuh"

namespace sr::cuda {

namespace {

constexpr int kStepUnits = 32;  // hidden units per block (one warp per gate)
constexpr int kStepBatch = 4;   // batch rows per block
constexpr int kStepThreads = 4 * kStepUnits;

__device__ __forceinline__ float gate_sigmoid(float x, bool hard) {
  if (hard) return fminf(1.0f, fmaxf(0.0f, 0.2f * x + 0.5f));  // Keras 1.2 hard_sigmoid
  return 1.0f / (1.0f + expf(-x));
}

// One step n of the recurrence for kStepUnits hidden units and kStepBatch batch rows.
//   z: (B, N, 4H) input pre-activations (bias included); u: (H, 4H); y: (B, N, H) output, whose
//   row n-1 is h_{n-1}; c: (B, H) cell state, read (n > 0) and written.
// Phase 1: warp g (gate) lane l computes the recurrent sum for unit j0+l of gate g for the block's
//   batch rows; its reads of U row m are 32 consecutive floats (coalesced), h comes from shared
//   memory (a broadcast).
// Phase 2: thread (bb, l) combines the four gates of unit j0+l, batch row b0+bb.
// Grid: (ceil(H / 32), ceil(B / 4)).
__global__ void __launch_bounds__(kStepThreads)
    lstm_step_kernel(const float* __restrict__ z, const float* __restrict__ u,
                     float* __restrict__ y, float* __restrict__ c, int B, int N, int H, int n,
                     bool hard) {
  SR_DYNAMIC_SHARED(float, h_prev);  // (kStepBatch, H)
  __shared__ float zs[4][kStepBatch][kStepUnits];
  const int tid = threadIdx.x;
  const int j0 = blockIdx.x * kStepUnits, b0 = blockIdx.y * kStepBatch;

  for (int idx = tid; idx < kStepBatch * H; idx += kStepThreads) {
    const int bb = idx / H, m = idx % H, b = b0 + bb;
    h_prev[idx] = (n > 0 && b < B) ? y[(static_cast<size_t>(b) * N + (n - 1)) * H + m] : 0.0f;
  }
  __syncthreads();

  {
    const int g = tid / kStepUnits, l = tid % kStepUnits, j = j0 + l;
    float acc[kStepBatch];
#pragma unroll
    for (int bb = 0; bb < kStepBatch; ++bb) acc[bb] = 0.0f;
    if (n > 0 && j < H) {  // h_{-1} = 0 adds nothing
      const float* uc = u + static_cast<size_t>(g) * H + j;
      for (int m = 0; m < H; ++m) {
        const float w = uc[static_cast<size_t>(m) * 4 * H];
#pragma unroll
        for (int bb = 0; bb < kStepBatch; ++bb) acc[bb] += h_prev[bb * H + m] * w;
      }
    }
#pragma unroll
    for (int bb = 0; bb < kStepBatch; ++bb) zs[g][bb][l] = acc[bb];
  }
  __syncthreads();

  const int bb = tid / kStepUnits, l = tid % kStepUnits;
  const int b = b0 + bb, j = j0 + l;
  if (b >= B || j >= H) return;
  const float* zr = z + (static_cast<size_t>(b) * N + n) * 4 * H;
  const float zi = zr[j] + zs[0][bb][l];
  const float zf = zr[H + j] + zs[1][bb][l];
  const float zg = zr[2 * H + j] + zs[2][bb][l];
  const float zo = zr[3 * H + j] + zs[3][bb][l];
  const float ig = gate_sigmoid(zi, hard), fg = gate_sigmoid(zf, hard);
  const float og = gate_sigmoid(zo, hard), gg = tanhf(zg);
  float* cb = c + static_cast<size_t>(b) * H + j;
  const float c_prev = n > 0 ? *cb : 0.0f;
  const float c_new = fg * c_prev + ig * gg;
  *cb = c_new;
  y[(static_cast<size_t>(b) * N + n) * H + j] = og * tanhf(c_new);
}

size_t step_smem_bytes(int64_t H) {
  return static_cast<size_t>(kStepBatch) * static_cast<size_t>(H) * sizeof(float);
}

}  // namespace

void lstm_cuda_init(const CudaContext& ctx) {
  SR_CUDA_CHECK(cudaFuncSetAttribute(
      lstm_step_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
      static_cast<int>(ctx.smem_optin - 4 * kStepBatch * kStepUnits * sizeof(float))));
}

// x: (B, N, Cin), kernel (Cin, 4H), recurrent (H, 4H), bias (4H) -> h: (B, N, H)
void lstm_fwd_cuda(const OpCall& call, CudaContext& ctx) {
  const TensorView& x = call.inputs[0];
  const WeightView& kernel = call.weights[0];
  const WeightView& recurrent = call.weights[1];
  const WeightView& bias = call.weights[2];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, N = x.shape.l, Cin = x.shape.c, H = y.shape.c;
  const int64_t G = 4 * H;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  if (B == 0 || N == 0 || H == 0) return;
  SR_CHECK(fits_int32(B * N * G), "lstm: ", x.shape.str(), " with H = ", H, " too large");
  SR_CHECK(B / kStepBatch < 65535, "lstm: batch ", B, " too large");
  const size_t smem = step_smem_bytes(H);
  SR_CHECK(smem + 4 * kStepBatch * kStepUnits * sizeof(float) <= ctx.smem_optin, "lstm: H = ", H,
           " needs more shared memory than the device has");

  ScratchLayout layout;
  const size_t z_off = layout.add<float>(static_cast<size_t>(B * N * G));
  const size_t c_off = layout.add<float>(static_cast<size_t>(B * H));
  void* base = ctx.scratch(layout.bytes());
  float* z = scratch_at<float>(base, z_off);
  float* c = scratch_at<float>(base, c_off);

  // The input part does not depend on the state: all B*N rows in one exact FP32 GEMM.
  dense_forward(ctx, x.data, B * N, Cin, kernel.data, G, bias.data, z, /*relu=*/false,
                /*tf32=*/false);

  const bool hard = call.params.gate == GateActivation::hard_sigmoid;
  const dim3 grid(static_cast<unsigned>((H + kStepUnits - 1) / kStepUnits),
                  static_cast<unsigned>((B + kStepBatch - 1) / kStepBatch));
  for (int64_t n = 0; n < N; ++n) {
    SR_LAUNCH(lstm_step_kernel, grid, kStepThreads, smem, ctx.stream)
    (z, recurrent.data, y.data, c, static_cast<int>(B), static_cast<int>(N), static_cast<int>(H),
     static_cast<int>(n), hard);
    SR_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace sr::cuda
