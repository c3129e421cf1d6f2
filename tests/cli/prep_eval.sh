#!/usr/bin/env bash
# sr-prep and sr-eval end to end: patches from the example WAVs (shapes, counts, attributes), the
# --split mode (deterministic, by file, disjoint lists), sr-eval on the golden TFiLM fixture model
# (finite JSON numbers, --out-dir WAVs, the PNG), and bad inputs (exit 1 or 2, one error line, no
# output file and no temporary left behind).
# Usage: prep_eval.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# Needs bash and python3's standard library; checks the HDF5 shapes too where h5py is installed.
# shellcheck source=lib/common.bash
source "$(dirname "$0")/lib/common.bash" prep_eval "$@"
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=python3
PREP=$BIN/sr-prep
EVAL=$BIN/sr-eval
TFILM=$FIX/golden_tfilm.safetensors
for f in "$PREP" "$EVAL" "$TFILM" "$EXAMPLES/speech_ru_16k.wav" "$EXAMPLES/speech_ru_8k.wav"; do
  [[ -e $f ]] || fail "missing $f"
done

run_ok() {
  local rc=0
  "$@" >LAST.out 2>LAST.err || rc=$?
  if ((rc != 0)); then
    cat LAST.err >&2
    fail "exit $rc from: $*"
  fi
}

HAVE_H5PY=0
"$PY" -c "import h5py, numpy" 2>/dev/null && HAVE_H5PY=1
# h5_shapes FILE: "data (N, L, 1) float32; label (N, L, 1) float32" and the attributes.
h5_shapes() {
  "$PY" - "$1" <<'PYEOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
print("; ".join("%s %s %s" % (k, tuple(f[k].shape), f[k].dtype) for k in sorted(f)))
print(" ".join("%s=%s" % (k, f.attrs[k]) for k in sorted(f.attrs) if k in ("scale", "low_pass", "dimension", "stride")))
PYEOF
}

# Ten 1-second 16 kHz WAVs (a chirp each, different pitch) for the split, made with `wave`.
"$PY" - <<'PYEOF'
import math, os, struct, wave
os.makedirs("corpus/sub", exist_ok=True)
for k in range(10):
    path = "corpus/%sutt%02d.wav" % ("sub/" if k % 3 == 0 else "", k)
    w = wave.open(path, "wb")
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    f0 = 100 + 40 * k
    w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * f0 * (i / 16000) * (1 + i / 32000))))
                           for i in range(16000)))
    w.close()
open("empty_list.txt", "w").write("\n  \n")
open("missing_list.txt", "w").write("corpus/utt01.wav\ncorpus/nope.wav\n")
open("not_audio.wav", "wb").write(b"this is not audio" * 100)
PYEOF

# --- sr-prep --------------------------------------------------------------------------------------
check "sr-prep --in-dir examples: both WAVs (the 8 kHz one resampled), r = 2, plain subsampling"
run_ok "$PREP" --in-dir "$EXAMPLES" --out ex.h5 --dimension 8192 --stride 4096 --batch-size 4
[[ -f ex.h5 ]] || fail "no ex.h5"
# 61000 samples each: (61000 - 8192) / 4096 + 1 = 13 patches per file, 26 -> 24 (multiple of 4).
grep -q "ex.h5: 24 patches of 8192 (r = 2, subsampled), from 2 files" LAST.err ||
  fail "unexpected summary: $(cat LAST.err)"
if ((HAVE_H5PY)); then
  shapes=$(h5_shapes ex.h5)
  [[ $shapes == *"data (24, 8192, 1) float32; label (24, 8192, 1) float32"* ]] || fail "shapes: $shapes"
  [[ $shapes == *"dimension=8192 low_pass=0 scale=2 stride=4096"* ]] || fail "attributes: $shapes"
  echo "    ok: $shapes" | head -1
else
  echo "    (no h5py here: shapes checked through the summary line only)"
fi

check "sr-prep --file-list --in-dir, r = 4, --low-pass, --sam 0.5 (seeded: same file twice)"
printf 'speech_ru_16k.wav\n\nspeech_ru_8k.wav\n' >list.txt
run_ok "$PREP" --file-list list.txt --in-dir "$EXAMPLES" --out lp.h5 --scale 4 --low-pass \
  --dimension 4096 --stride 2048 --batch-size 2 --sam 0.5 --seed 7 --interpolate
cp LAST.err lp1.err
run_ok "$PREP" --file-list list.txt --in-dir "$EXAMPLES" --out lp2.h5 --scale 4 --low-pass \
  --dimension 4096 --stride 2048 --batch-size 2 --sam 0.5 --seed 7 --quiet
[[ ! -s LAST.err ]] || fail "--quiet still wrote: $(cat LAST.err)"
if ((HAVE_H5PY)); then
  "$PY" - lp.h5 lp2.h5 <<'PYEOF' || fail "seeded --sam runs differ or the shapes are wrong"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a["data"].shape == b["data"].shape and a["data"].shape[1:] == (4096, 1), a["data"].shape
