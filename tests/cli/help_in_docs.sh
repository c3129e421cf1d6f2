#!/usr/bin/env bash
# docs/CLI.md mirrors the tools' --help texts (STYLE.md, CLI): each help output must appear in it
# verbatim, inside a fenced block. Regenerate the blocks from the binaries when this fails.
# Usage: help_in_docs.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR FIXTURE_DIR}
FIX=${2:?usage: $0 BIN_DIR FIXTURE_DIR}
DOC=$(cd "$FIX/../.." && pwd)/docs/CLI.md
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=python3
[[ -f $DOC ]] || { echo "FAIL: $DOC is missing" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr_cli_help.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

check_help() {
  local name=$1
  shift
  echo "--- '$name --help' is in docs/CLI.md"
  local rc=0
  "$@" --help >"$WORK/help.txt" 2>"$WORK/err.txt" || rc=$?
  [[ $rc -eq 0 ]] || { echo "FAIL: '$name --help' exited $rc: $(cat "$WORK/err.txt")" >&2; exit 1; }
  [[ ! -s $WORK/err.txt ]] || { echo "FAIL: '$name --help' wrote to stderr" >&2; exit 1; }
  "$PY" - "$WORK/help.txt" "$DOC" "$name" <<'PYEOF' || exit 1
import sys
help_text, doc, name = open(sys.argv[1]).read(), open(sys.argv[2]).read(), sys.argv[3]
if "```text\n" + help_text + "```" not in doc:
    # Show the first line that differs from the closest block, to make the fix obvious.
    blocks = [b.split("```", 1)[0] for b in doc.split("```text\n")[1:]]
    first = help_text.splitlines()[0]
    block = next((b for b in blocks if b.startswith(first)), "")
    for i, (a, b) in enumerate(zip(help_text.splitlines() + [""], block.splitlines() + [""])):
        if a != b:
            sys.exit(f"FAIL: docs/CLI.md does not mirror '{name} --help'; line {i + 1}:\n"
                     f"  binary: {a!r}\n  docs:   {b!r}")
    sys.exit(f"FAIL: docs/CLI.md has no ```text block with '{name} --help'")
print("    ok")
PYEOF
}

check_help "sr-infer" "$BIN/sr-infer"
check_help "sr-model" "$BIN/sr-model"
check_help "sr-model init" "$BIN/sr-model" init
check_help "sr-model info" "$BIN/sr-model" info
check_help "sr-prep" "$BIN/sr-prep"
check_help "sr-train" "$BIN/sr-train"
check_help "sr-eval" "$BIN/sr-eval"
check_help "sr-bench" "$BIN/sr-bench"
echo "PASS: help_in_docs"
