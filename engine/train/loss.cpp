// Training losses and their gradients.
#include <cmath>
#include <string>

#include "sr/error.h"
#include "sr/trainer.h"
#include "train/stft_loss.h"

namespace sr {

// y, t: (patches, length). MSE: mean (y - t)^2 over all samples, dL/dy = 2 (y - t) / n.
// RMSE (K21): mean over patches of sqrt(mean_t (y - t)^2 + 1e-6),
//   dL/dy = (y - t) / (patches * length * sqrt(mean_t (y - t)^2 + 1e-6)).
// MAE: mean |y - t| over all samples, dL/dy = sign(y - t) / n.
double loss_and_grad(LossKind kind, const float* y, const float* t, int64_t patches, int64_t length,
                     float* grad) {
  SR_CHECK(patches > 0 && length > 0, "empty loss");
  SR_CHECK(kind != LossKind::mrstft && kind != LossKind::pcm, "mrstft and pcm need a LossSpec");
  const double n = static_cast<double>(patches) * length;
  double total = 0;
  for (int64_t p = 0; p < patches; ++p) {
    const float* yp = y + p * length;
    const float* tp = t + p * length;
    if (kind == LossKind::mae) {
      for (int64_t i = 0; i < length; ++i) {
        const double d = static_cast<double>(yp[i]) - tp[i];
        total += std::fabs(d) / n;
        if (grad) grad[p * length + i] = static_cast<float>(((d > 0) - (d < 0)) / n);
      }
      continue;
    }
    double sq = 0;
    for (int64_t i = 0; i < length; ++i) {
      const double d = static_cast<double>(yp[i]) - tp[i];
      sq += d * d;
    }
    if (kind == LossKind::mse) {
      total += sq / n;
      if (grad)
        for (int64_t i = 0; i < length; ++i)
          grad[p * length + i] = static_cast<float>(2.0 * (static_cast<double>(yp[i]) - tp[i]) / n);
    } else {
      const double rms = std::sqrt(sq / length + 1e-6);
      total += rms / patches;
      if (grad)
        for (int64_t i = 0; i < length; ++i)
          grad[p * length + i] =
              static_cast<float>((static_cast<double>(yp[i]) - tp[i]) / (n * rms));
    }
  }
  return total;
}

// The weighted sum of the terms; mrstft's norms and means run over the whole batch.
double loss_and_grad(const LossSpec& loss, const float* y, const float* t, const float* x,
                     int64_t patches, int64_t length, float* grad) {
  SR_CHECK(!loss.terms.empty(), "empty loss specification");
  const size_t n = static_cast<size_t>(patches * length);
  std::vector<float> term_grad(grad ? n : 0);
  if (grad) std::fill(grad, grad + n, 0.0f);
  // The spectral terms run in double: y, t (and x for pcm) converted once for all of them.
  std::vector<double> yd, td, xd, gd;
  double total = 0;
  for (const LossSpec::Term& term : loss.terms) {
    double value = 0;
    if (term.kind == LossKind::mrstft || term.kind == LossKind::pcm) {
      if (yd.empty()) yd.assign(y, y + n), td.assign(t, t + n), gd.resize(grad ? n : 0);
      double* g = grad ? gd.data() : nullptr;
      if (term.kind == LossKind::mrstft) {
        StftLossOptions o;
        o.ratio = loss.ratio;
        o.high_band_weight = loss.high_band_weight;
        value = mrstft_loss(yd.data(), td.data(), patches, length, g, o);
      } else {
        SR_CHECK(x != nullptr, "the pcm loss needs the network input");
        if (xd.empty()) xd.assign(x, x + n);
        value = pcm_loss(yd.data(), td.data(), xd.data(), patches, length, g);
      }
      if (grad)
        for (size_t i = 0; i < n; ++i) term_grad[i] = static_cast<float>(gd[i]);
    } else {
      value = loss_and_grad(term.kind, y, t, patches, length, grad ? term_grad.data() : nullptr);
    }
    total += term.weight * value;
    if (grad)
      for (size_t i = 0; i < n; ++i) grad[i] += static_cast<float>(term.weight) * term_grad[i];
  }
  return total;
}

const char* loss_name(LossKind kind) {
  switch (kind) {
    case LossKind::mse:
      return "mse";
    case LossKind::rmse:
      return "rmse";
    case LossKind::mae:
      return "mae";
    case LossKind::mrstft:
      return "mrstft";
    case LossKind::pcm:
      return "pcm";
  }
  return "?";
}

LossSpec parse_loss(const std::string& text) {
  LossSpec spec;
  spec.terms.clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('+', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    LossSpec::Term term;
    const size_t star = part.find('*');
    if (star != std::string::npos) {
      const std::string w = part.substr(0, star);
      size_t used = 0;
      try {
        term.weight = std::stod(w, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != w.size() || !(term.weight > 0) || !std::isfinite(term.weight))
        fail("loss '", text, "': '", w, "' is not a positive weight");
      part = part.substr(star + 1);
    }
    if (part == "tpcm") {  // Wang & Wang's T-PCM: 0.6 time-domain MAE + 0.4 PCM
      spec.terms.push_back({LossKind::mae, 0.6 * term.weight});
      spec.terms.push_back({LossKind::pcm, 0.4 * term.weight});
      start = end + 1;
      continue;
    }
    bool known = false;
    for (LossKind k :
         {LossKind::mse, LossKind::rmse, LossKind::mae, LossKind::mrstft, LossKind::pcm})
      if (part == loss_name(k)) term.kind = k, known = true;
    if (!known)
      fail("loss '", text, "': unknown term '", part, "' (mse, rmse, mae, mrstft, pcm, tpcm)");
    spec.terms.push_back(term);
    start = end + 1;
  }
  return spec;
}

}  // namespace sr
