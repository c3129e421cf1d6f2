// conv1d on the CUDA backend against the CPU backend, for every kernel path (direct, thin, exact
// FP32 tiles, tensor cores in TF32 and BF16 with and without split-K, cuDNN), for odd shapes and
// for every layer shape of the default network.
//
// Error bounds (inputs and weights U(-1, 1), n = K * Cin products per output, each |term| <= 1):
//   fp32  both sides FP32 in different orders: ~1e-7 * sqrt(n) RMS; bound 1e-5 * sqrt(n).
//   tf32  inputs rounded to 10 mantissa bits (relative 2^-11 each): ~1.3e-4 * sqrt(n) RMS per
//         output, ~6e-4 * sqrt(n) at the largest of 1e5 outputs; bound 2e-3 * sqrt(n), and NMSE
//         (expected ~2e-7) below 1e-5.
//   bf16  inputs rounded to 8 significant bits (relative 2^-8 each): ~1.1e-3 * sqrt(n) RMS per
//         output, ~5e-3 * sqrt(n) at the largest of 1e6 outputs; bound 1.5e-2 * sqrt(n), and NMSE
//         (expected ~1e-5) below 1e-4 (a relative RMS error of 1%). cuDNN's BF16 path also rounds
//         its output to BF16 (relative 2^-8 of |y|, NMSE +5e-6), inside the same bounds.
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "conv_cases.h"
#include "cuda_tools.h"
#include "gpu_test_util.h"

namespace {

using sr::ConvImpl;
using sr::Op;
using sr::Precision;
using sr::conv_cases::conv_spec;
using sr::conv_cases::ConvCase;
using sr::gpu_test::OpSpec;
using sr::gpu_test::run_op;

struct Bound {
  double max_abs_per_sqrt_n, nmse;
};

Bound bound_for(Precision p) {
  switch (p) {
    case Precision::fp32:
      return {1e-5, 1e-9};
    case Precision::tf32:
      return {2e-3, 1e-5};
    case Precision::bf16:
      return {1.5e-2, 1e-4};
  }
  return {0, 0};
}

// CUDA backends by (precision, impl), created once per test case (each holds handles and
// workspaces).
class Backends {
 public:
  sr::Backend& get(Precision p, ConvImpl impl) {
    auto& slot = backends_[{p, impl}];
    if (!slot) slot = sr::gpu_test::cuda_backend(p, impl);
    return *slot;
  }

 private:
  std::map<std::pair<Precision, ConvImpl>, std::unique_ptr<sr::Backend>> backends_;
};

// The kernel a call of this shape takes (for failure messages); pointers are stand-ins with the
// alignment real allocations have.
std::string path_of(sr::Backend& cuda, const OpSpec& spec) {
  sr::OpCall probe;
  probe.op = Op::conv1d;
  probe.params = spec.params;
  probe.inputs[0] = {reinterpret_cast<float*>(uintptr_t{256}), spec.inputs[0].shape};
  probe.weights[0] = {reinterpret_cast<const float*>(uintptr_t{256}), spec.weight_dims[0]};
  probe.output.shape = spec.output;
  return sr::cuda_tools::conv1d_path(cuda, probe);
}

void check_conv(Backends& backends, const ConvCase& c, const std::vector<Precision>& precisions,
                const std::vector<ConvImpl>& impls, uint32_t seed) {
  const OpSpec spec = conv_spec(c, seed);
  auto cpu = sr::make_cpu_backend();
  const std::vector<float> ref = run_op(*cpu, spec, 1);
  const double sqrt_n = std::sqrt(double(c.k * c.cin));
  for (ConvImpl impl : impls) {
    for (Precision p : precisions) {
      sr::Backend& cuda = backends.get(p, impl);
      INFO(c.what << ": B=" << c.b << " L=" << c.l << " Cin=" << c.cin << " Cout=" << c.cout
                  << " K=" << c.k << " d=" << c.dilation << " precision=" << sr::precision_name(p)
                  << " impl=" << sr::conv_impl_name(impl) << " path=" << path_of(cuda, spec));
      const std::vector<float> got = run_op(cuda, spec);
      const Bound bound = bound_for(p);
      sr::gpu_test::require_max_abs(got, ref, bound.max_abs_per_sqrt_n * sqrt_n);
      const double e = sr::gpu_test::nmse(got, ref);
      INFO("nmse=" << e);
      REQUIRE(e <= bound.nmse);
    }
  }
}

const std::vector<Precision> kAllPrecisions = {Precision::fp32, Precision::tf32, Precision::bf16};

}  // namespace

