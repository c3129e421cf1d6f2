// Training losses and their gradients.
#include <cmath>

#include "sr/error.h"
#include "sr/trainer.h"

namespace sr {

// y, t: (patches, length). MSE: mean (y - t)^2 over all samples, dL/dy = 2 (y - t) / n.
// RMSE (K21): mean over patches of sqrt(mean_t (y - t)^2 + 1e-6),
//   dL/dy = (y - t) / (patches * length * sqrt(mean_t (y - t)^2 + 1e-6)).
double loss_and_grad(LossKind kind, const float* y, const float* t, int64_t patches, int64_t length,
                     float* grad) {
  SR_CHECK(patches > 0 && length > 0, "empty loss");
  const double n = static_cast<double>(patches) * length;
  double total = 0;
  for (int64_t p = 0; p < patches; ++p) {
    const float* yp = y + p * length;
    const float* tp = t + p * length;
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

}  // namespace sr
