#include "sr/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "sr/error.h"
#include "sr/memory_budget.h"

namespace sr {

namespace {
const char* kMomentPrefix[2] = {"adam.m.", "adam.v."};

// A distinct dropout stream per (run seed, step, node).
uint64_t mix_seed(uint64_t seed, int64_t step, size_t node) {
  uint64_t z = seed ^ (static_cast<uint64_t>(step) * 0x9E3779B97F4A7C15ull) ^
               (static_cast<uint64_t>(node) * 0xD1B54A32D192ED03ull);
  z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDull;
  return z ^ (z >> 33);
}
}  // namespace

// Every value of the graph keeps its own buffer (the backward reads them all) and its own
// gradient buffer; gradients are zeroed once per step and accumulated by the backward calls.
struct Trainer::Program {
  Graph graph;
  float* values = nullptr;
  float* grads = nullptr;
  size_t floats = 0;
  std::vector<OpCall> forward;
  std::vector<OpGradCall> backward;
  std::vector<size_t> dropout_nodes;
  TensorView input, output, output_grad;
  uint64_t id = 0;
};

Trainer::Trainer(const WeightFile& initial, Backend& backend, const TrainOptions& options)
    : backend_(backend), config_(config_from_metadata(initial.metadata)), options_(options) {
  if (backend.kind() != BackendKind::cpu)
    fail("training runs on the CPU backend for now (CUDA backward passes come later)");
  Graph reference = build_graph(config_, 1, config_.patch_length);
  for (const auto& [name, dims] : reference.weights()) {
    size_t n = 1;
    for (int64_t d : dims) n *= static_cast<size_t>(d);
    layout_[name] = {params_count_, dims};
    params_count_ += n;
  }
  // A checkpoint carries Adam moments and the step next to the weights.
  WeightFile weights_only;
  weights_only.metadata = initial.metadata;
  adam_m_.assign(params_count_, 0.0f);
  adam_v_.assign(params_count_, 0.0f);
  bool has_moments = false;
  for (const auto& [name, w] : initial.tensors) {
    bool moment = false;
    for (int k = 0; k < 2; ++k) {
      if (name.rfind(kMomentPrefix[k], 0) != 0) continue;
      moment = has_moments = true;
      auto it = layout_.find(name.substr(std::strlen(kMomentPrefix[k])));
      if (it == layout_.end() || it->second.second != w.dims)
        fail("checkpoint moment '", name, "' does not match the model");
      std::copy(w.values.begin(), w.values.end(),
                (k == 0 ? adam_m_ : adam_v_).begin() + it->second.first);
    }
    if (!moment) weights_only.tensors[name] = w;
  }
  check_weights_match(weights_only, reference.weights());
  auto step = initial.metadata.find("train_step");
  if (step != initial.metadata.end()) {
    char* end = nullptr;
    const long long v = std::strtoll(step->second.c_str(), &end, 10);
    if (step->second.empty() || *end != '\0' || v < 0 || v > (1LL << 50))
      fail("checkpoint metadata 'train_step' = '", step->second, "' is not a step count");
    step_ = v;
  }
  if (has_moments && step_ == 0) fail("checkpoint has optimizer moments but no train_step");

  params_ = backend_.allocate(params_count_);
  grads_ = backend_.allocate(params_count_);
  for (const auto& [name, entry] : layout_)
    backend_.upload(params_ + entry.first, weights_only.tensors.at(name).values.data(),
                    weights_only.tensors.at(name).values.size());
}

Trainer::~Trainer() {
  for (auto& [key, p] : programs_) {
    backend_.release(p->values);
    backend_.release(p->grads);
  }
  backend_.release(params_);
  backend_.release(grads_);
}

Trainer::Program& Trainer::program(int64_t batch, int64_t length, bool training) {
  auto key = std::make_tuple(batch, length, training);
  auto found = programs_.find(key);
  if (found != programs_.end()) return *found->second;
  if (programs_.size() >= 3) {  // shapes change rarely (last partial batch): keep memory bounded
    for (auto& [k, p] : programs_) {
      backend_.release(p->values);
      backend_.release(p->grads);
    }
    programs_.clear();
  }
  auto p = std::make_unique<Program>();
  p->graph = build_graph(config_, batch, length, training);
  const auto& values = p->graph.values();
  std::vector<size_t> offset(values.size());
  for (size_t v = 0; v < values.size(); ++v) {
    offset[v] = p->floats;
    p->floats += static_cast<size_t>(values[v].shape.numel());
  }
  check_memory_budget(product_bytes(p->floats, 2, sizeof(float)),
                      format("training values and gradients for ", batch, " x ", length,
                             " samples (batch x patch length)"));
  p->values = backend_.allocate(p->floats);
  p->grads = backend_.allocate(p->floats);
  auto value = [&](int v) { return TensorView{p->values + offset[v], values[v].shape}; };
  auto grad = [&](int v) { return TensorView{p->grads + offset[v], values[v].shape}; };
  auto weight = [&](const std::string& name) {
    const auto& entry = layout_.at(name);
    return WeightView{params_ + entry.first, entry.second};
  };
  const auto& nodes = p->graph.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = nodes[i];
    OpCall call;
    call.op = node.op;
    call.params = node.params;
    for (size_t k = 0; k < node.inputs.size(); ++k) call.inputs[k] = value(node.inputs[k]);
    for (size_t k = 0; k < node.weights.size(); ++k) call.weights[k] = weight(node.weights[k]);
    call.output = value(node.output);
    p->forward.push_back(call);
    if (node.op == Op::dropout) p->dropout_nodes.push_back(i);
  }
  for (size_t i = nodes.size(); i-- > 0;) {
    const Node& node = nodes[i];
    OpGradCall g;
    g.forward = p->forward[i];
    g.grad_output = grad(node.output);
    for (size_t k = 0; k < node.inputs.size(); ++k)
      if (node.inputs[k] != p->graph.input()) g.grad_inputs[k] = grad(node.inputs[k]);
    for (size_t k = 0; k < node.weights.size(); ++k)
      g.grad_weights[k] = grads_ + layout_.at(node.weights[k]).first;
    p->backward.push_back(g);
  }
  p->input = value(p->graph.input());
  p->output = value(p->graph.output());
  p->output_grad = grad(p->graph.output());
  p->id = next_program_id_++;
  Program& ref = *p;
  programs_[key] = std::move(p);
  return ref;
}

