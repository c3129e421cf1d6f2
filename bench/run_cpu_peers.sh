#!/usr/bin/env bash
# CPU forward side by side: our engine, PyTorch, ONNX Runtime and OpenVINO on the same weights file
# and the same input, the same thread count, in interleaved rounds, with a parity check of every
# engine against ours and against the float64 reference, and the machine's load logged. See
# docs/BENCHMARKS.md, "CPU side by side".
#
#   bench/run_cpu_peers.sh MODEL BATCH [ROUNDS]     # ROUNDS: 3
#     MODEL: tfilm | afilm (the default config: sr-model init, then a full-size final conv, see
#            bench/parity_model.py) or a weights file (e.g. models/speech_r2.safetensors)
#   env: THREADS (2), REPEAT (timed forwards per engine per round: 3 for tfilm/afilm, 10 for a
#        file), WARMUP (1 per engine per round), LENGTH (the model's patch length),
#        ENGINES ("ours pytorch onnxruntime openvino"),
#        REF64_ITEMS (patches through the float64 reference, 0 = all: 0; ~10 s a patch for tfilm),
#        PAUSE (a command prefix for the timing rounds only, e.g. /work/tools/quiet.sh),
#        SETTLE_S (60: seconds to wait, at most, for other processes to fall quiet first),
#        SR_BENCH_TMP (/tmp/sr_peers: weights, .onnx, .npy and raw per-round files)
#        SR_FFT_WEIGHT_CACHE (ours: kept FFT weight spectra, e.g. 4G; results go to
#        peers_<model>_b<batch>_wcache.json and their own table row)
#
# Needs build/bin/{bench_cpu_forward,sr-model}, Debian's /usr/bin/python3 with torch (PyTorch, the
# ONNX export, the float64 reference) and bench/peers/.venv (bench/peers/setup_venv.sh: ONNX
# Runtime, OpenVINO). Writes bench/results/peers_<model>_b<batch>.json and rebuilds
# bench/results/peers_table.md from every peers_*.json there. Exits 1 when a parity check fails.
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/.."

usage() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$SELF"; exit "${1:-0}"; }
die() { echo "run_cpu_peers.sh: $*" >&2; exit 1; }

