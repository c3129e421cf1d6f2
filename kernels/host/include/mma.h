// Host execution (../host_exec.h): the WMMA API for 16 x 16 tiles (TF32 m16n16k8, BF16 m16n16k16,
// FP32 accumulators, row-major operands), emulated per lane with the device's arithmetic:
// - Lane l (g = l / 4, q = l % 4) owns the accumulator elements of rows {g, g + 8} and columns
//   {2q, 2q + 1, 2q + 8, 2q + 9} (the mma.sync m16n8 layout, twice): store_matrix_sync writes only
//   those, so reading another lane's staged results needs a __syncwarp, as on the device. The
//   lane's A fragment holds rows {g, g + 8} and its B fragment those four columns, all of K.
// - TF32 operands: the tensor core reads the top 19 bits of each float (the low 13 are dropped),
//   so kernels must round with __float_to_tf32 (cvt.rna: to nearest, ties away) themselves.
//   BF16 operands widen exactly. Products are exact in FP32; the sum is FP32, one fma per k.
// - No call synchronises the warp; pointers must be 32-byte aligned and ldm a multiple of 16
//   bytes (the device's requirements), else the emulation aborts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_bf16.h"
#include "cuda_runtime.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

namespace detail {

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
template <typename T>
struct Storage {
  using type = T;
};
template <>
struct Storage<precision::tf32> {
  using type = float;
};
// What the tensor core multiplies: TF32 keeps the top 19 bits, BF16 widens exactly.
inline float operand(float v) {
  return float_of(bits_of(v) & 0xffffe000u);
}
inline float operand(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
inline int row_of(int i, int lane) {  // i < 2
  return lane / 4 + 8 * i;
}
inline int col_of(int j, int lane) {  // j < 4
  return 2 * (lane % 4) + (j & 1) + 8 * (j >> 1);
}
inline void check_address(const void* p, unsigned ldm, size_t element_bytes) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || (ldm * element_bytes) % 16 != 0) {
    std::fprintf(stderr, "wmma: misaligned fragment pointer %p or ldm %u\n", p, ldm);
    std::abort();
  }
}

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment;

template <int K, typename T>
struct fragment<matrix_a, 16, 16, K, T, row_major> {
  using element_type = typename detail::Storage<T>::type;
  static constexpr int num_elements = 2 * K;  // rows g and g + 8
  element_type x[num_elements];
};

template <int K, typename T>
struct fragment<matrix_b, 16, 16, K, T, row_major> {
  using element_type = typename detail::Storage<T>::type;
  static constexpr int num_elements = 4 * K;  // columns 2q, 2q + 1, 2q + 8, 2q + 9
  element_type x[num_elements];
};

template <int K>
struct fragment<accumulator, 16, 16, K, float, void> {
  using element_type = float;
  static constexpr int num_elements = 8;  // element e: row_of((e >> 1) & 1), col_of(column(e))
  float x[num_elements];
  static int column(int e) { return (e & 1) | ((e >> 2) << 1); }
};

inline float __float_to_tf32(float v) {  // cvt.rna.tf32.f32
  uint32_t u = detail::bits_of(v);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
  return detail::float_of(u);
}

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
  for (auto& e : f.x) e = v;
}

template <int K, typename T, typename P>
void load_matrix_sync(fragment<matrix_a, 16, 16, K, T, row_major>& f, const P* p, unsigned ldm) {
  detail::check_address(p, ldm, sizeof(P));
  const int lane = sr::host::lane_id();
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < K; ++k) f.x[i * K + k] = p[detail::row_of(i, lane) * ldm + k];
}

template <int K, typename T, typename P>
void load_matrix_sync(fragment<matrix_b, 16, 16, K, T, row_major>& f, const P* p, unsigned ldm) {
  detail::check_address(p, ldm, sizeof(P));
  const int lane = sr::host::lane_id();
  for (int j = 0; j < 4; ++j)
    for (int k = 0; k < K; ++k) f.x[j * K + k] = p[k * ldm + detail::col_of(j, lane)];
}

template <int K>
void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, K, float, void>& f,
                       unsigned ldm, layout_t layout) {
  detail::check_address(p, ldm, sizeof(float));
  const int lane = sr::host::lane_id();
  for (int e = 0; e < 8; ++e) {
    const int r = detail::row_of((e >> 1) & 1, lane), c = detail::col_of(f.column(e), lane);
    p[layout == mem_row_major ? r * ldm + c : c * ldm + r] = f.x[e];
  }
}

template <int K, typename T>
void mma_sync(fragment<accumulator, 16, 16, K, float, void>& d,
              const fragment<matrix_a, 16, 16, K, T, row_major>& a,
              const fragment<matrix_b, 16, 16, K, T, row_major>& b,
              const fragment<accumulator, 16, 16, K, float, void>& c) {
  for (int e = 0; e < 8; ++e) {
    const int i = (e >> 1) & 1, j = c.column(e);
    float acc = c.x[e];
    for (int k = 0; k < K; ++k)
      acc = std::fma(detail::operand(a.x[i * K + k]), detail::operand(b.x[j * K + k]), acc);
    d.x[e] = acc;
  }
}

}  // namespace nvcuda::wmma
