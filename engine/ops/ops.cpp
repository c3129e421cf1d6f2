// Names, arity and shape rules of every op in sr/ops.h.
#include "sr/ops.h"

#include "sr/error.h"

namespace sr {

namespace {
struct OpInfo {
  const char* name;
  int inputs;
  int weights;
};
constexpr OpInfo kOpInfo[] = {
#define SR_OP_INFO(name, n_in, n_w) {#name, n_in, n_w},
    SR_OP_LIST(SR_OP_INFO)
#undef SR_OP_INFO
};
static_assert(sizeof(kOpInfo) / sizeof(kOpInfo[0]) == kOpCount, "op table out of sync");

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

void expect_dims(Op op, const std::vector<int64_t>& got, const std::vector<int64_t>& want,
                 const char* what) {
  SR_CHECK(got == want, op_name(op), ": ", what, " has shape ", dims_str(got), ", expected ",
           dims_str(want));
}
}  // namespace

std::string Shape::str() const {
  return "(" + std::to_string(b) + ", " + std::to_string(l) + ", " + std::to_string(c) + ")";
}

const char* op_name(Op op) {
  return kOpInfo[static_cast<int>(op)].name;
}
int op_num_inputs(Op op) {
  return kOpInfo[static_cast<int>(op)].inputs;
}
int op_num_weights(Op op) {
  return kOpInfo[static_cast<int>(op)].weights;
}

Shape infer_shape(Op op, const OpParams& p, const std::vector<Shape>& in,
                  const std::vector<std::vector<int64_t>>& w) {
  SR_CHECK(static_cast<int>(in.size()) == op_num_inputs(op), op_name(op), ": wrong input count");
  SR_CHECK(static_cast<int>(w.size()) == op_num_weights(op), op_name(op), ": wrong weight count");
  for (const Shape& s : in) SR_CHECK(s.b > 0 && s.l > 0 && s.c > 0, op_name(op), ": empty input");
  const Shape x = in[0];
  switch (op) {
    case Op::conv1d: {
      SR_CHECK(p.kernel > 0 && p.kernel % 2 == 1 && p.dilation > 0, "conv1d: bad kernel/dilation");
      SR_CHECK(w[0].size() == 3, "conv1d: weight must be (K, Cin, Cout)");
      int64_t cout = w[0][2];
      expect_dims(op, w[0], {p.kernel, x.c, cout}, "weight");
      expect_dims(op, w[1], {cout}, "bias");
      Shape y{x.b, x.l, cout};
      if (p.pool2) {
        SR_CHECK(y.l >= 2, "conv1d: length ", y.l, " too short for the fused 2:1 pool");
        y.l /= 2;
      }
      if (p.shuffle) {
        SR_CHECK(cout % 2 == 0, "conv1d: odd channel count ", cout, " for the fused subpixel");
        y = {y.b, y.l * 2, cout / 2};
      }
      return y;
    }
    case Op::max_pool2:  // pool 2, stride 2, 'valid': an odd last row is dropped (L = 1 -> 0 rows)
      return {x.b, x.l / 2, x.c};
    case Op::leaky_relu:
    case Op::relu:
    case Op::dropout:
    case Op::layer_norm:
    case Op::pos_encoding:
      if (op == Op::dropout)
        SR_CHECK(p.rate >= 0.0f && p.rate < 1.0f, "dropout: rate ", p.rate, " outside [0, 1)");
      if (op == Op::layer_norm) {
        expect_dims(op, w[0], {x.c}, "gamma");
        expect_dims(op, w[1], {x.c}, "beta");
      }
      return x;
    case Op::prelu:
      expect_dims(op, w[0], {1}, "alpha");
      return x;
    case Op::subpixel:
      SR_CHECK(x.c % 2 == 0, "subpixel: odd channel count ", x.c);
      return {x.b, x.l * 2, x.c / 2};
    case Op::block_max_pool:
      SR_CHECK(p.block > 0 && x.l % p.block == 0, "block_max_pool: length ", x.l,
               " is not a multiple of block ", p.block);
      return {x.b, x.l / p.block, x.c};
    case Op::lstm: {
      SR_CHECK(w[0].size() == 2 && w[0][1] % 4 == 0, "lstm: kernel must be (Cin, 4H)");
      int64_t h = w[0][1] / 4;
      expect_dims(op, w[0], {x.c, 4 * h}, "kernel");
      expect_dims(op, w[1], {h, 4 * h}, "recurrent_kernel");
      expect_dims(op, w[2], {4 * h}, "bias");
      return {x.b, x.l, h};
    }
    case Op::linear: {
      SR_CHECK(w[0].size() == 2, "linear: weight must be (Din, Dout)");
      expect_dims(op, w[0], {x.c, w[0][1]}, "weight");
      expect_dims(op, w[1], {w[0][1]}, "bias");
      return {x.b, x.l, w[0][1]};
    }
    case Op::attention:
      SR_CHECK(in[1] == x && in[2] == x, "attention: q, k, v shapes differ");
      SR_CHECK(p.heads > 0 && x.c % p.heads == 0, "attention: width ", x.c, " not divisible by ",
               p.heads, " heads");
      return x;
    case Op::modulate:
      SR_CHECK(p.block > 0 && in[1].b == x.b && in[1].c == x.c && in[1].l * p.block == x.l,
               "modulate: factors ", in[1].str(), " do not fit ", x.str(), " with block ", p.block);
      return x;
    case Op::concat:
      SR_CHECK(in[1].b == x.b && in[1].l == x.l, "concat: ", x.str(), " vs ", in[1].str());
      return {x.b, x.l, x.c + in[1].c};
    case Op::add:
      SR_CHECK(in[1] == x, "add: ", x.str(), " vs ", in[1].str());
      return x;
  }
  SR_CHECK(false, "unknown op");
  return {};
}

void check_op_call(const OpCall& call) {
  std::vector<Shape> inputs;
  for (int i = 0; i < op_num_inputs(call.op); ++i) inputs.push_back(call.inputs[i].shape);
  std::vector<std::vector<int64_t>> weights;
  for (int i = 0; i < op_num_weights(call.op); ++i) weights.push_back(call.weights[i].dims);
  const Shape expected = infer_shape(call.op, call.params, inputs, weights);
  SR_CHECK(call.output.shape == expected, op_name(call.op), ": output ", call.output.shape.str(),
           ", expected ", expected.str());
  auto check_view = [&](const TensorView& v, int i) {
    SR_CHECK(v.dense() || (op_accepts_strided(call.op, i) && v.ld > v.shape.c), op_name(call.op),
             i < 0 ? ": output" : ": input", " view with row stride ", v.ld, " for ", v.shape.str(),
             " is not supported");
  };
  for (int i = 0; i < op_num_inputs(call.op); ++i) check_view(call.inputs[i], i);
  check_view(call.output, -1);
}

bool op_accepts_strided(Op op, int i) {
  return (op == Op::conv1d && i <= 0) || (op == Op::modulate && i == -1);
}

}  // namespace sr
