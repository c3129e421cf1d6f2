// Every non-convolution op on the CUDA backend against the CPU backend (engine/cpu, itself tested
// against float64 loops in tests/backend), on fresh random inputs with odd sizes: the cases of
// op_cases.h (shared with the host execution, tests/kernels_host) at the network's sizes. Outputs
// are poisoned before each run and each op runs twice (eager + graph capture, then graph replay)
// with identical bits required.
#include <vector>

#include "gpu_test_util.h"
#include "op_cases.h"

namespace {

using sr::Precision;
using sr::Shape;
using sr::gpu_test::OpSpec;
using sr::gpu_test::run_op;

const sr::op_cases::Backends& backends() {
  static const sr::op_cases::Backends b{[](const OpSpec& spec) {
                                          auto cpu = sr::make_cpu_backend();
                                          return run_op(*cpu, spec, 1);
                                        },
                                        [](const OpSpec& spec, Precision precision) {
                                          auto cuda = sr::gpu_test::cuda_backend(precision);
                                          return run_op(*cuda, spec);
                                        }};
  return b;
}

}  // namespace

TEST_CASE("cuda elementwise ops are bit-identical to the CPU", "[gpu][ops][elementwise]") {
  SR_REQUIRE_GPU();
  sr::op_cases::elementwise(backends(), {Shape{3, 37, 5}, Shape{1, 1, 1}, Shape{2, 4099, 3}});
}

TEST_CASE("cuda pooling ops are bit-identical to the CPU", "[gpu][ops][pooling]") {
  SR_REQUIRE_GPU();
  sr::op_cases::pooling(
      backends(), {Shape{2, 37, 7}, Shape{3, 2, 1}, Shape{1, 4096, 128}},
      {{{3, 40, 9}, 8}, {{2, 40, 9}, 1}, {{2, 24, 5}, 24}, {{2, 4096, 128}, 128}});
}

TEST_CASE("cuda layout ops are bit-identical to the CPU", "[gpu][ops][layout]") {
  SR_REQUIRE_GPU();
  sr::op_cases::layout(backends(), {Shape{2, 19, 14}, Shape{3, 1, 2}, Shape{2, 256, 1024}});
}

TEST_CASE("cuda lstm matches a float64 recurrence as closely as the CPU does", "[gpu][ops][lstm]") {
  SR_REQUIRE_GPU();
  // Odd sizes, H not a multiple of 32 (partial unit tiles), B not a multiple of 4 (partial batch
  // tiles), and the widths of the default network (128, 512) at 32 steps: the persistent kernel;
  // H = 1608 (U's slice exceeds a block's shared memory): the per-step fallback.
  sr::op_cases::lstm(backends(), {{1, 1, 5, 4},
                                  {2, 7, 3, 8},
                                  {3, 33, 16, 12},
                                  {5, 32, 128, 128},
                                  {2, 32, 512, 512},
                                  {6, 9, 40, 45},
                                  {1, 3, 2, 1608}});
}

TEST_CASE("cuda linear matches the CPU in FP32 in every precision mode", "[gpu][ops][linear]") {
  SR_REQUIRE_GPU();
  sr::op_cases::linear(backends(),
                       {{2, 33, 40, 24}, {1, 1, 7, 3}, {3, 32, 512, 2048}, {2, 32, 2048, 512}});
}

TEST_CASE("cuda attention matches float64 as closely as the CPU does", "[gpu][ops][attention]") {
  SR_REQUIRE_GPU();
  // N = 1, N not a multiple of the 4 rows per block, dh = 16 (half a warp), dh = 64 (two features
  // per lane), and a long sequence (300 tokens) whose scores span several warps' worth of keys.
  sr::op_cases::attention(
      backends(),
      {{2, 33, 64, 8}, {3, 1, 16, 2}, {1, 300, 128, 8}, {2, 32, 512, 8}, {2, 7, 128, 2}});
}

TEST_CASE("cuda layer_norm and pos_encoding match the CPU", "[gpu][ops][layer_norm]") {
  SR_REQUIRE_GPU();
  sr::op_cases::layer_norm_and_positions(
      backends(), {Shape{3, 17, 128}, Shape{1, 1, 5}, Shape{2, 32, 512}, Shape{4, 9, 2048}},
      {Shape{2, 33, 128}, Shape{1, 512, 512}, Shape{3, 5, 7}});
}

TEST_CASE("cuda backend rejects inconsistent shapes like the CPU", "[gpu][ops][errors]") {
  SR_REQUIRE_GPU();
  auto cuda = sr::gpu_test::cuda_backend(Precision::fp32);
  OpSpec s = sr::op_cases::unary(sr::Op::add, {2, 3, 4}, {2, 3, 4}, 1);
  s.inputs.push_back(sr::test::random_tensor({2, 3, 5}, 2));
  REQUIRE_THROWS_AS(run_op(*cuda, s), sr::Error);
  // The backend stays usable after a refused program.
  const OpSpec ok = sr::op_cases::unary(sr::Op::relu, {2, 3, 4}, {2, 3, 4}, 3);
  sr::gpu_test::require_identical(run_op(*cuda, ok), backends().reference(ok));
}
