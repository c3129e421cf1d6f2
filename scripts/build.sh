#!/usr/bin/env bash
# Configures and builds into build/ (Release). SR_CUDA=AUTO builds the CUDA backend when nvcc is
# found; pass extra CMake arguments through, e.g. scripts/build.sh -DSR_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$(nproc)"
