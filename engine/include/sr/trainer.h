// Training from scratch with our own backward passes: a training graph (dropout on), every
// activation kept for the backward, gradients accumulated per value, one flat parameter buffer
// updated by Adam/AdamW with global-norm clipping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sr/backend.h"
#include "sr/model.h"
#include "sr/weights.h"

namespace sr {

enum class LossKind {
  mse,     // mean over every sample (the PyTorch port)
  rmse,    // mean over patches of sqrt(mean_t (y - t)^2 + 1e-6) (the TF original, K21)
  mae,     // mean over every sample of |y - t|
  mrstft,  // multi-resolution STFT: spectral convergence + log magnitude (train/stft_loss.h)
  pcm      // phase-constrained magnitude (Pandey & Wang 2021; needs the network input)
};

// A weighted sum of losses, e.g. parse_loss("mae+0.5*mrstft").
struct LossSpec {
  struct Term {
    LossKind kind = LossKind::mse;
    double weight = 1.0;
  };
  std::vector<Term> terms{{LossKind::mse, 1.0}};
  // mrstft only: weight of the STFT bins above 1/ratio of the Nyquist (the band a model with
  // upscaling ratio `ratio` generates) relative to those below; ratio 0 = no weighting.
  int ratio = 0;
  double high_band_weight = 1.0;

  LossSpec() = default;
  LossSpec(LossKind kind) : terms{{kind, 1.0}} {}  // NOLINT: a single loss converts implicitly
};

// "mse", "mae+0.5*mrstft", ...: terms separated by '+', each NAME or WEIGHT*NAME with NAME in
// mse, rmse, mae, mrstft, pcm, or tpcm: the T-PCM loss of Wang & Wang 2021, which stands for
// 0.6*mae+0.4*pcm (time-domain MAE plus the phase-constrained magnitude loss; the weights of
// tan90xx's reimplementation). Throws sr::Error naming the text otherwise.
LossSpec parse_loss(const std::string& text);
const char* loss_name(LossKind kind);

struct TrainOptions {
  LossSpec loss;
  float lr = 3e-4f;
  float beta1 = 0.9f, beta2 = 0.999f, adam_eps = 1e-8f;
  float weight_decay = 0.0f;  // decoupled (AdamW) when > 0
  float clip_norm = 0.0f;     // global gradient-norm clipping when > 0
  bool dropout = true;        // the originals' dropout in training steps
  uint64_t seed = 1;          // dropout masks
};

// Loss of predictions y against targets t, both (patches, length), for the network input x
// (the same shape; read only by the pcm term, may be null otherwise); writes dL/dy when `grad` is
// not null.
double loss_and_grad(const LossSpec& loss, const float* y, const float* t, const float* x,
                     int64_t patches, int64_t length, float* grad);

class Trainer {
 public:
  // `initial` holds the config metadata and weights (from init_weights or a checkpoint).
  Trainer(const WeightFile& initial, Backend& backend, const TrainOptions& options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  const ModelConfig& config() const { return config_; }
  int64_t step() const { return step_; }
  int64_t parameter_count() const { return static_cast<int64_t>(params_count_); }
  TrainOptions& options() { return options_; }

  // One optimisation step on (batch, length) inputs and targets; returns the loss before the step.
  double train_step(const float* input, const float* target, int64_t batch, int64_t length);
  // Inference-mode forward (no dropout), outputs (batch, length).
  void predict(const float* input, int64_t batch, int64_t length, float* output);
  // Gradient of the loss for the current weights without updating them (for tests).
  double loss_gradient(const float* input, const float* target, int64_t batch, int64_t length,
                       std::vector<float>& grad_flat, bool dropout);

  // Weights only: what sr-infer loads.
  WeightFile weights() const;
  // Weights + Adam moments + step; loadable by the constructor (moments are restored).
  WeightFile checkpoint() const;
  // Name and offset of each parameter tensor in the flat buffer (sorted by name).
  const std::map<std::string, std::pair<size_t, std::vector<int64_t>>>& layout() const {
    return layout_;
  }
  std::vector<float> parameters() const;
  void set_parameters(const std::vector<float>& flat);

 private:
  struct Program;
  Program& program(int64_t batch, int64_t length, bool training);
  double forward_backward(const float* input, const float* target, int64_t batch, int64_t length,
                          bool training);

  Backend& backend_;
  ModelConfig config_;
  TrainOptions options_;
  std::map<std::string, std::pair<size_t, std::vector<int64_t>>> layout_;
  size_t params_count_ = 0;
  float* params_ = nullptr;  // backend memory: weights, gradients, Adam moments
  float* grads_ = nullptr;
  std::vector<float> adam_m_, adam_v_;  // host (the optimizer runs on the host for now)
  int64_t step_ = 0;
  std::map<std::tuple<int64_t, int64_t, bool>, std::unique_ptr<Program>> programs_;
  uint64_t next_program_id_ = 1;
};

}  // namespace sr
