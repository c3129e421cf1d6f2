#!/usr/bin/env bash
# Creates bench/quality/.venv (the quality harness's own Python environment) with the python3 that
# comes first on PATH (override with PYTHON=...), and installs what run.py, sweep.py and
# make_refs.py import. Idempotent: an existing .venv is reused and brought up to date.
# Usage: bench/quality/setup.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-$(command -v python3)}
VENV=$HERE/.venv
if [[ ! -x $VENV/bin/python ]]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet numpy scipy soundfile pesq matplotlib soxr
"$VENV/bin/python" -c 'import numpy, scipy, soundfile, pesq, matplotlib, soxr; print("bench/quality/.venv:", "numpy", numpy.__version__, "scipy", scipy.__version__, "soundfile", soundfile.__version__, "soxr", soxr.__version__)'
