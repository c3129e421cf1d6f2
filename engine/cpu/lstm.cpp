// LSTM (spec 3): Keras layout, gate blocks [i f g o], zero initial state, full h sequence out.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "cpu/cpu_ops.h"
#include "cpu/fast_math.h"
#include "cpu/simd.h"
#include "sr/backend.h"
#include "sr/error.h"

namespace sr::cpu {

namespace {

// Keras 1.2 hard_sigmoid.
SR_ALWAYS_INLINE float hard_sigmoid(float x) {
  return std::min(1.0f, std::max(0.0f, 0.2f * x + 0.5f));
}

template <bool Hard>
SR_ALWAYS_INLINE float gate(float x) {
  return Hard ? hard_sigmoid(x) : fast_sigmoid(x);
}

inline float gate(float x, bool hard) {
  return hard ? hard_sigmoid(x) : fast_sigmoid(x);
}

// The step kernels below are compiled twice (SR_VECTOR_CLONES, cpu_ops.h).

// z[q*H + j] += sum_k h[k] * U[k, q*H + j] for the gate columns of units j in [j0, j1): the
// recurrent product of one step and one batch row. For the batch sizes of inference (1-16 rows) a
// GEMM call per step would pack U again every step; this reads U once, row by row, with up to 64
// columns of z at a time held in registers across all k (independent chains, so the FMAs overlap).
template <int V>  // V vectors of 8 columns: z[c, c + 8V) += h . U[:, c, c + 8V)
SR_ALWAYS_INLINE void recurrent_tile(const float* h, const float* U, int64_t H, int64_t G,
                                     int64_t c, float* z) {
  Float8 acc[V];
  for (int i = 0; i < V; ++i) acc[i] = load8(z + c + 8 * i);
  for (int64_t k = 0; k < H; ++k) {
    const float hk = h[k];
    const float* u = U + k * G + c;
    for (int i = 0; i < V; ++i) acc[i] += hk * load8(u + 8 * i);
  }
  for (int i = 0; i < V; ++i) store8(z + c + 8 * i, acc[i]);
}

SR_VECTOR_CLONES void recurrent_step(const float* h, const float* U, int64_t H, int64_t j0,
                                     int64_t j1, float* z) {
  const int64_t G = 4 * H;
  // The four gates' column ranges; all units: one range [0, 4H).
  const bool all = j0 == 0 && j1 == H;
  for (int64_t q = 0; q < (all ? 1 : 4); ++q) {
    int64_t c = all ? 0 : q * H + j0;
    const int64_t end = all ? G : q * H + j1;
    for (; c + 64 <= end; c += 64) recurrent_tile<8>(h, U, H, G, c, z);
    if (c + 32 <= end) recurrent_tile<4>(h, U, H, G, c, z), c += 32;
    for (; c + 8 <= end; c += 8) recurrent_tile<1>(h, U, H, G, c, z);
    for (; c < end; ++c) {
      float acc = z[c];
      for (int64_t k = 0; k < H; ++k) acc += h[k] * U[k * G + c];
      z[c] = acc;
    }
  }
}

// Gates of units [j0, j1) from the pre-activations z (blocks i f g o): c = f c + i g,
// h = o tanh(c). One loop per gate function, so each vectorises without a branch.
template <bool Hard>
SR_ALWAYS_INLINE void gates_step_of(const float* z, int64_t H, int64_t j0, int64_t j1, float* c,
                                    float* h) {
  for (int64_t j = j0; j < j1; ++j) {
    const float i = gate<Hard>(z[j]), f = gate<Hard>(z[H + j]), o = gate<Hard>(z[3 * H + j]);
    const float g = fast_tanh(z[2 * H + j]);
    const float cj = f * c[j] + i * g;
    c[j] = cj;
    h[j] = o * fast_tanh(cj);
  }
}

SR_VECTOR_CLONES void gates_step(const float* z, int64_t H, int64_t j0, int64_t j1, bool hard,
                                 float* c, float* h) {
  if (hard)
    gates_step_of<true>(z, H, j0, j1, c, h);
  else
    gates_step_of<false>(z, H, j0, j1, c, h);
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
  check_op_call(call);      // shapes (infer_shape) and which views may be strided
  if (B == 0 || N == 0 || H == 0) return;

  // z: (B, N, 4H) pre-activations. The input part does not depend on the state, so all B*N rows
  // go through one GEMM: z = bias + x * kernel. The recurrent part follows step by step.
  std::vector<float> z(static_cast<size_t>(B * N * G));
  for (int64_t r = 0; r < B * N; ++r) std::copy(bias.data, bias.data + G, z.data() + r * G);
  if (Cin > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(B * N),
                static_cast<int>(G), static_cast<int>(Cin), 1.0f, x.data, static_cast<int>(Cin),
                kernel.data, static_cast<int>(G), 1.0f, z.data(), static_cast<int>(G));

  const bool hard = call.params.gate == GateActivation::hard_sigmoid;
  std::vector<float> c(static_cast<size_t>(B * H), 0.0f);  // cell state (B, H)
  // Threads: batch rows are independent recurrences, so with B >= threads each thread runs whole
  // rows and never waits. Otherwise wide layers (H >= kSplitUnitsMin) split the units, with one
  // barrier per step (every unit needs the whole h of the previous step); narrow ones run on one
  // thread, where a barrier per step would cost more than the step.
  constexpr int64_t kSplitUnitsMin = 128;
  const int64_t threads = omp_get_max_threads();
  const bool by_rows = B >= threads, by_units = !by_rows && H >= kSplitUnitsMin;
#pragma omp parallel if (threads > 1 && (by_rows || by_units))
  {
    const int64_t team = omp_get_num_threads(), me = omp_get_thread_num();
    const auto [b0, b1] = by_rows ? thread_share(B, team, me) : std::pair<int64_t, int64_t>{0, B};
    const auto [j0, j1] = by_units ? thread_share(H, team, me) : std::pair<int64_t, int64_t>{0, H};
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t b = b0; b < b1; ++b) {
        float* zr = z.data() + (b * N + n) * G;
        float* hr = y.data + (b * N + n) * H;
        if (n > 0) recurrent_step(hr - H, recurrent.data, H, j0, j1, zr);  // h_{-1} = 0
        gates_step(zr, H, j0, j1, hard, c.data() + b * H, hr);
      }
      if (by_units && team > 1) {
#pragma omp barrier
      }
    }
  }
}

