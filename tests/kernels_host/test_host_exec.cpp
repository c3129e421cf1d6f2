// The host execution's model itself (kernels/host/host_exec.h, include/mma.h), on small kernels
// written here: launch indices, barriers with returned threads, shuffles and votes, atomics,
// dynamic shared memory and its opt-in, cp.async's deferred copies, cooperative launches, and the
// WMMA emulation's arithmetic.
#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

namespace {

__global__ void indices_kernel(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = block * 1000 + thread;
}

// Threads >= `active` return at once; the others meet twice, exchanging through shared memory.
__global__ void reverse_kernel(const int* in, int* out, int active) {
  __shared__ int s[256];
  const int t = threadIdx.x;
  if (t >= active) return;
  s[t] = in[blockIdx.x * active + t];
  __syncthreads();
  const int v = s[active - 1 - t];
  __syncthreads();
  s[t] = v;
  __syncthreads();
  out[blockIdx.x * active + t] = s[t];
}

__global__ void warp_kernel(float* sums, float* down, unsigned* ballots, float* total) {
  const int lane = threadIdx.x % 32;
  float v = float(lane + 1);
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  sums[threadIdx.x] = v;
  down[threadIdx.x] = __shfl_down_sync(0xffffffffu, float(lane), 3);
  ballots[threadIdx.x] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  atomicAdd(total, 1.0f);
}

__global__ void dynamic_shared_kernel(float* first, int n) {
  SR_DYNAMIC_SHARED(float, buf);
  if (threadIdx.x == 0) *first = buf[0];  // never written: the poison
  for (int i = threadIdx.x; i < n; i += blockDim.x) buf[i] = 1.0f;
}

// Thread 0 copies 16 bytes (valid) and 16 zero-fill bytes; reads before and after the wait.
__global__ void cp_async_kernel(const float* src, float* before, float* after) {
  __shared__ __align__(16) float s[8];
  if (threadIdx.x != 0) return;
  sr::host::cp_async16(s, src, true);
  sr::host::cp_async16(s + 4, src, false);
  sr::host::cp_async_commit();
  std::memcpy(before, s, sizeof(s));
  sr::host::cp_async_wait(0);
  std::memcpy(after, s, sizeof(s));
}

// One warp: d (16 x 16) = a (16 x 8, row-major) * b (8 x 16), TF32, rounded or not.
__global__ void wmma_kernel(const float* a, const float* b, float* d, bool round) {
  using namespace nvcuda;
  __shared__ __align__(32) float sa[16 * 8], sb[8 * 16], sd[16 * 16];
  for (int i = threadIdx.x; i < 128; i += 32) {
    sa[i] = a[i];
    sb[i] = b[i];
  }
  __syncwarp();
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, sa, 8);
  wmma::load_matrix_sync(fb, sb, 16);
  if (round) {
    for (int t = 0; t < fa.num_elements; ++t) fa.x[t] = wmma::__float_to_tf32(fa.x[t]);
    for (int t = 0; t < fb.num_elements; ++t) fb.x[t] = wmma::__float_to_tf32(fb.x[t]);
  }
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(sd, acc, 16, wmma::mem_row_major);
  __syncwarp();
  for (int i = threadIdx.x; i < 256; i += 32) d[i] = sd[i];
}

// Cooperative: each block sums its threads' values into partial[block] (through its own dynamic
// shared memory), the grid meets, and block 0 adds the partials.
__global__ void grid_sum_kernel(const float* x, float* partial, float* total) {
  SR_DYNAMIC_SHARED(float, s);
  const unsigned t = threadIdx.x;
  s[t] = x[blockIdx.x * blockDim.x + t];
  __syncthreads();
  if (t == 0) {
    float acc = 0;
    for (unsigned i = 0; i < blockDim.x; ++i) acc += s[i];
    partial[blockIdx.x] = acc;
  }
  cooperative_groups::this_grid().sync();
  if (blockIdx.x == 0 && t == 0) {
    float acc = 0;
    for (unsigned b = 0; b < gridDim.x; ++b) acc += partial[b];
    *total = acc;
  }
}

// x to TF32 (11 significant bits): rounded to nearest with ties away (cvt.rna) or truncated (the
// low 13 bits dropped); computed with frexp, independently of the emulation.
double tf32(float x, bool round) {
  int e = 0;
  const double m = std::ldexp(std::frexp(double(x), &e), 11);
  return std::ldexp(round ? std::round(m) : std::trunc(m), e - 11);
}

}  // namespace

TEST_CASE("host execution: launch indices cover the grid and the block", "[kernel_host][exec]") {
  const dim3 grid(3, 2, 2), block(8, 4, 2);
  std::vector<unsigned> out(12 * 64, ~0u);
  SR_LAUNCH(indices_kernel, grid, block, 0, nullptr)(out.data());
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (unsigned i = 0; i < out.size(); ++i) REQUIRE(out[i] == (i / 64) * 1000 + i % 64);
}

