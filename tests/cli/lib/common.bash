# Shared set-up of the CLI tests (sourced, not run; CTest runs only tests/cli/*.sh):
#   source "$(dirname "$0")/lib/common.bash" NAME "$@"
# sets BIN, FIX, EXAMPLES from the two arguments CTest passes (BIN_DIR FIXTURE_DIR), one thread
# per BLAS/OpenMP, a fresh work folder (removed on exit) as the current directory, and the
# helpers fail (message, exit 1) and check (a progress line).
set -euo pipefail
SR_TEST_NAME=$1
shift
BIN=${1:?usage: $SR_TEST_NAME.sh BIN_DIR FIXTURE_DIR}
FIX=${2:?usage: $SR_TEST_NAME.sh BIN_DIR FIXTURE_DIR}
EXAMPLES=$(cd "$FIX/../../examples" && pwd)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr_cli_$SR_TEST_NAME.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
check() { echo "--- $*"; }
