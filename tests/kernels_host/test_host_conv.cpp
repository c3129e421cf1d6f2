// conv1d's CUDA kernels, run from their own source by the host execution (host_backend.h), against
// the CPU backend: every path (direct, thin, exact FP32 tiles, tensor cores in TF32 and BF16 with
// and without split-K, the epilogue kernel after split-K and odd lengths), every fused epilogue and
// strided views, on small shapes that still reach every tile edge, remainder and split.
//
// Error bounds (inputs and weights U(-1, 1), n = K * Cin products per output):
//   exact    against the CPU on the operands the kernel multiplies: the FP32 kernels on x and w,
//            the tensor-core kernel on x and w rounded as the hardware rounds them (TF32 cvt.rna,
//            BF16 nearest even); products exact, FP32 sums in another order: 1e-5 * sqrt(n) max,
//            NMSE 1e-9 (tests/gpu's fp32 bound). A missing rounding (the tensor core then
//            truncates) or a wrong operand is far outside it.
//   precision  the tensor-core result against the CPU on the unrounded operands: tests/gpu's TF32
//            (2e-3 * sqrt(n), NMSE 1e-5) and BF16 (1.5e-2 * sqrt(n), NMSE 1e-4) bounds.
#include <cuda_runtime.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gpu/conv_cases.h"
#include "gpu/gpu_test_util.h"
#include "host_backend.h"

namespace {

using sr::Op;
using sr::Precision;
using sr::conv_cases::conv_spec;
using sr::conv_cases::ConvCase;
using sr::gpu_test::OpSpec;
using sr::gpu_test::run_op;

// A shape and the kernel conv1d.cu picks for it in tf32 mode (bf16 takes the same).
struct PathCase {
  ConvCase shape;
  const char* tf32_path;
};

// v rounded to `bits` significant bits, to nearest: ties away from zero (TF32, cvt.rna) or to even
// (BF16, __float2bfloat16_rn). Written independently of the emulation's bit tricks.
float round_to_bits(float v, int bits, bool ties_away) {
  int e = 0;
  const double scaled = std::ldexp(std::frexp(double(v), &e), bits);
  return float(std::ldexp(ties_away ? std::round(scaled) : std::nearbyint(scaled), e - bits));
}

// The spec with x and w rounded as the tensor-core path rounds them in `p` (bias stays FP32).
OpSpec rounded_operands(OpSpec s, Precision p) {
  const int bits = p == Precision::tf32 ? 11 : 8;
  for (float& v : s.inputs[0].values) v = round_to_bits(v, bits, p == Precision::tf32);
  for (float& v : s.weights[0]) v = round_to_bits(v, bits, p == Precision::tf32);
  return s;
}

struct Bound {
  double max_abs_per_sqrt_n, nmse;
};
constexpr Bound kExact{1e-5, 1e-9};
Bound precision_bound(Precision p) {
  return p == Precision::tf32 ? Bound{2e-3, 1e-5} : Bound{1.5e-2, 1e-4};
}

void require_within(const std::vector<float>& got, const std::vector<float>& ref, Bound bound,
                    double sqrt_n) {
  sr::gpu_test::require_max_abs(got, ref, bound.max_abs_per_sqrt_n * sqrt_n);
  const double e = sr::gpu_test::nmse(got, ref);
  INFO("nmse=" << e << " (bound " << bound.nmse << ")");
  REQUIRE(e <= bound.nmse);
}

// Host backends per precision and SM count, made once (each holds a context with its derived
// weights and the device's SM count).
sr::Backend& host_backend(Precision p) {
  static std::map<std::pair<int, int>, std::unique_ptr<sr::Backend>> backends;
  auto& slot = backends[{int(p), sr::host::sm_count()}];
  if (!slot) slot = sr::kernel_host::make_host_cuda_backend(p);
  return *slot;
}

std::string path_of(const OpSpec& spec, Precision p) {
  sr::OpCall probe;
  probe.op = Op::conv1d;
  probe.params = spec.params;
  probe.inputs[0] = {reinterpret_cast<float*>(uintptr_t{256}), spec.inputs[0].shape};
  probe.weights[0] = {reinterpret_cast<const float*>(uintptr_t{256}), spec.weight_dims[0]};
  probe.output.shape = spec.output;
  return sr::kernel_host::conv1d_path(probe, p);
}

bool on_tensor_cores(const std::string& path) {
  return path.rfind("mma", 0) == 0;
}

// Runs `spec` (through `run`, which returns what the comparison covers) on the host-executed
// kernels in every precision and checks it against the CPU backend.
template <typename Run>
void check_all_precisions(const OpSpec& spec, double sqrt_n, const Run& run) {
  auto cpu = sr::kernel_host::make_reference_backend();
  const std::vector<float> ref = run(*cpu, spec);
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    const std::string path = path_of(spec, p);
    INFO("precision=" << sr::precision_name(p) << " path=" << path);
    const std::vector<float> got = run(host_backend(p), spec);
    if (!on_tensor_cores(path)) {
      require_within(got, ref, kExact, sqrt_n);
      continue;
    }
    require_within(got, run(*cpu, rounded_operands(spec, p)), kExact, sqrt_n);
    require_within(got, ref, precision_bound(p), sqrt_n);
  }
}

