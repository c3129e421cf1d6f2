#!/usr/bin/env bash
# Our CUDA engine against the same network in PyTorch on the same GPU (what users run today):
# default TFiLM (or --arch), seeded weights from `sr-model init`, 8192-sample patches, batches 1, 8
# and 32, precisions fp32, tf32 and bf16. Prints one table: PyTorch's forward (input already on the
# device, synchronised) next to our CUDA-graph replay (sr-bench "device ms") and our end-to-end
# time (upload + run + download), and the parity of our fp32 output with PyTorch's fp32 output.
# Usage: bench/gpu_vs_pytorch.sh BIN_DIR PYTHON OUT_DIR [--arch NAME] [--quick]
# (bench/gpu_check.sh runs it; BIN_DIR holds sr-model, sr-bench and sr-infer.)
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR PYTHON OUT_DIR [--arch NAME] [--quick]}
PY=${2:?python with torch (CUDA) and numpy}
OUTDIR=${3:?output folder}
shift 3
ARCH=tfilm
BATCHES=(1 8 32)
PRECISIONS=(fp32 tf32 bf16)
while (($#)); do
  case $1 in
    --arch) ARCH=$2; shift 2 ;;
    --quick) BATCHES=(1 32); PRECISIONS=(tf32 bf16); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUTDIR"
LENGTH=8192
MODEL=$OUTDIR/${ARCH}_default.safetensors
"$BIN/sr-model" init "$MODEL" --arch "$ARCH" --seed 1 >/dev/null

rows=()
for b in "${BATCHES[@]}"; do
  X=$OUTDIR/x_b$b.npy
  "$PY" -c "import numpy as np; np.save('$X', (np.random.RandomState($b).randn($b, $LENGTH) * 0.1).astype(np.float32))"
  for p in "${PRECISIONS[@]}"; do
    TJ=$OUTDIR/torch_${ARCH}_b${b}_$p.json
    OJ=$OUTDIR/ours_${ARCH}_b${b}_$p.json
    extra=()
    if [[ $p == fp32 ]]; then  # parity: our fp32 CUDA output against PyTorch's fp32 output
      "$BIN/sr-infer" "$X" "$OUTDIR/ours_b$b.npy" --model "$MODEL" --backend cuda \
        --precision fp32 --quiet
      extra=(--compare "$OUTDIR/ours_b$b.npy")
    fi
    "$PY" "$ROOT/bench/pytorch_forward.py" --model "$MODEL" --input "$X" --device cuda \
      --precision "$p" --warmup 3 --repeat 20 --json "$TJ" "${extra[@]}" >/dev/null
    "$BIN/sr-bench" --backend cuda --model "$MODEL" --batch "$b" --length $LENGTH \
      --precision "$p" --conv-impl ours --repeat 20 --json "$OJ" >/dev/null
    rows+=("$("$PY" - "$TJ" "$OJ" "$b" "$p" <<'PY'
import json, sys
t, o = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["results"][0]
b, p = int(sys.argv[3]), sys.argv[4]
torch_ms, dev_ms, e2e_ms = 1e3 * t["median_s"], o["device_ms"], o["e2e_ms_median"]
audio = b * t["length"] / 16000.0
parity = t.get("parity_ours_vs_torch", {}).get("nmse_residual")
print("%5d  %-5s %11.3f %11.3f %11.3f %8.2fx %10.0f %10.0f  %s" % (
    b, p, torch_ms, dev_ms, e2e_ms, torch_ms / dev_ms if dev_ms > 0 else 0.0,
    audio / (torch_ms / 1e3), audio / (dev_ms / 1e3) if dev_ms > 0 else 0.0,
    "%.2e" % parity if parity is not None else "-"))
PY
)")
  done
done

echo "$ARCH, $LENGTH-sample patches; RTF = seconds of 16 kHz audio per second"
printf '%5s  %-5s %11s %11s %11s %9s %10s %10s  %s\n' batch prec "torch ms" "ours dev ms" \
  "ours e2e ms" speedup "torch RTF" "ours RTF" "fp32 parity (residual NMSE)"
printf '%s\n' "${rows[@]}"
