#!/usr/bin/env bash
# sr-train end to end on a tiny model: an epoch writes the model, checkpoint, log and plot; killing
# the process (SIGKILL) at any moment leaves the last checkpoint loadable; --resume continues from
# it; the trained model runs in sr-infer. Bad inputs exit cleanly.
# Usage: train_resume.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# shellcheck source=lib/common.bash
source "$(dirname "$0")/lib/common.bash" train "$@"

check "patches from the example speech"
"$BIN/sr-prep" --in-dir "$EXAMPLES" --out data.h5 --scale 2 --dimension 1024 --stride 256 \
  --batch-size 8 --low-pass --quiet
TINY=(--model tfilm --r 2 --layers 2 --filters 8,16 --kernels 9,5 --bottleneck-filters 16
  --bottleneck-kernel 5 --crop 512 --batch-size 4 --max-batches 3 --val-patches 8 --quiet)

check "one epoch writes model, checkpoint, log and plot"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 1 2>train.err ||
  fail "sr-train failed: $(cat train.err)"
for f in run/model.safetensors run/checkpoint.safetensors run/log.csv run/loss.svg; do
  [[ -s $f ]] || fail "missing $f"
done
[[ $(wc -l <run/log.csv) -eq 2 ]] || fail "log.csv should have a header and one epoch"
grep -q "train_epoch = 1" <("$BIN/sr-model" info run/checkpoint.safetensors 2>&1) ||
  fail "checkpoint does not record epoch 1"

check "--resume continues at epoch 2 and keeps the log"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 3 \
  --resume run/checkpoint.safetensors 2>resume.err || fail "resume failed: $(cat resume.err)"
grep -q "(resumed)" resume.err || fail "resume not reported"
[[ $(wc -l <run/log.csv) -eq 4 ]] || fail "log.csv should hold epochs 1-3 after the resume"
cut -d, -f1 run/log.csv | tr '\n' ' ' | grep -q "epoch 1 2 3" || fail "epochs out of order"

check "SIGKILL at random moments never leaves a broken checkpoint"
for delay in 0.3 0.7 1.1; do
  "$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 50 \
    --resume run/checkpoint.safetensors 2>/dev/null &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  "$BIN/sr-model" info run/checkpoint.safetensors >/dev/null 2>&1 ||
    fail "checkpoint unreadable after kill at ${delay}s"
done
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 60 \
  --resume run/checkpoint.safetensors --max-batches 1 2>/dev/null || fail "resume after kill failed"
# A killed writer may leave its temporary file; the next writer of the same path removes it.
[[ -z $(ls run | grep '\.tmp-') ]] || fail "temporary files left after the resume: $(ls run)"

check "the trained model runs in sr-infer"
"$BIN/sr-infer" "$EXAMPLES/speech_ru_8k.wav" out.wav --model run/model.safetensors --quiet ||
  fail "sr-infer with the trained model failed"
[[ -s out.wav ]] || fail "no output"

check "bad inputs: missing file (1), missing --val (2), resume from a non-checkpoint (1)"
rc=0; "$BIN/sr-train" --train nope.h5 --val data.h5 --out r2 --quiet 2>err || rc=$?
[[ $rc -eq 1 && $(wc -l <err) -eq 1 ]] || fail "missing file: exit $rc, $(cat err)"
rc=0; "$BIN/sr-train" --train data.h5 --out r2 --quiet 2>err || rc=$?
[[ $rc -eq 2 ]] || fail "missing --val: exit $rc"
rc=0; "$BIN/sr-train" --train data.h5 --val data.h5 --out r3 "${TINY[@]}" \
  --resume run/model.safetensors 2>err || rc=$?
[[ $rc -eq 1 ]] || fail "resume from a model file: exit $rc, $(cat err)"
echo "PASS: train_resume"
