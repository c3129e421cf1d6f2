// Host execution of the CUDA kernels: the kernels' own source, compiled as C++ (SR_HOST_EXEC), runs
// with one host thread per CUDA thread, so the tests compare every kernel with the CPU reference
// and ThreadSanitizer / AddressSanitizer see its races and overflows (tests/kernels_host).
//
// The model, kept as strict as the CUDA programming model where a bug could hide:
// - A launch runs its blocks one after another (one block resident at a time); the block's threads
//   are pooled host threads with thread_local threadIdx/blockIdx/blockDim/gridDim. Static
//   __shared__ arrays are function statics (one block at a time shares them); dynamic shared
//   memory (SR_DYNAMIC_SHARED) is a buffer of exactly the launch's size, filled with 0xFF bytes
//   (NaN as float and as bf16) before every block, so an unwritten read shows.
// - __syncthreads is a barrier of the block's threads that have not returned; __syncwarp, shuffles,
//   votes, ldmatrix and mma.sync are barriers of the warp's 32 lanes with exchange slots. Nothing
//   else synchronises, so a missing __syncwarp between plain shared-memory stores and another
//   lane's loads is a race. (Being barriers, the warp-collective instructions also order memory
//   here, which the device does not promise: a __syncwarp missing right after one goes unseen.)
// - Blocks run one at a time, except in a cooperative launch (SR_LAUNCH_COOPERATIVE), whose blocks
//   all run at once, each with its own barriers and dynamic shared memory, and meet at
//   cooperative_groups::this_grid().sync(). Static __shared__ arrays would be one for all blocks
//   there: cooperative kernels keep their shared memory in SR_DYNAMIC_SHARED. No clusters yet.
// - cp.async (cp_async16 / commit / wait_group) copies nothing at issue: the destination is
//   poisoned at once and the copy happens when the issuing thread's wait_group retires its group.
// - ldmatrix and mma.sync (warp_matrix.cpp) are warp-collective, as on the device: the 32 lanes
//   meet once per instruction and exchange row addresses (ldmatrix) or fragment registers
//   (mma.sync), and each lane then assembles its own registers by the PTX ISA's per-lane fragment
//   layouts. ldmatrix reads the block's dynamic shared memory only, at 16-byte aligned rows.
// - A launch checks its configuration (block size, shared memory against the opt-in set with
//   cudaFuncSetAttribute) and reports errors through cudaGetLastError, as a device does.
// Hooks in the kernel sources: launches are SR_LAUNCH(kernel, grid, block, smem, stream)(args...)
// (or SR_LAUNCH_COOPERATIVE),
// dynamic shared memory is SR_DYNAMIC_SHARED(T, name), and inline PTX sits in small device
// functions with an #ifdef SR_HOST_EXEC branch that calls the functions below.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

struct alignas(16) float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

