// Eight floats in one AVX register, as GCC/Clang vector extensions: arithmetic on them compiles to
// AVX in the x86-64-v3 clones (SR_VECTOR_CLONES) and to SSE pairs in the baseline ones. Loads and
// stores go through memcpy, so no alignment is assumed.
//
// These helpers pass vectors by value and are always inlined, so no call ever uses the baseline
// ABI that GCC warns about (-Wpsabi); the warning is off in the files that include this one, which
// are the SIMD kernels.
#pragma once

#include "cpu/fast_math.h"  // SR_ALWAYS_INLINE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace sr::cpu {

using Float8 = float __attribute__((vector_size(32)));

SR_ALWAYS_INLINE Float8 load8(const float* p) {
  Float8 v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

SR_ALWAYS_INLINE void store8(float* p, Float8 v) {
  __builtin_memcpy(p, &v, sizeof v);
}

}  // namespace sr::cpu
