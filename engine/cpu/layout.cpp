// Ops that move or scale data along the length and channel axes: subpixel shuffle, channel
// concatenation and block-wise modulation (FiLM sites).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

// x: (B, W, 2C) -> y: (B, 2W, C), factor 2, channel order params.order (spec section 2):
//   tf: y[b, 2w+k, c] = x[b, w, k*C + c]   (a row-major reshape: the same bytes in the same order)
//   pt: y[b, 2w+k, c] = x[b, w, 2c + k]    (1-D PixelShuffle)
void subpixel_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, W = x.shape.l, C2 = x.shape.c, C = C2 / 2;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const bool tf = call.params.order == SubpixelOrder::tf;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t w = 0; w < W; ++w) {
      const float* xr = x.data + (b * W + w) * C2;
      for (int64_t k = 0; k < 2; ++k) {
        float* yr = y.data + (b * 2 * W + 2 * w + k) * C;
        if (tf) {
          for (int64_t c = 0; c < C; ++c) yr[c] = xr[k * C + c];
        } else {
          for (int64_t c = 0; c < C; ++c) yr[c] = xr[2 * c + k];
        }
      }
    }
  }
}

// dy: (B, 2W, C) -> dx: (B, W, 2C), accumulated through the inverse of the forward index map:
//   tf: dx[b, w, k*C + c] += dy[b, 2w+k, c]
//   pt: dx[b, w, 2c + k]  += dy[b, 2w+k, c]
void subpixel_bwd(const OpGradCall& call) {
  const Shape& xs = call.forward.inputs[0].shape;
  const TensorView& dy = call.grad_output;
  const TensorView& dx = call.grad_inputs[0];
  const int64_t B = xs.b, W = xs.l, C2 = xs.c, C = C2 / 2;
  SR_CHECK(C2 % 2 == 0, "subpixel_bwd: input channels ", C2, " are odd");
  SR_CHECK((dy.shape == Shape{B, 2 * W, C}), "subpixel_bwd: grad_output ", dy.shape.str(),
           " for input ", xs.str());
  if (!dx.data) return;
  SR_CHECK(dx.shape == xs, "subpixel_bwd: grad_input ", dx.shape.str(), " != input ", xs.str());
  const bool tf = call.forward.params.order == SubpixelOrder::tf;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t w = 0; w < W; ++w) {
      float* dxr = dx.data + (b * W + w) * C2;
      for (int64_t k = 0; k < 2; ++k) {
        const float* dyr = dy.data + (b * 2 * W + 2 * w + k) * C;
        if (tf) {
          for (int64_t c = 0; c < C; ++c) dxr[k * C + c] += dyr[c];
        } else {
          for (int64_t c = 0; c < C; ++c) dxr[2 * c + k] += dyr[c];
        }
      }
    }
  }
}

// a: (B, L, C1), b: (B, L, C2) -> y: (B, L, C1 + C2), a's channels first.
void concat_fwd(const OpCall& call) {
  const TensorView& a = call.inputs[0];
  const TensorView& b = call.inputs[1];
  const TensorView& y = call.output;
  const int64_t B = a.shape.b, L = a.shape.l, C1 = a.shape.c, C2 = b.shape.c, C = C1 + C2;
  check_op_call(call);  // shapes (infer_shape) and which views may be strided
  const int64_t rows = B * L;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y.data + r * C;
    std::copy(a.data + r * C1, a.data + (r + 1) * C1, yr);
    std::copy(b.data + r * C2, b.data + (r + 1) * C2, yr + C1);
  }
}