TEST_CASE("host execution: __syncthreads counts only threads that have not returned",
          "[kernel_host][exec]") {
  const int active = 100, blocks = 3;
  std::vector<int> in(blocks * active), out(in.size(), -1);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int(i);
  SR_LAUNCH(reverse_kernel, blocks, 256, 0, nullptr)(in.data(), out.data(), active);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < active; ++t) REQUIRE(out[b * active + t] == b * active + active - 1 - t);
}

TEST_CASE("host execution: shuffles, votes and atomics", "[kernel_host][exec]") {
  std::vector<float> sums(64), down(64);
  std::vector<unsigned> ballots(64);
  float total = 0;
  SR_LAUNCH(warp_kernel, 2, 64, 0, nullptr)(sums.data(), down.data(), ballots.data(), &total);
  unsigned expected_ballot = 0;
  for (int l = 0; l < 32; l += 3) expected_ballot |= 1u << l;
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32;
    REQUIRE(sums[t] == 528.0f);                                  // 1 + ... + 32 in every lane
    REQUIRE(down[t] == float(lane + 3 < 32 ? lane + 3 : lane));  // past the warp: own value
    REQUIRE(ballots[t] == expected_ballot);
  }
  REQUIRE(total == 128.0f);
}

TEST_CASE("host execution: dynamic shared memory is poisoned and needs its opt-in",
          "[kernel_host][exec]") {
  float first = 0;
  SR_LAUNCH(dynamic_shared_kernel, 2, 64, 1024, nullptr)(&first, 256);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(std::isnan(first));
  // Above 48 KiB a launch fails until the kernel opts in, as on the device.
  const int big = 100 * 1024;
  first = 0;
  SR_LAUNCH(dynamic_shared_kernel, 1, 64, big, nullptr)(&first, big / 4);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidValue);
  REQUIRE(first == 0);  // nothing ran
  REQUIRE(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               big) == cudaSuccess);
  SR_LAUNCH(dynamic_shared_kernel, 1, 64, big, nullptr)(&first, big / 4);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  REQUIRE(std::isnan(first));
}

TEST_CASE("host execution: cp.async lands at wait_group, NaN until then", "[kernel_host][exec]") {
  alignas(16) const float src[4] = {1, 2, 3, 4};
  float before[8], after[8];
  SR_LAUNCH(cp_async_kernel, 1, 32, 0, nullptr)(src, before, after);
  for (int i = 0; i < 8; ++i) {
    REQUIRE(std::isnan(before[i]));
    REQUIRE(after[i] == (i < 4 ? src[i] : 0.0f));  // the invalid chunk is zero-filled
  }
}

TEST_CASE("host execution: a cooperative launch runs every block at once", "[kernel_host][exec]") {
  const int blocks = 6, threads = 64;
  std::vector<float> x(blocks * threads), partial(blocks, -1.0f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i);
  float total = -1.0f;
  SR_LAUNCH_COOPERATIVE(grid_sum_kernel, blocks, threads, threads * sizeof(float), nullptr)
  (x.data(), partial.data(), &total);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  for (int b = 0; b < blocks; ++b)  // sums of 64 consecutive integers: exact in float
    REQUIRE(partial[b] == float(threads * (threads * b) + threads * (threads - 1) / 2));
  REQUIRE(total == float(x.size() * (x.size() - 1) / 2));
  // More threads than can be resident (or than the host runs at once): refused, as on the device.
  SR_LAUNCH_COOPERATIVE(grid_sum_kernel, 200, 64, 256, nullptr)(x.data(), partial.data(), &total);
  REQUIRE(cudaGetLastError() == cudaErrorCooperativeLaunchTooLarge);
}

TEST_CASE("host execution: WMMA multiplies what the tensor core reads", "[kernel_host][exec]") {
  std::vector<float> a(128), b(128), d(256);
  for (int i = 0; i < 128; ++i) {
    a[i] = float(std::sin(1.0 + i)) * 1.37f;  // full 24-bit significands
    b[i] = float(std::cos(2.0 + i)) * 0.91f;
  }
  for (bool round : {true, false}) {
    CAPTURE(round);
    SR_LAUNCH(wmma_kernel, 1, 32, 0, nullptr)(a.data(), b.data(), d.data(), round);
    // Rounded: the products of cvt.rna operands. Not rounded: the tensor core drops the low 13
    // bits (truncation), which is what makes a missing __float_to_tf32 visible.
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c) {
        double ref = 0, scale = 0;
        for (int k = 0; k < 8; ++k) {
          ref += tf32(a[r * 8 + k], round) * tf32(b[k * 16 + c], round);
          scale += std::fabs(a[r * 8 + k] * b[k * 16 + c]);
        }
        REQUIRE(std::fabs(d[r * 16 + c] - ref) <= 8 * 6e-8 * scale);  // FP32 sums of 8 terms
      }
  }
}