TEST_CASE("cuda conv1d: every kernel path on odd shapes", "[gpu][conv][small]") {
  SR_REQUIRE_GPU();
  const std::vector<ConvCase> cases = {
      {2, 301, 1, 16, 65, 2, "direct (Cin = 1, first layer)"},
      {1, 37, 1, 8, 65, 2, "direct, L < receptive span"},
      {2, 57, 7, 5, 9, 2, "direct, largest Cin"},
      {2, 57, 8, 5, 9, 2, "thin (Cout = 5)"},
      {2, 41, 24, 2, 9, 1, "thin (final layer shape)"},
      {3, 63, 32, 24, 17, 2, "mma, one partial n-tile, partial m-tile"},
      {3, 100, 64, 136, 9, 2, "mma, two n-tiles, the second nearly empty"},
      {1, 3, 64, 16, 9, 2, "mma, L = 3 < span: outer taps all padding"},
      {1, 1, 32, 8, 9, 2, "mma, one sample"},
      {5, 131, 96, 40, 5, 3, "mma, tiles straddle batch items"},
      {2, 129, 40, 40, 33, 2, "tiled fp32 (Cin % 32 != 0)"},
      {2, 77, 96, 12, 5, 3, "tiled fp32 (Cout % 8 != 0)"},
      {3, 45, 33, 9, 3, 1, "tiled fp32, odd everything"},
      {2, 20, 64, 16, 1, 1, "K = 1: a pointwise GEMM"},
  };
  Backends backends;
  uint32_t seed = 1000;
  for (const ConvCase& c : cases)
    check_conv(backends, c, kAllPrecisions, {ConvImpl::ours}, seed += 7);
}

TEST_CASE("cuda conv1d: split-K at batch 1 on a deep K", "[gpu][conv][small]") {
  SR_REQUIRE_GPU();
  // 8 x 4 = 32 output tiles < the SM count: the k-tiles are split and reduced in order.
  Backends backends;
  check_conv(backends, {1, 1024, 256, 512, 17, 2, "split-K"}, kAllPrecisions, {ConvImpl::ours},
             2000);
  check_conv(backends, {2, 200, 512, 64, 9, 2, "split-K, partial tiles"}, kAllPrecisions,
             {ConvImpl::ours}, 2010);
}

TEST_CASE("cuda conv1d: every layer shape of the default network", "[gpu][conv][network]") {
  SR_REQUIRE_GPU();
  // spec/COSTS.md at one 8192-sample patch (batch 1: the split-K regime), plus batch 3 for the
  // layers whose tiles straddle batch items.
  const std::vector<ConvCase> layers = {
      {1, 8192, 1, 128, 65, 2, "D0"},    {1, 4096, 128, 256, 33, 2, "D1"},
      {1, 2048, 256, 512, 17, 2, "D2"},  {1, 1024, 512, 512, 9, 2, "D3"},
      {1, 512, 512, 512, 9, 2, "B"},     {1, 256, 512, 1024, 9, 2, "U3"},
      {1, 512, 1024, 1024, 17, 2, "U2"}, {1, 1024, 1024, 512, 33, 2, "U1"},
      {1, 2048, 512, 256, 65, 2, "U0"},  {1, 4096, 256, 2, 9, 1, "F"},
      {3, 512, 512, 512, 9, 2, "B x3"},  {3, 256, 512, 1024, 9, 2, "U3 x3"},
  };
  Backends backends;
  uint32_t seed = 3000;
  for (const ConvCase& c : layers)
    check_conv(backends, c, kAllPrecisions, {ConvImpl::ours}, seed += 7);
}

TEST_CASE("cuda conv1d: the cuDNN baseline computes the same convolution", "[gpu][conv][cudnn]") {
  SR_REQUIRE_GPU();
  if (!sr::cuda_tools::has_cudnn()) {
    WARN("this build has no cuDNN (not found at configure time): baseline not checked");
    return;
  }
  const std::vector<ConvCase> cases = {
      {2, 57, 8, 5, 9, 2, "small"},   {3, 63, 32, 24, 17, 2, "odd"},
      {1, 8192, 1, 128, 65, 2, "D0"}, {1, 1024, 1024, 512, 33, 2, "U1"},
      {1, 4096, 256, 2, 9, 1, "F"},
  };
  Backends backends;
  uint32_t seed = 4000;
  for (const ConvCase& c : cases)
    check_conv(backends, c, kAllPrecisions, {ConvImpl::cudnn}, seed += 7);
}

