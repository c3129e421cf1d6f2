// The trainer: whole-network gradients against finite differences, learning on a fixed batch,
// and checkpoint resume that continues exactly where it stopped.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "sr/backend.h"
#include "sr/error.h"
#include "sr/model.h"
#include "sr/trainer.h"
#include "sr/weights.h"
#include "test_util.h"

using namespace sr;

namespace {

ModelConfig tiny(Arch arch) {
  ModelConfig c = default_config(arch);
  c.layers = 2;
  c.filters = {8, 16};
  c.kernels = {9, 5};
  c.bottleneck_filters = 16;
  c.bottleneck_kernel = 5;
  c.base_block = 16;
  c.attention_layers = 1;
  c.ff_dim = 16;
  c.patch_length = 128;
  return c;
}

struct Batch {
  std::vector<float> x, t;
};

Batch make_batch(int64_t batch, int64_t length, uint32_t seed) {
  Batch b;
  b.x = test::random_vector(batch * length, seed, 0.5f);
  // A learnable target: a fixed linear filter of the input (gain and a one-sample echo).
  b.t.assign(b.x.size(), 0.0f);
  for (int64_t p = 0; p < batch; ++p)
    for (int64_t i = 0; i < length; ++i)
      b.t[p * length + i] = 0.5f * b.x[p * length + i] + (i ? 0.3f * b.x[p * length + i - 1] : 0);
  return b;
}

}  // namespace

TEST_CASE("loss gradients: MSE and per-patch RMSE against finite differences", "[train]") {
  std::vector<float> y = test::random_vector(3 * 17, 1), t = test::random_vector(3 * 17, 2);
  for (LossKind kind : {LossKind::mse, LossKind::rmse}) {
    std::vector<float> grad(y.size());
    loss_and_grad(kind, y.data(), t.data(), nullptr, 3, 17, grad.data());
    for (size_t i = 0; i < y.size(); i += 5) {
      std::vector<float> yp = y, ym = y;
      const float h = 1e-2f;  // the losses are smooth (quadratic / sqrt of a positive quadratic)
      yp[i] += h;
      ym[i] -= h;
      double fd = (loss_and_grad(kind, yp.data(), t.data(), nullptr, 3, 17, nullptr) -
                   loss_and_grad(kind, ym.data(), t.data(), nullptr, 3, 17, nullptr)) /
                  (2 * h);
      // Float32 inputs and an O(h^2) central difference: 1e-3 relative is ample.
      CHECK(std::fabs(fd - grad[i]) <= 1e-3 * std::fabs(fd) + 1e-6);
    }
  }
}

TEST_CASE("whole-network gradients match finite differences", "[train]") {
  for (int variant = 0; variant < 4; ++variant) {
    // audiounet, tfilm, afilm with the originals' blocks; audiounet with PReLU blocks.
    const Arch arch = variant == 3 ? Arch::audiounet : Arch(variant);
    ModelConfig config = tiny(arch);
    if (variant == 3) config.block_activation = ModelConfig::BlockActivation::prelu;
    INFO("arch " << arch_name(arch) << (variant == 3 ? " with PReLU" : ""));
    WeightFile w = init_weights(config, 3);
    // A final conv of normal scale, so every layer's gradient is far above float32 noise.
    for (float& v : w.tensors.at("final.conv.weight").values) v *= 100.0f;
    for (auto& [name, t] : w.tensors)  // PReLU slopes away from 0, so both sides are exercised
      if (name.size() > 6 && name.compare(name.size() - 6, 6, ".alpha") == 0) t.values = {0.25f};
    auto backend = make_cpu_backend();
    TrainOptions o;
    o.dropout = false;
    Trainer trainer(w, *backend, o);
    Batch b = make_batch(2, 128, 9);
    std::vector<float> grad;
    trainer.loss_gradient(b.x.data(), b.t.data(), 2, 128, grad, false);
    const std::vector<float> base = trainer.parameters();
    // Per tensor, the directional derivative along that tensor's own gradient must equal the
    // gradient's norm: a strong signal even where single entries are tiny, and a wrong backward in
    // any layer changes it.
    int checked = 0;
    for (const auto& [name, entry] : trainer.layout()) {
      size_t n = 1;
      for (int64_t d : entry.second) n *= d;
      double norm2 = 0;
      for (size_t i = entry.first; i < entry.first + n; ++i) norm2 += double(grad[i]) * grad[i];
      const double norm = std::sqrt(norm2);
      if (norm < 1e-5) continue;  // a tensor the loss barely sees: float32 noise is ~3e-7
      const double h = 1e-3;
      std::vector<float> plus = base, minus = base;
      for (size_t i = entry.first; i < entry.first + n; ++i) {
        plus[i] += static_cast<float>(h * grad[i] / norm);
        minus[i] -= static_cast<float>(h * grad[i] / norm);
      }
      std::vector<float> unused;
      trainer.set_parameters(plus);
      double lp = trainer.loss_gradient(b.x.data(), b.t.data(), 2, 128, unused, false);
      trainer.set_parameters(minus);
      double lm = trainer.loss_gradient(b.x.data(), b.t.data(), 2, 128, unused, false);
      trainer.set_parameters(base);
      const double fd = (lp - lm) / (2 * h);
      INFO(name << ": |gradient| " << norm << ", directional finite difference " << fd);
      // Float32 outputs (the double loss averages their rounding to ~1e-8 relative) over a step
      // of 1e-3, plus the few ReLU/max-pool kinks the step crosses: 5% catches a wrong backward.
      CHECK(std::fabs(fd - norm) <= 0.05 * norm + 1e-7);
      ++checked;
    }
    // At random init the TFiLM's deep LSTM sites pass little gradient (their factors are small);
    // each op's backward is checked on its own in tests/backend/test_ops_grad_*.cpp.
    CHECK(checked >= 8);
  }
}

