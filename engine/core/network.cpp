#include "sr/network.h"

#include <vector>

#include "core/planner.h"
#include "sr/error.h"
#include "sr/memory_budget.h"

namespace sr {

struct Network::Plan {
  int64_t batch = 0, length = 0;
  Graph graph;
  float* arena = nullptr;
  size_t arena_floats = 0;
  std::vector<OpCall> program;
  uint64_t id = 0;
  TensorView input, output;
};

Network::Network(const WeightFile& weights, Backend& backend, bool fuse)
    : backend_(backend), fuse_(fuse) {
  upload_weights(weights, nullptr);
}

Network::Network(WeightFile&& weights, Backend& backend, bool fuse)
    : backend_(backend), fuse_(fuse) {
  upload_weights(weights, &weights);
}

// owned: the same file when each host tensor may be freed once uploaded, else null.
void Network::upload_weights(const WeightFile& weights, WeightFile* owned) {
  config_ = config_from_metadata(weights.metadata);
  // The graph at the model's own patch length names every tensor the file must hold.
  Graph reference = build_graph(config_, 1, config_.patch_length);
  check_weights_match(weights, reference.weights());
  parameter_count_ = reference.parameter_count();
  try {
    for (const auto& [name, w] : weights.tensors) {
      float* ptr = backend_.allocate(w.values.size());
      weights_[name] = WeightView{ptr, w.dims};
      backend_.upload(ptr, w.values.data(), w.values.size());
      if (owned) std::vector<float>().swap(owned->tensors.at(name).values);
    }
  } catch (...) {
    for (auto& [name, w] : weights_) backend_.release(const_cast<float*>(w.data));
    throw;
  }
}

Network::~Network() {
  if (plan_) backend_.release(plan_->arena);
  for (auto& [name, w] : weights_) backend_.release(const_cast<float*>(w.data));
}

size_t Network::arena_bytes() const {
  return plan_ ? plan_->arena_floats * sizeof(float) : 0;
}

void Network::prepare(int64_t batch, int64_t length) {
  if (plan_ && plan_->batch == batch && plan_->length == length) return;
  check_input_length(config_, length);
  if (plan_) {
    backend_.release(plan_->arena);
    plan_.reset();
  }
  auto plan = std::make_unique<Plan>();
  plan->batch = batch;
  plan->length = length;
  plan->graph = build_graph(config_, batch, length);
  if (fuse_) plan->graph = fuse_for_inference(plan->graph);
  const BufferPlan buffers = plan_buffers(plan->graph);
  plan->arena_floats = buffers.arena_floats;
  check_memory_budget(product_bytes(buffers.arena_floats, 1, sizeof(float)),
                      format("the network's working memory for ", batch, " x ", length,
                             " samples (batch x patch length)"));
  plan->arena = backend_.allocate(buffers.arena_floats);
  plan->program = bind_program(plan->graph, buffers, plan->arena,
                               [&](const std::string& name) { return weights_.at(name); });
  plan->input = value_view(plan->graph, buffers, plan->arena, plan->graph.input());
  plan->output = value_view(plan->graph, buffers, plan->arena, plan->graph.output());
  SR_CHECK(plan->input.dense() && plan->output.dense(), "network input or output is a slice");
  plan->id = next_program_id_++;
  plan_ = std::move(plan);
}

void Network::forward(const float* input, int64_t batch, int64_t length, float* output) {
  SR_CHECK(batch > 0 && length > 0, "empty forward");
  prepare(batch, length);
  backend_.upload(plan_->input.data, input, static_cast<size_t>(batch * length));
  backend_.run(plan_->program, plan_->id);
  backend_.download(output, plan_->output.data, static_cast<size_t>(batch * length));
}

}  // namespace sr
