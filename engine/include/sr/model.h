// Hyper-parameters of the U-Net family (spec section 1) and the graph builder. Model code only
// builds graphs: it never allocates or launches.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sr/graph.h"

namespace sr {

enum class Arch { audiounet, tfilm, afilm };

// FiLM block sizes (spec 1.2). pt: level l uses max(1, min(steps, base/2^l)) everywhere;
// tf: as pt on the way down and in the bottleneck, the bottleneck's size in every up block.
enum class BlockPolicy { pt, tf };

// How the low-rate input of the model's training data was made, so that inference can condition
// any recording to match (docs/ARCHITECTURE.md, "From a recording to the network"). Files without
// these keys were trained on scipy's decimate, as the originals' --low-pass recipe.
struct InputFilter {
  enum class Family {
    cheby1,  // one fixed zero-phase Chebyshev I low-pass (decimate), then subsampling
    varied,  // many degradations; inference gives a band-limited resampling, no conditioning
  };
  Family family = Family::cheby1;
  int order = 8;            // cheby1: filter order (even)
  float ripple_db = 0.05f;  // cheby1: pass-band ripple
  float cutoff = 0.8f;      // of the low-rate Nyquist; varied: the lowest cutoff seen in training
};

struct ModelConfig {
  Arch arch = Arch::tfilm;
  int layers = 4;            // down blocks (--layers)
  std::vector<int> filters;  // per level 0..layers-1
  std::vector<int> kernels;  // per level 0..layers-1
  int bottleneck_filters = 512;
  int bottleneck_kernel = 9;
  int final_kernel = 9;  // final conv, dilation 1
  int dilation = 2;      // every other conv
  float leaky_alpha = 0.2f;
  BlockPolicy block_policy = BlockPolicy::tf;
  int base_block = 128;  // FiLM block of level 0
  SubpixelOrder subpixel_order = SubpixelOrder::tf;
  GateActivation gate = GateActivation::sigmoid;  // tfilm
  int attention_layers = 4;                       // afilm
  int attention_heads = 8;
  int ff_dim = 2048;
  float layer_norm_eps = 1e-6f;
  int patch_length = 8192;   // network input length the model was built/trained for
  int sample_rate = 16000;   // output (high) rate the model serves; 0 = any
  int ratio = 0;             // upscaling ratio r the model was trained for; 0 = any
  InputFilter input_filter;  // how the training input was low-passed
  // Inference's default gain on what the network adds above the input's band (sr-infer
  // --generated-gain): how far to trust the model's guess there. Files without the key get -10 dB,
  // measured for the first bundled models (docs/MODELS.md).
  float generated_gain_db = -10.0f;
  // Block activations and dropout. originals: LeakyReLU (leaky_alpha) in the down blocks and the
  // bottleneck, ReLU in the up blocks, dropout `block_dropout` in the bottleneck and every up
  // block. prelu: a PReLU (one learned slope per block, shared over time and channels; Keras
  // PReLU(shared_axes=[1, 2]) as the robust-SR recipe uses it) in every block.
  enum class BlockActivation { originals, prelu };
  BlockActivation block_activation = BlockActivation::originals;
  float block_dropout = 0.5f;
  // 0: dropout where the originals put it; N > 0: after the activation of the down and up blocks
  // of levels l with l % N == N - 1 only (the robust-SR recipe: N = 3, rate 0.2).
  int dropout_every = 0;
};

// The originals' defaults: tfilm follows the TF code (K21), afilm the PyTorch port (PT) at 8192.
ModelConfig default_config(Arch arch);

const char* arch_name(Arch arch);
Arch parse_arch(const std::string& name);  // throws on unknown names

// Metadata round trip (all values are strings, as safetensors requires).
std::map<std::string, std::string> config_to_metadata(const ModelConfig& config);
ModelConfig config_from_metadata(const std::map<std::string, std::string>& metadata);

// Throws unless `length` is a valid network input length for this config (pooling and blocks).
void check_input_length(const ModelConfig& config, int64_t length);

// Input (batch, length, 1) -> output (batch, length, 1): net(x) + x. A training graph adds the
// originals' dropout nodes (0.5 in the bottleneck and up blocks, 0.1 in the AFiLM encoder); their
// seeds are set by the trainer each step.
Graph build_graph(const ModelConfig& config, int64_t batch, int64_t length, bool training = false);

}  // namespace sr

namespace sr {
struct WeightFile;
// Seeded fresh weights (He-uniform convs, Glorot dense, Keras-style LSTM, tiny final conv) with
// the config in the metadata.
WeightFile init_weights(const ModelConfig& config, uint64_t seed);
}  // namespace sr
