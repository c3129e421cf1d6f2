// Helpers of the CUDA backend tests: the skip rule, one op run on any backend with poisoned
// outputs, and comparisons.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "sr/backend.h"
#include "sr/error.h"
#include "test_util.h"

// First statement of every GPU test case: without a device the case exits 77, which CTest
// (SKIP_RETURN_CODE 77) reports as skipped rather than passed.
#define SR_REQUIRE_GPU()                        \
  do {                                          \
    if (!::sr::cuda_available()) {              \
      std::printf("SKIPPED: no CUDA device\n"); \
      std::fflush(stdout);                      \
      std::exit(77);                            \
    }                                           \
  } while (0)

namespace sr::gpu_test {

// Program ids must be unique per program on one backend (the backend also fingerprints
// programs, so a reused id could not replay a wrong graph, but tests should not lean on that).
inline uint64_t next_program_id() {
  static uint64_t id = 1000;
  return ++id;
}

// One op with host data.
struct OpSpec {
  Op op = Op::add;
  OpParams params;
  std::vector<HostTensor> inputs;
  std::vector<std::vector<float>> weights;
  std::vector<std::vector<int64_t>> weight_dims;
  Shape output;
};

inline std::unique_ptr<Backend> cuda_backend(Precision precision, ConvImpl impl = ConvImpl::ours) {
  BackendOptions o;
  o.precision = precision;
  o.conv_impl = impl;
  return make_cuda_backend(o);
}

// Poisons n floats of backend memory with 0xFFFFFFFF (a NaN), through the backend's own upload so
// that the test talks to the CUDA backend only through its module (kernels/cuda_module.h).
inline void poison(Backend& backend, float* ptr, size_t n) {
  const uint32_t bits = 0xFFFFFFFFu;
  float nan;
  std::memcpy(&nan, &bits, sizeof(nan));
  std::vector<float> values(n, nan);
  backend.upload(ptr, values.data(), n);
}

// Runs `spec` on `backend` `runs` times (the CUDA backend runs eagerly and captures a graph the
// first time and replays the graph after), poisoning the output before each run. Every run must
// give the same bits; returns the output.
inline std::vector<float> run_op(Backend& backend, const OpSpec& spec, int runs = 2) {
  struct Buffers {  // released also when the run throws (a refused program)
    Backend& backend;
    std::vector<float*> ptrs;
    ~Buffers() {
      for (float* p : ptrs) backend.release(p);
    }
  } buffers{backend, {}};
  auto alloc = [&](const float* src, size_t n) {
    float* p = backend.allocate(n);
    buffers.ptrs.push_back(p);
    if (src) backend.upload(p, src, n);
    return p;
  };
  OpCall call;
  call.op = spec.op;
  call.params = spec.params;
  for (size_t i = 0; i < spec.inputs.size(); ++i)
    call.inputs[i] = {alloc(spec.inputs[i].values.data(), spec.inputs[i].values.size()),
                      spec.inputs[i].shape};
  for (size_t i = 0; i < spec.weights.size(); ++i)
    call.weights[i] = {alloc(spec.weights[i].data(), spec.weights[i].size()), spec.weight_dims[i]};
  const size_t n_out = static_cast<size_t>(spec.output.numel());
  call.output = {alloc(nullptr, n_out), spec.output};
  const uint64_t id = next_program_id();
  std::vector<float> first(n_out), again(n_out);
  for (int r = 0; r < runs; ++r) {
    poison(backend, call.output.data, n_out);
    backend.run({call}, id);
    backend.download(r == 0 ? first.data() : again.data(), call.output.data, n_out);
    if (r > 0) {
      INFO("run " << r << " of the same program differs from the first (graph replay)");
      REQUIRE(std::memcmp(first.data(), again.data(), n_out * sizeof(float)) == 0);
    }
  }
  return first;
}

// Runs `spec` with x as channels [x_off, x_off + Cin) of a buffer with ldx channels and y as
// channels [y_off, y_off + C) of a poisoned buffer with ldy channels; returns the whole y buffer.
inline std::vector<float> run_strided(sr::Backend& backend, const OpSpec& spec, int64_t ldx,
                                      int64_t x_off, int64_t ldy, int64_t y_off) {
  const sr::Shape xs = spec.inputs[0].shape;
  std::vector<float> xbuf(size_t(xs.b * xs.l * ldx), 0.5f);
  for (int64_t r = 0; r < xs.b * xs.l; ++r)
    for (int64_t c = 0; c < xs.c; ++c)
      xbuf[size_t(r * ldx + x_off + c)] = spec.inputs[0].values[size_t(r * xs.c + c)];
  const size_t y_size = size_t(spec.output.b * spec.output.l * ldy);
  float* dx = backend.allocate(xbuf.size());
  float* dw = backend.allocate(spec.weights[0].size());
  float* db = backend.allocate(spec.weights[1].size());
  float* dy = backend.allocate(y_size);
  backend.upload(dx, xbuf.data(), xbuf.size());
  backend.upload(dw, spec.weights[0].data(), spec.weights[0].size());
  backend.upload(db, spec.weights[1].data(), spec.weights[1].size());
  sr::OpCall call;
  call.op = Op::conv1d;
  call.params = spec.params;
  call.inputs[0] = {dx + x_off, xs, ldx};
  call.weights[0] = {dw, spec.weight_dims[0]};
  call.weights[1] = {db, spec.weight_dims[1]};
  call.output = {dy + y_off, spec.output, ldy};
  poison(backend, dy, y_size);
  backend.run({call}, next_program_id());
  std::vector<float> y(y_size);
  backend.download(y.data(), dy, y_size);
  for (float* p : {dx, dw, db, dy}) backend.release(p);
  return y;
}

inline size_t count_nonfinite(const std::vector<float>& v) {
  size_t n = 0;
  for (float x : v) n += std::isfinite(x) ? 0 : 1;
  return n;
}

// Bit-exact agreement (ops that are copies, max or a single rounded operation).
inline void require_identical(const std::vector<float>& got, const std::vector<float>& ref) {
  REQUIRE(got.size() == ref.size());
  size_t bad = 0, first_bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(got[i] == ref[i])) {
      if (bad++ == 0) first_bad = i;
    }
  INFO(bad << " of " << got.size() << " elements differ; first at " << first_bad << ": got "
           << (bad ? got[first_bad] : 0.0f) << ", want " << (bad ? ref[first_bad] : 0.0f));
  REQUIRE(bad == 0);
}

// max |got - ref| <= tol everywhere, every element finite.
inline void require_max_abs(const std::vector<float>& got, const std::vector<float>& ref,
                            double tol) {
  REQUIRE(got.size() == ref.size());
  double worst = 0;
  size_t at = 0, nonfinite = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) {
      ++nonfinite;
      continue;
    }
    const double d = std::fabs(double(got[i]) - double(ref[i]));
    if (d > worst) {
      worst = d;
      at = i;
    }
  }
  INFO("max |diff| = " << worst << " at " << at << " (tolerance " << tol << "), " << nonfinite
                       << " non-finite of " << got.size());
  REQUIRE(nonfinite == 0);
  REQUIRE(worst <= tol);
}

// Normalised mean-square error of got against ref (double sums); NaN if got has non-finite values.
inline double nmse(const std::vector<float>& got, const std::vector<float>& ref) {
  REQUIRE(got.size() == ref.size());
  double err = 0, pow = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return std::nan("");
    const double d = double(got[i]) - double(ref[i]);
    err += d * d;
    pow += double(ref[i]) * double(ref[i]);
  }
  return pow > 0 ? err / pow : err;
}

}  // namespace sr::gpu_test