n = a["data"].shape[0]
assert 0 < n < 2 * 28 and n % 2 == 0, n   # 28 patches per file before --sam 0.5
assert np.array_equal(a["data"][:], b["data"][:]) and np.array_equal(a["label"][:], b["label"][:])
assert a.attrs["low_pass"] == 1 and a.attrs["scale"] == 4
print("    ok: %d of 56 patches kept, identical across runs" % n)
PYEOF
fi

check "sr-prep --split: by file, deterministic, disjoint"
run_ok "$PREP" --in-dir corpus --split train=0.6,val=0.2,test=0.2 --out-dir split1 \
  --dimension 4096 --stride 2048 --batch-size 4 --seed 3
for f in train.h5 val.h5 train.txt val.txt test.txt; do [[ -f split1/$f ]] || fail "no split1/$f"; done
[[ $(wc -l <split1/train.txt) -eq 6 && $(wc -l <split1/val.txt) -eq 2 && $(wc -l <split1/test.txt) -eq 2 ]] ||
  fail "split sizes: $(wc -l split1/*.txt)"
[[ $(cat split1/*.txt | sort -u | wc -l) -eq 10 ]] || fail "the lists overlap or miss files"
# 16000 samples: (16000 - 4096) / 2048 + 1 = 6 patches per file: train 36, val 12.
grep -q "train.h5: 36 patches of 4096" LAST.err || fail "train summary: $(cat LAST.err)"
grep -q "val.h5: 12 patches of 4096" LAST.err || fail "val summary: $(cat LAST.err)"
run_ok "$PREP" --in-dir corpus --split train=0.6,val=0.2,test=0.2 --out-dir split2 \
  --dimension 4096 --stride 2048 --batch-size 4 --seed 3 --quiet
for f in train.txt val.txt test.txt train.h5 val.h5; do
  cmp -s split1/$f split2/$f || fail "same seed, different $f"
done
run_ok "$PREP" --in-dir corpus --split train=0.6,val=0.2,test=0.2 --out-dir split3 \
  --dimension 4096 --stride 2048 --batch-size 4 --seed 4 --quiet
cmp -s split1/test.txt split3/test.txt && cmp -s split1/val.txt split3/val.txt &&
  fail "seeds 3 and 4 gave the same split"
echo "    ok"

# --- sr-eval --------------------------------------------------------------------------------------
check "sr-eval: golden TFiLM on speech_ru_16k.wav, JSON, --out-dir, --spectrogram"
run_ok "$EVAL" --model "$TFILM" "$EXAMPLES/speech_ru_16k.wav" --json eval.json --out-dir out \
  --spectrogram spec.png --overlap 0
grep -q "speech_ru_16k.wav" LAST.out || fail "no table row on stdout: $(cat LAST.out)"
"$PY" - eval.json <<'PYEOF' || fail "bad JSON: $(cat eval.json)"
import json, math, sys
j = json.load(open(sys.argv[1]))
assert j["r"] == 2 and j["sample_rate"] == 16000 and len(j["files"]) == 1, j
f = j["files"][0]
assert f["samples"] == 61000, f
for who in ("spline", "model"):
    for k in ("snr_db", "lsd_k21", "lsd_papers"):
        v = f[who][k]
        assert isinstance(v, float) and math.isfinite(v), (who, k, v)
        assert v == j["mean"][who][k], (who, k)
# x[::2] without a low-pass: the spline keeps the low band: SNR well above 0, LSD below the clamp.
assert f["spline"]["snr_db"] > 5 and 0 < f["spline"]["lsd_k21"] < 10, f
print("    ok: spline SNR %.2f dB, LSD %.3f / %.3f; model SNR %.2f dB" % (
    f["spline"]["snr_db"], f["spline"]["lsd_k21"], f["spline"]["lsd_papers"], f["model"]["snr_db"]))
PYEOF
for s in hr lr sr spline; do [[ -s out/speech_ru_16k.$s.wav ]] || fail "no out/speech_ru_16k.$s.wav"; done
[[ $(head -c 8 spec.png | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "spec.png is not a PNG"
[[ -z $(find . -name '*.tmp-*') ]] || fail "temporary files left: $(find . -name '*.tmp-*')"

check "sr-eval --file-list, --low-pass, two files (one at 8 kHz, resampled to the model's rate)"
printf '%s\n%s\n' "$EXAMPLES/speech_ru_16k.wav" "$EXAMPLES/speech_ru_8k.wav" >eval_list.txt
run_ok "$EVAL" -m "$TFILM" --file-list eval_list.txt --low-pass --json eval2.json --quiet
[[ ! -s LAST.err ]] || fail "--quiet still wrote: $(cat LAST.err)"
grep -q "^mean (2 files)" LAST.out || fail "no mean row: $(cat LAST.out)"
"$PY" -c "
import json, math, sys
j = json.load(open('eval2.json'))
assert j['low_pass'] is True and len(j['files']) == 2
assert all(math.isfinite(f[w][k]) for f in j['files'] + [j['mean']] for w in ('spline', 'model')
           for k in ('snr_db', 'lsd_k21', 'lsd_papers'))
" || fail "bad JSON: $(cat eval2.json)"
echo "    ok"

# --- bad inputs -----------------------------------------------------------------------------------
# expect_error CODE PATTERN OUT -- CMD...: exit CODE, one "program: ..." line matching PATTERN on
# stderr (the last line), nothing on stdout, no OUT and no OUT.tmp-*.
expect_error() {
  local code=$1 pattern=$2 out=$3
  shift 4
  local program rc=0
  program=$(basename "$1")
  rm -rf "$out"
  "$@" >OUT.txt 2>ERR || rc=$?
  grep -Eqi 'terminate called|Aborted|Segmentation|core dumped|HDF5-DIAG' ERR && fail "crash or library noise: $(cat ERR)"
  [[ $rc =~ ^($code)$ ]] || fail "exit $rc, expected $code; stderr: $(cat ERR)"
  [[ ! -e $out ]] || fail "$out exists after a failed run"
  [[ -z $(find "$(dirname "$out")" -maxdepth 1 -name "$(basename "$out").tmp-*" 2>/dev/null) ]] || fail "temporary left for $out"
  [[ ! -s OUT.txt ]] || fail "stdout is not empty: $(head -c 200 OUT.txt)"
  [[ $(grep -c "^$program: " ERR) -eq 1 ]] || fail "expected one '$program:' line, got: $(cat ERR)"
  tail -n 1 ERR | grep -Eqi -- "$pattern" || fail "error does not match /$pattern/: $(tail -n 1 ERR)"
  echo "    ok (exit $rc): $(tail -n 1 ERR)"
}
check "sr-prep: a file in the list is missing";  expect_error 1 'nope\.wav.*no such file' bad.h5 -- "$PREP" --file-list missing_list.txt --out bad.h5
check "sr-prep: empty file list";             expect_error 1 'empty_list\.txt.*empty' bad.h5 -- "$PREP" --file-list empty_list.txt --out bad.h5
check "sr-prep: missing file list";           expect_error 1 'no_list\.txt' bad.h5 -- "$PREP" --file-list no_list.txt --out bad.h5
check "sr-prep: not audio";                   printf 'not_audio.wav\n' >na.txt
expect_error 1 'not_audio\.wav' bad.h5 -- "$PREP" --file-list na.txt --out bad.h5
check "sr-prep: fewer patches than a batch";  expect_error 1 'fewer than one batch' bad.h5 -- "$PREP" --in-dir corpus --out bad.h5 --dimension 4096 --stride 2048 --batch-size 1000
check "sr-prep: --dimension -1";              expect_error 2 'dimension -1.*not supported' bad.h5 -- "$PREP" --in-dir corpus --out bad.h5 --dimension -1
check "sr-prep: no inputs";                   expect_error 2 'file-list' bad.h5 -- "$PREP" --out bad.h5
check "sr-prep: --split without --out-dir";   expect_error 2 'out-dir' bad.h5 -- "$PREP" --in-dir corpus --split train=1
check "sr-prep: --split not adding up";       expect_error 2 'add up to 1' splitx/train.h5 -- "$PREP" --in-dir corpus --split train=0.5,val=0.1 --out-dir splitx
check "sr-prep: --sam 0";                     expect_error 2 '--sam' bad.h5 -- "$PREP" --in-dir corpus --out bad.h5 --sam 0
check "sr-prep: output folder missing";       expect_error 1 'no_dir/bad\.h5.*no such directory' no_dir/bad.h5 -- "$PREP" --in-dir corpus --out no_dir/bad.h5 --dimension 4096 --batch-size 4
check "sr-eval: missing reference file";      expect_error 1 'nope\.wav.*no such file' bad.json -- "$EVAL" -m "$TFILM" nope.wav --json bad.json
check "sr-eval: empty file list";             expect_error 1 'empty_list\.txt.*empty' bad.json -- "$EVAL" -m "$TFILM" --file-list empty_list.txt --json bad.json
check "sr-eval: not audio";                   expect_error 1 'not_audio\.wav' bad.json -- "$EVAL" -m "$TFILM" not_audio.wav --json bad.json
check "sr-eval: missing model";               expect_error 1 'nope\.safetensors' bad.json -- "$EVAL" -m nope.safetensors "$EXAMPLES/speech_ru_16k.wav" --json bad.json
check "sr-eval: no --model";                  expect_error 2 'model' bad.json -- "$EVAL" "$EXAMPLES/speech_ru_16k.wav" --json bad.json
check "sr-eval: no files";                    expect_error 2 'FILE' bad.json -- "$EVAL" -m "$TFILM" --json bad.json
check "sr-eval: --r 4 with an r = 2 model";   expect_error 1 'r = 2.*r = 4' bad.json -- "$EVAL" -m "$TFILM" "$EXAMPLES/speech_ru_16k.wav" --r 4 --json bad.json
check "sr-eval: --spectrogram-file not a FILE"; expect_error 2 'spectrogram-file' bad.png -- "$EVAL" -m "$TFILM" "$EXAMPLES/speech_ru_16k.wav" --spectrogram bad.png --spectrogram-file other.wav
echo "PASS: prep_eval"
