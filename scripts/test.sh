#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run, after scripts/setup.sh):
#  1. the normal build (scripts/build.sh) and all its CTest tests (GPU tests report Skipped
#     without a device);
#  2. the sanitizer build (scripts/build_sanitize.sh: clang, AddressSanitizer + UBSan, CPU only)
#     and its CPU unit tests and bad-input scripts, then each libFuzzer harness for
#     SR_FUZZ_SECONDS (30 s).
# SR_SKIP_SANITIZE=1 runs step 1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
ctest --test-dir build --output-on-failure -j 2
if [[ ${SR_SKIP_SANITIZE:-0} != 1 ]]; then
  ./scripts/build_sanitize.sh
  ctest --test-dir build-sanitize -L 'cpu|sanitize|fuzz' --output-on-failure -j 2
fi
