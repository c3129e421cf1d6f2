// sr-model: create a freshly initialised model file, describe one, or change a usage setting.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "args.h"
#include "model_flags.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace {

using sr::cli::UsageError;

int init(int argc, char** argv) {
  std::string out;
  int patch = 8192, rate = 16000, ratio = 0, seed = 1;
  sr::cli::ModelFlags model;
  sr::cli::ArgParser p("sr-model init", "sr-model init OUT.safetensors [options]",
                       "Writes a freshly initialised (untrained) model: weights and every "
                       "hyper-parameter in one file.");
  p.positional("OUT", "output .safetensors file", &out);
  model.add_to(p, "arch", 'a');
  p.option("patch-length", 'p', "N", "network input length (samples at the high rate)", &patch);
  p.option("rate", 0, "HZ", "high (output) sample rate the model serves, 0 = any", &rate);
  p.option("ratio", 'r', "R", "upscaling ratio the model serves, 0 = any", &ratio);
  p.option("seed", 's', "N", "random seed", &seed);
  if (!p.parse(argc, argv)) return 0;
  const sr::ModelConfig c = model.config(patch, rate, ratio);
  sr::WeightFile file = sr::init_weights(c, seed);
  sr::save_weights(out, file);
  std::fprintf(stderr, "wrote %s: untrained %s, %lld parameters\n", out.c_str(), model.arch.c_str(),
               static_cast<long long>(sr::build_graph(c, 1, c.patch_length).parameter_count()));
  return 0;
}

int info(int argc, char** argv) {
  std::string path;
  bool json = false;
  sr::cli::ArgParser p("sr-model info", "sr-model info FILE [--json]",
                       "Prints a model file's architecture, hyper-parameters and tensors; also\n"
                       "reads sr-train checkpoints (weights plus Adam moments).");
  p.positional("FILE", "model or checkpoint .safetensors file", &path);
  p.flag("json", 'j', "print JSON instead of text", &json);
  if (!p.parse(argc, argv)) return 0;
  sr::WeightFile file = sr::load_weights(path);
  sr::ModelConfig c = sr::config_from_metadata(file.metadata);
  sr::Graph g = sr::build_graph(c, 1, c.patch_length);
  // A training checkpoint carries the optimizer's moments beside the weights.
  size_t moments = 0;
  for (auto it = file.tensors.begin(); it != file.tensors.end();) {
    if (it->first.rfind("adam.", 0) == 0) {
      it = file.tensors.erase(it);
      ++moments;
    } else {
      ++it;
    }
  }
  sr::check_weights_match(file, g.weights());
  if (moments && !json)
    std::cout << path << ": training checkpoint (" << moments << " optimizer tensors)\n";
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

// Metadata keys that describe how a model is used, not what it computes: safe to change in place.
const char* const kSettableKeys[] = {"generated_gain_db"};

int set(int argc, char** argv) {
  std::string path, assignment;
  sr::cli::ArgParser p(
      "sr-model set", "sr-model set FILE KEY=VALUE",
      "Changes one usage setting in a model file's metadata, in place (atomically):\n"
      "generated_gain_db (sr-infer's default gain, in dB, on what the network\n"
      "adds above the input's band; from the quality harness).");
  p.positional("FILE", "model .safetensors file", &path);
  p.positional("KEY=VALUE", "the setting", &assignment);
  if (!p.parse(argc, argv)) return 0;
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("expected KEY=VALUE, got '" + assignment + "'");
  const std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  bool settable = false;
  for (const char* k : kSettableKeys) settable |= key == k;
  if (!settable) throw UsageError("'" + key + "' cannot be set: only generated_gain_db");
  sr::WeightFile file = sr::load_weights(path);
  file.metadata[key] = value;
  sr::config_from_metadata(file.metadata);  // validates the new value with every other
  sr::save_weights(path, file);
  std::fprintf(stderr, "%s: %s = %s\n", path.c_str(), key.c_str(), value.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return sr::cli::run_main("sr-model", argv, [&] {
    const std::string usage =
        "usage: sr-model init OUT.safetensors [options]   create an untrained model\n"
        "       sr-model info FILE [--json]               describe a model file\n"
        "       sr-model set FILE KEY=VALUE               change a usage setting\n";
    if (argc < 2) throw UsageError("missing command: init, info or set (see sr-model --help)");
    std::string cmd = argv[1];
    if (cmd == "-h" || cmd == "--help") {
      std::cout << usage;
      return 0;
    }
    if (cmd == "init") return init(argc - 1, argv + 1);
    if (cmd == "info") return info(argc - 1, argv + 1);
    if (cmd == "set") return set(argc - 1, argv + 1);
    throw UsageError("unknown command '" + cmd +
                     "': expected init, info or set (see sr-model --help)");
  });
}
