#!/usr/bin/env bash
# The CUDA backend is a module (bin/libsr_cuda.so) loaded on first use: the tools must not link the
# CUDA libraries, must run on the CPU when the module cannot be loaded, and must say why when the
# CUDA backend is asked for and missing. In a build without CUDA there is no module and the tools
# say the build has none.
# Usage: cuda_module.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR FIXTURE_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr_cli_cuda_module.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
IN=$ROOT/examples/speech_ru_8k.wav
MODEL=$ROOT/models/speech_r2.safetensors
[[ -f $IN && -f $MODEL ]] || fail "missing $IN or $MODEL"

for tool in sr-infer sr-bench sr-train sr-eval; do
  if ldd "$BIN/$tool" | grep -E 'lib(cublas|cublasLt|cudnn|cudart)[^ ]*\.so'; then
    fail "$tool links a CUDA library directly (above)"
  fi
done

if [[ -f $BIN/libsr_cuda.so ]]; then
  # The module itself links them and exports one symbol.
  # (ldd's output is kept first: grep -q stopping early would SIGPIPE ldd and trip pipefail.)
  module_libs=$(ldd "$BIN/libsr_cuda.so")
  grep -q 'libcublas' <<<"$module_libs" || fail "libsr_cuda.so does not link cuBLAS"
  # cuDNN (a benchmark baseline) is opened at run time: a machine without it keeps the backend.
  if grep 'libcudnn' <<<"$module_libs"; then fail "libsr_cuda.so links cuDNN (above)"; fi
  exported=$(nm -D --defined-only "$BIN/libsr_cuda.so" | awk '$2 == "T" {print $3}')
  [[ $exported == sr_cuda_module_api ]] || fail "libsr_cuda.so exports: $exported"

  # A module that cannot be loaded: auto runs on the CPU and says why; cuda is a clean error.
  SR_CUDA_MODULE=$WORK/missing.so "$BIN/sr-infer" "$IN" auto.wav --model "$MODEL" 2>auto.log ||
    fail "auto without a loadable module failed: $(cat auto.log)"
  [[ -s auto.wav ]] || fail "auto without a loadable module wrote nothing"
  # Why: no driver on this machine (the module is then not even loaded), or the missing module.
  grep -q -E "auto: (no NVIDIA driver|.*missing.so does not exist).*using the CPU" auto.log ||
    fail "auto did not say why: $(cat auto.log)"
  rc=0
  SR_CUDA_MODULE=$WORK/missing.so "$BIN/sr-infer" "$IN" cuda.wav --model "$MODEL" \
    --backend cuda 2>cuda.log || rc=$?
  ((rc == 1)) || fail "--backend cuda without a module: exit $rc, expected 1"
  [[ ! -e cuda.wav ]] || fail "--backend cuda without a module left an output file"
  [[ $(wc -l <cuda.log) -eq 1 ]] || fail "expected one line: $(cat cuda.log)"
  grep -q "CUDA backend is not available: .*missing.so does not exist" cuda.log ||
    fail "unexpected message: $(cat cuda.log)"
  echo "not a shared object" >broken.so
  rc=0
  SR_CUDA_MODULE=$WORK/broken.so "$BIN/sr-infer" "$IN" cuda.wav --model "$MODEL" \
    --backend cuda 2>cuda.log || rc=$?
  ((rc == 1)) || fail "--backend cuda with a broken module: exit $rc"
  grep -q "cannot load .*broken.so" cuda.log || fail "unexpected message: $(cat cuda.log)"

  # The real module: without a device, a clean "no CUDA device" error thrown from inside it.
  rc=0
  "$BIN/sr-infer" "$IN" cuda.wav --model "$MODEL" --backend cuda 2>cuda.log || rc=$?
  if ((rc == 0)); then
    echo "a CUDA device is present: --backend cuda ran"
  else
    ((rc == 1)) || fail "--backend cuda: exit $rc: $(cat cuda.log)"
    grep -q "no CUDA device" cuda.log || fail "unexpected message: $(cat cuda.log)"
  fi
else
  rc=0
  "$BIN/sr-infer" "$IN" cuda.wav --model "$MODEL" --backend cuda 2>cuda.log || rc=$?
  ((rc == 1)) || fail "--backend cuda in a build without CUDA: exit $rc"
  grep -q "this build has no CUDA backend" cuda.log || fail "unexpected message: $(cat cuda.log)"
fi
echo "ok"
