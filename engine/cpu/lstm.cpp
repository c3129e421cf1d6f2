// LSTM (spec 3): Keras layout, gate blocks [i f g o], zero initial state, full h sequence out.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/cpu_ops.h"
#include "sr/error.h"

namespace sr::cpu {

namespace {

inline float sigmoid(float x) {
  return 1.0f / (1.0f + std::exp(-x));
}

// Keras 1.2 hard_sigmoid.
inline float hard_sigmoid(float x) {
  return std::min(1.0f, std::max(0.0f, 0.2f * x + 0.5f));
}

}  // namespace

// x: (B, N, Cin), kernel (Cin, 4H), recurrent (H, 4H), bias (4H) -> h: (B, N, H)
void lstm_fwd(const OpCall& call) {
  const TensorView& x = call.inputs[0];
  const WeightView& kernel = call.weights[0];
  const WeightView& recurrent = call.weights[1];
  const WeightView& bias = call.weights[2];
  const TensorView& y = call.output;
  const int64_t B = x.shape.b, N = x.shape.l, Cin = x.shape.c, H = y.shape.c;
  const int64_t G = 4 * H;  // width of the stacked gate pre-activations
  SR_CHECK(kernel.dims == std::vector<int64_t>({Cin, G}), "lstm: kernel must be (Cin, 4H)");
  SR_CHECK(recurrent.dims == std::vector<int64_t>({H, G}),
           "lstm: recurrent kernel must be (H, 4H)");
  SR_CHECK(bias.dims == std::vector<int64_t>({G}), "lstm: bias must be (4H)");
  SR_CHECK(y.shape.b == B && y.shape.l == N, "lstm: output must be (B, N, H)");
  if (B == 0 || N == 0 || H == 0) return;

  // z: (B, N, 4H) pre-activations. The input part does not depend on the state, so all B*N rows
  // go through one GEMM: z = bias + x * kernel.
  std::vector<float> z(static_cast<size_t>(B * N * G));
  for (int64_t r = 0; r < B * N; ++r) std::copy(bias.data, bias.data + G, z.data() + r * G);
  if (Cin > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(B * N),
                static_cast<int>(G), static_cast<int>(Cin), 1.0f, x.data, static_cast<int>(Cin),
                kernel.data, static_cast<int>(G), 1.0f, z.data(), static_cast<int>(G));

  const bool hard = call.params.gate == GateActivation::hard_sigmoid;
  std::vector<float> c(static_cast<size_t>(B * H), 0.0f);  // cell state (B, H)
  // Rows of step n across the batch are N rows apart in z and y: the strided leading dimensions
  // let BLAS read h_{n-1} straight from the output and accumulate into z in place.
  const int z_stride = static_cast<int>(N * G), h_stride = static_cast<int>(N * H);
  for (int64_t n = 0; n < N; ++n) {
    float* z_n = z.data() + n * G;
    if (n > 0)  // h_{-1} = 0 adds nothing
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(B),
                  static_cast<int>(G), static_cast<int>(H), 1.0f, y.data + (n - 1) * H, h_stride,
                  recurrent.data, static_cast<int>(G), 1.0f, z_n, z_stride);
    // The gate loop is a small fraction of the step next to the GEMM; it stays serial so OpenMP
    // threads do not compete with the BLAS threads that run between steps.
    for (int64_t b = 0; b < B; ++b) {
      const float* zb = z_n + b * N * G;
      float* cb = c.data() + b * H;
      float* hb = y.data + (b * N + n) * H;
      for (int64_t j = 0; j < H; ++j) {
        const float zi = zb[j], zf = zb[H + j], zg = zb[2 * H + j], zo = zb[3 * H + j];
        const float i = hard ? hard_sigmoid(zi) : sigmoid(zi);
        const float f = hard ? hard_sigmoid(zf) : sigmoid(zf);
        const float o = hard ? hard_sigmoid(zo) : sigmoid(zo);
        const float g = std::tanh(zg);
        cb[j] = f * cb[j] + i * g;
        hb[j] = o * std::tanh(cb[j]);
      }
    }
  }
}

}  // namespace sr::cpu
