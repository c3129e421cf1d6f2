#!/usr/bin/env bash
# Hostile input and faults through the tools (issue "Hostile input and faults"): each case below
# crashed, hung, succeeded wrongly or left files behind before its fix. Every refusal is one line
# on stderr with exit 1 (bad input) or 2 (bad usage), and nothing is left in the output folder.
# Usage: hostile_cli.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# shellcheck source=lib/common.bash
source "$(dirname "$0")/lib/common.bash" hostile "$@"

# expect RC PATTERN CMD...: exit status RC; the last stderr line matches PATTERN and is the only
# error line (sr-train's start-up line may come before it).
expect() {
  local want=$1 pattern=$2 rc=0
  shift 2
  "$@" >out.txt 2>err.txt || rc=$?
  [[ $rc -eq $want ]] || fail "$* -> exit $rc (want $want): $(head -c 300 err.txt)"
  [[ $(grep -c -i "error\|must\|refused" err.txt) -le 1 ]] || fail "$* -> several error lines: $(head -c 300 err.txt)"
  tail -n 1 err.txt | grep -q -- "$pattern" || fail "$* -> '$(cat err.txt)' lacks '$pattern'"
}
set_metadata() {  # FILE KEY VALUE: rewrites one metadata value of a safetensors file
  "${PYTHON:-python3}" - "$@" <<'PYEOF'
import json, struct, sys
path, key, value = sys.argv[1:4]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
head["__metadata__"][key] = value
text = json.dumps(head).encode()
text += b" " * (-len(text) % 8)
open(path, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
PYEOF
}
no_leftovers() {  # no temporary files anywhere under the work folder
  local left
  left=$(find . -name '*.tmp-*' | head -3)
  [[ -z $left ]] || fail "temporary files left: $left"
}

check "patches and a tiny model"
"$BIN/sr-prep" --in-dir "$EXAMPLES" --out data.h5 --scale 2 --dimension 1024 --stride 256 \
  --batch-size 8 --low-pass --quiet
TINY=(--model tfilm --r 2 --layers 2 --filters 8,16 --kernels 9,5 --bottleneck-filters 16
  --bottleneck-kernel 5 --crop 512 --batch-size 4 --val-patches 8 --quiet)

check "--threads: 100000 crashed libgomp, 10000 hung; now a usage error"
expect 2 "threads must be 0 (auto) to" "$BIN/sr-infer" "$EXAMPLES/speech_ru_8k.wav" o.wav --threads 100000
expect 2 "threads must be 0 (auto) to" "$BIN/sr-train" --train data.h5 --val data.h5 --out r \
  --threads 10000 "${TINY[@]}"
expect 2 "threads must be 0 (auto) to" "$BIN/sr-eval" --model "$FIX/../../models/speech_r2.safetensors" \
  --threads -3 "$EXAMPLES/speech_ru_8k.wav"

check "sr-eval takes --threads N before its FILEs (a hand-kept option list read N as a FILE)"
"$BIN/sr-eval" --model "$FIX/../../models/speech_r2.safetensors" --threads 1 --quiet \
  "$EXAMPLES/speech_ru_8k.wav" >eval.txt 2>&1 || fail "sr-eval --threads 1 FILE: $(cat eval.txt)"

check "a failing sr-eval leaves none of the earlier files' outputs"
printf 'RIFF\x24\x00\x00\x00WAVEjunk' >broken.wav
expect 1 "broken.wav" "$BIN/sr-eval" --model "$FIX/../../models/speech_r2.safetensors" --quiet \
  --out-dir evalout --spectrogram s.png "$EXAMPLES/speech_ru_8k.wav" broken.wav
[[ -z $(ls evalout 2>/dev/null) && ! -e s.png ]] || fail "left: $(ls evalout) $(ls s.png 2>&1)"

check "sr-train: negative or zero counts are usage errors"
for flag in "--crop -5" "--max-batches -1" "--patience 0" "--patience -2" "--val-patches -1" \
  "--halve-after 0" "--epochs 0" "--batch-size 0"; do
  # shellcheck disable=SC2086
  expect 2 "${flag%% *} must be in" "$BIN/sr-train" --train data.h5 --val data.h5 --out r "${TINY[@]}" $flag
done
[[ ! -e r ]] || fail "a refused run left its folder"

check "sr-train: a diverging run fails (exit 1) and names no model it did not write"
expect 1 "diverged" "$BIN/sr-train" --train data.h5 --val data.h5 --out nan_run "${TINY[@]}" \
  --lr 1e6 --epochs 2
[[ ! -e nan_run ]] || fail "the failed run left: $(ls -A nan_run)"

check "sr-train: one run per folder (a second one on the same --out is refused)"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 1 ||
  fail "first epoch failed"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 500 \
  --resume run/checkpoint.safetensors 2>long.err &
pid=$!
for _ in $(seq 100); do grep -q "resumed" long.err 2>/dev/null && break; sleep 0.1; done
expect 1 "another sr-train is using this run folder (pid $pid)" "$BIN/sr-train" --train data.h5 \
  --val data.h5 --out run "${TINY[@]}" --epochs 500 --resume run/checkpoint.safetensors

check "SIGTERM, SIGINT, SIGHUP: a clear line, status 128 + signal, no temporary files"
kill -TERM $pid
rc=0; wait $pid || rc=$?
[[ $rc -eq 143 ]] || fail "SIGTERM: exit $rc"
grep -q "terminated (SIGTERM); unfinished output files removed" long.err || fail "$(cat long.err)"
no_leftovers
"${PYTHON:-python3}" - "$EXAMPLES/speech_ru_8k.wav" long_in.wav <<'PYEOF'
import sys, wave
src = wave.open(sys.argv[1])
frames = src.readframes(src.getnframes())
out = wave.open(sys.argv[2], "wb")
out.setparams(src.getparams())
out.writeframes(frames * 40)
PYEOF
for sig in INT HUP; do
  # A long sr-infer (the example, 40 times over) interrupted while it writes its output.
  "$BIN/sr-infer" long_in.wav long.wav --r 2 --quiet --threads 1 2>sig.err &
  pid=$!
  for _ in $(seq 100); do compgen -G "long.wav.tmp-*" >/dev/null && break; sleep 0.05; done
  compgen -G "long.wav.tmp-*" >/dev/null || fail "sr-infer wrote no temporary file to interrupt"
  kill -$sig $pid
  rc=0; wait $pid || rc=$?
  [[ $rc -ne 0 ]] || continue  # finished before the signal: nothing to check
  num=$(kill -l $sig)
  [[ $rc -eq $((128 + num)) ]] || fail "SIG$sig: exit $rc: $(cat sig.err)"
  grep -q "(SIG$sig); unfinished output files removed" sig.err || fail "$(cat sig.err)"
  no_leftovers
done

check "a SIGKILLed writer's temporary file is removed by the next run on the same folder"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 500 \
  --resume run/checkpoint.safetensors 2>/dev/null &
pid=$!
sleep 1
kill -9 $pid
wait $pid 2>/dev/null || true
# A leftover as a killed writer leaves it, whatever moment the kill above hit.
cp run/checkpoint.safetensors "run/checkpoint.safetensors.tmp-4194305"
cp run/log.csv "run/log.csv.tmp-4194305"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 600 --max-batches 1 \
  --resume run/checkpoint.safetensors 2>/dev/null || fail "resume after SIGKILL failed"
no_leftovers

check "log.csv stays consistent with the checkpoint: rows past it and garbled rows are dropped"
epoch=$("$BIN/sr-model" info run/checkpoint.safetensors | sed -n 's/^  train_epoch = //p')
{
  echo "$((epoch + 1)),1,0.5,0.5,1,1,1,1,0.001,1,1"  # an epoch the checkpoint never saw
  echo "7,garbled"
} >>run/log.csv
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs $((epoch + 1)) \
  --max-batches 1 --patience 1000 --resume run/checkpoint.safetensors 2>resume.err ||
  fail "resume with a garbled log: $(cat resume.err)"
[[ $(tail -n +2 run/log.csv | cut -d, -f1 | sort -n | uniq -d | wc -l) -eq 0 ]] ||
  fail "duplicate epoch rows: $(cut -d, -f1 run/log.csv | tr '\n' ' ')"
[[ $(tail -n 1 run/log.csv | cut -d, -f1) -eq $((epoch + 1)) ]] || fail "last row is not epoch $((epoch + 1))"
grep -q garbled run/log.csv && fail "the garbled row survived"

check "--resume with a different architecture is refused, naming the difference"
expect 1 "filters \[8,16\] vs \[8,24\]" "$BIN/sr-train" --train data.h5 --val data.h5 --out run \
  "${TINY[@]}" --filters 8,24 --epochs 900 --resume run/checkpoint.safetensors

check "--resume from a checkpoint with a negative or non-numeric epoch is refused"
cp run/checkpoint.safetensors bad.safetensors
set_metadata bad.safetensors train_epoch -4
expect 1 "train_epoch' = '-4' is not a number in" "$BIN/sr-train" --train data.h5 --val data.h5 \
  --out run2 "${TINY[@]}" --epochs 900 --resume bad.safetensors
set_metadata bad.safetensors train_epoch abc
expect 1 "train_epoch' = 'abc'" "$BIN/sr-train" --train data.h5 --val data.h5 --out run2 \
  "${TINY[@]}" --epochs 900 --resume bad.safetensors

check "model metadata with NaN hyper-parameters: refused, no output written"
cp "$FIX/../../models/speech_r2.safetensors" nan.safetensors
set_metadata nan.safetensors leaky_alpha nan
expect 1 "leaky_alpha" "$BIN/sr-infer" "$EXAMPLES/speech_ru_8k.wav" nan.wav --model nan.safetensors
[[ ! -e nan.wav ]] || fail "wrote nan.wav"

check "weights that overflow to inf: .npy and audio modes fail, nothing written (was NaN, exit 0)"
"${PYTHON:-python3}" - "$FIX/../../models/speech_r2.safetensors" inf.safetensors in.npy <<'PYEOF'
import json, random, struct, sys
raw = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
for key in head:
    if key.startswith("final.conv."):
        b, e = head[key]["data_offsets"]
        raw[8 + n + b:8 + n + e] = struct.pack("<%df" % ((e - b) // 4), *[3e38] * ((e - b) // 4))
open(sys.argv[2], "wb").write(raw)
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2048,), }"
header += " " * (117 - len(header)) + "\n"
values = struct.pack("<2048f", *[random.gauss(0, 0.1) for _ in range(2048)])
open(sys.argv[3], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + header.encode() + values)
PYEOF
expect 1 "output is not finite" "$BIN/sr-infer" in.npy out.npy --model inf.safetensors --quiet
expect 1 "NaN or infinite" "$BIN/sr-infer" "$EXAMPLES/speech_ru_8k.wav" inf.wav --model inf.safetensors --quiet
[[ ! -e out.npy && ! -e inf.wav ]] || fail "wrote an output"

check "an HDF5 file declaring 2^30-sample patches: refused before any allocation"
expect 1 "the limit is 2^24" "$BIN/sr-train" --train "$FIX/hdf5_huge.h5" --val "$FIX/hdf5_huge.h5" \
  --out huge "${TINY[@]}"
[[ ! -e huge ]] || fail "left the run folder"
no_leftovers
echo "PASS: hostile_cli"
