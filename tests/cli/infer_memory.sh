#!/usr/bin/env bash
# sr-infer streams: its peak memory must not grow with the length of the input. Runs the same
# small model on 20 s and on 6 min of audio and compares peak resident memory (GNU time's %M, or
# /proc's VmHWM through a wrapper when /usr/bin/time is absent).
# Usage: infer_memory.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR FIXTURE_DIR}
FIX=${2:?usage: $0 BIN_DIR FIXTURE_DIR}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr_cli_memory.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Noise-like 8 kHz 16-bit mono WAVs written with the standard library only.
python3 - <<'PY'
import random, struct, wave
for name, seconds in (("short.wav", 20), ("long.wav", 360)):
    rng = random.Random(seconds)
    with wave.open(name, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
        samples = (max(-32768, min(32767, int(rng.gauss(0, 3000)))) for _ in range(8000 * seconds))
        w.writeframes(b"".join(struct.pack("<h", v) for v in samples))
PY

peak_kib() {  # peak RSS in KiB of the command
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f "%M" -o rss.txt "$@" >/dev/null 2>&1 || fail "run failed: $*"
    cat rss.txt
  else
    "$@" >/dev/null 2>&1 &
    local pid=$! peak=0 now
    while kill -0 "$pid" 2>/dev/null; do
      now=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      ((now > peak)) && peak=$now
      sleep 0.05
    done
    wait "$pid" || fail "run failed: $*"
    echo "$peak"
  fi
}

MODEL=$FIX/golden_tfilm.safetensors
short=$(peak_kib "$BIN/sr-infer" short.wav short_out.wav --model "$MODEL" --quiet)
long=$(peak_kib "$BIN/sr-infer" long.wav long_out.wav --model "$MODEL" --quiet)
echo "peak RSS: 20 s input ${short} KiB, 6 min input ${long} KiB"
[[ -s long_out.wav ]] || fail "no output for the long input"
# 18x more audio: a buffer that grew with the input would add ~18 MB (input floats alone); allow
# 4 MB of allocator noise.
((long < short + 4096)) || fail "peak memory grew with input length: $short -> $long KiB"
echo "PASS: infer_memory"
