// LSTM (engine/cpu/lstm.cpp, spec 3): Keras layout, gate blocks [i f g o], zero initial state,
// the full h sequence out. FP32 throughout, whatever the backend precision: the recurrence
// compounds rounding over the steps, and the FLOPs are small (COSTS.md: latency, not FLOPs).
//
//   1. z (B, N, 4H) = x * kernel + bias for all B*N rows at once: one cuBLAS SGEMM.
//   2. The recurrence z_n += h_{n-1} * U, gates, c and h, by one of two kernels:
//      - lstm_persistent_kernel, one cooperative launch for all N steps. Why: the steps are
//        dependent and tiny (B x H x 4H), so a launch per step is mostly launch latency and a
//        re-read of U from L2/HBM; the default TFiLM runs 1,120 steps over 9 LSTM nodes, which
//        become 9 launches. Each block owns kPersistUnits hidden units and keeps their 4 gate
//        columns of U in shared memory, and their cell state, for all N steps; h_n is exchanged
//        through the output y behind one grid-wide barrier per step.
//      - lstm_step_kernel, one launch per step: the fallback when the persistent kernel's shared
//        memory does not fit a block or its grid cannot be resident at once (lstm_path_name).
#include <cooperative_groups.h>

#include <algorithm>
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

constexpr int kPersistUnits = 8;                 // hidden units per block
constexpr int kPersistCols = 4 * kPersistUnits;  // their gate columns of U: one per lane
constexpr int kPersistWarps = 4;                 // the recurrent sum is split over 4 warps
constexpr int kPersistThreads = 32 * kPersistWarps;
constexpr int kPersistBatch = 4;  // batch rows per pass over the block

// All N steps for kPersistUnits hidden units j0.. (j0 = blockIdx.x * kPersistUnits), every batch
// row. Cooperative launch, grid ceil(H / kPersistUnits), all blocks resident.
//   z: (B, N, 4H) input pre-activations (bias included); u: (H, 4H); y: (B, N, H) output, whose
//   row n-1 is h_{n-1} (written by every block, read by every block after the grid barrier).
// Shared memory (floats): u_s (H, kPersistCols), lane l's column is gate l / kPersistUnits of unit
//   j0 + l % kPersistUnits, loaded once; h_s (kPersistBatch, H); part (kPersistWarps,
//   kPersistBatch, kPersistCols) the warps' partial sums; c_s (B, kPersistUnits) the cell state.
// Per step and batch pass: warp w lane l sums h[b][m] * U[m][col l] over m = w, w + 4, ...
//   (u_s rows are 32 consecutive floats, h_s a broadcast); then thread (bb, jj) of warp 0 adds
//   the four partials of each gate to z and updates c and h of unit j0 + jj, row b0 + bb.
__global__ void __launch_bounds__(kPersistThreads)
    lstm_persistent_kernel(const float* __restrict__ z, const float* __restrict__ u, float* y,
                           int B, int N, int H, bool hard) {
  SR_DYNAMIC_SHARED(float, smem);
  float* u_s = smem;
  float* h_s = u_s + static_cast<size_t>(H) * kPersistCols;
  float* part = h_s + static_cast<size_t>(kPersistBatch) * H;
  float* c_s = part + kPersistWarps * kPersistBatch * kPersistCols;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int j0 = blockIdx.x * kPersistUnits;
  cooperative_groups::grid_group grid = cooperative_groups::this_grid();

  // U's columns of this block, once for all steps (the first pass's __syncthreads orders them).
  for (int idx = tid; idx < H * kPersistCols; idx += kPersistThreads) {
    const int m = idx / kPersistCols, l = idx % kPersistCols, j = j0 + l % kPersistUnits;
    u_s[idx] = j < H ? u[static_cast<size_t>(m) * 4 * H + (l / kPersistUnits) * H + j] : 0.0f;
  }

  for (int n = 0; n < N; ++n) {
    for (int b0 = 0; b0 < B; b0 += kPersistBatch) {
      for (int idx = tid; idx < kPersistBatch * H; idx += kPersistThreads) {
        const int bb = idx / H, m = idx % H, b = b0 + bb;
        h_s[idx] = (n > 0 && b < B) ? y[(static_cast<size_t>(b) * N + (n - 1)) * H + m] : 0.0f;
      }
      __syncthreads();

      float acc[kPersistBatch];
#pragma unroll
      for (int bb = 0; bb < kPersistBatch; ++bb) acc[bb] = 0.0f;
      if (n > 0) {  // h_{-1} = 0 adds nothing
        for (int m = warp; m < H; m += kPersistWarps) {
          const float w = u_s[m * kPersistCols + lane];
#pragma unroll
          for (int bb = 0; bb < kPersistBatch; ++bb) acc[bb] += h_s[bb * H + m] * w;
        }
      }
#pragma unroll
      for (int bb = 0; bb < kPersistBatch; ++bb)
        part[(warp * kPersistBatch + bb) * kPersistCols + lane] = acc[bb];
      __syncthreads();  // (the next pass's h_s and part writes come after its first barrier)

      static_assert(kPersistBatch * kPersistUnits <= kPersistThreads, "one thread per (bb, jj)");
      const int bb = tid / kPersistUnits, jj = tid % kPersistUnits;
      const int b = b0 + bb, j = j0 + jj;
      if (tid < kPersistBatch * kPersistUnits && b < B && j < H) {
        const float* zr = z + (static_cast<size_t>(b) * N + n) * 4 * H;
        float zs[4];
#pragma unroll
        for (int g = 0; g < 4; ++g) {
          float s = zr[g * H + j];
#pragma unroll
          for (int w = 0; w < kPersistWarps; ++w)
            s += part[(w * kPersistBatch + bb) * kPersistCols + g * kPersistUnits + jj];
          zs[g] = s;
        }
        const float ig = gate_sigmoid(zs[0], hard), fg = gate_sigmoid(zs[1], hard);
        const float gg = tanhf(zs[2]), og = gate_sigmoid(zs[3], hard);
        float* cb = c_s + b * kPersistUnits + jj;  // only this thread touches it
        const float c_new = fg * (n > 0 ? *cb : 0.0f) + ig * gg;
        *cb = c_new;
        y[(static_cast<size_t>(b) * N + n) * H + j] = og * tanhf(c_new);
      }
    }
    // h_n of every block is in y before any block reads it (the barrier also orders memory).
    if (n + 1 < N) grid.sync();
  }
}

