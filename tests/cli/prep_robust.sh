#!/usr/bin/env bash
# sr-prep's robust-SR options: --downsample (every scheme, mix and varied seeded and
# deterministic, distinct outputs), --mvn, --silence-filter, and their usage errors (exit 2).
# Usage: prep_robust.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# shellcheck source=lib/common.bash
source "$(dirname "$0")/lib/common.bash" prep_robust "$@"
PREP=$BIN/sr-prep
WAV=$EXAMPLES/speech_ru_16k.wav
[[ -e $WAV ]] || fail "missing $WAV"
printf '%s\n%s\n' "$WAV" "$WAV" >list.txt
common=(--file-list list.txt --scale 2 --dimension 2048 --stride 1024 --batch-size 1)

for scheme in subsample decimate cheby1 fft mix varied; do
  check "--downsample $scheme"
  "$PREP" "${common[@]}" --downsample "$scheme" --out "$scheme.h5" 2>err.txt ||
    fail "$scheme: $(cat err.txt)"
  [[ -s $scheme.h5 ]] || fail "$scheme: no output"
done
check "the schemes make different inputs; mix and varied are deterministic per seed"
for a in subsample decimate cheby1 fft varied; do
  for b in subsample decimate cheby1 fft varied; do
    [[ $a == "$b" ]] || ! cmp -s "$a.h5" "$b.h5" || fail "$a and $b wrote the same file"
  done
done
"$PREP" "${common[@]}" --downsample varied --out varied2.h5 2>/dev/null
cmp -s varied.h5 varied2.h5 || fail "--downsample varied is not deterministic"
"$PREP" "${common[@]}" --downsample varied --seed 5 --out varied3.h5 2>/dev/null
! cmp -s varied.h5 varied3.h5 || fail "--seed does not change --downsample varied"

check "the recipe: --silence-filter 0.05 --mvn --downsample mix"
"$PREP" "${common[@]}" --silence-filter 0.05 --mvn --downsample mix --out recipe.h5 2>err.txt ||
  fail "recipe: $(cat err.txt)"
grep -q "recipe.h5: .* patches of 2048 (r = 2, mix)" err.txt || fail "summary: $(cat err.txt)"

check "usage errors exit 2"
for bad in "--downsample sinc" "--silence-filter 1" "--silence-filter x" \
  "--low-pass --downsample fft"; do
  rc=0
  # shellcheck disable=SC2086
  "$PREP" "${common[@]}" $bad --out bad.h5 2>err.txt || rc=$?
  ((rc == 2)) || fail "'$bad' exited $rc"
  [[ ! -e bad.h5 ]] || fail "'$bad' wrote a file"
done
echo "prep_robust: OK"