double Trainer::forward_backward(const float* input, const float* target, int64_t batch,
                                 int64_t length, bool training) {
  Program& p = program(batch, length, training);
  for (size_t i : p.dropout_nodes) {
    uint64_t seed = mix_seed(options_.seed, step_, i);
    p.forward[i].params.seed = seed;
    p.backward[p.backward.size() - 1 - i].forward.params.seed = seed;
  }
  const size_t n = static_cast<size_t>(batch * length);
  backend_.upload(p.input.data, input, n);
  backend_.run(p.forward, p.id);
  // The loss runs on the host; for the CPU backend these are the same buffers.
  std::vector<float> y(n), dy(n);
  backend_.download(y.data(), p.output.data, n);
  const double loss =
      loss_and_grad(options_.loss, y.data(), target, input, batch, length, dy.data());
  backend_.fill_zero(p.grads, p.floats);
  backend_.fill_zero(grads_, params_count_);
  backend_.upload(p.output_grad.data, dy.data(), n);
  backend_.run_backward(p.backward, p.id);
  return loss;
}

double Trainer::loss_gradient(const float* input, const float* target, int64_t batch,
                              int64_t length, std::vector<float>& grad_flat, bool dropout) {
  const double loss = forward_backward(input, target, batch, length, dropout);
  grad_flat.resize(params_count_);
  backend_.download(grad_flat.data(), grads_, params_count_);
  return loss;
}

double Trainer::train_step(const float* input, const float* target, int64_t batch, int64_t length) {
  const double loss = forward_backward(input, target, batch, length, options_.dropout);
  if (!std::isfinite(loss))
    fail("training diverged: loss is ", loss, " at step ", step_, " (lower --lr?)");
  ++step_;
  // The optimizer runs on the host: for the CPU backend params_/grads_ are host memory.
  float* w = params_;
  const float* g = grads_;
  double norm2 = 0;
  for (size_t i = 0; i < params_count_; ++i) norm2 += static_cast<double>(g[i]) * g[i];
  double scale = 1.0;
  if (options_.clip_norm > 0 && std::sqrt(norm2) > options_.clip_norm)
    scale = options_.clip_norm / std::sqrt(norm2);
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double correction1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double correction2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  const double lr = options_.lr, wd = options_.weight_decay, eps = options_.adam_eps;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < static_cast<int64_t>(params_count_); ++i) {
    const double gi = g[i] * scale;
    const double m = b1 * adam_m_[i] + (1 - b1) * gi;
    const double v = b2 * adam_v_[i] + (1 - b2) * gi * gi;
    adam_m_[i] = static_cast<float>(m);
    adam_v_[i] = static_cast<float>(v);
    double update = lr * (m / correction1) / (std::sqrt(v / correction2) + eps);
    if (wd > 0) update += lr * wd * w[i];  // AdamW: decoupled decay
    w[i] = static_cast<float>(w[i] - update);
  }
  return loss;
}

void Trainer::predict(const float* input, int64_t batch, int64_t length, float* output) {
  Program& p = program(batch, length, false);
  const size_t n = static_cast<size_t>(batch * length);
  backend_.upload(p.input.data, input, n);
  backend_.run(p.forward, p.id);
  backend_.download(output, p.output.data, n);
}

std::vector<float> Trainer::parameters() const {
  std::vector<float> flat(params_count_);
  backend_.download(flat.data(), params_, params_count_);
  return flat;
}

void Trainer::set_parameters(const std::vector<float>& flat) {
  SR_CHECK(flat.size() == params_count_, "parameter count mismatch");
  backend_.upload(params_, flat.data(), params_count_);
}

WeightFile Trainer::weights() const {
  WeightFile file;
  file.metadata = config_to_metadata(config_);
  const std::vector<float> flat = parameters();
  for (const auto& [name, entry] : layout_) {
    HostWeight w;
    w.dims = entry.second;
    size_t n = 1;
    for (int64_t d : w.dims) n *= static_cast<size_t>(d);
    w.values.assign(flat.begin() + entry.first, flat.begin() + entry.first + n);
    file.tensors[name] = std::move(w);
  }
  return file;
}

WeightFile Trainer::checkpoint() const {
  WeightFile file = weights();
  file.metadata["train_step"] = std::to_string(step_);
  for (const auto& [name, entry] : layout_) {
    size_t n = file.tensors.at(name).values.size();
    for (int k = 0; k < 2; ++k) {
      const std::vector<float>& moments = k == 0 ? adam_m_ : adam_v_;
      HostWeight w;
      w.dims = entry.second;
      w.values.assign(moments.begin() + entry.first, moments.begin() + entry.first + n);
      file.tensors[kMomentPrefix[k] + name] = std::move(w);
    }
  }
  return file;
}

}  // namespace sr
