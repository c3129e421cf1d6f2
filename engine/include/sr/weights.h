// Weights files: safetensors-compatible (u64 header length, JSON header, aligned little-endian
// data). `__metadata__` carries the format version, architecture and every hyper-parameter, so the
// file alone builds its network. See docs/CHECKPOINT_FORMAT.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sr {

struct HostWeight {
  std::vector<int64_t> dims;
  std::vector<float> values;
};

struct WeightFile {
  std::map<std::string, std::string> metadata;  // safetensors metadata is string -> string
  std::map<std::string, HostWeight> tensors;
};

// Throws sr::Error naming the file and the problem (truncated, not safetensors, bad dtype...).
WeightFile load_weights(const std::string& path);
// Writes atomically (temporary name, then rename).
void save_weights(const std::string& path, const WeightFile& file);

// Compares tensors against what a graph expects; throws one error listing every missing, extra and
// mis-shaped tensor.
void check_weights_match(const WeightFile& file,
                         const std::map<std::string, std::vector<int64_t>>& expected);

}  // namespace sr
