#!/usr/bin/env bash
# One check of the CUDA backend on a machine with a GPU (written for an H100 box with 16 cores):
#   1. configure and build build-gpu (-DSR_CUDA=ON -DSR_CUDA_ARCHITECTURES=90, Release)
#   2. tests: the GPU tests (ctest -L gpu)
#   3. sanitizers: compute-sanitizer memcheck on the op, small, fused and race conv tests,
#      racecheck and synccheck on the [conv][race] cases
#   4. bench: sr-bench --json bench/results/gpu_<date>.json (throughput per batch/precision/impl,
#      per-op times, our conv vs cuDNN per layer shape, GEMM and copy ceilings)
#   5. torch: the same network in PyTorch on the same GPU against ours (bench/gpu_vs_pytorch.sh)
#   6. a summary table, last
#
# Usage:
#   bench/gpu_check.sh [--quick] [--only LIST]   build here and check (needs the build dependencies:
#                                                sndfile, soxr, openblas, hdf5, fftw3, libpng,
#                                                nlohmann_json, Catch2)
#   bench/gpu_check.sh --bundle DIR              on a development machine (no GPU needed): build for
#                                                sm_90 and copy the binaries, the CUDA module and the
#                                                non-CUDA shared libraries they need into DIR (~50 MB)
#   bench/gpu_check.sh --prebuilt DIR [--quick] [--only LIST]
#                                                on the GPU machine, when it lacks the build
#                                                dependencies (the lent device machines do, and
#                                                cannot install packages): run the bundle's binaries
# --only runs some of the stages tests, sanitizers, bench, torch (comma-separated; default all).
# --quick skips the sanitizers and runs smaller benchmark sweeps.
# With the device tool (10 minutes per call): `bench/gpu_check.sh --bundle .gpu_bundle` here, then
#   run(command="bench/gpu_check.sh --prebuilt .gpu_bundle --only tests,sanitizers",
#       carry=[".gpu_bundle"])
#   run(command="bench/gpu_check.sh --prebuilt .gpu_bundle --only bench,torch",
#       carry=[".gpu_bundle"])
# Logs go to $OUT when it is set (the device tool brings that folder back, as one archive), else
# bench/results/.
set -uo pipefail

# Stage limits in seconds, sized for a lent device machine: 15 minutes of device time in all,
# machine start (2-4 min) included, at most 10 minutes a call. The correctness call (tests +
# sanitizers) is capped at 300 s and the speed call (bench + torch) at 300 s, so both fit with the
# start and a minute to spare; a stage that hits its limit still leaves its log. Override with
# the environment for a machine of your own (e.g. T_TESTS=600).
T_TESTS=${T_TESTS:-120} T_MEMCHECK=${T_MEMCHECK:-90} T_RACECHECK=${T_RACECHECK:-60}
T_SYNCCHECK=${T_SYNCCHECK:-30} T_BENCH=${T_BENCH:-150} T_BENCH_AFILM=${T_BENCH_AFILM:-60}
T_TORCH=${T_TORCH:-90}

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
QUICK=0 MODE=build DIR="" ONLY=tests,sanitizers,bench,torch
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --only)
      ONLY=${2:?--only needs a list: tests,sanitizers,bench,torch}
      shift
      ;;
    --bundle | --prebuilt)
      MODE=${1#--}
      DIR=${2:?$1 needs a folder}
      shift
      ;;
    *)
      echo "usage: $0 [--quick] [--only LIST] [--bundle DIR | --prebuilt DIR]" >&2
      exit 2
      ;;
  esac
  shift
done
for want in ${ONLY//,/ }; do
  case $want in
    tests | sanitizers | bench | torch) ;;
    *)
      echo "--only: unknown stage '$want' (tests, sanitizers, bench, torch)" >&2
      exit 2
      ;;
  esac
done
wanted() { [[ ,$ONLY, == *,$1,* ]]; }
JOBS=${JOBS:-$(nproc)}
ARCH=${SR_CUDA_ARCHITECTURES:-90}
STAMP=$(date +%Y%m%d_%H%M%S)
BUILD=${SR_GPU_BUILD:-$ROOT/build-gpu}

