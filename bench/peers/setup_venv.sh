#!/usr/bin/env bash
# Creates bench/peers/.venv with ONNX Runtime and OpenVINO from PyPI (the CPU builds), for
# bench/run_cpu_peers.sh. PyTorch is not installed here: the benchmark runs PyTorch and the ONNX
# export under Debian's /usr/bin/python3 (torch 1.13), so all engines read the same weights file.
#
#   bench/peers/setup_venv.sh            # creates or updates the venv
#   env: PYTHON (python3 first on PATH), ORT_VERSION, OV_VERSION (unset: the newest release)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null; then
  echo "setup_venv.sh: no $PYTHON on PATH (set PYTHON=/path/to/python3.9+)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || {
    echo "setup_venv.sh: '$PYTHON -m venv' failed (Debian: apt-get install python3-venv)" >&2
    exit 1
  }
fi
ORT="onnxruntime${ORT_VERSION:+==$ORT_VERSION}"
OV="openvino${OV_VERSION:+==$OV_VERSION}"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet numpy "$ORT" "$OV"
.venv/bin/python - <<'PY'
import numpy, onnxruntime, openvino
print("venv ready: numpy %s, onnxruntime %s, openvino %s" % (
    numpy.__version__, onnxruntime.__version__, openvino.__version__))
PY
