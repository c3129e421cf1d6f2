// Fresh weights for a config (seeded, deterministic): what training starts from and what the
// tools use to exercise a network before a trained one exists.
#include <cmath>
#include <random>

#include "sr/error.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace sr {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

WeightFile init_weights(const ModelConfig& config, uint64_t seed) {
  Graph g = build_graph(config, 1, config.patch_length);
  WeightFile file;
  file.metadata = config_to_metadata(config);
  std::mt19937_64 gen(seed);
  for (const auto& [name, dims] : g.weights()) {
    HostWeight w;
    w.dims = dims;
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    w.values.assign(static_cast<size_t>(n), 0.0f);
    auto uniform = [&](double bound) {
      std::uniform_real_distribution<double> dist(-bound, bound);
      for (float& v : w.values) v = static_cast<float>(dist(gen));
    };
    if (name == "final.conv.weight") {
      // As K21: a tiny final layer, so an untrained network starts as the spline baseline.
      std::normal_distribution<double> dist(0.0, 1e-3);
      for (float& v : w.values) v = static_cast<float>(dist(gen));
    } else if (ends_with(name, ".conv.weight")) {
      uniform(std::sqrt(6.0 / static_cast<double>(dims[0] * dims[1])));  // He-uniform, fan-in K*Cin
    } else if (ends_with(name, ".lstm.kernel") || ends_with(name, ".lstm.recurrent_kernel")) {
      uniform(1.0 / std::sqrt(static_cast<double>(dims[1] / 4)));
    } else if (ends_with(name, ".lstm.bias")) {
      const int64_t h = dims[0] / 4;  // gate order i, f, g, o: forget-gate bias 1 as Keras
      for (int64_t i = h; i < 2 * h; ++i) w.values[i] = 1.0f;
    } else if (ends_with(name, ".alpha")) {
      std::fill(w.values.begin(), w.values.end(), 0.0f);  // PReLU: Keras' zeros (starts as ReLU)
    } else if (ends_with(name, ".gamma")) {
      std::fill(w.values.begin(), w.values.end(), 1.0f);
    } else if (ends_with(name, ".weight") && dims.size() == 2) {
      uniform(std::sqrt(6.0 / static_cast<double>(dims[0] + dims[1])));  // Glorot-uniform dense
    } else {
      SR_CHECK(ends_with(name, ".bias") || ends_with(name, ".beta"), "no init rule for ", name);
    }
    file.tensors[name] = std::move(w);
  }
  return file;
}

}  // namespace sr
