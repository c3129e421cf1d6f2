// Tensors are float32 and channels-last: (B, L, C), batch, length (time or blocks), channels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sr {

struct Shape {
  int64_t b = 0, l = 0, c = 0;
  int64_t numel() const { return b * l * c; }
  bool operator==(const Shape& o) const { return b == o.b && l == o.l && c == o.c; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;
};

// A non-owning view of a float buffer that lives on some backend (host or device memory). Rows
// (b, l) are `ld` floats apart; ld = 0 means dense (shape.c). A strided view is a channel slice
// of a wider buffer: the planner lays the two inputs of a concat out that way so that their
// producers write the concatenation directly (engine/core/fusion.cpp). Only the ops that say so
// in check_op_call accept strided views.
struct TensorView {
  float* data = nullptr;
  Shape shape;
  int64_t ld = 0;
  int64_t numel() const { return shape.numel(); }
  int64_t row_stride() const { return ld ? ld : shape.c; }
  bool dense() const { return ld == 0 || ld == shape.c; }
};

// Weights keep their own (any-rank) shape; backends read them through this view.
struct WeightView {
  const float* data = nullptr;
  std::vector<int64_t> dims;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
};

// Host-owned tensor, used by tools, tests and I/O.
struct HostTensor {
  Shape shape;
  std::vector<float> values;
  HostTensor() = default;
  explicit HostTensor(Shape s) : shape(s), values(static_cast<size_t>(s.numel()), 0.0f) {}
  TensorView view() { return {values.data(), shape}; }
  float& at(int64_t b, int64_t l, int64_t c) { return values[(b * shape.l + l) * shape.c + c]; }
  float at(int64_t b, int64_t l, int64_t c) const {
    return values[(b * shape.l + l) * shape.c + c];
  }
};

}  // namespace sr
