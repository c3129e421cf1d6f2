// Shared test helpers: fresh random data, relative-error comparison, OpCall construction.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sr/ops.h"
#include "sr/tensor.h"

namespace sr::test {

// A new seed per call site and run would make failures unreproducible; tests pass their own seed.
inline std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

inline HostTensor random_tensor(Shape shape, uint32_t seed, float scale = 1.0f) {
  HostTensor t(shape);
  t.values = random_vector(static_cast<size_t>(shape.numel()), seed, scale);
  return t;
}

// Output buffers start as NaN so an element the op forgot to write fails the comparison.
inline HostTensor poisoned_tensor(Shape shape) {
  HostTensor t(shape);
  for (float& x : t.values) x = std::nanf("");
  return t;
}

struct ErrorStats {
  double max_abs = 0, max_rel = 0, nmse = 0;
  size_t nonfinite = 0;
};

// max |a-b| / (atol + |ref|) style statistics plus normalised mean-square error.
inline ErrorStats compare(const std::vector<float>& got, const std::vector<double>& ref,
                          double atol) {
  REQUIRE(got.size() == ref.size());
  ErrorStats s;
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++s.nonfinite;
      continue;
    }
    double d = std::fabs(got[i] - ref[i]);
    s.max_abs = std::max(s.max_abs, d);
    s.max_rel = std::max(s.max_rel, d / (atol + std::fabs(ref[i])));
    err2 += d * d;
    ref2 += ref[i] * ref[i];
  }
  s.nmse = ref2 > 0 ? err2 / ref2 : err2;
  return s;
}

inline ErrorStats compare(const std::vector<float>& got, const std::vector<float>& ref,
                          double atol) {
  return compare(got, std::vector<double>(ref.begin(), ref.end()), atol);
}

// Asserts |got - ref| <= atol + rtol * |ref| everywhere and that every element is finite.
#define SR_REQUIRE_CLOSE(got, ref, atol, rtol)                                              \
  do {                                                                                      \
    auto sr_stats_ = ::sr::test::compare((got), (ref), (atol) / (rtol));                    \
    INFO("max_abs=" << sr_stats_.max_abs << " max_rel=" << sr_stats_.max_rel                \
                    << " nmse=" << sr_stats_.nmse << " nonfinite=" << sr_stats_.nonfinite); \
    REQUIRE(sr_stats_.nonfinite == 0);                                                      \
    REQUIRE(sr_stats_.max_rel <= (rtol));                                                   \
  } while (0)

inline WeightView weight_view(const std::vector<float>& v, std::vector<int64_t> dims) {
  return WeightView{v.data(), std::move(dims)};
}

}  // namespace sr::test