std::vector<float> run_plain(sr::Backend& backend, const OpSpec& spec) {
  return run_op(backend, spec, 1);
}

}  // namespace

TEST_CASE("host-executed conv1d: every kernel path on odd shapes", "[kernel_host][conv]") {
  // 128 x 128 x 32 tensor-core tiles, k-tiles of 32 (Cin = 32: one per tap), split-K when the
  // tiles cannot fill 132 SMs and there are >= 16 k-tiles; 128 x 128 x 8 exact FP32 tiles.
  const std::vector<PathCase> cases = {
      {{2, 61, 1, 16, 65, 2, "direct (Cin = 1, first layer)"}, "direct fp32"},
      {{1, 37, 1, 8, 65, 2, "direct, L < receptive span"}, "direct fp32"},
      {{2, 57, 7, 5, 9, 2, "direct, largest Cin"}, "direct fp32"},
      {{2, 21, 8, 5, 9, 2, "thin (Cout = 5)"}, "thin fp32"},
      {{1, 23, 40, 2, 9, 1, "thin, Cin > 32 (lanes loop)"}, "thin fp32"},
      {{2, 70, 32, 24, 9, 1, "mma, 9 k-tiles, partial m- and n-tiles"}, "mma tf32"},
      {{1, 40, 32, 136, 5, 1, "mma, two n-tiles, the second nearly empty"}, "mma tf32"},
      {{1, 40, 32, 16, 1, 1, "mma, K = 1: one k-tile (< pipeline depth)"}, "mma tf32"},
      {{1, 3, 64, 16, 5, 2, "mma, L = 3 < span: outer taps all padding"}, "mma tf32"},
      {{1, 1, 32, 16, 9, 2, "mma, one sample"}, "mma tf32"},
      {{5, 31, 96, 40, 5, 3, "mma, tiles straddle batch items"}, "mma tf32"},
      {{3, 63, 32, 24, 17, 2, "mma split-K, 17 k-tiles in 2 uneven splits"}, "mma tf32 split-k 2"},
      {{1, 100, 256, 16, 9, 2, "mma split-K 9 (72 k-tiles)"}, "mma tf32 split-k 9"},
      {{2, 129, 40, 40, 5, 2, "tiled fp32 (Cin % 32 != 0), partial tiles"}, "tiled fp32"},
      {{2, 77, 96, 12, 5, 3, "tiled fp32 (Cout % 8 != 0)"}, "tiled fp32"},
      {{3, 45, 33, 9, 3, 1, "tiled fp32, odd everything"}, "tiled fp32"},
  };
  uint32_t seed = 1000;
  for (const auto& [c, tf32_path] : cases) {
    const OpSpec spec = conv_spec(c, seed += 7);
    INFO(c.what << ": B=" << c.b << " L=" << c.l << " Cin=" << c.cin << " Cout=" << c.cout
                << " K=" << c.k << " d=" << c.dilation);
    REQUIRE(path_of(spec, Precision::tf32) == tf32_path);
    check_all_precisions(spec, std::sqrt(double(c.k * c.cin)), run_plain);
  }
}

