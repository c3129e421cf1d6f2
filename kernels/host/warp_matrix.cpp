// The host execution's warp matrix instructions (host_exec.h): ldmatrix and mma.sync, each a
// meeting of the warp's 32 lanes, which publish their row addresses (ldmatrix) or their A and B
// fragment registers (mma.sync); every lane then builds its own registers from the others' by the
// PTX ISA's per-lane layouts. One meeting stands for several instructions a kernel issues back to
// back (a hook's unrolled loop: ldmatrix of several fragments, mma.sync over a grid of tiles):
// with no store or barrier between them that is what the warp computes, in a quarter of the
// meetings. Layouts, with g = lane / 4 ("groupID") and t = lane % 4 ("threadID_in_group"):
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

// The warp's published fragments: lane l's a[i][0..3] at words 4 i.., then b[j][0..1].
struct Fragments {
  const uint32_t* table;
  int n_a;  // words of A per lane
  uint32_t a(int lane, int tile, int reg) const {
    return table[lane * kShareWords + 4 * tile + reg];
  }
  uint32_t b(int lane, int tile, int reg) const {
    return table[lane * kShareWords + n_a + 2 * tile + reg];
  }
};

Fragments publish(const uint32_t* a, const uint32_t* b, int m_tiles, int n_tiles) {
  const int n_a = 4 * m_tiles, n_b = 2 * n_tiles;
  if (n_a + n_b > kShareWords) std::abort();
  uint32_t words[kShareWords];
  std::memcpy(words, a, n_a * sizeof(uint32_t));
  std::memcpy(words + n_a, b, n_b * sizeof(uint32_t));
  return {warp_share(words, n_a + n_b), n_a};
}

float tf32_operand(uint32_t bits) {
  return float_of(bits & 0xffffe000u);
}
float bf16_operand(uint32_t word, int half) {
  return float_of((half ? word >> 16 : word & 0xffffu) << 16);
}

// Element (m, k) of A tile i and (k, n) of B tile j, read from the lane and register that hold it.
struct Tf32 {
  static constexpr int kK = 8;
  static float a(const Fragments& f, int i, int m, int k) {
    return tf32_operand(f.a(4 * (m % 8) + k % 4, i, m / 8 + 2 * (k / 4)));
  }
  static float b(const Fragments& f, int j, int k, int n) {
    return tf32_operand(f.b(4 * n + k % 4, j, k / 4));
  }
};
struct Bf16 {
  static constexpr int kK = 16;
  static float a(const Fragments& f, int i, int m, int k) {
    return bf16_operand(f.a(4 * (m % 8) + (k % 8) / 2, i, m / 8 + 2 * (k / 8)), k % 2);
  }
  static float b(const Fragments& f, int j, int k, int n) {
    return bf16_operand(f.b(4 * n + (k % 8) / 2, j, k / 8), k % 2);
  }
};

// d[i][j] += A_i * B_j for this lane's four elements of each 16 x 8 result: rows g and g + 8 of
// every A tile and columns 2t and 2t + 1 of every B tile, gathered once.
template <typename Type>
void mma(float* d, const uint32_t* a, const uint32_t* b, int m_tiles, int n_tiles) {
  const Fragments f = publish(a, b, m_tiles, n_tiles);
  const int lane = lane_id(), g = lane / 4, t = lane % 4;
  constexpr int K = Type::kK;
  float rows[kShareWords / 4][2][K], cols[kShareWords / 2][2][K];
  for (int i = 0; i < m_tiles; ++i)
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < K; ++k) rows[i][h][k] = Type::a(f, i, g + 8 * h, k);
  for (int j = 0; j < n_tiles; ++j)
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < K; ++k) cols[j][h][k] = Type::b(f, j, k, 2 * t + h);
  for (int i = 0; i < m_tiles; ++i)
    for (int j = 0; j < n_tiles; ++j)
      for (int e = 0; e < 4; ++e) {  // element (g + 8 (e / 2), 2t + e % 2)
        float& acc = d[(i * n_tiles + j) * 4 + e];
        for (int k = 0; k < K; ++k) acc = std::fma(rows[i][e / 2][k], cols[j][e % 2][k], acc);
      }
}

}  // namespace

void ldmatrix(uint32_t* r, int num, const void* const* rows, int count, bool trans) {
  const int lane = lane_id();
  if (2 * count > kShareWords) std::abort();
  uint32_t mine[kShareWords] = {};
  for (int c = 0; c < count; ++c) {
    if (lane < 8 * num) check_row(rows[c]);  // the other lanes' addresses are not read
    std::memcpy(mine + 2 * c, &rows[c], sizeof(rows[c]));
  }
  static_assert(sizeof(void*) == 8, "a row address is two words");
  const uint32_t* table = warp_share(mine, 2 * count);
  const int g = lane / 4, t = lane % 4;
  for (int c = 0; c < count; ++c) {
    auto row_of = [&](int src) {  // lane src's row address of instruction c
      const unsigned char* p;
      std::memcpy(&p, table + src * kShareWords + 2 * c, sizeof(p));
      return p;
    };
    for (int i = 0; i < num; ++i) {
      uint32_t& out = r[c * num + i];
      if (!trans) {
        std::memcpy(&out, row_of(8 * i + g) + 4 * t, 4);
      } else {
        uint16_t lo, hi;
        std::memcpy(&lo, row_of(8 * i + 2 * t) + 2 * g, 2);
        std::memcpy(&hi, row_of(8 * i + 2 * t + 1) + 2 * g, 2);
        out = lo | uint32_t{hi} << 16;
      }
    }
  }
}

void mma_m16n8k8_tf32(float* d, const uint32_t* a, const uint32_t* b, int m_tiles, int n_tiles) {
  mma<Tf32>(d, a, b, m_tiles, n_tiles);
}

void mma_m16n8k16_bf16(float* d, const uint32_t* a, const uint32_t* b, int m_tiles, int n_tiles) {
  mma<Bf16>(d, a, b, m_tiles, n_tiles);
}

uint32_t cvt_rna_tf32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;  // ties away: + half
  return u;
}

}  // namespace sr::host
