// The U-Net family (spec section 1): audiounet, tfilm and afilm as graphs. Only builds graphs.
#include <algorithm>
#include <cmath>

#include "sr/error.h"
#include "sr/model.h"

namespace sr {

namespace {

constexpr float kEncoderDropout = 0.1f;  // AFiLM encoder (spec 4)

// FiLM block sizes (spec 1.2); steps = sequence length at the site.
int64_t level_block(const ModelConfig& c, int level, int64_t steps) {
  return std::max<int64_t>(1, std::min<int64_t>(steps, c.base_block >> level));
}
int64_t down_block(const ModelConfig& c, int l, int64_t length) {
  return level_block(c, l, length >> (l + 1));
}
int64_t bottleneck_block(const ModelConfig& c, int64_t length) {
  return level_block(c, c.layers, length >> (c.layers + 1));
}
int64_t up_block(const ModelConfig& c, int l, int64_t length) {
  return c.block_policy == BlockPolicy::pt ? down_block(c, l, length) : bottleneck_block(c, length);
}

class UNetBuilder {
 public:
  UNetBuilder(const ModelConfig& c, Graph& g, bool training) : c_(c), g_(g), training_(training) {}

  // Dropout exists only in training graphs (identity at inference in every original).
  int dropout(int x, const std::string& name, float rate) {
    if (!training_) return x;
    OpParams p;
    p.rate = rate;
    return g_.add(Op::dropout, p, {x}, {}, name);
  }

  int conv(int x, const std::string& prefix, int64_t cin, int64_t cout, int kernel, int dilation) {
    g_.declare_weight(prefix + ".weight", {kernel, cin, cout});
    g_.declare_weight(prefix + ".bias", {cout});
    OpParams p;
    p.kernel = kernel;
    p.dilation = dilation;
    return g_.add(Op::conv1d, p, {x}, {prefix + ".weight", prefix + ".bias"}, prefix);
  }

  int unary(Op op, int x, const std::string& name, OpParams p = {}) {
    return g_.add(op, p, {x}, {}, name);
  }

  // The block's activation: `fixed` (leaky_relu or relu) as the originals, or a PReLU whose one
  // slope is the weight `name`.alpha.
  int activation(int x, const std::string& name, Op fixed) {
    if (c_.block_activation == ModelConfig::BlockActivation::originals) {
      OpParams p;
      p.alpha = c_.leaky_alpha;
      return unary(fixed, x, name, p);
    }
    g_.declare_weight(name + ".alpha", {1});
    return g_.add(Op::prelu, {}, {x}, {name + ".alpha"}, name);
  }

  // Dropout of the block at `level` (-1: the bottleneck) where the config puts it.
  int block_dropout(int x, const std::string& name, int level) {
    const int every = c_.dropout_every;
    if (every > 0 && (level < 0 || level % every != every - 1)) return x;
    return dropout(x, name, c_.block_dropout);
  }

  // Block max-pool -> LSTM or transformer -> multiplicative modulation (spec 3 and 4).
  int film(int x, const std::string& prefix, int64_t block) {
    if (c_.arch == Arch::audiounet) return x;
    const int64_t width = g_.values()[x].shape.c;
    OpParams pool;
    pool.block = static_cast<int>(block);
    int factors = unary(Op::block_max_pool, x, prefix + ".pool", pool);
    factors = c_.arch == Arch::tfilm ? lstm(factors, prefix + ".lstm", width)
                                     : transformer(factors, prefix, width);
    return g_.add(Op::modulate, pool, {x, factors}, {}, prefix + ".modulate");
  }

  int lstm(int x, const std::string& prefix, int64_t width) {
    g_.declare_weight(prefix + ".kernel", {width, 4 * width});
    g_.declare_weight(prefix + ".recurrent_kernel", {width, 4 * width});
    g_.declare_weight(prefix + ".bias", {4 * width});
    OpParams p;
    p.gate = c_.gate;
    return g_.add(Op::lstm, p, {x},
                  {prefix + ".kernel", prefix + ".recurrent_kernel", prefix + ".bias"}, prefix);
  }

  int linear(int x, const std::string& prefix, int64_t din, int64_t dout, bool relu = false) {
    g_.declare_weight(prefix + ".weight", {din, dout});
    g_.declare_weight(prefix + ".bias", {dout});
    OpParams p;
    p.relu = relu;
    return g_.add(Op::linear, p, {x}, {prefix + ".weight", prefix + ".bias"}, prefix);
  }

  int layer_norm(int x, const std::string& prefix, int64_t width) {
    g_.declare_weight(prefix + ".gamma", {width});
    g_.declare_weight(prefix + ".beta", {width});
    OpParams p;
    p.eps = c_.layer_norm_eps;
    return g_.add(Op::layer_norm, p, {x}, {prefix + ".gamma", prefix + ".beta"}, prefix);
  }