// dy: (B, L, C1 + C2) -> da: (B, L, C1) += dy[..., :C1], db: (B, L, C2) += dy[..., C1:].
// Rows are independent; a and b may be one tensor (then C1 = C2 and both halves land in it).
void concat_bwd(const OpGradCall& call) {
  const Shape& as = call.forward.inputs[0].shape;
  const Shape& bs = call.forward.inputs[1].shape;
  const TensorView& dy = call.grad_output;
  const TensorView& da = call.grad_inputs[0];
  const TensorView& db = call.grad_inputs[1];
  const int64_t B = as.b, L = as.l, C1 = as.c, C2 = bs.c, C = C1 + C2;
  SR_CHECK(bs.b == B && bs.l == L, "concat_bwd: inputs ", as.str(), " and ", bs.str(),
           " differ in batch or length");
  SR_CHECK((dy.shape == Shape{B, L, C}), "concat_bwd: grad_output ", dy.shape.str(), " expected (",
           B, ", ", L, ", ", C, ")");
  SR_CHECK(!da.data || da.shape == as, "concat_bwd: grad_input 0 ", da.shape.str(),
           " != ", as.str());
  SR_CHECK(!db.data || db.shape == bs, "concat_bwd: grad_input 1 ", db.shape.str(),
           " != ", bs.str());
  const int64_t rows = B * L;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* dyr = dy.data + r * C;
    if (da.data) {
      float* dar = da.data + r * C1;
      for (int64_t c = 0; c < C1; ++c) dar[c] += dyr[c];
    }
    if (db.data) {
      float* dbr = db.data + r * C2;
      for (int64_t c = 0; c < C2; ++c) dbr[c] += dyr[C1 + c];
    }
  }
}

// x: (B, L, C), m: (B, N, C) with L = N*S, S = params.block -> y: (B, L, C)
// y[b, n*S + j, c] = x[b, n*S + j, c] * m[b, n, c]; y may be a channel slice (rows ld apart).
void modulate_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& m = call.inputs[1];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, S = call.params.block;
  check_op_call(call);
  const int64_t N = L / S, ldy = y.row_stride();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < L; ++t) {
      const float* xr = x.data + (b * L + t) * C;
      const float* mr = m.data + (b * N + t / S) * C;
      float* yr = y.data + (b * L + t) * ldy;
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * mr[c];
    }
  }
}

// x, dy: (B, L, C), m: (B, N, C), L = N*S -> dx: (B, L, C), dm: (B, N, C), accumulated:
//   dx[b, n*S + j, c] += dy[b, n*S + j, c] * m[b, n, c]
//   dm[b, n, c]       += sum_j dy[b, n*S + j, c] * x[b, n*S + j, c]
// One thread per block (b, n) owns dm's row n and dx's rows of that block, so nothing races; the
// block sum is formed in a per-thread row buffer and added once.
void modulate_bwd(const OpGradCall& call) {
  const TensorView& x = call.forward.inputs[0];
  const TensorView& m = call.forward.inputs[1];
  const TensorView& dy = call.grad_output;
  const TensorView& dx = call.grad_inputs[0];
  const TensorView& dm = call.grad_inputs[1];
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, S = call.forward.params.block;
  SR_CHECK(S >= 1, "modulate_bwd: block must be >= 1, got ", S);
  SR_CHECK(L % S == 0, "modulate_bwd: length ", L, " is not a multiple of block ", S);
  const int64_t N = L / S;
  SR_CHECK((m.shape == Shape{B, N, C}), "modulate_bwd: modulation ", m.shape.str(), " for input ",
           x.shape.str(), " and block ", S);
  SR_CHECK(dy.shape == x.shape, "modulate_bwd: grad_output ", dy.shape.str(), " != input ",
           x.shape.str());
  SR_CHECK(!dx.data || dx.shape == x.shape, "modulate_bwd: grad_input 0 ", dx.shape.str(),
           " != input ", x.shape.str());
  SR_CHECK(!dm.data || dm.shape == m.shape, "modulate_bwd: grad_input 1 ", dm.shape.str(),
           " != modulation ", m.shape.str());
  if (!dx.data && !dm.data) return;
#pragma omp parallel
  {
    std::vector<float> acc(static_cast<size_t>(C));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t n = 0; n < N; ++n) {
        const float* mr = m.data + (b * N + n) * C;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t j = 0; j < S; ++j) {
          const int64_t row = b * L + n * S + j;
          const float* dyr = dy.data + row * C;
          const float* xr = x.data + row * C;
          if (dm.data)
            for (int64_t c = 0; c < C; ++c) acc[c] += dyr[c] * xr[c];
          if (dx.data) {
            float* dxr = dx.data + row * C;
            for (int64_t c = 0; c < C; ++c) dxr[c] += dyr[c] * mr[c];
          }
        }
        if (dm.data) {
          float* dmr = dm.data + (b * N + n) * C;
          for (int64_t c = 0; c < C; ++c) dmr[c] += acc[c];
        }
      }
    }
  }
}

}  // namespace sr::cpu
