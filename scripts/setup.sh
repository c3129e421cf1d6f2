#!/usr/bin/env bash
# Installs the build and test dependencies from Debian (idempotent). The CUDA toolkit is expected
# at /usr/local/cuda when present; without it the CPU-only build is made.
set -euo pipefail
packages=(build-essential cmake pkg-config libsndfile1-dev libsoxr-dev libopenblas-dev
          libopenblas0-pthread libopenblas-openmp-dev nlohmann-json3-dev catch2 python3 python3-numpy
          python3-h5py python3-torch libhdf5-dev libfftw3-dev libpng-dev
          clang libomp-dev libclang-rt-dev)  # the sanitizer and fuzzing build
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: dependencies present"