# ---- the timing rounds: run as a child so that PAUSE can wrap them alone --------------------------
run_engine() {  # ENGINE ROUND
  local e=$1 r=$2 j="$RAW/${1}_r$2.json" y="$RAW/y_$1.npy"
  case $e in
    ours) build/bin/bench_cpu_forward --model "$MODEL" --input "$X" --threads "$THREADS" \
            --warmup "$WARMUP" --repeat "$REPEAT" --save-output "$y" --json "$j" ;;
    pytorch) /usr/bin/python3 bench/pytorch_forward.py --model "$MODEL" --input "$X" \
            --threads "$THREADS" --warmup "$WARMUP" --repeat "$REPEAT" --output "$y" --json "$j" ;;
    onnxruntime|openvino) "$VENV_PY" bench/peers/onnx_forward.py --engine "$e" --onnx "$ONNX" \
            --input "$X" --threads "$THREADS" --warmup "$WARMUP" --repeat "$REPEAT" --output "$y" \
            --json "$j" ;;
    *) die "unknown engine $e (ours, pytorch, onnxruntime, openvino)" ;;
  esac
}
snapshot() {  # load, CPU used by all and by processes outside ours, the busiest of them
  /usr/bin/python3 bench/peers/load_probe.py
}
if [ "${1:-}" = "__rounds" ]; then
  # Settle: wait (up to SETTLE_S) until the other processes use under a quarter of a core; a
  # process that PAUSE does not stop, or another user's PAUSE ending, shows in the log.
  for _ in $(seq 1 "$SETTLE_S"); do
    line=$(snapshot)
    [ "$(echo "$line" | sed -n 's/.* others \([0-9]*\)%.*/\1/p')" -lt 25 ] && break
    echo "settling: $line" >&2
  done
  echo "rounds_start: $(snapshot)" >> "$RAW/env.txt"
  : > "$RAW/load.txt"
  rm -f "$RAW/.stop"
  (while [ ! -e "$RAW/.stop" ]; do   # append: the run lines go in too
    snapshot
    for _ in 1 2 3 4; do [ -e "$RAW/.stop" ] || sleep 1; done
  done) >> "$RAW/load.txt" &
  MONITOR=$!
  trap 'touch "$RAW/.stop"; wait $MONITOR 2>/dev/null || true' EXIT   # no sample after PAUSE ends
  read -r -a E <<< "$ENGINES"
  for r in $(seq 1 "$ROUNDS"); do   # rotate the order each round: no engine always runs first
    /usr/bin/python3 bench/peers/load_probe.py --sgemm 1024 >> "$RAW/load.txt"  # machine speed
    for i in $(seq 0 $((${#E[@]} - 1))); do
      e=${E[$(( (i + r - 1) % ${#E[@]} ))]}
      echo "$(date -u +%T) run: round $r $e" >> "$RAW/load.txt"
      run_engine "$e" "$r"
    done
  done
  echo "rounds_end: $(snapshot)" >> "$RAW/env.txt"
  exit 0
fi

# ---- set-up ---------------------------------------------------------------------------------------
case "${1:-}" in -h|--help) usage ;; "") usage 2 ;; esac
[ $# -ge 2 ] || usage 2
SPEC=$1 BATCH=$2 ROUNDS=${3:-3}
[[ $BATCH =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BATCH and ROUNDS must be positive integers"
export THREADS=${THREADS:-2} WARMUP=${WARMUP:-1} SETTLE_S=${SETTLE_S:-60} ROUNDS
export ENGINES=${ENGINES:-ours pytorch onnxruntime openvino}
TMP=${SR_BENCH_TMP:-/tmp/sr_peers}
export VENV_PY=bench/peers/.venv/bin/python
[ -x build/bin/bench_cpu_forward ] && [ -x build/bin/sr-model ] ||
  die "build/bin/bench_cpu_forward or sr-model missing (cmake --build build --target bench_cpu_forward sr-model)"
/usr/bin/python3 -c "import torch, numpy" 2>/dev/null ||
  die "/usr/bin/python3 cannot import torch and numpy (Debian: apt-get install python3-torch python3-numpy)"
case " $ENGINES " in *" ours "*) ;; *) die "ENGINES must include ours (the reference of the ratios)" ;; esac
case " $ENGINES " in *" onnxruntime "*|*" openvino "*)
  "$VENV_PY" -c "import onnxruntime, openvino" 2>/dev/null ||
    die "no ONNX Runtime / OpenVINO in bench/peers/.venv: run bench/peers/setup_venv.sh" ;;
esac

case $SPEC in
  tfilm|afilm) NAME=$SPEC; REPEAT=${REPEAT:-3} ;;
  *) [ -f "$SPEC" ] || die "$SPEC: no such weights file (or use tfilm / afilm)"
     NAME=$(basename "$SPEC" .safetensors); REPEAT=${REPEAT:-10} ;;
esac
export REPEAT
# SR_FFT_WEIGHT_CACHE (our engine's kept FFT weight spectra) set: its own results file and row.
TAG=${NAME}_b${BATCH}${SR_FFT_WEIGHT_CACHE:+_wcache}
export RAW=$TMP/$TAG MODEL=$TMP/$NAME.safetensors X=$TMP/$TAG/x.npy ONNX=$TMP/$TAG/net.onnx
rm -rf "$RAW"; mkdir -p "$RAW" bench/results
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS

# 1. Weights: a fresh default network (sr-model init) with its final conv redrawn full-size, so that
#    net(x) - x is of the order of x and every layer's error reaches the output; timing does not
#    depend on the values. A weights file is used as it is.
if [ "$NAME" = "$SPEC" ]; then
  build/bin/sr-model init "$RAW/init.safetensors" --arch "$SPEC" > /dev/null
  /usr/bin/python3 bench/parity_model.py "$RAW/init.safetensors" "$MODEL"
  rm -f "$RAW/init.safetensors"
else
  cp "$SPEC" "$MODEL"
fi
LENGTH=${LENGTH:-$(/usr/bin/python3 -c "import sys; sys.path.insert(0, 'bench'); import pytorch_forward as p; print(p.read_safetensors('$MODEL')[0]['patch_length'])")}
# 2. The input: N(0, 0.1), seed 1, (BATCH, LENGTH) float32; 3. the ONNX export of the PyTorch network.
/usr/bin/python3 -c "import numpy as np; np.save('$X', np.random.default_rng(1).normal(0, 0.1, ($BATCH, $LENGTH)).astype(np.float32))"
/usr/bin/python3 -W ignore bench/peers/export_onnx.py --model "$MODEL" --batch "$BATCH" --length "$LENGTH" --out "$ONNX"

BLAS=$(ldd build/bin/bench_cpu_forward | awk '/blas/ {print $3}')
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git rev-parse --short HEAD) ($(git log -1 --format=%cs)); uncommitted engine changes: $(git diff HEAD --shortstat -- engine | sed 's/^ *//' | grep . || echo none)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(grep -o -w 'avx2\|avx512f\|avx512_bf16\|amx_tile' /proc/cpuinfo | sort -u | paste -sd' ' -)"
  echo "threads: $THREADS; OMP_WAIT_POLICY ${OMP_WAIT_POLICY:-unset}, GOMP_SPINCOUNT ${GOMP_SPINCOUNT:-unset} (both unset: our tools pick their own wait policy, cli/args.cpp run_main; the others keep their defaults)"
  echo "openblas: $(readlink -f "$BLAS") ($(dpkg -S "$(readlink -f "$BLAS")" 2>/dev/null | cut -d: -f1 || echo '?'))"
  echo "pytorch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__, "mkldnn" if torch.backends.mkldnn.is_available() else "no mkldnn")')"
  echo "peers: $("$VENV_PY" -c 'import onnxruntime as o, openvino as v; print("onnxruntime", o.__version__, "openvino", v.__version__)' 2>/dev/null || echo none)"
  echo "model: $SPEC -> $MODEL; batch $BATCH x $LENGTH; input N(0, 0.1) seed 1"
  echo "schedule: $ROUNDS rounds; each engine per round: $WARMUP warmup + $REPEAT timed forwards in a fresh process; order rotated per round: $ENGINES"
  echo "pause: ${PAUSE:-none}"
  echo "ours: SR_FFT_WEIGHT_CACHE ${SR_FFT_WEIGHT_CACHE:-unset (default: 96 MB of kept weight spectra, at most 32 MB a layer)}"
} > "$RAW/env.txt"

# 4. The timing rounds (paused machine when PAUSE is set).
echo "timing $TAG: $ROUNDS rounds x ($ENGINES)" >&2
${PAUSE:-} bash "$SELF" __rounds

# 5. Parity (ours first: the 'vs ours' column), 6. the summary and the table.
OUTS=(--output "ours=$RAW/y_ours.npy")
for e in $ENGINES; do [ "$e" = ours ] || OUTS+=(--output "$e=$RAW/y_$e.npy"); done
PARITY_RC=0
/usr/bin/python3 -W ignore bench/peers/parity.py --model "$MODEL" --input "$X" "${OUTS[@]}" \
  --ref64-items "${REF64_ITEMS:-0}" --json "$RAW/parity.json" || PARITY_RC=$?
/usr/bin/python3 bench/peers/summarize.py "$RAW" "bench/results/peers_$TAG.json"
/usr/bin/python3 bench/peers/summarize.py --table bench/results > bench/results/peers_table.md
[ "$PARITY_RC" = 0 ] || die "PARITY FAILED for $TAG (see above; the results file says so too)"
