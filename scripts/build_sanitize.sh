#!/usr/bin/env bash
# The sanitizer build CI runs beside the normal one: clang, CPU only, AddressSanitizer +
# UndefinedBehaviorSanitizer on all C++ and the libFuzzer harnesses, into build-sanitize/.
# Then: ctest --test-dir build-sanitize -L 'cpu|sanitize|fuzz'  (scripts/test.sh does this).
set -euo pipefail
cd "$(dirname "$0")/.."
CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSR_CUDA=OFF \
  -DSR_SANITIZE=ON -DSR_FUZZ=ON -DSR_KERNEL_HOST_SANITIZERS=OFF "$@" >/dev/null
cmake --build build-sanitize -j "$(nproc)"