size_t persistent_smem_bytes(int64_t B, int64_t H) {
  const int64_t floats = H * kPersistCols + kPersistBatch * H +
                         kPersistWarps * kPersistBatch * kPersistCols + B * kPersistUnits;
  return static_cast<size_t>(floats) * sizeof(float);
}

int64_t persistent_blocks(int64_t H) {
  return (H + kPersistUnits - 1) / kPersistUnits;
}

// The persistent kernel runs when one block's shared memory (U slice, h of a batch pass, cell
// state) fits the opt-in and every block of its grid can be resident at once, as a cooperative
// launch requires; otherwise the per-step kernel does.
bool persistent_fits(int64_t B, int64_t H, const CudaContext& ctx) {
  const size_t smem = persistent_smem_bytes(B, H);
  if (smem > ctx.smem_optin) return false;
  int per_sm = 0;
  SR_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, lstm_persistent_kernel,
                                                              kPersistThreads, smem));
  int64_t resident = static_cast<int64_t>(per_sm) * ctx.sm_count;
#ifdef SR_HOST_EXEC
  // The host execution runs a cooperative grid on one host thread per CUDA thread.
  resident = std::min<int64_t>(resident, sr::host::kMaxHostThreads / kPersistThreads);
#endif
  return persistent_blocks(H) <= resident;
}

}  // namespace

const char* lstm_path_name(int64_t B, int64_t H, const CudaContext& ctx) {
  return persistent_fits(B, H, ctx) ? "persistent" : "step";
}

void lstm_cuda_init(const CudaContext& ctx) {
  SR_CUDA_CHECK(cudaFuncSetAttribute(
      lstm_step_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
      static_cast<int>(ctx.smem_optin - 4 * kStepBatch * kStepUnits * sizeof(float))));
  SR_CUDA_CHECK(cudaFuncSetAttribute(lstm_persistent_kernel,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(ctx.smem_optin)));
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
  if (persistent_fits(B, H, ctx)) {
    SR_LAUNCH_COOPERATIVE(lstm_persistent_kernel, dim3(static_cast<unsigned>(persistent_blocks(H))),
                          dim3(kPersistThreads), persistent_smem_bytes(B, H), ctx.stream)
    (z, recurrent.data, y.data, static_cast<int>(B), static_cast<int>(N), static_cast<int>(H),
     hard);
    SR_CUDA_CHECK_LAUNCH();
    return;
  }
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
