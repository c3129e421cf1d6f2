#!/usr/bin/env bash
# The accuracy claims for the CUDA backend's reduced precisions rest on bench_precision_emulation
# (docs/BENCHMARKS.md): the bundled models must stay far inside the 1e-4 residual-NMSE bound in
# both modes, and the emulation must see a difference at all when every convolution is rounded
# (a tool that rounded nothing would pass the first check trivially).
# Usage: precision_emulation.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR FIXTURE_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr_cli_precision.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -x $BIN/bench_precision_emulation ]] || fail "no $BIN/bench_precision_emulation"

check() {  # JSON MODE LOW HIGH: LOW < residual NMSE <= HIGH
  python3 - "$@" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
v, lo, hi = j[sys.argv[2]]["residual_nmse"], float(sys.argv[3]), float(sys.argv[4])
if not (lo < v <= hi):
    sys.exit("%s %s: residual NMSE %.3e outside (%g, %g]" % (sys.argv[1], sys.argv[2], v, lo, hi))
print("%s %s: residual NMSE %.3e" % (j["model"].split("/")[-1], sys.argv[2], v))
PY
}
for m in speech_r2 speech_r4; do
  "$BIN/bench_precision_emulation" --model "$ROOT/models/$m.safetensors" --batch 4 \
    --json "$WORK/$m.json" >/dev/null
  check "$WORK/$m.json" tf32 0 1e-6
  check "$WORK/$m.json" bf16 0 1e-4
  "$BIN/bench_precision_emulation" --model "$ROOT/models/$m.safetensors" --batch 4 --all-convs \
    --json "$WORK/${m}_all.json" >/dev/null
  check "$WORK/${m}_all.json" tf32 1e-10 1e-5
  check "$WORK/${m}_all.json" bf16 1e-8 1e-3
done
echo ok