// x: (B, N, Cin), kernel (Cin, 4H), recurrent (H, 4H), bias (4H), h: (B, N, H), dh: (B, N, H)
//   -> dx += (B, N, Cin), dkernel += (Cin, 4H), drecurrent += (H, 4H), dbias += (4H)
// Backprop through time: the gates and cell states are recomputed from x and the saved output h
// (h_{n-1} is the input of step n), then the steps run backwards carrying dL/dh and dL/dc.
void lstm_bwd(const OpGradCall& call) {
  const OpCall& fwd = call.forward;
  const TensorView& x = fwd.inputs[0];
  const WeightView& kernel = fwd.weights[0];
  const WeightView& recurrent = fwd.weights[1];
  const WeightView& bias = fwd.weights[2];
  const TensorView& y = fwd.output;
  const TensorView& dy = call.grad_output;
  float* dx = call.grad_inputs[0].data;
  float* dkernel = call.grad_weights[0];
  float* drecurrent = call.grad_weights[1];
  float* dbias = call.grad_weights[2];
  const int64_t B = x.shape.b, N = x.shape.l, Cin = x.shape.c, H = y.shape.c;
  const int64_t G = 4 * H;
  SR_CHECK(kernel.dims == std::vector<int64_t>({Cin, G}), "lstm: kernel must be (Cin, 4H)");
  SR_CHECK(recurrent.dims == std::vector<int64_t>({H, G}),
           "lstm: recurrent kernel must be (H, 4H)");
  SR_CHECK(bias.dims == std::vector<int64_t>({G}), "lstm: bias must be (4H)");
  SR_CHECK(y.shape.b == B && y.shape.l == N, "lstm: output must be (B, N, H)");
  SR_CHECK(dy.shape == y.shape, "lstm: output gradient must be ", y.shape.str(), ", got ",
           dy.shape.str());
  SR_CHECK(!dx || call.grad_inputs[0].shape == x.shape, "lstm: input gradient must be ",
           x.shape.str());
  if (B == 0 || N == 0 || H == 0) return;
  if (!dx && !dkernel && !drecurrent && !dbias) return;
  const int M = static_cast<int>(B * N), iG = static_cast<int>(G), iH = static_cast<int>(H),
            iCin = static_cast<int>(Cin);

  // h_prev: (B, N, H), the output shifted one step (h_{-1} = 0). Every step's recurrent input is
  // known up front, so all recurrent products are one GEMM here (the forward must go step by
  // step), and the same buffer gives drecurrent at the end.
  std::vector<float> h_prev(static_cast<size_t>(B * N * H));
  for (int64_t b = 0; b < B; ++b) {
    float* dst = h_prev.data() + b * N * H;
    std::fill(dst, dst + H, 0.0f);
    std::copy(y.data + b * N * H, y.data + (b * N + N - 1) * H, dst + H);
  }

  // a: (B, N, 4H) holds the pre-activations z = bias + x * kernel + h_prev * recurrent, then the
  // gate activations, then (overwritten step by step in the backward sweep) dL/dz.
  std::vector<float> a(static_cast<size_t>(B * N * G));
  for (int64_t r = 0; r < B * N; ++r) std::copy(bias.data, bias.data + G, a.data() + r * G);
  if (Cin > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, iG, iCin, 1.0f, x.data, iCin,
                kernel.data, iG, 1.0f, a.data(), iG);
  if (N > 1)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, iG, iH, 1.0f, h_prev.data(), iH,
                recurrent.data, iG, 1.0f, a.data(), iG);

  const bool hard = fwd.params.gate == GateActivation::hard_sigmoid;
  // Gate derivative from the activation s: sigmoid' = s(1 - s); hard_sigmoid' = 0.2 where the
  // forward's clip was inactive (0 < s < 1, i.e. |z| < 2.5), 0 where it clipped.
  auto gate_grad = [hard](float s) {
    if (hard) return s > 0.0f && s < 1.0f ? 0.2f : 0.0f;
    return s * (1.0f - s);
  };
  // c: (B, N, H) cell states of every step; dh_rec, dc: dL/dh_n and dL/dc_n through step n+1.
  std::vector<float> c(static_cast<size_t>(B * N * H));
  std::vector<float> dh_rec(static_cast<size_t>(B * H), 0.0f), dc(static_cast<size_t>(B * H), 0.0f);
  // Every patch's recurrence is independent: each thread takes whole patches (rows b0..b1) through
  // the gates and the reverse sweep, with its own per-step GEMMs on its rows (OpenBLAS's OpenMP
  // build runs a GEMM called in a parallel region on the calling thread), so the sweep needs no
  // barrier and the sums keep one order whatever the thread count.
