#include "model_flags.h"

namespace sr::cli {

namespace {
std::vector<int> parse_list(const std::string& flag, const std::string& text) {
  std::vector<int> v;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    v.push_back(parse_int(flag, text.substr(start, comma - start), 1, 1 << 16));
    start = comma + 1;
  }
  return v;
}
}  // namespace

void ModelFlags::add_to(ArgParser& p, const std::string& arch_flag, char arch_short) {
  p.option(arch_flag, arch_short, "NAME", "audiounet, tfilm or afilm", &arch);
  p.option("layers", 0, "N", "down blocks", &layers);
  p.option("filters", 0, "LIST", "filters per level (default 128,256,512,512)", &filters);
  p.option("kernels", 0, "LIST", "kernel sizes per level (default 65,33,17,9)", &kernels);
  p.option("bottleneck-filters", 0, "N", "bottleneck width", &bottleneck_filters);
  p.option("bottleneck-kernel", 0, "N", "bottleneck kernel size", &bottleneck_kernel);
  p.option("block-policy", 0, "tf|pt", "FiLM block sizes (default: tf for tfilm, pt for afilm)",
           &block_policy);
  p.option("subpixel-order", 0, "tf|pt", "subpixel channel order (default as block policy)",
           &subpixel_order);
  p.option("gate", 0, "NAME", "tfilm LSTM gates: sigmoid or hard_sigmoid", &gate);
  p.option("attention-layers", 0, "N", "afilm encoder layers", &attention_layers);
  p.option("ff-dim", 0, "N", "afilm feed-forward width", &ff_dim);
  p.option("final-kernel", 0, "N", "final conv kernel size", &final_kernel);
  p.option("activation", 0, "NAME",
           "originals (LeakyReLU down, ReLU up) or prelu (one learned slope per block)",
           &activation);
  p.option("dropout", 0, "RATE", "block dropout rate in training", &dropout);
  p.option(
      "dropout-every", 0, "N",
      "0: dropout in the bottleneck and up blocks; N: in down and up blocks of every N-th level",
      &dropout_every);
}

ModelConfig ModelFlags::config(int patch_length, int sample_rate, int ratio) const {
  ModelConfig c = default_config(parse_arch(arch));
  if (layers != c.layers && (filters.empty() || kernels.empty()))
    throw UsageError("--layers other than 4 needs --filters and --kernels");
  c.layers = layers;
  if (!filters.empty()) c.filters = parse_list("--filters", filters);
  if (!kernels.empty()) c.kernels = parse_list("--kernels", kernels);
  if (static_cast<int>(c.filters.size()) != layers || static_cast<int>(c.kernels.size()) != layers)
    throw UsageError("--filters and --kernels need one entry per layer");
  c.bottleneck_filters = bottleneck_filters;
  c.bottleneck_kernel = bottleneck_kernel;
  if (!block_policy.empty()) {
    if (block_policy != "tf" && block_policy != "pt")
      throw UsageError("--block-policy must be tf or pt");
    c.block_policy = block_policy == "pt" ? BlockPolicy::pt : BlockPolicy::tf;
  }
  const std::string order =
      subpixel_order.empty() ? (c.block_policy == BlockPolicy::pt ? "pt" : "tf") : subpixel_order;
  if (order != "tf" && order != "pt") throw UsageError("--subpixel-order must be tf or pt");
  c.subpixel_order = order == "pt" ? SubpixelOrder::pt : SubpixelOrder::tf;
  if (gate != "sigmoid" && gate != "hard_sigmoid")
    throw UsageError("--gate must be sigmoid or hard_sigmoid");
  c.gate = gate == "sigmoid" ? GateActivation::sigmoid : GateActivation::hard_sigmoid;
  if (activation != "originals" && activation != "prelu")
    throw UsageError("--activation must be originals or prelu");
  c.block_activation = activation == "prelu" ? ModelConfig::BlockActivation::prelu
                                             : ModelConfig::BlockActivation::originals;
  size_t used = 0;
  try {
    c.block_dropout = std::stof(dropout, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != dropout.size() || !(c.block_dropout >= 0.0f && c.block_dropout < 1.0f))
    throw UsageError("--dropout must be a rate in [0, 1), got '" + dropout + "'");
  if (dropout_every < 0 || dropout_every > 64)
    throw UsageError("--dropout-every must be between 0 and 64");
  c.dropout_every = dropout_every;
  c.final_kernel = final_kernel;
  c.attention_layers = attention_layers;
  c.ff_dim = ff_dim;
  c.patch_length = patch_length;
  c.sample_rate = sample_rate;
  c.ratio = ratio;
  return config_from_metadata(config_to_metadata(c));  // validates lengths, widths, kernels
}

}  // namespace sr::cli
