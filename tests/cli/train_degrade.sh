#!/usr/bin/env bash
# sr-train --degrade and --loss end to end on a tiny model: the inputs are made from the labels
# (the file's data is ignored), the model records input_filter=varied, its cutoff, the
# degradations and the loss; a resumed run continues; the same seed gives the same log; the model
# runs in sr-infer; bad flags are usage errors (exit 2).
# Usage: train_degrade.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# shellcheck source=lib/common.bash
source "$(dirname "$0")/lib/common.bash" train_degrade "$@"

"$BIN/sr-prep" --in-dir "$EXAMPLES" --out data.h5 --scale 2 --dimension 1024 --stride 256 \
  --batch-size 8 --quiet
TINY=(--model tfilm --r 2 --layers 2 --filters 8,16 --kernels 9,5 --bottleneck-filters 16
  --bottleneck-kernel 5 --crop 512 --batch-size 4 --max-batches 3 --val-patches 8 --quiet
  --degrade --degrade-cutoff 0.75 --loss "mae+0.5*mrstft" --loss-high-band 2)

check "--degrade with mae+0.5*mrstft trains and records the distribution"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 1 2>err ||
  fail "sr-train failed: $(cat err)"
"$BIN/sr-model" info run/model.safetensors >info.txt 2>&1
for want in "input_filter = varied" "input_cutoff = 0.75" "training_loss = mae+0.5\*mrstft" \
  'training_degradations = {"iir"'; do
  grep -q "$want" info.txt || fail "model metadata lacks '$want': $(cat info.txt)"
done

check "--resume continues; the same seed gives the same first epoch"
"$BIN/sr-train" --train data.h5 --val data.h5 --out run "${TINY[@]}" --epochs 2 \
  --resume run/checkpoint.safetensors 2>err || fail "resume failed: $(cat err)"
[[ $(wc -l <run/log.csv) -eq 3 ]] || fail "log.csv should hold epochs 1-2"
"$BIN/sr-train" --train data.h5 --val data.h5 --out again "${TINY[@]}" --epochs 1 2>err ||
  fail "second run failed: $(cat err)"
[[ $(sed -n 2p run/log.csv | cut -d, -f1-8) == $(sed -n 2p again/log.csv | cut -d, -f1-8) ]] ||
  fail "same seed, different epoch 1: $(sed -n 2p run/log.csv) vs $(sed -n 2p again/log.csv)"

check "the model runs in sr-infer"
"$BIN/sr-infer" "$EXAMPLES/speech_ru_8k.wav" out.wav --model run/model.safetensors --quiet ||
  fail "sr-infer with the trained model failed"

check "usage errors: unknown loss, bad weight, --degrade without --r, cutoff out of range"
for bad in "--loss l1" "--loss 0*mae" "--degrade-cutoff 1.5" "--loss-high-band x"; do
  rc=0
  # shellcheck disable=SC2086
  "$BIN/sr-train" --train data.h5 --val data.h5 --out bad "${TINY[@]}" $bad 2>err || rc=$?
  [[ $rc -eq 2 ]] || fail "'$bad': exit $rc, $(cat err)"
done
rc=0
"$BIN/sr-train" --train data.h5 --val data.h5 --out bad --degrade --quiet 2>err || rc=$?
[[ $rc -eq 2 ]] || fail "--degrade without --r: exit $rc, $(cat err)"
echo "PASS: train_degrade"