#pragma omp parallel if (cpu_blas_uses_openmp() && B > 1)
  {
    const auto [b0, b1] = thread_share(B, omp_get_num_threads(), omp_get_thread_num());
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t n = 0; n < N; ++n) {
        float* ar = a.data() + (b * N + n) * G;
        float* cr = c.data() + (b * N + n) * H;
        const float* cprev = n > 0 ? cr - H : nullptr;
        for (int64_t j = 0; j < H; ++j) {
          const float i = gate(ar[j], hard), f = gate(ar[H + j], hard);
          const float g = fast_tanh(ar[2 * H + j]), o = gate(ar[3 * H + j], hard);
          ar[j] = i;
          ar[H + j] = f;
          ar[2 * H + j] = g;
          ar[3 * H + j] = o;
          cr[j] = (cprev ? f * cprev[j] : 0.0f) + i * g;
        }
      }
    for (int64_t n = N - 1; n >= 0 && b1 > b0; --n) {
      for (int64_t b = b0; b < b1; ++b) {
        float* ar = a.data() + (b * N + n) * G;  // activations in, dL/dz out
        const float* cr = c.data() + (b * N + n) * H;
        const float* cprev = n > 0 ? cr - H : nullptr;
        const float* dyr = dy.data + (b * N + n) * H;
        const float* dhr = dh_rec.data() + b * H;
        float* dcr = dc.data() + b * H;
        for (int64_t j = 0; j < H; ++j) {
          const float i = ar[j], f = ar[H + j], g = ar[2 * H + j], o = ar[3 * H + j];
          const float dh = dyr[j] + dhr[j];
          const float tc = fast_tanh(cr[j]);
          const float dcj = dcr[j] + dh * o * (1.0f - tc * tc);
          ar[j] = dcj * g * gate_grad(i);
          ar[H + j] = cprev ? dcj * cprev[j] * gate_grad(f) : 0.0f;
          ar[2 * H + j] = dcj * i * (1.0f - g * g);
          ar[3 * H + j] = dh * tc * gate_grad(o);
          dcr[j] = dcj * f;
        }
      }
      // dL/dh_{n-1} = dz_n * recurrent^T, (rows x 4H) x (4H x H); rows of step n are N rows apart.
      if (n > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(b1 - b0), iH, iG,
                    1.0f, a.data() + (b0 * N + n) * G, static_cast<int>(N * G), recurrent.data, iG,
                    0.0f, dh_rec.data() + b0 * H, iH);
    }
  }

  // The weight and input gradients sum over all B*N rows of dz at once.
  if (dx && Cin > 0)  // dx += dz * kernel^T, (BN, 4H) x (4H, Cin)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, iCin, iG, 1.0f, a.data(), iG,
                kernel.data, iG, 1.0f, dx, iCin);
  if (dkernel && Cin > 0)  // dkernel += x^T * dz, (Cin, BN) x (BN, 4H)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iCin, iG, M, 1.0f, x.data, iCin, a.data(),
                iG, 1.0f, dkernel, iG);
  if (drecurrent && N > 1)  // drecurrent += sum_n h_{n-1}^T * dz_n, (H, BN) x (BN, 4H)
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, iH, iG, M, 1.0f, h_prev.data(), iH,
                a.data(), iG, 1.0f, drecurrent, iG);
  if (dbias) {  // dbias += dz^T * ones
    const std::vector<float> ones(static_cast<size_t>(B * N), 1.0f);
    cblas_sgemv(CblasRowMajor, CblasTrans, M, iG, 1.0f, a.data(), iG, ones.data(), 1, 1.0f, dbias,
                1);
  }
}

}  // namespace sr::cpu
