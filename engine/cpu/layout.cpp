// Ops that move or scale data along the length and channel axes: subpixel shuffle, channel
// concatenation and block-wise modulation (FiLM sites).
#include <algorithm>
#include <cstdint>

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
  SR_CHECK(C2 % 2 == 0, "subpixel: input channels ", C2, " are odd");
  SR_CHECK((y.shape == Shape{B, 2 * W, C}), "subpixel: output ", y.shape.str(), " for input ",
           x.shape.str());
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

// a: (B, L, C1), b: (B, L, C2) -> y: (B, L, C1 + C2), a's channels first.
void concat_fwd(const OpCall& call) {
  const TensorView& a = call.inputs[0];
  const TensorView& b = call.inputs[1];
  const TensorView& y = call.output;
  const int64_t B = a.shape.b, L = a.shape.l, C1 = a.shape.c, C2 = b.shape.c, C = C1 + C2;
  SR_CHECK(b.shape.b == B && b.shape.l == L, "concat: inputs ", a.shape.str(), " and ",
           b.shape.str(), " differ in batch or length");
  SR_CHECK((y.shape == Shape{B, L, C}), "concat: output ", y.shape.str(), " expected (", B, ", ", L,
           ", ", C, ")");
  const int64_t rows = B * L;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y.data + r * C;
    std::copy(a.data + r * C1, a.data + (r + 1) * C1, yr);
    std::copy(b.data + r * C2, b.data + (r + 1) * C2, yr + C1);
  }
}

// x: (B, L, C), m: (B, N, C) with L = N*S, S = params.block -> y: (B, L, C)
// y[b, n*S + j, c] = x[b, n*S + j, c] * m[b, n, c]
void modulate_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const TensorView& m = call.inputs[1];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, L = x.shape.l, C = x.shape.c, S = call.params.block;
  SR_CHECK(S >= 1, "modulate: block must be >= 1, got ", S);
  SR_CHECK(L % S == 0, "modulate: length ", L, " is not a multiple of block ", S);
  const int64_t N = L / S;
  SR_CHECK((m.shape == Shape{B, N, C}), "modulate: modulation ", m.shape.str(), " for input ",
           x.shape.str(), " and block ", S);
  SR_CHECK(y.shape == x.shape, "modulate: output ", y.shape.str(), " != input ", x.shape.str());
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < L; ++t) {
      const float* xr = x.data + (b * L + t) * C;
      const float* mr = m.data + (b * N + t / S) * C;
      float* yr = y.data + (b * L + t) * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * mr[c];
    }
  }
}

}  // namespace sr::cpu