TEST_CASE("cuda conv1d: tiny cases of every tiled kernel, for racecheck", "[gpu][conv][race]") {
  SR_REQUIRE_GPU();
  // bench/gpu_check.sh runs this case under compute-sanitizer --tool racecheck: few blocks, but
  // every shared-memory path (cp.async pipeline with 1 and several k-tiles per split, the epilogue
  // staging, the double-buffered FP32 tiles).
  const std::vector<ConvCase> cases = {
      {1, 130, 64, 24, 5, 2, "mma, 10 k-tiles"},
      {1, 40, 32, 16, 3, 1, "mma, 3 k-tiles (< pipeline depth)"},
      {1, 100, 256, 16, 9, 2, "mma, split-K"},
      {1, 70, 40, 20, 3, 2, "tiled fp32"},
  };
  Backends backends;
  uint32_t seed = 5000;
  for (const ConvCase& c : cases)
    check_conv(backends, c, kAllPrecisions, {ConvImpl::ours}, seed += 7);
}

TEST_CASE("cuda conv1d: fused epilogues and strided views, every path", "[gpu][conv][fused]") {
  SR_REQUIRE_GPU();
  const std::vector<ConvCase> cases = {
      {2, 300, 1, 16, 65, 2, "direct"},
      {2, 41, 24, 2, 9, 1, "thin, odd L"},
      {2, 64, 24, 2, 9, 1, "thin"},
      {3, 100, 64, 136, 9, 2, "mma"},
      {3, 101, 64, 48, 9, 2, "mma, odd L (pool through conv_epilogue_kernel)"},
      {1, 512, 256, 64, 9, 2, "mma split-K (epilogue after the reduction)"},
      {2, 130, 40, 40, 33, 2, "tiled fp32"},
      {2, 77, 40, 12, 5, 3, "tiled fp32, odd L"},
  };
  Backends backends;
  auto cpu = sr::make_cpu_backend();
  uint32_t seed = 6000;
  for (const ConvCase& c : cases) {
    for (const sr::conv_cases::EpilogueCase& ep : sr::conv_cases::fused_epilogues()) {
      const OpSpec spec = sr::conv_cases::with_epilogue(conv_spec(c, seed += 7), ep);
      const sr::Shape ys = spec.output;
      // Slices at 16-byte-aligned channel offsets with strides of 4k floats (as the planner's
      // concatenations of channel counts that are multiples of 4 give), so that the tensor-core
      // path reads the strided x itself.
      const int64_t ldx = c.cin + 8, x_off = 4, ldy = ys.c + 12, y_off = 8;
      const std::vector<float> ref = sr::gpu_test::run_strided(*cpu, spec, ldx, x_off, ldy, y_off);
      const double sqrt_n = std::sqrt(double(c.k * c.cin));
      for (ConvImpl impl : {ConvImpl::ours, ConvImpl::cudnn}) {
        if (impl == ConvImpl::cudnn && !sr::cuda_tools::has_cudnn()) continue;
        for (Precision p : kAllPrecisions) {
          sr::Backend& cuda = backends.get(p, impl);
          INFO(c.what << ": B=" << c.b << " L=" << c.l << " Cin=" << c.cin << " Cout=" << c.cout
                      << " pool2=" << ep.pool2 << " act=" << int(ep.act)
                      << " shuffle=" << ep.shuffle << " order=" << int(ep.order) << " precision="
                      << sr::precision_name(p) << " impl=" << sr::conv_impl_name(impl));
          const std::vector<float> got =
              sr::gpu_test::run_strided(cuda, spec, ldx, x_off, ldy, y_off);
          std::vector<float> got_in, ref_in;
          size_t outside_written = 0;
          for (size_t i = 0; i < got.size(); ++i) {
            const int64_t ch = int64_t(i) % ldy;
            if (ch >= y_off && ch < y_off + ys.c) {
              got_in.push_back(got[i]);
              ref_in.push_back(ref[i]);
            } else {
              outside_written += !std::isnan(got[i]);
            }
          }
          INFO("elements written outside the output slice: " << outside_written);
          REQUIRE(outside_written == 0);
          // The epilogue ops are exact (max, a relu, one product); the convolution's bounds hold.
          const Bound bound = bound_for(p);
          sr::gpu_test::require_max_abs(got_in, ref_in, bound.max_abs_per_sqrt_n * sqrt_n);
          REQUIRE(sr::gpu_test::nmse(got_in, ref_in) <= bound.nmse);
        }
      }
    }
  }
}
