// The single list of ops: enum, names, arity and parameters. Backends dispatch on sr::Op through
// tables sized by kOpCount, so an op added here without a kernel is a compile error.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sr/tensor.h"

namespace sr {

// X(name, inputs, weights): weights are named tensors from the checkpoint, in this order.
// clang-format off
//   op              inputs                 weights                       output         params
//   conv1d          x (B,L,Cin)            w (K,Cin,Cout), b (Cout)      (B,L,Cout)     kernel, dilation
//                                          (+ epilogue: pool2 halves L, shuffle -> (B,2L,Cout/2))
//   max_pool2       x (B,L,C)                                            (B,L/2,C)
//   leaky_relu      x                                                    same           alpha
//   relu            x                                                    same
//   subpixel        x (B,L,2C)                                           (B,2L,C)       order
//   block_max_pool  x (B,L,C)                                            (B,L/S,C)      block S
//   lstm            x (B,N,Cin)            k (Cin,4H), u (H,4H), b (4H)  (B,N,H)        gate
//   linear          x (B,N,Din)            w (Din,Dout), b (Dout)        (B,N,Dout)     relu
//   attention       q, k, v (B,N,D)                                      (B,N,D)        heads
//   layer_norm      x (B,N,D)              gamma (D), beta (D)           same           eps
//   pos_encoding    x (B,N,D)                                            x*sqrt(D)+PE
//   modulate        x (B,L,C), m (B,L/S,C)                               (B,L,C)        block S
//   concat          a (B,L,C1), b (B,L,C2)                               (B,L,C1+C2)
//   add             a, b (same shape)                                    same
//   dropout         x                                                    same           rate, seed
//   prelu           x (B,L,C)              alpha (1)                     same           (one slope
//                                                                        shared over time and channels)
// clang-format on
#define SR_OP_LIST(X)     \
  X(conv1d, 1, 2)         \
  X(max_pool2, 1, 0)      \
  X(leaky_relu, 1, 0)     \
  X(relu, 1, 0)           \
  X(subpixel, 1, 0)       \
  X(block_max_pool, 1, 0) \
  X(lstm, 1, 3)           \
  X(linear, 1, 2)         \
  X(attention, 3, 0)      \
  X(layer_norm, 1, 2)     \
  X(pos_encoding, 1, 0)   \
  X(modulate, 2, 0)       \
  X(concat, 2, 0)         \
  X(add, 2, 0)            \
  X(dropout, 1, 0)        \
  X(prelu, 1, 1)

enum class Op {
#define SR_OP_ENUM(name, n_in, n_w) name,
  SR_OP_LIST(SR_OP_ENUM)
#undef SR_OP_ENUM
};

#define SR_OP_COUNT(name, n_in, n_w) +1
constexpr int kOpCount = 0 SR_OP_LIST(SR_OP_COUNT);
#undef SR_OP_COUNT

constexpr int kMaxOpInputs = 3;
constexpr int kMaxOpWeights = 3;

const char* op_name(Op op);
int op_num_inputs(Op op);
int op_num_weights(Op op);

// Subpixel (factor 2) channel order, spec section 2:
//   tf: out[b, 2w+k, c] = in[b, w, k*C + c]   (TF originals: block-major)
//   pt: out[b, 2w+k, c] = in[b, w, 2c + k]    (PyTorch port: interleaved, 1-D PixelShuffle)
enum class SubpixelOrder { tf, pt };

// Activation fused into a conv1d epilogue.
enum class Activation { none, relu, leaky_relu };

// LSTM recurrent gate nonlinearity: sigmoid (Keras 2, PyTorch) or hard_sigmoid (Keras 1.2).
enum class GateActivation { sigmoid, hard_sigmoid };

// One parameter struct for every op; each op reads only its own fields.
struct OpParams {
  int kernel = 0;    // conv1d taps (odd)
  int dilation = 1;  // conv1d
  // conv1d epilogue, set only by fuse_for_inference (engine/core/fusion.cpp) and applied after the
  // bias in this order: 2:1 max-pool over time (length L/2), activation (leaky_relu uses alpha),
  // subpixel shuffle (uses order; (B, L, C) -> (B, 2L, C/2)).
  bool pool2 = false;
  Activation act = Activation::none;
  bool shuffle = false;
  float alpha = 0.0f;  // leaky_relu slope
  int block = 0;       // block_max_pool, modulate
  SubpixelOrder order = SubpixelOrder::tf;
  GateActivation gate = GateActivation::sigmoid;
  bool relu = false;  // linear: ReLU fused after the bias
  int heads = 1;      // attention
  float eps = 1e-6f;  // layer_norm
  float rate = 0.0f;  // dropout: probability of zeroing; kept values are scaled by 1/(1-rate)
  uint64_t seed = 0;  // dropout: the mask is a pure function of (seed, element index)
};

// Shape rule of every op; throws sr::Error on inconsistent inputs or weights.
Shape infer_shape(Op op, const OpParams& p, const std::vector<Shape>& inputs,
                  const std::vector<std::vector<int64_t>>& weight_dims);

// Everything a backend needs to run one node: resolved pointers, shapes and parameters.
struct OpCall {
  Op op = Op::add;
  OpParams params;
  std::array<TensorView, kMaxOpInputs> inputs{};
  std::array<WeightView, kMaxOpWeights> weights{};
  TensorView output;
};

// Checks a call's inputs, weights and output against infer_shape, and that only the views an op
// accepts strided are strided (conv1d's input and output, modulate's output); every backend's
// launcher can start with it instead of repeating the op's shape rules.
void check_op_call(const OpCall& call);

// Whether an op reads input `i` (i >= 0) or writes its output (i = -1) through strided views.
bool op_accepts_strided(Op op, int i);

// A conv1d whose epilogue does more than add the bias (only inference graphs have those).
inline bool conv_has_epilogue(const OpParams& p) {
  return p.pool2 || p.act != Activation::none || p.shuffle;
}

// Backward of one node. Gradients are accumulated (+=), so a value read by several nodes needs no
// extra pass: the trainer zeroes them once per step. A null grad_inputs[i].data or grad_weights[i]
// means that gradient is not wanted. Backward passes recompute what they need (gates, softmax,
// statistics) from the forward's inputs and output instead of saving it.
struct OpGradCall {
  OpCall forward;          // the call the forward ran; its output holds the forward result
  TensorView grad_output;  // dL/d(output), same shape as the output
  std::array<TensorView, kMaxOpInputs> grad_inputs{};
  std::array<float*, kMaxOpWeights> grad_weights{};  // same dims as forward.weights[i]
};

}  // namespace sr
