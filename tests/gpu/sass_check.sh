#!/usr/bin/env bash
# Checks the tensor-core convolution's machine code (SASS) in the CUDA module, no GPU needed: both
# instantiations of conv1d_mma_kernel use the tensor cores (HMMA, TF32 m16n8k4 / BF16 m16n8k16)
# and the cp.async pipeline (LDGSTS), and never local memory (LDL/STL). It prints how the
# fragments load: LDS today (WMMA through generic addresses); when the ldmatrix step of issue 11
# lands, set expect_ldsm=1 below.
# Needs cuobjdump and nvdisasm: the CUDA toolkit's, or PyPI's nvidia-cuda-cuobjdump and
# nvidia-cuda-nvdisasm wheels; without them it exits 77 (CTest: skipped).
# Usage: sass_check.sh path/to/libsr_cuda.so
set -euo pipefail
module=${1:?usage: $0 LIBSR_CUDA_SO}
expect_ldsm=0

candidates=(/usr/local/cuda/bin)
if command -v cuobjdump >/dev/null; then candidates=("$(dirname "$(command -v cuobjdump)")" "${candidates[@]}"); fi
for p in $(python3 -c 'import sys; print("\n".join(sys.path))' 2>/dev/null); do
  candidates+=("$p"/nvidia/cu*/bin)  # the wheels' folder
done
tools=
for d in "${candidates[@]}"; do
  if [[ -x $d/cuobjdump && -x $d/nvdisasm ]]; then
    tools=$d
    break
  fi
done
if [[ -z $tools ]]; then
  echo "SKIPPED: no cuobjdump + nvdisasm (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)"
  exit 77
fi
sass=$(PATH=$tools:$PATH cuobjdump -sass "$module")

# kernel_sass TYPE: the SASS of conv1d_mma_kernel<TYPE> (its mangled template argument).
kernel_sass() {
  awk -v want="conv1d_mma_kernelI$1" '/Function :/ { keep = index($0, want) > 0 } keep' <<<"$sass"
}
count() {  # count TEXT GREP_ARGS...: matching lines
  local text=$1
  shift
  grep -c "$@" <<<"$text" || true
}

failures=0
for type in f:TF32:HMMA.1684.F32.TF32 13__nv_bfloat16:BF16:HMMA.16816.F32.BF16; do
  IFS=: read -r mangled name hmma <<<"$type"
  code=$(kernel_sass "$mangled")
  [[ -n $code ]] || {
    echo "FAIL: conv1d_mma_kernel ($name) not found in $module"
    failures=$((failures + 1))
    continue
  }
  n_hmma=$(count "$code" -F "$hmma")
  n_ldgsts=$(count "$code" -F LDGSTS)
  n_local=$(count "$code" -E '\b(LDL|STL)\b')
  n_ldsm=$(count "$code" -F LDSM)
  n_lds=$(count "$code" -E '\bLDS(\.|\s)')
  echo "conv1d_mma_kernel ($name): $n_hmma $hmma, $n_ldgsts LDGSTS, $n_ldsm LDSM, $n_lds LDS," \
    "$n_local LDL/STL"
  ((n_hmma > 0)) || { echo "FAIL: no $hmma"; failures=$((failures + 1)); }
  ((n_ldgsts > 0)) || { echo "FAIL: no cp.async (LDGSTS)"; failures=$((failures + 1)); }
  ((n_local == 0)) || { echo "FAIL: local memory"; failures=$((failures + 1)); }
  if ((expect_ldsm)) && ((n_ldsm == 0)); then
    echo "FAIL: fragments not loaded with ldmatrix (LDSM)"
    failures=$((failures + 1))
  fi
done
((failures == 0)) || exit 1
echo "sass_check: the tensor-core kernels use HMMA and LDGSTS and no local memory"
