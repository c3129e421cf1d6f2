// The tensor-core convolution's inline PTX (conv1d_mma.cu), one small device function per
// instruction; under SR_HOST_EXEC each calls the host execution's emulation instead
// (kernels/host/host_exec.h: deferred cp.async copies, warp-collective ldmatrix and mma.sync).
//   cp.async.cg 16 bytes (zero-fill when invalid), commit_group, wait_group
//   ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 from a .shared address
//   mma.sync.aligned m16n8k8 TF32 and m16n8k16 BF16, FP32 accumulators in place
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

// Four 8 x 8 matrices of 16-bit elements (8 x 4 of 32-bit ones); lane 8 i + r gives the address
// of row r of matrix i (16 bytes, 16-byte aligned, in shared memory). r[i] = matrix i's 32-bit
// word (lane / 4, lane % 4); transposed: its elements (2 (lane % 4) + h, lane / 4), h = 0, 1.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
#ifdef SR_HOST_EXEC
  host::ldmatrix(r, 4, row, false);
#else
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
#endif
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
#ifdef SR_HOST_EXEC
  host::ldmatrix(r, 4, row, true);
#else
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
#endif
}

// d += a * b for one 16 x 8 tile (fragments in the PTX ISA's per-lane layouts).
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2]) {
#ifdef SR_HOST_EXEC
  host::mma_m16n8k8_tf32(d, a, b, d);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4],
                                                  const uint32_t (&b)[2]) {
#ifdef SR_HOST_EXEC
  host::mma_m16n8k16_bf16(d, a, b, d);
#else
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
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
