// The tensor-core convolution's inline PTX (conv1d_mma.cu), one small device function per
// instruction; under SR_HOST_EXEC each calls the host execution's emulation instead
// (kernels/host/host_exec.h: deferred cp.async copies, warp-collective ldmatrix and mma.sync).
//   cp.async.cg 16 bytes (zero-fill when invalid), commit_group, wait_group
//   ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 from .shared addresses, F fragments
//   mma.sync.aligned m16n8k8 TF32 and m16n8k16 BF16 over a grid of tiles, FP32 accumulators
//   cvt.rna.tf32.f32: the TF32 rounding of an operand (the tensor core would truncate)
#pragma once

#include <cstdint>

namespace sr::cuda {

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
#ifdef SR_HOST_EXEC
  host::cp_async16(smem, gmem, valid);
#else
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem),
               "r"(src_bytes));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef SR_HOST_EXEC
  host::cp_async_commit();
#else
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifdef SR_HOST_EXEC
  host::cp_async_wait(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// F ldmatrix.x4 (.trans): fragment f's four 8 x 8 matrices of 16-bit elements (8 x 4 of 32-bit
// ones) at row + f * stride elements, lane 8 i + r giving the address of row r of matrix i
// (16 bytes, 16-byte aligned, in shared memory). r[f][i] = matrix i's 32-bit word (lane / 4,
// lane % 4); transposed: its elements (2 (lane % 4) + h, lane / 4), h = 0, 1 (low half first).
template <bool kTrans, int F, typename T>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[F][4], const T* row, int stride) {
#ifdef SR_HOST_EXEC
  const void* rows[F];
  for (int f = 0; f < F; ++f) rows[f] = row + f * stride;
  host::ldmatrix(&r[0][0], 4, rows, F, kTrans);
#else
#pragma unroll
  for (int f = 0; f < F; ++f) {
    const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row + f * stride));
    if (kTrans)
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(r[f][0]), "=r"(r[f][1]), "=r"(r[f][2]), "=r"(r[f][3])
                   : "r"(a));
    else
      asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                   : "=r"(r[f][0]), "=r"(r[f][1]), "=r"(r[f][2]), "=r"(r[f][3])
                   : "r"(a));
  }
#endif
}

// d[i][j] += a[i] * b[j] for an MT x NT grid of 16 x 8 tiles, one mma.sync each (fragments in
// the PTX ISA's per-lane layouts). The host execution exchanges the whole grid's fragments at one
// warp meeting (as it does the F fragments of ldmatrix_x4), which is what the warp computes.
template <int MT, int NT>
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[MT][NT][4], const uint32_t (&a)[MT][4],
                                                 const uint32_t (&b)[NT][2]) {
#ifdef SR_HOST_EXEC
  host::mma_m16n8k8_tf32(&d[0][0][0], &a[0][0], &b[0][0], MT, NT);
#else
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
      asm volatile(
          "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, "
          "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
          : "+f"(d[i][j][0]), "+f"(d[i][j][1]), "+f"(d[i][j][2]), "+f"(d[i][j][3])
          : "r"(a[i][0]), "r"(a[i][1]), "r"(a[i][2]), "r"(a[i][3]), "r"(b[j][0]), "r"(b[j][1]));
#endif
}
template <int MT, int NT>
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[MT][NT][4], const uint32_t (&a)[MT][4],
                                                  const uint32_t (&b)[NT][2]) {
#ifdef SR_HOST_EXEC
  host::mma_m16n8k16_bf16(&d[0][0][0], &a[0][0], &b[0][0], MT, NT);
#else
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
          "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
          : "+f"(d[i][j][0]), "+f"(d[i][j][1]), "+f"(d[i][j][2]), "+f"(d[i][j][3])
          : "r"(a[i][0]), "r"(a[i][1]), "r"(a[i][2]), "r"(a[i][3]), "r"(b[j][0]), "r"(b[j][1]));
#endif
}

// The TF32 operand of v: to nearest, ties away from zero, as a 32-bit register.
__device__ __forceinline__ uint32_t tf32_rna(float v) {
#ifdef SR_HOST_EXEC
  return host::cvt_rna_tf32(v);
#else
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(v));
  return r;
#endif
}

}  // namespace sr::cuda