TEST_CASE("training lowers the loss on a fixed batch", "[train]") {
  for (Arch arch : {Arch::tfilm, Arch::afilm}) {
    auto backend = make_cpu_backend();
    TrainOptions o;
    o.lr = 1e-3f;
    Trainer trainer(init_weights(tiny(arch), 5), *backend, o);
    Batch b = make_batch(4, 128, 21);
    const double first = trainer.train_step(b.x.data(), b.t.data(), 4, 128);
    double last = first;
    for (int i = 0; i < 100; ++i) last = trainer.train_step(b.x.data(), b.t.data(), 4, 128);
    INFO(arch_name(arch) << ": loss " << first << " -> " << last);
    CHECK(last < 0.7 * first);
  }
}

TEST_CASE("a resumed checkpoint continues exactly like an uninterrupted run", "[train]") {
  const WeightFile init = init_weights(tiny(Arch::tfilm), 7);
  Batch b = make_batch(2, 128, 31);
  TrainOptions o;
  o.lr = 1e-3f;
  auto backend = make_cpu_backend();
  Trainer straight(init, *backend, o);
  for (int i = 0; i < 6; ++i) straight.train_step(b.x.data(), b.t.data(), 2, 128);

  Trainer first_half(init, *backend, o);
  for (int i = 0; i < 3; ++i) first_half.train_step(b.x.data(), b.t.data(), 2, 128);
  WeightFile ckpt = first_half.checkpoint();
  Trainer resumed(ckpt, *backend, o);
  CHECK(resumed.step() == 3);
  for (int i = 0; i < 3; ++i) resumed.train_step(b.x.data(), b.t.data(), 2, 128);
  // Same data, same dropout seeds (a function of the step), same moments: same floats.
  CHECK(resumed.parameters() == straight.parameters());
  // The weights-only file loads as an inference model.
  WeightFile model = resumed.weights();
  CHECK(model.tensors.size() == resumed.layout().size());
}

TEST_CASE("loss gradients: MAE and weighted sums against finite differences", "[train]") {
  std::vector<float> y = test::random_vector(3 * 17, 3), t = test::random_vector(3 * 17, 4);
  const LossSpec spec = parse_loss("mae+0.5*mse+2*rmse");
  REQUIRE(spec.terms.size() == 3);
  REQUIRE(spec.terms[1].weight == 0.5);
  std::vector<float> grad(y.size());
  loss_and_grad(spec, y.data(), t.data(), nullptr, 3, 17, grad.data());
  for (size_t i = 0; i < y.size(); i += 4) {
    std::vector<float> yp = y, ym = y;
    const float h = 1e-3f;  // |y - t| is far above h at these random points: no kink in between
    REQUIRE(std::fabs(y[i] - t[i]) > 10 * h);
    yp[i] += h;
    ym[i] -= h;
    const double fd = (loss_and_grad(spec, yp.data(), t.data(), nullptr, 3, 17, nullptr) -
                       loss_and_grad(spec, ym.data(), t.data(), nullptr, 3, 17, nullptr)) /
                      (2 * h);
    CHECK(std::fabs(fd - grad[i]) <= 2e-3 * std::fabs(fd) + 1e-5);
  }
}

TEST_CASE("parse_loss refuses unknown terms and bad weights", "[train]") {
  REQUIRE(parse_loss("mrstft").terms[0].kind == LossKind::mrstft);
  const LossSpec tpcm = parse_loss("2*tpcm+mse");  // T-PCM: 0.6 mae + 0.4 pcm, scaled by 2
  REQUIRE(tpcm.terms.size() == 3);
  REQUIRE(tpcm.terms[0].kind == LossKind::mae);
  REQUIRE(tpcm.terms[0].weight == Approx(1.2));
  REQUIRE(tpcm.terms[1].kind == LossKind::pcm);
  REQUIRE(tpcm.terms[1].weight == Approx(0.8));
  REQUIRE(tpcm.terms[2].kind == LossKind::mse);
  std::vector<float> y(2 * 600, 0.1f), t(2 * 600, 0.2f);
  REQUIRE_THROWS_AS(loss_and_grad(tpcm, y.data(), t.data(), nullptr, 2, 600, nullptr), sr::Error);
  REQUIRE_THROWS_AS(parse_loss("l2"), sr::Error);
  REQUIRE_THROWS_AS(parse_loss("mae+"), sr::Error);
  REQUIRE_THROWS_AS(parse_loss("-1*mae"), sr::Error);
  REQUIRE_THROWS_AS(parse_loss("x*mae"), sr::Error);
}
