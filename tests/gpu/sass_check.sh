#!/usr/bin/env bash
# Checks the tensor-core convolution's machine code (SASS) in the CUDA module, no GPU needed: both
# instantiations of conv1d_mma_kernel use the tensor cores (HMMA, TF32 m16n8k8 / BF16 m16n8k16),
# load their fragments with ldmatrix (LDSM), run the cp.async pipeline (LDGSTS), and never touch
# local memory (LDL/STL).
# Needs cuobjdump and nvdisasm: the CUDA toolkit's, or PyPI's nvidia-cuda-cuobjdump and
# nvidia-cuda-nvdisasm wheels. Given a TOOLS_VENV folder (CTest passes one under the build), it
# installs the wheels there when no tools are found (once: later runs find them); when that fails
# too (no network), it exits 77 (CTest: skipped).
# Usage: sass_check.sh path/to/libsr_cuda.so [TOOLS_VENV]
set -euo pipefail
module=${1:?usage: $0 LIBSR_CUDA_SO [TOOLS_VENV]}
venv=${2:-}
expect_ldsm=1

# find_tools: sets `tools` to the first folder holding both programs, or leaves it empty.
find_tools() {
  local candidates=(/usr/local/cuda/bin) p d
  if command -v cuobjdump >/dev/null; then candidates=("$(dirname "$(command -v cuobjdump)")" "${candidates[@]}"); fi
  for p in $(python3 -c 'import sys; print("\n".join(sys.path))' 2>/dev/null); do
    candidates+=("$p"/nvidia/cu*/bin)  # the wheels' folder
  done
  if [[ -n $venv ]]; then candidates+=("$venv"/lib/python3*/site-packages/nvidia/cu*/bin); fi
  tools=
  for d in "${candidates[@]}"; do
    if [[ -x $d/cuobjdump && -x $d/nvdisasm ]]; then
      tools=$d
      return
    fi
  done
}
find_tools
if [[ -z $tools && -n $venv ]]; then
  echo "sass_check: installing nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm into $venv"
  if python3 -m venv "$venv" &&
    timeout 300 "$venv/bin/python" -m pip install -q --disable-pip-version-check --retries 1 \
      --timeout 20 nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm; then
    find_tools
  else
    echo "sass_check: pip failed"
  fi
fi
if [[ -z $tools ]]; then
  echo "SKIPPED: no cuobjdump + nvdisasm (pip install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm)"
  exit 77
fi
echo "sass_check: tools in $tools"
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
for type in f:TF32:HMMA.1688.F32.TF32 13__nv_bfloat16:BF16:HMMA.16816.F32.BF16; do
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
  n_ldsm_t=$(count "$code" -F LDSM.16.MT88)  # .trans (BF16's B fragments)
  n_lds=$(count "$code" -E '\bLDS(\.|\s)')
  echo "conv1d_mma_kernel ($name): $n_hmma $hmma, $n_ldgsts LDGSTS, $n_ldsm LDSM ($n_ldsm_t .trans), $n_lds LDS," \
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
echo "sass_check: the tensor-core kernels use HMMA, LDSM and LDGSTS and no local memory"
