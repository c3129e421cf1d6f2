// Max pooling along the length axis: pairs (U-Net down blocks) and blocks (FiLM sites).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

// x: (B, L, C) -> y: (B, L/2, C), y[b,t,c] = max(x[b,2t,c], x[b,2t+1,c]); an odd last row is
// dropped (pool 2, stride 2, 'valid').
void max_pool2_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, Lo = L / 2;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < Lo; ++t) {
      const float* x0 = x.data + (b * L + 2 * t) * C;
      const float* x1 = x0 + C;
      float* yr = y.data + (b * Lo + t) * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = std::max(x0[c], x1[c]);
    }
  }
}

// x: (B, L, C), dy: (B, L/2, C) -> dx: (B, L, C), accumulated: dy[b,t,c] goes to the larger of
// x[b,2t,c] and x[b,2t+1,c], to the first on a tie (as std::max above and PyTorch pick it); an odd
// last row gets nothing.
void max_pool2_bwd(const OpGradCall& call) {
  const TensorView& x = call.forward.inputs[0];
  const TensorView& dy = call.grad_output;
  const TensorView& dx = call.grad_inputs[0];
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, Lo = L / 2;
  SR_CHECK((dy.shape == Shape{B, Lo, C}), "max_pool2_bwd: grad_output ", dy.shape.str(),
           " for input ", x.shape.str());
  if (!dx.data) return;
  SR_CHECK(dx.shape == x.shape, "max_pool2_bwd: grad_input ", dx.shape.str(), " != input ",
           x.shape.str());
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < Lo; ++t) {
      const float* x0 = x.data + (b * L + 2 * t) * C;
      const float* x1 = x0 + C;
      const float* dyr = dy.data + (b * Lo + t) * C;
      float* d0 = dx.data + (b * L + 2 * t) * C;
      float* d1 = d0 + C;
      for (int64_t c = 0; c < C; ++c) {
        if (x1[c] > x0[c]) {
          d1[c] += dyr[c];
        } else {
          d0[c] += dyr[c];
        }
      }
    }
  }
}

// x: (B, L, C) -> p: (B, L/S, C), p[b,n,c] = max_{0<=j<S} x[b, n*S + j, c]; S = params.block
// divides L.
void block_max_pool_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, S = call.params.block;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int64_t N = L / S;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t n = 0; n < N; ++n) {
      const float* xb = x.data + (b * L + n * S) * C;  // first row of the block
      float* yr = y.data + (b * N + n) * C;
      std::copy(xb, xb + C, yr);
      for (int64_t j = 1; j < S; ++j) {
        const float* xr = xb + j * C;
        for (int64_t c = 0; c < C; ++c) yr[c] = std::max(yr[c], xr[c]);
      }
    }
  }
}

// x: (B, L, C), dy: (B, L/S, C) -> dx: (B, L, C), accumulated: dy[b,n,c] goes to the row
// n*S + j of the block holding its maximum, the first such row on a tie (as the forward's
// std::max keeps the earlier value).
void block_max_pool_bwd(const OpGradCall& call) {
  const TensorView& x = call.forward.inputs[0];
  const TensorView& dy = call.grad_output;
  const TensorView& dx = call.grad_inputs[0];
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, S = call.forward.params.block;
  SR_CHECK(S >= 1, "block_max_pool_bwd: block must be >= 1, got ", S);
  SR_CHECK(L % S == 0, "block_max_pool_bwd: length ", L, " is not a multiple of block ", S);
  const int64_t N = L / S;
  SR_CHECK((dy.shape == Shape{B, N, C}), "block_max_pool_bwd: grad_output ", dy.shape.str(),
           " for input ", x.shape.str(), " and block ", S);
  if (!dx.data) return;
  SR_CHECK(dx.shape == x.shape, "block_max_pool_bwd: grad_input ", dx.shape.str(), " != input ",
           x.shape.str());
#pragma omp parallel
  {
    // Running maximum and its row per channel, so the block is read row by row (contiguous).
    std::vector<float> best(static_cast<size_t>(C));
    std::vector<int64_t> arg(static_cast<size_t>(C));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t n = 0; n < N; ++n) {
        const float* xb = x.data + (b * L + n * S) * C;  // first row of the block
        std::copy(xb, xb + C, best.begin());
        std::fill(arg.begin(), arg.end(), 0);
        for (int64_t j = 1; j < S; ++j) {
          const float* xr = xb + j * C;
          for (int64_t c = 0; c < C; ++c) {
            if (xr[c] > best[c]) {  // strict: a tie keeps the earlier row
              best[c] = xr[c];
              arg[c] = j;
            }
          }
        }
        const float* dyr = dy.data + (b * N + n) * C;
        float* dxb = dx.data + (b * L + n * S) * C;
        for (int64_t c = 0; c < C; ++c) dxb[arg[c] * C + c] += dyr[c];
      }
    }
  }
}

}  // namespace sr::cpu
