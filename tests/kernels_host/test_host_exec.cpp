// The host execution's model itself (kernels/host/host_exec.h, warp_matrix.cpp), on small kernels
// written here: launch indices, barriers with returned threads, shuffles and votes, atomics,
// dynamic shared memory and its opt-in, cp.async's deferred copies, cooperative launches, and
// ldmatrix's and mma.sync's fragment layouts and arithmetic (against the PTX ISA's per-lane
// layouts, written here in the ISA's direction: which element a lane's register holds).
#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
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

// One warp: ldmatrix .x`num` (.trans when `trans`) of matrices whose 8 rows lie 40 bytes + 8
// bytes apart at scattered places of dynamic shared memory; element (i, r, c) of matrix i is
// 1000 i + 10 r + c. Lanes past 8 num pass a null address, which ldmatrix must not read.
__global__ void ldmatrix_kernel(int num, bool trans, uint32_t* out) {
  SR_DYNAMIC_SHARED(uint16_t, s);
  const int lane = threadIdx.x;
  auto row_at = [](int i, int r) { return 512 * i + 24 * r + 8 * (r % 2); };  // 16-byte aligned
  for (int e = lane; e < 4 * 64; e += 32) {
    const int i = e / 64, r = e / 8 % 8, c = e % 8;
    s[row_at(i, r) + c] = static_cast<uint16_t>(1000 * i + 10 * r + c);
  }
  __syncwarp();
  const uint16_t* row = lane < 8 * num ? s + row_at(lane / 8, lane % 8) : nullptr;
  uint32_t r[4] = {0, 0, 0, 0};
  const void* rows[1] = {row};
  sr::host::ldmatrix(r, num, rows, 1, trans);
  for (int i = 0; i < 4; ++i) out[lane * 4 + i] = r[i];
}

// One warp: d (16 x 8) = a (16 x K) * b (K x 8) + c with mma.sync, K = 8 (TF32, operands rounded
// by cvt.rna when `round`) or 16 (BF16, a and b the bf16 bits in the low 16 bits of each word).
// Fragments filled from the matrices by the PTX ISA's layouts, g = lane / 4, t = lane % 4.
__global__ void mma_kernel(int K, const uint32_t* a, const uint32_t* b, const float* c, float* d,
                           bool round) {
  const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
  uint32_t fa[4], fb[2];
  float fc[4];
  auto tf32 = [&](uint32_t bits) {
    return round ? sr::host::cvt_rna_tf32(__uint_as_float(bits)) : bits;
  };
  auto pair = [](uint32_t lo, uint32_t hi) { return (lo & 0xffffu) | hi << 16; };
  for (int i = 0; i < 4; ++i) {
    if (K == 8) {
      fa[i] = tf32(a[(g + 8 * (i % 2)) * K + t + 4 * (i / 2)]);
    } else {
      const int m = g + 8 * (i % 2), k = 2 * t + 8 * (i / 2);
      fa[i] = pair(a[m * K + k], a[m * K + k + 1]);
    }
    fc[i] = c[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
  }
  for (int i = 0; i < 2; ++i) {
    if (K == 8) {
      fb[i] = tf32(b[(t + 4 * i) * 8 + g]);
    } else {
      const int k = 2 * t + 8 * i;
      fb[i] = pair(b[k * 8 + g], b[(k + 1) * 8 + g]);
    }
  }
  if (K == 8)
    sr::host::mma_m16n8k8_tf32(fc, fa, fb, 1, 1);
  else
    sr::host::mma_m16n8k16_bf16(fc, fa, fb, 1, 1);
  for (int i = 0; i < 4; ++i) d[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = fc[i];
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

TEST_CASE("host execution: ldmatrix hands each lane its words of every matrix",
          "[kernel_host][exec]") {
  for (int num : {1, 2, 4})
    for (bool trans : {false, true}) {
      CAPTURE(num, trans);
      std::vector<uint32_t> out(32 * 4, 0xdeadbeefu);
      REQUIRE(cudaFuncSetAttribute(ldmatrix_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   4096) == cudaSuccess);
      SR_LAUNCH(ldmatrix_kernel, 1, 32, 4096, nullptr)(num, trans, out.data());
      REQUIRE(cudaGetLastError() == cudaSuccess);
      for (int lane = 0; lane < 32; ++lane)
        for (int i = 0; i < 4; ++i) {
          // The ISA: lane l holds row l / 4, elements 2 (l % 4) and + 1 (.trans: the transpose).
          const int r = lane / 4, c = 2 * (lane % 4);
          auto at = [&](int row, int col) { return uint32_t(1000 * i + 10 * row + col); };
          const uint32_t want = i >= num ? 0
                                : trans  ? at(c, r) | at(c + 1, r) << 16
                                         : at(r, c) | at(r, c + 1) << 16;
          INFO("lane " << lane << " matrix " << i);
          REQUIRE(out[lane * 4 + i] == want);
        }
    }
}

TEST_CASE("host execution: mma.sync multiplies what the tensor core reads", "[kernel_host][exec]") {
  // TF32 m16n8k8: rounded, the products of cvt.rna operands; not rounded, the tensor core drops
  // the low 13 bits (truncation), which is what makes a missing cvt.rna visible.
  std::vector<uint32_t> a(16 * 16), b(16 * 8);
  std::vector<float> c(16 * 8), d(16 * 8);
  for (int i = 0; i < 16 * 8; ++i) c[i] = float(std::sin(3.0 + i));
  for (bool round : {true, false}) {
    CAPTURE(round);
    for (int i = 0; i < 16 * 8; ++i) {
      a[i] = __float_as_uint(float(std::sin(1.0 + i)) * 1.37f);  // full 24-bit significands
      b[i] = __float_as_uint(float(std::cos(2.0 + i)) * 0.91f);
    }
    SR_LAUNCH(mma_kernel, 1, 32, 0, nullptr)(8, a.data(), b.data(), c.data(), d.data(), round);
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        double ref = c[m * 8 + n], scale = std::fabs(ref);
        for (int k = 0; k < 8; ++k) {
          const float x = __uint_as_float(a[m * 8 + k]), y = __uint_as_float(b[k * 8 + n]);
          ref += tf32(x, round) * tf32(y, round);
          scale += std::fabs(x * y);
        }
        REQUIRE(std::fabs(d[m * 8 + n] - ref) <= 9 * 6e-8 * scale);  // FP32 sums of 9 terms
      }
  }
  // BF16 m16n8k16: operands exact, products exact.
  for (int i = 0; i < 16 * 16; ++i) a[i] = __float2bfloat16_rn(float(std::sin(1.0 + i))).bits;
  for (int i = 0; i < 16 * 8; ++i) b[i] = __float2bfloat16_rn(float(std::cos(2.0 + i))).bits;
  SR_LAUNCH(mma_kernel, 1, 32, 0, nullptr)(16, a.data(), b.data(), c.data(), d.data(), false);
  auto bf = [](uint32_t bits) { return double(__uint_as_float(bits << 16)); };
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double ref = c[m * 8 + n], scale = std::fabs(ref);
      for (int k = 0; k < 16; ++k) {
        ref += bf(a[m * 16 + k]) * bf(b[k * 8 + n]);
        scale += std::fabs(bf(a[m * 16 + k]) * bf(b[k * 8 + n]));
      }
      REQUIRE(std::fabs(d[m * 8 + n] - ref) <= 17 * 6e-8 * scale);
    }
}
