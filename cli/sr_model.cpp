// sr-model: create a freshly initialised model file, or describe one.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace {

using sr::cli::UsageError;

std::vector<int> parse_list(const std::string& flag, const std::string& text) {
  std::vector<int> v;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    v.push_back(sr::cli::parse_int(flag, text.substr(start, comma - start), 1, 1 << 16));
    start = comma + 1;
  }
  return v;
}

int init(int argc, char** argv) {
  std::string out, arch = "tfilm", filters, kernels, policy, order, gate = "sigmoid";
  int layers = 4, bottleneck_filters = 512, bottleneck_kernel = 9, ff_dim = 2048,
      attention_layers = 4, patch = 8192, rate = 16000, ratio = 0, seed = 1;
  sr::cli::ArgParser p("sr-model init", "sr-model init OUT.safetensors [options]",
                       "Writes a freshly initialised (untrained) model: weights and every "
                       "hyper-parameter in one file.");
  p.positional("OUT", "output .safetensors file", &out);
  p.option("arch", 'a', "NAME", "audiounet, tfilm or afilm", &arch);
  p.option("layers", 'l', "N", "down blocks", &layers);
  p.option("filters", 0, "LIST", "filters per level (default 128,256,512,512)", &filters);
  p.option("kernels", 0, "LIST", "kernel sizes per level (default 65,33,17,9)", &kernels);
  p.option("bottleneck-filters", 0, "N", "bottleneck width", &bottleneck_filters);
  p.option("bottleneck-kernel", 0, "N", "bottleneck kernel size", &bottleneck_kernel);
  p.option("block-policy", 0, "tf|pt", "FiLM block sizes (default: tf for tfilm, pt for afilm)",
           &policy);
  p.option("subpixel-order", 0, "tf|pt", "subpixel channel order (default as block policy)",
           &order);
  p.option("gate", 0, "NAME", "tfilm LSTM gates: sigmoid or hard_sigmoid", &gate);
  p.option("attention-layers", 0, "N", "afilm encoder layers", &attention_layers);
  p.option("ff-dim", 0, "N", "afilm feed-forward width", &ff_dim);
  p.option("patch-length", 'p', "N", "network input length (samples at the high rate)", &patch);
  p.option("rate", 0, "HZ", "high (output) sample rate the model serves, 0 = any", &rate);
  p.option("ratio", 'r', "R", "upscaling ratio the model serves, 0 = any", &ratio);
  p.option("seed", 's', "N", "random seed", &seed);
  if (!p.parse(argc, argv)) return 0;

  sr::ModelConfig c = sr::default_config(sr::parse_arch(arch));
  if (layers != c.layers && (filters.empty() || kernels.empty()))
    throw UsageError("--layers other than 4 needs --filters and --kernels");
  c.layers = layers;
  if (!filters.empty()) c.filters = parse_list("--filters", filters);
  if (!kernels.empty()) c.kernels = parse_list("--kernels", kernels);
  if (static_cast<int>(c.filters.size()) != layers || static_cast<int>(c.kernels.size()) != layers)
    throw UsageError("--filters and --kernels need one entry per layer");
  c.bottleneck_filters = bottleneck_filters;
  c.bottleneck_kernel = bottleneck_kernel;
  if (!policy.empty()) {
    if (policy != "tf" && policy != "pt") throw UsageError("--block-policy must be tf or pt");
    c.block_policy = policy == "pt" ? sr::BlockPolicy::pt : sr::BlockPolicy::tf;
  }
  std::string ord = order.empty() ? (c.block_policy == sr::BlockPolicy::pt ? "pt" : "tf") : order;
  if (ord != "tf" && ord != "pt") throw UsageError("--subpixel-order must be tf or pt");
  c.subpixel_order = ord == "pt" ? sr::SubpixelOrder::pt : sr::SubpixelOrder::tf;
  if (gate != "sigmoid" && gate != "hard_sigmoid")
    throw UsageError("--gate must be sigmoid or hard_sigmoid");
  c.gate = gate == "sigmoid" ? sr::GateActivation::sigmoid : sr::GateActivation::hard_sigmoid;
  c.attention_layers = attention_layers;
  c.ff_dim = ff_dim;
  c.patch_length = patch;
  c.sample_rate = rate;
  c.ratio = ratio;
  // Validates the whole config (lengths, widths) before writing anything.
  sr::WeightFile file = sr::init_weights(sr::config_from_metadata(sr::config_to_metadata(c)), seed);
  sr::save_weights(out, file);
  std::fprintf(stderr, "wrote %s: untrained %s, %lld parameters\n", out.c_str(), arch.c_str(),
               static_cast<long long>(sr::build_graph(c, 1, c.patch_length).parameter_count()));
  return 0;
}

int info(int argc, char** argv) {
  std::string path;
  bool json = false;
  sr::cli::ArgParser p("sr-model info", "sr-model info FILE [--json]",
                       "Prints a model file's architecture, hyper-parameters and tensors.");
  p.positional("FILE", "model .safetensors file", &path);
  p.flag("json", 'j', "print JSON instead of text", &json);
  if (!p.parse(argc, argv)) return 0;
  sr::WeightFile file = sr::load_weights(path);
  sr::ModelConfig c = sr::config_from_metadata(file.metadata);
  sr::Graph g = sr::build_graph(c, 1, c.patch_length);
  sr::check_weights_match(file, g.weights());
  if (json) {
    nlohmann::json j;
    j["metadata"] = file.metadata;
    j["parameters"] = g.parameter_count();
    for (const auto& [name, w] : file.tensors) j["tensors"][name] = w.dims;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << path << ": " << sr::arch_name(c.arch) << ", " << g.parameter_count()
            << " parameters, " << file.tensors.size() << " tensors\n";
  for (const auto& [key, value] : file.metadata) std::cout << "  " << key << " = " << value << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-model", [&] {
    const std::string usage =
        "usage: sr-model init OUT.safetensors [options]   create an untrained model\n"
        "       sr-model info FILE [--json]               describe a model file\n";
    if (argc < 2) throw UsageError("missing command: init or info (see sr-model --help)");
    std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help") {
      std::cout << usage;
      return 0;
    }
    if (cmd == "init") return init(argc - 1, argv + 1);
    if (cmd == "info") return info(argc - 1, argv + 1);
    throw UsageError("unknown command '" + cmd + "': expected init or info (see sr-model --help)");
  });
}
