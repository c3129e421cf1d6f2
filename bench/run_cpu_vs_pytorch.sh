#!/usr/bin/env bash
# CPU forward: our engine (bench_cpu_forward) against the same network in PyTorch
# (bench/pytorch_forward.py), same weights, same input, same thread count. See docs/BENCHMARKS.md.
#
#   bench/run_cpu_vs_pytorch.sh [ARCH] [BATCH] [ROUNDS]      # defaults: tfilm 4 3
#   env: THREADS (2), REPEAT (3 timed forwards per round), SR_BENCH_TMP (/tmp/sr_bench),
#        OMP_WAIT_POLICY (passed to both engines when set; the result files get a _passive/_active
#        suffix)
#
# Needs build/bin/bench_cpu_forward (cmake --build build -j2) and Debian's /usr/bin/python3 with
# torch. Writes bench/results/{env,ours,torch,parity,summary}_<arch>_b<batch>*; the weights file
# (~270 MB for tfilm) and the .npy arrays go to $SR_BENCH_TMP.
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=${1:-tfilm}
BATCH=${2:-4}
ROUNDS=${3:-3}
THREADS=${THREADS:-2}
REPEAT=${REPEAT:-3}
TMP=${SR_BENCH_TMP:-/tmp/sr_bench}
RES=bench/results
PY=/usr/bin/python3
BIN=build/bin/bench_cpu_forward
TAG=${ARCH}_b${BATCH}
if [ -n "${OMP_WAIT_POLICY:-}" ]; then
  export OMP_WAIT_POLICY
  TAG=${TAG}_$(echo "$OMP_WAIT_POLICY" | tr '[:upper:]' '[:lower:]')
fi
MODEL=$TMP/${ARCH}.safetensors
X=$TMP/x_${ARCH}_b${BATCH}.npy
mkdir -p "$TMP" "$RES"
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

ENV=$RES/env_${TAG}.txt
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git rev-parse --short HEAD); uncommitted engine changes: $(git diff HEAD --shortstat -- engine | sed 's/^ *//' | grep . || echo none)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  echo "threads: $THREADS  batch: $BATCH  rounds: $ROUNDS x $REPEAT timed forwards (+1 warmup)"
  echo "OMP_WAIT_POLICY: ${OMP_WAIT_POLICY:-(unset)}"
  $PY -c "import torch; print('torch', torch.__version__, 'mkldnn', torch.backends.mkldnn.is_available())"
  echo "load before: $(uptime)"
} > "$ENV"

# A load log every 5 s (load average and the three busiest processes): the machine is shared.
(while true; do
  echo "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) | $(ps -eo pcpu,comm --sort=-pcpu | sed -n 2,4p | tr -s ' \n' ' ')"
  sleep 5
done) > "$RES/load_${TAG}.txt" &
MONITOR=$!
trap 'kill $MONITOR 2>/dev/null || true' EXIT

# 1. Fresh default weights (init_weights, seed 1) and a seeded input, written by our engine; one
#    op-by-op profile of each engine.
$BIN --arch "$ARCH" --batch "$BATCH" --threads "$THREADS" --warmup 1 --repeat 1 --profile 3 \
  --save-model "$MODEL" --save-input "$X" --json "$RES/ours_${TAG}_profile.json"
$PY bench/pytorch_forward.py --model "$MODEL" --input "$X" --threads "$THREADS" --warmup 1 \
  --repeat 1 --profile --json "$RES/torch_${TAG}_profile.json"

# 2. Timing rounds, interleaved so that both engines see the same machine weather.
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r: $(uptime)" >> "$ENV"
  $BIN --model "$MODEL" --input "$X" --threads "$THREADS" --warmup 1 --repeat "$REPEAT" \
    --gemm-peak 2048 --save-output "$TMP/y_ours_${TAG}.npy" --json "$RES/ours_${TAG}_r$r.json"
  $PY bench/pytorch_forward.py --model "$MODEL" --input "$X" --threads "$THREADS" --warmup 1 \
    --repeat "$REPEAT" --gemm-peak 2048 --output "$TMP/y_torch_${TAG}.npy" \
    --compare "$TMP/y_ours_${TAG}.npy" --json "$RES/torch_${TAG}_r$r.json"
done
echo "load after: $(uptime)" >> "$ENV"

# 3. Parity with a full-size final conv (bench/parity_model.py), plus the float64 reference
#    (tests/model/reference_net.py) on the first patch.
$PY bench/parity_model.py "$MODEL" "$TMP/${ARCH}_parity.safetensors"
$BIN --model "$TMP/${ARCH}_parity.safetensors" --input "$X" --threads "$THREADS" --warmup 0 \
  --repeat 1 --save-output "$TMP/y_ours_parity_${TAG}.npy"
$PY bench/pytorch_forward.py --model "$TMP/${ARCH}_parity.safetensors" --input "$X" \
  --threads "$THREADS" --warmup 0 --repeat 1 --compare "$TMP/y_ours_parity_${TAG}.npy" \
  --ref64-items 1 --json "$RES/parity_${TAG}.json"

$PY bench/summarize.py "$RES" "$TAG" | tee "$RES/summary_${TAG}.md"
