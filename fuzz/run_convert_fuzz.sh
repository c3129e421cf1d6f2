#!/usr/bin/env bash
# Runs fuzz/fuzz_convert.py (Atheris) for SECONDS over fuzz/corpus/convert plus what earlier runs
# found in FOUND_DIR. Makes (once) a venv with atheris and numpy in VENV_DIR; exits 77 (CTest:
# skipped) when PyPI cannot be reached to make it.
# Usage: run_convert_fuzz.sh SECONDS VENV_DIR FOUND_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SECONDS_TO_RUN=${1:?usage: $0 SECONDS VENV_DIR FOUND_DIR}
VENV=${2:?usage: $0 SECONDS VENV_DIR FOUND_DIR}
FOUND=${3:?usage: $0 SECONDS VENV_DIR FOUND_DIR}
PY=${PYTHON:-$(command -v python3)}
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import atheris, numpy' 2>/dev/null; then
  "$PY" -m venv "$VENV"
  if ! "$VENV/bin/python" -m pip install --quiet atheris numpy h5py; then
    echo "SKIP: cannot install atheris/numpy from PyPI" >&2
    exit 77
  fi
fi
mkdir -p "$FOUND"
cd "$FOUND/.."  # crash-* artifacts land beside the corpus
exec "$VENV/bin/python" "$HERE/fuzz_convert.py" -max_total_time="$SECONDS_TO_RUN" -timeout=20 \
  -rss_limit_mb=2048 -print_final_stats=1 "$FOUND" "$HERE/corpus/convert"
