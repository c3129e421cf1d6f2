#!/usr/bin/env bash
# CPU training throughput: our Trainer (bench_train_throughput) against the same network trained in
# PyTorch (bench/pytorch_train.py): same initial weights, same batch, MSE + Adam lr 1e-3, dropout on.
# First a one-step parity check (dropout off), then interleaved timing rounds. See docs/BENCHMARKS.md.
#
#   bench/run_train_vs_pytorch.sh [ROUNDS]          # default 3
#   env: THREADS ("2 1": each thread count in turn), STEPS (20 timed steps per round, after WARMUP=3),
#        BATCH (16), LENGTH (2048), SR_BENCH_TMP (/tmp/sr_train_bench), OMP_WAIT_POLICY (passed to
#        both when set; the result files get a _passive/_active suffix)
#
# Model: the TFiLM we ship (layers 4, filters 32,48,64,64, kernels 33,17,9,9, bottleneck 64/9,
# TF block policy and subpixel order; 982,226 parameters), init_weights seed 1.
# Needs build/bin/bench_train_throughput (cmake --build build --target bench_train_throughput) and
# Debian's /usr/bin/python3 with torch. Writes bench/results/train_*_<tag>*.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
THREADS_LIST=${THREADS:-2 1}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
BATCH=${BATCH:-16}
LENGTH=${LENGTH:-2048}
TMP=${SR_BENCH_TMP:-/tmp/sr_train_bench}
RES=bench/results
PY=/usr/bin/python3
BIN=build/bin/bench_train_throughput
TAG=tfilm_b${BATCH}_l${LENGTH}
if [ -n "${OMP_WAIT_POLICY:-}" ]; then
  export OMP_WAIT_POLICY
  TAG=${TAG}_$(echo "$OMP_WAIT_POLICY" | tr '[:upper:]' '[:lower:]')
fi
MODEL=$TMP/tfilm_ship.safetensors
X=$TMP/x_b${BATCH}_l${LENGTH}.npy
Y=$TMP/y_b${BATCH}_l${LENGTH}.npy
OURS=(--arch tfilm --layers 4 --filters 32,48,64,64 --kernels 33,17,9,9 --bottleneck-filters 64
      --bottleneck-kernel 9 --batch "$BATCH" --length "$LENGTH" --lr 1e-3)
mkdir -p "$TMP" "$RES"

ENV=$RES/train_env_${TAG}.txt
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git rev-parse --short HEAD); uncommitted engine changes: $(git diff HEAD --shortstat -- engine | sed 's/^ *//' | grep . || echo none)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  echo "threads: $THREADS_LIST  batch: $BATCH x $LENGTH  rounds: $ROUNDS x $STEPS timed steps (+$WARMUP warmup)"
  echo "OMP_WAIT_POLICY: ${OMP_WAIT_POLICY:-(unset)}"
  $PY -c "import torch; print('torch', torch.__version__, 'mkldnn', torch.backends.mkldnn.is_available())"
  echo "load before: $(uptime)"
} > "$ENV"

(while true; do
  echo "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) | $(ps -eo pcpu,comm --sort=-pcpu | sed -n 2,4p | tr -s ' \n' ' ')"
  sleep 5
done) > "$RES/train_load_${TAG}.txt" &
MONITOR=$!
trap 'kill $MONITOR 2>/dev/null || true' EXIT

# 1. Weights, batch and one-step parity (dropout off): loss, gradient per tensor, loss after Adam.
T1=${THREADS_LIST%% *}
export OMP_NUM_THREADS=$T1 OPENBLAS_NUM_THREADS=$T1
$BIN "${OURS[@]}" --threads "$T1" --parity --save-model "$MODEL" --save-input "$X" \
  --save-target "$Y" --save-grad "$TMP/grad_ours.safetensors" --json "$RES/train_parity_ours_${TAG}.json"
$PY bench/pytorch_train.py --model "$MODEL" --input "$X" --target "$Y" --threads "$T1" --lr 1e-3 \
  --parity --compare-grad "$TMP/grad_ours.safetensors" \
  --compare-json "$RES/train_parity_ours_${TAG}.json" --json "$RES/train_parity_torch_${TAG}.json"

# 2. Timing rounds per thread count, the engines interleaved (same machine weather for both).
for T in $THREADS_LIST; do
  export OMP_NUM_THREADS=$T OPENBLAS_NUM_THREADS=$T
  for r in $(seq 1 "$ROUNDS"); do
    echo "threads $T round $r: $(uptime)" >> "$ENV"
    $BIN "${OURS[@]}" --threads "$T" --warmup "$WARMUP" --steps "$STEPS" \
      --json "$RES/train_ours_${TAG}_t${T}_r$r.json"
    $PY bench/pytorch_train.py --model "$MODEL" --input "$X" --target "$Y" --threads "$T" \
      --lr 1e-3 --warmup "$WARMUP" --steps "$STEPS" --json "$RES/train_torch_${TAG}_t${T}_r$r.json"
  done
done
echo "load after: $(uptime)" >> "$ENV"

# 3. Pool the rounds: median and best step over every timed step of an engine and thread count.
$PY - "$RES" "$TAG" "$THREADS_LIST" <<'EOF' | tee "$RES/train_summary_${TAG}.md"
import glob, json, sys
import numpy as np
res, tag, threads = sys.argv[1], sys.argv[2], sys.argv[3].split()
out = {}
print("| threads | engine | s/step median | s/step min | patches/s (median) | patches/s (best) "
      "| CPU s/step | peak RSS MiB | steps |")
print("|---|---|---|---|---|---|---|---|---|")
for t in threads:
    for eng in ("ours", "torch"):
        runs = [json.load(open(f)) for f in sorted(glob.glob(
            "%s/train_%s_%s_t%s_r*.json" % (res, eng, tag, t)))]
        times = [s for r in runs for s in r["times_s"]]
        batch = runs[0]["batch"]
        med, best = float(np.median(times)), float(min(times))
        out.setdefault(t, {})[eng] = d = {
            "median_s": med, "min_s": best, "patches_per_s": batch / med,
            "patches_per_s_best": batch / best, "steps": len(times),
            "round_medians_s": [r["median_s"] for r in runs],
            "cpu_s_per_step": float(np.median([r["cpu_s_per_step"] for r in runs])),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}
        print("| %s | %s | %.4f | %.4f | %.1f | %.1f | %.3f | %.0f | %d |" % (
            t, eng, med, best, d["patches_per_s"], d["patches_per_s_best"], d["cpu_s_per_step"],
            d["peak_rss_mib"], len(times)))
    o, p = out[t]["ours"], out[t]["torch"]
    out[t]["ratio_median"] = o["patches_per_s"] / p["patches_per_s"]
    out[t]["ratio_best"] = o["patches_per_s_best"] / p["patches_per_s_best"]
for t in threads:
    print("\n%s thread(s): ours/PyTorch throughput %.2fx (median), %.2fx (best)" % (
        t, out[t]["ratio_median"], out[t]["ratio_best"]))
json.dump(out, open("%s/train_summary_%s.json" % (res, tag), "w"), indent=2)
EOF
