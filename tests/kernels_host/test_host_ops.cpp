// Every non-convolution CUDA kernel, run from its own source by the host execution, against the
// CPU backend: the cases of tests/gpu/op_cases.h (shared with the device tests) at sizes the host
// runs in well under a second, still odd (partial blocks, partial unit and batch tiles, partial
// warps of work, grid-stride remainders). A last case requires a case for every op of SR_OP_LIST.
#include <cuda_runtime.h>  // the host execution's (set_sm_count)

#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "gpu/op_cases.h"
#include "host_backend.h"

namespace {

using sr::Op;
using sr::Precision;
using sr::Shape;
using sr::gpu_test::OpSpec;
using sr::gpu_test::run_op;

const sr::op_cases::Backends& backends() {
  static const sr::op_cases::Backends b{[](const OpSpec& spec) {
                                          auto cpu = sr::kernel_host::make_reference_backend();
                                          return run_op(*cpu, spec, 1);
                                        },
                                        [](const OpSpec& spec, Precision precision) {
                                          auto host =
                                              sr::kernel_host::make_host_cuda_backend(precision);
                                          return run_op(*host, spec, 1);
                                        }};
  return b;
}

// Ops with a test case, declared beside each case (static initialisers run whichever cases CTest
// selects, so the coverage case needs no other case to have run).
std::set<Op>& covered() {
  static std::set<Op> ops;
  return ops;
}
struct Covers {
  Covers(std::initializer_list<Op> ops) { covered().insert(ops); }
};
const Covers conv_cases{Op::conv1d};  // test_host_conv.cpp

}  // namespace

const Covers elementwise_cases{Op::leaky_relu, Op::relu, Op::prelu, Op::add, Op::dropout};
TEST_CASE("host-executed elementwise kernels are bit-identical to the CPU",
          "[kernel_host][elementwise]") {
  // 2 x 300 x 5 = 3000 elements: 12 blocks of 256, the last partial.
  sr::op_cases::elementwise(backends(), {Shape{3, 37, 5}, Shape{1, 1, 1}, Shape{2, 300, 5}});
}

const Covers pooling_cases{Op::max_pool2, Op::block_max_pool};
TEST_CASE("host-executed pooling kernels are bit-identical to the CPU", "[kernel_host][pooling]") {
  sr::op_cases::pooling(backends(), {Shape{2, 37, 7}, Shape{3, 2, 1}, Shape{1, 256, 24}},
                        {{{3, 40, 9}, 8}, {{2, 40, 9}, 1}, {{2, 24, 5}, 24}, {{2, 256, 24}, 32}});
}

const Covers layout_cases{Op::subpixel, Op::concat, Op::modulate};
TEST_CASE("host-executed layout kernels are bit-identical to the CPU", "[kernel_host][layout]") {
  sr::op_cases::layout(backends(), {Shape{2, 19, 14}, Shape{3, 1, 2}, Shape{2, 32, 64}});
}

const Covers lstm_cases{Op::lstm};
// Runs the cases after checking that each takes `path` (kernels/lstm.cu: lstm_path_name, the same
// rule lstm_fwd_cuda dispatches on).
void lstm_on_path(const std::vector<sr::op_cases::LstmCase>& cases, const std::string& path) {
  for (const auto& cs : cases) {
    CAPTURE(cs.B, cs.H, sr::host::sm_count());
    REQUIRE(sr::kernel_host::lstm_path(cs.B, cs.H) == path);
  }
  sr::op_cases::lstm(backends(), cases);
}
struct SmCount {  // the device the launcher sizes its grid for
  explicit SmCount(int n) { sr::host::set_sm_count(n); }
  ~SmCount() { sr::host::set_sm_count(sr::host::kSmCount); }
};

TEST_CASE("host-executed persistent lstm matches float64 as closely as the CPU does",
          "[kernel_host][lstm]") {
  // One cooperative launch: H a multiple of the 8 units per block and not (12, 45: idle
  // columns), one block (H = 4, 8) and several meeting at the grid barrier (H = 32..64), B over
  // one, several and partial passes of 4 rows, N = 1 (no barrier) to 12.
  lstm_on_path({{1, 1, 5, 4},
                {2, 7, 3, 8},
                {3, 5, 16, 12},
                {6, 4, 40, 45},
                {5, 12, 6, 32},
                {1, 9, 7, 48},
                {9, 6, 3, 64},
                {4, 3, 1, 64}},
               "persistent");
  // A one-SM device holds 16 blocks of 128 threads: H = 64's 8 blocks are still resident.
  const SmCount one_sm(1);
  lstm_on_path({{2, 5, 4, 64}}, "persistent");
}

TEST_CASE("host-executed lstm falls back to the per-step kernel when the persistent one cannot fit",
          "[kernel_host][lstm]") {
  // U's slice of H = 1608 (201 KiB) and the rest exceed a block's 227 KiB of shared memory.
  lstm_on_path({{1, 3, 2, 1608}}, "step");
  // One SM holds 10 blocks of H = 136's shared memory, fewer of 200's: 17 and 25 blocks cannot
  // be co-resident.
  // Partial unit tiles of 32, B = 3 and 7 partial batch tiles of 4.
  const SmCount one_sm(1);
  lstm_on_path({{3, 5, 7, 136}, {7, 3, 4, 200}}, "step");
}

const Covers linear_cases{Op::linear};
TEST_CASE("host-executed linear (cuBLAS on the CPU BLAS) matches the CPU",
          "[kernel_host][linear]") {
  sr::op_cases::linear(backends(), {{2, 33, 40, 24}, {1, 1, 7, 3}});
}

const Covers attention_cases{Op::attention};
TEST_CASE("host-executed attention matches float64 as closely as the CPU does",
          "[kernel_host][attention]") {
  // N = 1, N not a multiple of the 4 rows per block, dh = 16 (half a warp), dh = 64 (two features
  // per lane), N = 70 (scores over several lanes' worth of keys).
  sr::op_cases::attention(backends(),
                          {{2, 33, 64, 8}, {3, 1, 16, 2}, {1, 70, 128, 2}, {2, 7, 128, 2}});
}

const Covers norm_cases{Op::layer_norm, Op::pos_encoding};
TEST_CASE("host-executed layer_norm and pos_encoding match the CPU", "[kernel_host][layer_norm]") {
  sr::op_cases::layer_norm_and_positions(backends(),
                                         {Shape{3, 17, 128}, Shape{1, 1, 5}, Shape{2, 9, 300}},
                                         {Shape{2, 33, 128}, Shape{3, 5, 7}});
}

TEST_CASE("host-executed kernels reject inconsistent shapes like the CPU",
          "[kernel_host][errors]") {
  sr::op_cases::rejects_bad_shapes(backends());
}

TEST_CASE("host-executed kernels: every op of SR_OP_LIST has a case", "[kernel_host]") {
  for (int i = 0; i < sr::kOpCount; ++i) {
    INFO("no host-execution case for " << sr::op_name(Op(i)));
    CHECK(covered().count(Op(i)) == 1);
  }
}