# ---- --bundle: build here, collect binaries and libraries ------------------------------------------
if [[ $MODE == bundle ]]; then
  set -e
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSR_CUDA=ON -DSR_CUDA_ARCHITECTURES="$ARCH"
  cmake --build "$BUILD" -j "$JOBS" --target sr_gpu_tests sr-bench sr-infer sr-model
  rm -rf "$DIR"
  mkdir -p "$DIR/bin" "$DIR/lib"
  # libsr_cuda.so: the CUDA backend module the binaries load from their own folder.
  cp "$BUILD/bin/sr_gpu_tests" "$BUILD/bin/sr-bench" "$BUILD/bin/sr-infer" "$BUILD/bin/sr-model" \
    "$BUILD/bin/libsr_cuda.so" "$DIR/bin/"
  # Everything but the C runtime, libstdc++ (newer on the GPU image) and the CUDA libraries (there
  # with the toolkit; cuDNN from the toolkit or pip's nvidia-cudnn).
  for b in "$DIR"/bin/*; do ldd "$b"; done | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|libcuda|libcublas|libcublasLt|libcudnn[a-z_]*|libcudart)\.so' |
    while read -r lib; do cp -L "$lib" "$DIR/lib/"; done
  rel=${DIR#"$ROOT"/}
  # Ignored (.gitignore has .gpu_bundle; other names go to .git/info/exclude), so that the device
  # tool carries it rather than sending it as part of the working tree.
  if [[ $rel != /* ]] && ! git -C "$ROOT" check-ignore -q "$rel"; then
    mkdir -p "$ROOT/.git/info"
    echo "/$rel/" >>"$ROOT/.git/info/exclude"
  fi
  du -sh "$DIR"
  echo "bundle ready: carry '$rel' and run: bench/gpu_check.sh --prebuilt $rel"
  exit 0
fi

LOGS=${OUT:-$ROOT/bench/results}
mkdir -p "$LOGS" "$ROOT/bench/results"
LOG=$LOGS/gpu_check_$STAMP.log
JSON=$ROOT/bench/results/gpu_$STAMP.json
SAN=${COMPUTE_SANITIZER:-$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)}

# cuBLAS and cuDNN: the toolkit's, else the ones in the Python environment's nvidia-* wheels.
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [[ -d $d ]] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
done
PY_NVIDIA=$(python3 -c 'import nvidia; print(list(nvidia.__path__)[0])' 2>/dev/null || true)
if [[ -n $PY_NVIDIA ]]; then
  for d in "$PY_NVIDIA"/cudnn/lib "$PY_NVIDIA"/cublas/lib; do
    [[ -d $d ]] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
  done
fi

declare -a NAMES STATUS SECONDS_USED
stage() {  # NAME TIMEOUT_S LOGFILE COMMAND...: runs one stage, records ok/FAIL/TIMEOUT and its time
  local name=$1 limit=$2 log=$3
  shift 3
  echo "=== $name" | tee -a "$LOG"
  local t0=$SECONDS rc=0
  timeout "$limit" "$@" >"$log" 2>&1 || rc=$?
  tail -n 25 "$log"
  local st=ok
  ((rc == 124)) && st="TIMEOUT (${limit}s)"
  ((rc != 0 && rc != 124)) && st="FAIL (exit $rc)"
  NAMES+=("$name")
  STATUS+=("$st")
  SECONDS_USED+=($((SECONDS - t0)))
  echo "    -> $st in $((SECONDS - t0)) s" | tee -a "$LOG"
  return $rc
}

{
  echo "gpu_check $STAMP on $(hostname), mode $MODE"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
    --format=csv 2>&1 || echo "nvidia-smi not available"
  NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  "$NVCC" --version 2>&1 | tail -n 2
} | tee "$LOG"

# 1. Build, or take the bundle's binaries.
if [[ $MODE == prebuilt ]]; then
  BIN=$(cd "$DIR" && pwd)/bin
  LD_LIBRARY_PATH=$(cd "$DIR" && pwd)/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export LD_LIBRARY_PATH
  if ! ldd "$BIN/sr_gpu_tests" "$BIN/libsr_cuda.so" | grep -q "not found"; then
    echo "bundle $DIR: all libraries found" | tee -a "$LOG"
  else
    ldd "$BIN/sr_gpu_tests" "$BIN/libsr_cuda.so" | grep "not found" | tee -a "$LOG"
    echo "missing libraries (above): set LD_LIBRARY_PATH to where they are" | tee -a "$LOG"
    exit 1
  fi
else
  missing=""
  for m in sndfile soxr openblas hdf5 fftw3 libpng; do
    pkg-config --exists "$m" 2>/dev/null || missing+=" $m"
  done
  if [[ -n $missing ]]; then
    echo "missing build dependencies (pkg-config):$missing" | tee -a "$LOG"
    echo "build a bundle where they exist (bench/gpu_check.sh --bundle .gpu_bundle) and run" \
      "bench/gpu_check.sh --prebuilt .gpu_bundle here" | tee -a "$LOG"
    exit 2
  fi
  stage "configure" 120 "$LOGS/configure_$STAMP.log" \
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSR_CUDA=ON \
    -DSR_CUDA_ARCHITECTURES="$ARCH"
  stage "build" 300 "$LOGS/build_$STAMP.log" \
    cmake --build "$BUILD" -j "$JOBS" --target sr_gpu_tests sr-bench sr-infer sr-model
  if [[ ${STATUS[-1]} != ok ]]; then
    echo "build failed; see $LOGS/build_$STAMP.log" >&2
    exit 1
  fi
  BIN=$BUILD/bin
fi

# 2. Every GPU test. The CPU references use all cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$JOBS}
if ! wanted tests; then
  :
elif [[ $MODE == prebuilt ]]; then  # no CTest files in a bundle: the binary runs every GPU case
  stage "gpu tests" "$T_TESTS" "$LOGS/gpu_tests_$STAMP.log" "$BIN/sr_gpu_tests" "~[emu]" --durations yes
else
  stage "ctest -L gpu" "$T_TESTS" "$LOGS/gpu_tests_$STAMP.log" \
    ctest --test-dir "$BUILD" -L gpu --output-on-failure --timeout 250
fi

# 3. Sanitizers on the small cases (kernels run 10-100x slower under them).
if ! wanted sanitizers; then
  :
elif ((QUICK == 0)) && [[ -x $SAN ]]; then
  stage "memcheck (ops, small/fused convs)" "$T_MEMCHECK" "$LOGS/memcheck_$STAMP.log" \
    "$SAN" --tool memcheck --error-exitcode 1 --leak-check no \
    "$BIN/sr_gpu_tests" "[ops],[conv][small],[conv][fused],[conv][race]"
  stage "racecheck (conv race cases)" "$T_RACECHECK" "$LOGS/racecheck_$STAMP.log" \
    "$SAN" --tool racecheck --error-exitcode 1 "$BIN/sr_gpu_tests" "[conv][race]"
  stage "synccheck (conv race cases)" "$T_SYNCCHECK" "$LOGS/synccheck_$STAMP.log" \
    "$SAN" --tool synccheck --error-exitcode 1 "$BIN/sr_gpu_tests" "[conv][race]"
elif ((QUICK == 0)); then
  echo "compute-sanitizer not found ($SAN): sanitizer stages skipped" | tee -a "$LOG"
  NAMES+=("sanitizers")
  STATUS+=("SKIPPED (no compute-sanitizer)")
  SECONDS_USED+=(0)
fi

# 4. Benchmarks. (Comma lists are single arguments of sr-bench.)
# shellcheck disable=SC2054
if ((QUICK == 1)); then
  BENCH=(--arch tfilm --batch 1,32 --precision tf32,bf16 --conv-impl ours --repeat 10)
else
  BENCH=(--arch tfilm --batch 1,8,32 --precision fp32,tf32,bf16 --conv-impl ours,cudnn --repeat 20
         --profile --conv-compare --ceilings)
fi
JSON_AFILM=$ROOT/bench/results/gpu_afilm_$STAMP.json
if wanted bench; then
  stage "sr-bench tfilm" "$T_BENCH" "$LOGS/bench_$STAMP.log" \
    "$BIN/sr-bench" --backend cuda "${BENCH[@]}" --json "$JSON"
  stage "sr-bench afilm" "$T_BENCH_AFILM" "$LOGS/bench_afilm_$STAMP.log" \
    "$BIN/sr-bench" --backend cuda --arch afilm --batch 1,32 --precision tf32 --repeat 10 \
    --json "$JSON_AFILM"
fi
if [[ -n ${OUT:-} ]]; then
  for f in "$JSON" "$JSON_AFILM"; do [[ -f $f ]] && cp "$f" "$OUT/"; done
fi

# 5. The same network in PyTorch on this GPU, and our fp32 output against PyTorch's.
PY=""
for candidate in python3 /usr/bin/python3; do
  if "$candidate" -c 'import numpy, torch; assert torch.cuda.is_available()' 2>/dev/null; then
    PY=$candidate
    break
  fi
done
TORCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/sr_torch.XXXXXX")  # models and inputs: not for $OUT
if ! wanted torch; then
  :
elif [[ -n $PY ]]; then
  quick=()
  ((QUICK == 1)) && quick=(--quick)
  stage "pytorch vs ours" "$T_TORCH" "$LOGS/pytorch_$STAMP.log" \
    "$ROOT/bench/gpu_vs_pytorch.sh" "$BIN" "$PY" "$TORCH_DIR" "${quick[@]}"
else
  echo "no python with torch (CUDA) and numpy: PyTorch comparison skipped" | tee -a "$LOG"
  NAMES+=("pytorch vs ours")
  STATUS+=("SKIPPED (no torch with CUDA)")
  SECONDS_USED+=(0)
fi

# 6. Summary, last.
echo
echo "================================ summary ($STAMP) ================================"
for i in "${!NAMES[@]}"; do
  printf '%-32s %-28s %5d s\n' "${NAMES[$i]}" "${STATUS[$i]}" "${SECONDS_USED[$i]}"
done
if [[ -f $LOGS/gpu_tests_$STAMP.log ]]; then
  grep -E "tests passed|tests failed|All tests passed|test cases:" "$LOGS/gpu_tests_$STAMP.log" | tail -n 2
  grep -E "\(Failed\)|\(Timeout\)|FAILED:|with expansion" "$LOGS/gpu_tests_$STAMP.log" | head -n 12
fi
for f in "$LOGS/bench_$STAMP.log" "$LOGS/bench_afilm_$STAMP.log"; do
  [[ -f $f ]] || continue
  echo "--- $(basename "$f")"
  grep -E "^ceilings" "$f"
  # sr-bench prints its summary table last: the header line and the rows after it.
  awk '/^backend +batch +length/{p=1} p' "$f"
done
if [[ -f $LOGS/pytorch_$STAMP.log ]]; then
  echo "--- PyTorch on the same GPU"
  awk '/RTF = seconds/{p=1} p' "$LOGS/pytorch_$STAMP.log"
fi
echo "json: $JSON"
fail=0
for s in "${STATUS[@]}"; do [[ $s == ok || $s == SKIPPED* ]] || fail=1; done
# The device tool brings back at most 8 files from $OUT: one archive of every log and JSON.
if [[ -n ${OUT:-} ]]; then
  (cd "$OUT" && tar czf "gpu_check_$STAMP.tgz" --remove-files -- *"$STAMP"*.log *"$STAMP"*.json \
    2>/dev/null) || true
  echo "logs: \$OUT/gpu_check_$STAMP.tgz"
fi
exit $fail
