// The host execution's warp matrix instructions (host_exec.h): ldmatrix and mma.sync, each one
// meeting of the warp's 32 lanes, which publish their row address (ldmatrix) or their A and B
// fragment registers (mma.sync); every lane then builds its own registers from the others' by the
// PTX ISA's per-lane layouts, with g = lane / 4 ("groupID") and t = lane % 4 ("threadID_in_group"):
//   ldmatrix .m8n8 .b16   lane 8 i + r addresses row r of matrix i; lane l receives, per matrix,
//                         the 32-bit word t of row g, or under .trans the 16-bit elements
//                         (row 2t, column g) and (row 2t + 1, column g), low half first.
//   mma .m16n8k8 .tf32    A (16 x 8, row) a[i] = A[g + 8 (i % 2)][t + 4 (i / 2)]
//                         B (8 x 8, col)  b[i] = B[t + 4 i][g]
//   mma .m16n8k16 .bf16   A (16 x 16)     a[i] = A[g + 8 (i % 2)][2t + 8 (i / 2) + h]
//                         B (16 x 8)      b[i] = B[2t + 8 i + h][g], h = 0 low half, 1 high
//   C and D (16 x 8, f32)                 c[i] = C[g + 8 (i / 2)][2t + i % 2]
// The layouts are written here the other way round: which lane and register hold element (m, k)
// of A and (k, n) of B. Arithmetic: the tensor core reads the top 19 bits of a TF32 operand (the
// low 13 dropped: rounding is the kernel's cvt.rna) and BF16 widens exactly; products are exact in
// FP32 and each output adds them to C with one FP32 fma per k, in k order.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "host_exec.h"

namespace sr::host {

namespace {

float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

[[noreturn]] void fail(const char* what, const void* p) {
  std::fprintf(stderr, "host execution: %s (%p)\n", what, p);
  std::abort();
}

// A row address of ldmatrix: 16 bytes, 16-byte aligned, inside the block's dynamic shared memory.
void check_row(const void* row) {
  const auto p = reinterpret_cast<uintptr_t>(row);
  const auto base = reinterpret_cast<uintptr_t>(dynamic_shared());
  if (p % 16 != 0) fail("ldmatrix: row address not 16-byte aligned", row);
  if (p < base || p + 16 > base + dynamic_shared_bytes())
    fail("ldmatrix: row address outside the block's dynamic shared memory", row);
}

// The warp's published fragments: lane l's a[0..3] at words 0-3, b[0..1] at words 4-5.
struct Fragments {
  const uint32_t* table;
  uint32_t a(int lane, int reg) const { return table[lane * kShareWords + reg]; }
  uint32_t b(int lane, int reg) const { return table[lane * kShareWords + 4 + reg]; }
};

const uint32_t* publish(const uint32_t* a, const uint32_t* b) {
  const uint32_t words[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
  return warp_share(words, 6);
}

float tf32_operand(uint32_t bits) {
  return float_of(bits & 0xffffe000u);
}
float bf16_operand(uint32_t word, int half) {
  return float_of((half ? word >> 16 : word & 0xffffu) << 16);
}

// Element (m, k) of A and (k, n) of B, read from the lane and register that hold it.
float a_tf32(const Fragments& f, int m, int k) {
  return tf32_operand(f.a(4 * (m % 8) + k % 4, m / 8 + 2 * (k / 4)));
}
float b_tf32(const Fragments& f, int k, int n) {
  return tf32_operand(f.b(4 * n + k % 4, k / 4));
}
float a_bf16(const Fragments& f, int m, int k) {
  return bf16_operand(f.a(4 * (m % 8) + (k % 8) / 2, m / 8 + 2 * (k / 8)), k % 2);
}
float b_bf16(const Fragments& f, int k, int n) {
  return bf16_operand(f.b(4 * n + (k % 8) / 2, k / 8), k % 2);
}

// d = A * B + c for this lane's four elements of the 16 x 8 result.
template <typename A, typename B>
void mma(float* d, const float* c, int K, const A& a_at, const B& b_at) {
  const int lane = lane_id(), g = lane / 4, t = lane % 4;
  float out[4];
  for (int i = 0; i < 4; ++i) {
    const int m = g + 8 * (i / 2), n = 2 * t + i % 2;
    float acc = c[i];
    for (int k = 0; k < K; ++k) acc = std::fma(a_at(m, k), b_at(k, n), acc);
    out[i] = acc;
  }
  std::memcpy(d, out, sizeof(out));  // d may be c
}

}  // namespace

void ldmatrix(uint32_t* r, int num, const void* row, bool trans) {
  const int lane = lane_id();
  if (lane < 8 * num) check_row(row);  // the other lanes' addresses are not read
  uint32_t mine[2];
  static_assert(sizeof(row) == sizeof(mine), "a row address is two words");
  std::memcpy(mine, &row, sizeof(row));
  const uint32_t* table = warp_share(mine, 2);
  auto row_of = [&](int src) {
    const unsigned char* p;
    std::memcpy(&p, table + src * kShareWords, sizeof(p));
    return p;
  };
  const int g = lane / 4, t = lane % 4;
  for (int i = 0; i < num; ++i) {
    if (!trans) {
      std::memcpy(&r[i], row_of(8 * i + g) + 4 * t, 4);
    } else {
      uint16_t lo, hi;
      std::memcpy(&lo, row_of(8 * i + 2 * t) + 2 * g, 2);
      std::memcpy(&hi, row_of(8 * i + 2 * t + 1) + 2 * g, 2);
      r[i] = lo | uint32_t{hi} << 16;
    }
  }
}

void mma_m16n8k8_tf32(float* d, const uint32_t* a, const uint32_t* b, const float* c) {
  const Fragments f{publish(a, b)};
  mma(
      d, c, 8, [&](int m, int k) { return a_tf32(f, m, k); },
      [&](int k, int n) { return b_tf32(f, k, n); });
}

void mma_m16n8k16_bf16(float* d, const uint32_t* a, const uint32_t* b, const float* c) {
  const Fragments f{publish(a, b)};
  mma(
      d, c, 16, [&](int m, int k) { return a_bf16(f, m, k); },
      [&](int k, int n) { return b_bf16(f, k, n); });
}

uint32_t cvt_rna_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;  // ties away: + half
  return u;
}

}  // namespace sr::host