namespace sr::host {

// The device the host execution stands for (an H100 SXM): what cudaGetDeviceProperties reports
// and what a launch is checked against. A test may report another SM count (the split-K rule
// depends on it) with set_sm_count.
constexpr int kSmCount = 132;
int sm_count();
void set_sm_count(int n);
constexpr int kSharedDefault = 48 * 1024;  // per block without an opt-in
constexpr int kSharedOptin = 227 * 1024;
constexpr int kSharedPerSm = 228 * 1024;
constexpr int kMaxHostThreads = 8192;  // of one cooperative launch
enum : int {
  kErrorInvalidValue = 1,
  kErrorInvalidConfiguration = 9,
  kErrorCooperativeLaunchTooLarge = 82,
};

void sync_block();
void sync_warp();
void sync_grid();  // cooperative launches only
unsigned char* dynamic_shared();
size_t dynamic_shared_bytes();
// A shuffle: writes v to this lane's exchange slot, meets the warp, returns lane `src`'s value.
uint64_t warp_exchange(uint64_t v, int src);
// A wider exchange: writes this lane's n <= kShareWords words, meets the warp, and returns the
// warp's table (lane l's words at [l * kShareWords]), valid until this lane's second exchange
// from now.
constexpr int kShareWords = 32;
const uint32_t* warp_share(const uint32_t* words, int n);

// Runs body() once per CUDA thread of every block of the grid, a block at a time, or all blocks at
// once when `cooperative` (see the file comment). Returns false (and sets the error
// cudaGetLastError reports) when the configuration is invalid.
bool launch(const void* kernel, dim3 grid, dim3 block, size_t smem,
            const std::function<void()>& body, bool cooperative = false);
// cudaFuncSetAttribute(kernel, MaxDynamicSharedMemorySize, bytes).
void set_max_dynamic_shared(const void* kernel, int bytes);
int take_last_error();  // cudaError_t as int; resets to success

// cp.async: a 16-byte copy issued now, performed when this thread's wait_group retires it.
void cp_async16(void* smem, const void* gmem, bool valid);
void cp_async_commit();
void cp_async_wait(int newest_pending_allowed);

// Warp matrix instructions (warp_matrix.cpp), every lane of the warp taking part:
// `count` ldmatrix.sync.aligned.m8n8.x{num}[.trans].shared.b16 at one meeting, instruction c with
// this lane's row address rows[c] (lane 8 i + r gives row r of matrix i; lanes >= 8 num are
// ignored): r[c * num + i] = matrix i's word (lane / 4, lane % 4), or under .trans its 16-bit
// elements (2 (lane % 4) + h, lane / 4), h = 0, 1 (2 count <= kShareWords).
void ldmatrix(uint32_t* r, int num, const void* const* rows, int count, bool trans);
// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (.m16n8k16 ... .bf16.bf16 ...) for each
// tile (i, j) of an m_tiles x n_tiles grid, all at one meeting (m_tiles * 4 + n_tiles * 2 <=
// kShareWords): d[i][j][0..3] += a[i][0..3] * b[j][0..1] on this lane's fragment registers.
void mma_m16n8k8_tf32(float* d, const uint32_t* a, const uint32_t* b, int m_tiles, int n_tiles);
void mma_m16n8k16_bf16(float* d, const uint32_t* a, const uint32_t* b, int m_tiles, int n_tiles);
// cvt.rna.tf32.f32: v to 10 mantissa bits, to nearest with ties away from zero; the result is a
// float with the low 13 bits clear (NaN and infinity unchanged).
uint32_t cvt_rna_tf32(float v);

template <typename T>
T* dynamic_shared_as() {
  return reinterpret_cast<T*>(dynamic_shared());
}

template <typename T>
T shuffle(T v, int src) {
  static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = warp_exchange(bits, src);
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

inline int lane_id() {
  return static_cast<int>((threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) %
                          32);
}

// The launch object of SR_LAUNCH: kernel arguments convert to the kernel's parameter types, and
// every CUDA thread gets its own copies, as on the device.
template <typename... Params>
struct Launch {
  void (*kernel)(Params...);
  dim3 grid, block;
  size_t smem;
  bool cooperative;
  template <typename... Args>
  void operator()(Args&&... args) const {
    auto body = [&] { kernel(static_cast<Params>(args)...); };
    launch(reinterpret_cast<const void*>(kernel), grid, block, smem, body, cooperative);
  }
};

template <typename... Params>
Launch<Params...> launch_of(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                            bool cooperative = false) {
  return {kernel, grid, block, smem, cooperative};
}

}  // namespace sr::host

#define SR_LAUNCH(kernel, grid, block, smem, stream) \
  ::sr::host::launch_of(kernel, dim3(grid), dim3(block), static_cast<size_t>(smem))
#define SR_LAUNCH_COOPERATIVE(kernel, grid, block, smem, stream) \
  ::sr::host::launch_of(kernel, dim3(grid), dim3(block), static_cast<size_t>(smem), true)
#define SR_DYNAMIC_SHARED(T, name) T* name = ::sr::host::dynamic_shared_as<T>()

inline void __syncthreads() {
  ::sr::host::sync_block();
}
inline void __syncwarp(unsigned = 0xffffffffu) {
  ::sr::host::sync_warp();
}

template <typename T>
T __shfl_sync(unsigned, T v, int src, int width = 32) {
  const int lane = ::sr::host::lane_id();
  return ::sr::host::shuffle(v, (lane & ~(width - 1)) + (src % width));
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int lane = ::sr::host::lane_id();
  const int src = lane ^ mask;
  return ::sr::host::shuffle(v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = ::sr::host::lane_id();
  const int src = lane + static_cast<int>(delta);
  return ::sr::host::shuffle(v, (src & ~(width - 1)) == (lane & ~(width - 1)) ? src : lane);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = ::sr::host::lane_id();
  const int src = lane - static_cast<int>(delta);
  return ::sr::host::shuffle(v, src >= (lane & ~(width - 1)) ? src : lane);
}
inline unsigned __ballot_sync(unsigned, int predicate) {
  unsigned bits = 0;
  for (int l = 0; l < 32; ++l) {
    // Every lane takes part in all 32 exchanges (the same sequence), as a warp-wide vote.
    const unsigned p = ::sr::host::shuffle(predicate ? 1u : 0u, l);
    bits |= p << l;
  }
  return bits;
}
inline int __any_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, predicate) != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
  return __ballot_sync(mask, !predicate) == 0;
}

// Atomics (relaxed, as CUDA's atomicAdd and friends); float through compare-and-swap.
inline int atomicAdd(int* p, int v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline float atomicAdd(float* p, float v) {
  float old, sum;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  do {
    sum = old + v;
  } while (!__atomic_compare_exchange(p, &old, &sum, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return old;
}
inline int atomicMax(int* p, int v) {
  int old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < v &&
         !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
inline int atomicCAS(int* p, int compare, int v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;
}

// Device intrinsics the kernels call, with their device semantics.
template <typename T>
T __ldg(const T* p) {
  return *p;
}
inline float __fadd_rn(float a, float b) {
  volatile float s = a + b;  // never contracted into an fma
  return s;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __fmul_rn(float a, float b) {
  volatile float p = a * b;
  return p;
}
