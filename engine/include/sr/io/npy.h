// NumPy .npy files (version 1/2, little-endian float32, C order) for scripting and parity checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sr {

struct NpyArray {
  std::vector<int64_t> dims;
  std::vector<float> values;
};

// Accepts '<f4' and '<f8' (converted to float32); throws sr::Error on anything else.
NpyArray read_npy(const std::string& path);
// Writes '<f4' atomically.
void write_npy(const std::string& path, const NpyArray& array);

}  // namespace sr
