// A loaded network on a backend: weights uploaded once, a buffer plan and program per input shape.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sr/backend.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace sr {

class Network {
 public:
  // Validates the weights against the graph the metadata describes, then uploads them. `fuse`
  // runs the inference graph of fuse_for_inference (the default); false runs the plain graph,
  // op by op, for comparisons.
  Network(const WeightFile& weights, Backend& backend, bool fuse = true);
  // The same, freeing each host tensor as soon as the backend has its copy: peak memory is one
  // copy of the weights plus the largest tensor instead of two copies.
  Network(WeightFile&& weights, Backend& backend, bool fuse = true);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const ModelConfig& config() const { return config_; }
  int64_t parameter_count() const { return parameter_count_; }
  // Bytes of activation memory the current plan uses (0 before the first forward).
  size_t arena_bytes() const;

  // input, output: host (batch, length) float32; length must pass check_input_length.
  // Plans on the first call for a shape and reuses that plan while the shape stays the same.
  void forward(const float* input, int64_t batch, int64_t length, float* output);

 private:
  void upload_weights(const WeightFile& weights, WeightFile* owned);
  struct Plan;
  void prepare(int64_t batch, int64_t length);

  Backend& backend_;
  const bool fuse_;
  ModelConfig config_;
  int64_t parameter_count_ = 0;
  std::map<std::string, WeightView> weights_;  // backend memory
  std::unique_ptr<Plan> plan_;
  uint64_t next_program_id_ = 1;
};

}  // namespace sr
