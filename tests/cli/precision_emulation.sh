#!/usr/bin/env bash
# The accuracy claims for the CUDA backend's reduced precisions rest on bench_precision_emulation
# (docs/BENCHMARKS.md), run here on the bundled models with real speech patches
# (tests/fixtures/speech_patches_r*.npy). Checked: the default tf32 stays well inside the 1e-4
# residual-NMSE bound; bf16 stays under 1e-3 (it sits near 1e-4 for r = 4: opt-in only); and
# rounding every convolution, the first and last layers too, costs orders of magnitude more (why
# those run in FP32; and a tool that rounded nothing would fail this check).
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR FIXTURE_DIR}
FIX=${2:?usage: $0 BIN_DIR FIXTURE_DIR}
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
for r in 2 4; do
  m=speech_r$r
  args=(--model "$ROOT/models/$m.safetensors" --input "$FIX/speech_patches_r$r.npy")
  "$BIN/bench_precision_emulation" "${args[@]}" --json "$WORK/$m.json" >/dev/null
  # measured, r2 / r4 (the retrained models; the first ones in brackets):
  check "$WORK/$m.json" tf32 0 1e-5     # 1.3e-8 (5.1e-12) / 1.9e-7 (1.3e-6)
  check "$WORK/$m.json" bf16 0 1e-3     # 9.2e-7 (2.6e-10) / 1.2e-5 (8.9e-5)
  "$BIN/bench_precision_emulation" "${args[@]}" --all-convs --json "$WORK/${m}_all.json" >/dev/null
  # Rounding the first and last layers too costs 30-500x: measured 6.3e-6 (1.1e-4) / 3.3e-5
  # (4.1e-4), against 1.3e-8 and 1.9e-7 with them in FP32.
  check "$WORK/${m}_all.json" tf32 1e-6 1
done
echo ok