namespace {

// x as channels [4, 4 + Cin) of rows Cin + 8 floats apart, y as channels [8, 8 + C) of rows C + 12
// apart (16-byte aligned slices, as the planner's concatenations give): returns the slice's
// elements and requires everything outside it untouched (still the NaN poison).
std::vector<float> run_sliced(sr::Backend& backend, const OpSpec& spec) {
  const int64_t ldx = spec.inputs[0].shape.c + 8, ldy = spec.output.c + 12, y_off = 8;
  const std::vector<float> y = sr::gpu_test::run_strided(backend, spec, ldx, 4, ldy, y_off);
  std::vector<float> inside;
  size_t outside_written = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const int64_t ch = int64_t(i) % ldy - y_off;
    if (ch >= 0 && ch < spec.output.c)
      inside.push_back(y[i]);
    else
      outside_written += !std::isnan(y[i]);
  }
  INFO("elements written outside the output slice: " << outside_written);
  REQUIRE(outside_written == 0);
  return inside;
}

}  // namespace

TEST_CASE("host-executed conv1d: fused epilogues and strided views, every path",
          "[kernel_host][conv][fused]") {
  const std::vector<PathCase> cases = {
      {{2, 30, 1, 16, 9, 2, "direct"}, "direct fp32"},
      {{1, 21, 24, 2, 9, 1, "thin, odd L"}, "thin fp32"},
      {{2, 12, 24, 2, 9, 1, "thin"}, "thin fp32"},
      {{2, 40, 32, 136, 3, 2, "mma, two n-tiles"}, "mma tf32"},
      {{3, 41, 32, 48, 3, 2, "mma, odd L (pool through conv_epilogue_kernel)"}, "mma tf32"},
      {{1, 64, 64, 32, 9, 2, "mma split-K (epilogue after the reduction)"}, "mma tf32 split-k 2"},
      {{2, 70, 40, 40, 3, 2, "tiled fp32"}, "tiled fp32"},
      {{2, 77, 40, 12, 3, 3, "tiled fp32, odd L"}, "tiled fp32"},
  };
  uint32_t seed = 6000;
  for (const auto& [c, tf32_path] : cases) {
    for (const sr::conv_cases::EpilogueCase& ep : sr::conv_cases::fused_epilogues()) {
      const OpSpec spec = sr::conv_cases::with_epilogue(conv_spec(c, seed += 7), ep);
      INFO(c.what << ": B=" << c.b << " L=" << c.l << " Cin=" << c.cin << " Cout=" << c.cout
                  << " pool2=" << ep.pool2 << " act=" << int(ep.act) << " shuffle=" << ep.shuffle
                  << " order=" << int(ep.order));
      REQUIRE(path_of(spec, Precision::tf32) == tf32_path);
      // The epilogue ops are exact (max, a relu, one product): the convolution's bounds hold.
      check_all_precisions(spec, std::sqrt(double(c.k * c.cin)), run_sliced);
    }
  }
}

TEST_CASE("host-executed conv1d: the tensor-core pipeline, for the mutation check",
          "[kernel_host][conv][mutation]") {
  // A few seconds under the sanitizers (tests/kernels_host/mutations.sh runs it against mutants):
  // more k-tiles than pipeline stages, a partial m-tile, a weight chunk starting exactly at Cout,
  // and split-K.
  const std::vector<PathCase> cases = {
      {{1, 70, 32, 24, 9, 1, "mma, 9 k-tiles, Cout = 24"}, "mma tf32"},
      {{1, 64, 64, 32, 9, 2, "mma split-K"}, "mma tf32 split-k 2"},
  };
  uint32_t seed = 7000;
  for (const auto& [c, tf32_path] : cases) {
    const OpSpec spec = conv_spec(c, seed += 7);
    INFO(c.what);
    REQUIRE(path_of(spec, Precision::tf32) == tf32_path);
    check_all_precisions(spec, std::sqrt(double(c.k * c.cin)), run_plain);
  }
}

TEST_CASE("host-executed conv1d: a split-K launch fits the resident blocks",
          "[kernel_host][conv][split]") {
  // On a 4-SM device (8 resident blocks: two per SM), 3 output tiles and 27 k-tiles: 2 splits, 6
  // blocks in one wave. (Rounding the split count up gave 3 splits, 9 blocks: two waves.)
  struct SmCount {
    explicit SmCount(int n) { sr::host::set_sm_count(n); }
    ~SmCount() { sr::host::set_sm_count(sr::host::kSmCount); }
  } small_device(4);
  const ConvCase c{1, 300, 96, 16, 9, 1, "3 tiles, 27 k-tiles"};
  const OpSpec spec = conv_spec(c, 8000);
  REQUIRE(path_of(spec, Precision::tf32) == "mma tf32 split-k 2");
  check_all_precisions(spec, std::sqrt(double(c.k * c.cin)), run_plain);
}