  // Post-LayerNorm encoder layers over the block sequence (spec 4 step 2); dropout only in
  // training graphs.
  int transformer(int x, const std::string& prefix, int64_t d) {
    if (d % c_.attention_heads != 0)
      fail("AFiLM: attention_heads = ", c_.attention_heads, " does not divide the width ", d,
           " of ", prefix, " (every filter count must be a multiple of the head count)");
    int z = dropout(unary(Op::pos_encoding, x, prefix + ".positions"), prefix + ".positions.drop",
                    kEncoderDropout);
    for (int j = 0; j < c_.attention_layers; ++j) {
      const std::string layer = prefix + ".layers." + std::to_string(j);
      int q = linear(z, layer + ".attn.query", d, d);
      int k = linear(z, layer + ".attn.key", d, d);
      int v = linear(z, layer + ".attn.value", d, d);
      OpParams heads;
      heads.heads = c_.attention_heads;
      int a = g_.add(Op::attention, heads, {q, k, v}, {}, layer + ".attn");
      a = dropout(linear(a, layer + ".attn.out", d, d), layer + ".attn.drop", kEncoderDropout);
      int z1 =
          layer_norm(g_.add(Op::add, {}, {z, a}, {}, layer + ".residual1"), layer + ".norm1", d);
      int f = linear(z1, layer + ".ff1", d, c_.ff_dim, /*relu=*/true);
      f = dropout(linear(f, layer + ".ff2", c_.ff_dim, d), layer + ".ff.drop", kEncoderDropout);
      z = layer_norm(g_.add(Op::add, {}, {z1, f}, {}, layer + ".residual2"), layer + ".norm2", d);
    }
    return z;
  }

 private:
  const ModelConfig& c_;
  Graph& g_;
  const bool training_;
};

}  // namespace

void check_input_length(const ModelConfig& c, int64_t length) {
  const int64_t multiple = int64_t{1} << (c.layers + 1);
  if (length <= 0 || length % multiple != 0)
    fail("input length ", length, " is not a positive multiple of ", multiple,
         " (2^(layers+1) for ", c.layers, " layers)");
  for (int l = 0; l < c.layers; ++l) {
    int64_t steps = length >> (l + 1);
    if (steps % down_block(c, l, length) || steps % up_block(c, l, length))
      fail("input length ", length, " does not split into whole FiLM blocks at level ", l);
  }
  if ((length >> (c.layers + 1)) % bottleneck_block(c, length))
    fail("input length ", length, " does not split into whole FiLM blocks in the bottleneck");
}

Graph build_graph(const ModelConfig& c, int64_t batch, int64_t length, bool training) {
  SR_CHECK(c.layers >= 1 && static_cast<int>(c.filters.size()) == c.layers &&
               static_cast<int>(c.kernels.size()) == c.layers,
           "config: filters and kernels need one entry per layer");
  SR_CHECK(batch > 0, "batch must be positive");
  check_input_length(c, length);

  Graph g;
  UNetBuilder b(c, g, training);
  const bool every = c.dropout_every > 0;  // else the originals' dropout sites
  const int input = g.add_input({batch, length, 1}, "input");

  std::vector<int> skips(c.layers);
  int x = input;
  int64_t channels = 1;
  for (int l = 0; l < c.layers; ++l) {
    const std::string prefix = "down." + std::to_string(l);
    x = b.conv(x, prefix + ".conv", channels, c.filters[l], c.kernels[l], c.dilation);
    x = b.unary(Op::max_pool2, x, prefix + ".pool");
    x = b.activation(x, prefix + ".act", Op::leaky_relu);
    if (every) x = b.block_dropout(x, prefix + ".drop", l);
    x = skips[l] = b.film(x, prefix + ".film", down_block(c, l, length));
    channels = c.filters[l];
  }

  x = b.conv(x, "bottleneck.conv", channels, c.bottleneck_filters, c.bottleneck_kernel, c.dilation);
  x = b.unary(Op::max_pool2, x, "bottleneck.pool");
  x = b.block_dropout(x, "bottleneck.drop", -1);
  x = b.activation(x, "bottleneck.act", Op::leaky_relu);
  x = b.film(x, "bottleneck.film", bottleneck_block(c, length));
  channels = c.bottleneck_filters;

  OpParams shuffle;
  shuffle.order = c.subpixel_order;
  for (int l = c.layers - 1; l >= 0; --l) {
    const std::string prefix = "up." + std::to_string(l);
    x = b.conv(x, prefix + ".conv", channels, 2 * c.filters[l], c.kernels[l], c.dilation);
    x = b.block_dropout(x, prefix + ".drop", l);
    x = b.activation(x, prefix + ".act", Op::relu);
    x = b.unary(Op::subpixel, x, prefix + ".subpixel", shuffle);
    x = b.film(x, prefix + ".film", up_block(c, l, length));
    x = g.add(Op::concat, {}, {x, skips[l]}, {}, prefix + ".concat");
    channels = 2 * c.filters[l];
  }

  x = b.conv(x, "final.conv", channels, 2, c.final_kernel, 1);
  x = b.unary(Op::subpixel, x, "final.subpixel", shuffle);
  x = g.add(Op::add, {}, {x, input}, {}, "output");
  g.set_output(x);
  return g;
}

}  // namespace sr
