// exp, sigmoid and tanh for loops the compiler vectorises: no calls, no branches, no errno. The
// LSTM gates evaluate five of them per unit and step; glibc's scalar expf/tanhf made the gate
// loop, not the recurrent product, the cost of the small models' LSTMs.
//
// Accuracy (checked against double in tests/unit/test_fast_math.cpp over [-90, 90]):
//   fast_exp: relative error < 3e-7 (a few ulp), saturating to 0 / FLT_MAX-ish at the ends;
//   fast_sigmoid: absolute error < 2e-7;  fast_tanh: absolute error < 3e-7.
#pragma once

#include <cstdint>
#include <cstring>

namespace sr::cpu {

#if defined(__GNUC__)
#define SR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SR_ALWAYS_INLINE inline
#endif

// e^x = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2) / 2; e^r by its Taylor polynomial to
// r^7 (truncation < 3e-9 relative), 2^n by building the float's exponent field.
SR_ALWAYS_INLINE float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);  // 2^n stays a normal float
  // round to nearest by adding and removing 1.5 * 2^23 (plain float arithmetic, so it vectorises
  // where roundf would not)
  constexpr float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;  // Cody-Waite
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

SR_ALWAYS_INLINE float fast_sigmoid(float x) {
  return 1.0f / (1.0f + fast_exp(-x));
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = e^(-2|x|) in (0, 1]: no overflow for large |x|.
SR_ALWAYS_INLINE float fast_tanh(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float e = fast_exp(-2.0f * ax);
  const float t = (1.0f - e) / (1.0f + e);
  return x < 0.0f ? -t : t;
}

}  // namespace sr::cpu
