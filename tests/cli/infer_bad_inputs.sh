#!/usr/bin/env bash
# The error policy of sr-infer and sr-model, checked on bad inputs, bad models and bad command lines:
# exit 1 (2 for usage errors), one line on stderr that names the problem (as the last line, so it
# never hides behind a progress line), never a crash (exit > 2, "terminate called", sanitizer
# reports), no partial OUT and no OUT.tmp-* left behind, and an existing OUT left untouched.
# Usage: infer_bad_inputs.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# Stops at the first failure; KEEP_GOING=1 runs every case and lists all failures at the end.
# Needs only bash and python3's standard library.
set -euo pipefail

BIN=${1:?usage: $0 BIN_DIR FIXTURE_DIR}
FIX=${2:?usage: $0 BIN_DIR FIXTURE_DIR}
EXAMPLES=$(cd "$FIX/../../examples" && pwd)
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=python3
INFER=$BIN/sr-infer
MODEL_TOOL=$BIN/sr-model
TFILM=$FIX/golden_tfilm.safetensors
AFILM=$FIX/golden_afilm.safetensors
KEEP_GOING=${KEEP_GOING:-0}
# One thread: these checks are about behaviour, not speed, and OpenMP/OpenBLAS thread teams on
# tiny models slow down ten-fold when other tests (ctest -j) compete for the cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sr_cli_bad.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

FAILURES=()
fail() {
  echo "FAIL: $*" >&2
  if [[ $KEEP_GOING == 1 ]]; then
    FAILURES+=("$CASE: $*")
    return 0
  fi
  exit 1
}
for f in "$INFER" "$MODEL_TOOL" "$TFILM" "$AFILM" "$EXAMPLES/speech_ru_8k.wav"; do
  [[ -e $f ]] || fail "missing $f"
done

# ---------------------------------------------------------------------------------------------
# Bad files, made with python's standard library.
cat >make_inputs.py <<'PYEOF'
import array, copy, json, math, struct, sys, wave

src = wave.open(sys.argv[1])
pcm = src.readframes(src.getnframes())

def write_wav(path, frames, rate=8000, channels=1):
    w = wave.open(path, "wb")
    w.setnchannels(channels); w.setsampwidth(2); w.setframerate(rate); w.writeframes(frames); w.close()

def write_float_wav(path, samples, rate=8000):  # WAVE_FORMAT_IEEE_FLOAT, mono
    payload = struct.pack("<%df" % len(samples), *samples)
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(payload)) + payload
    open(path, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)

def write_npy(path, shape, values):
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        "%d," % shape[0] if len(shape) == 1 else ", ".join(map(str, shape)))
    total = (10 + len(d) + 1 + 63) // 64 * 64
    header = d + " " * (total - 10 - len(d) - 1) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%df" % len(values), *values))

def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8 + n:]

def write_st(path, header, data):
    t = json.dumps(header).encode()
    t += b" " * ((8 - len(t) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(t)) + t + data)

open("empty.wav", "wb").close()
open("garbage.wav", "wb").write(bytes((i * 37 + 11) % 256 for i in range(6000)))
write_wav("header_only.wav", b"")
write_wav("short.wav", pcm[:2 * 8000])  # 1 s
write_wav("one_hz.wav", pcm[:2 * 8000], rate=1)  # 8000 s at 1 Hz: a resampler memory bomb
whole = open("short.wav", "rb").read()
open("truncated.wav", "wb").write(whole[:44 + 2 * 4000])  # header promises 8000 frames, 4000 left
sine = [0.3 * math.sin(0.05 * i) for i in range(8000)]
write_float_wav("nan.wav", sine[:100] + [float("nan")] + sine[101:])
write_float_wav("inf.wav", sine[:100] + [float("inf")] + sine[101:])
# 40 s, a NaN at 38 s: output has been streaming (and, on a machine that takes over 0.5 s to get
# there, progress shown) when the error strikes.
long = [0.3 * math.sin(0.05 * i) for i in range(8000 * 40)]
long[8000 * 38] = float("nan")
write_float_wav("late_nan.wav", long)

write_npy("rank3.npy", (1, 2, 512), [0.0] * 1024)
vals = [0.1 * math.sin(0.3 * i) for i in range(1024)]
write_npy("nan.npy", (2, 512), vals[:700] + [float("nan")] + vals[701:])
write_npy("len500.npy", (2, 500), vals[:1000])
write_npy("empty.npy", (0, 512), [])
write_npy("good.npy", (2, 512), vals)
good = open("good.npy", "rb").read()
open("truncated.npy", "wb").write(good[:len(good) // 2])

model = sys.argv[2]
b = open(model, "rb").read()
open("half.safetensors", "wb").write(b[:len(b) // 2])
h, data = read_st(model)
names = sorted(k for k in h if k != "__metadata__")
g = copy.deepcopy(h); g[names[0] + "_renamed"] = g.pop(names[0]); write_st("renamed.safetensors", g, data)
g = copy.deepcopy(h); del g[names[0]]; write_st("missing_tensor.safetensors", g, data)
for k in names:  # reversed shape: same byte count, so only the shape check can catch it
    s = h[k]["shape"]
    if len(s) >= 2 and s != s[::-1]:
        g = copy.deepcopy(h); g[k]["shape"] = s[::-1]; write_st("misshaped.safetensors", g, data)
        open("misshaped.name", "w").write(k)
        break
g = copy.deepcopy(h); del g["__metadata__"]["format"]; write_st("no_format.safetensors", g, data)
g = copy.deepcopy(h); g["__metadata__"]["format_version"] = "99"; write_st("v99.safetensors", g, data)
b0 = h[names[0]]["data_offsets"][0]
nan_data = data[:b0] + struct.pack("<f", float("nan")) + data[b0 + 4:]
write_st("nan_weight.safetensors", h, nan_data)
PYEOF
"$PY" make_inputs.py "$EXAMPLES/speech_ru_8k.wav" "$TFILM" || fail "could not make the test inputs"
MISSHAPED=$(cat misshaped.name)
mkdir -p a_directory.wav

# ---------------------------------------------------------------------------------------------
# expect_error CODE PATTERN OUT -- CMD...
#   CODE: 1, 2, or "1|2". PATTERN: extended regex (case-insensitive) the error line must match.
#   OUT: the path CMD would write; it must not exist afterwards, nor any OUT.tmp-* beside it.
# For sr-infer the command runs twice: as given (progress lines may precede the error, but the
# error must be the one last line) and with --quiet added (stderr must be exactly that line).
CASE=""
expect_error() {
  local code=$1 pattern=$2 out=$3
  shift 4
  echo "--- $CASE"
  check_error_run "$code" "$pattern" "$out" "$@" || return 0
  if [[ $(basename "$1") == sr-infer ]]; then
    check_error_run "$code" "$pattern" "$out" "$1" --quiet "${@:2}" || return 0
    [[ $(wc -l <ERR) -eq 1 ]] || { fail "with --quiet, stderr has $(wc -l <ERR) lines:"$'\n'"$(cat ERR)"; return 0; }
  fi
  echo "    ok (exit $RC): $(tail -n 1 ERR)"
}

check_error_run() {
  local code=$1 pattern=$2 out=$3
  shift 3
  local program
  program=$(basename "$1")
  rm -rf "$out"
  RC=0
  "$@" >OUT.txt 2>ERR || RC=$?
  if grep -Eqi 'terminate called|Aborted|Segmentation|core dumped|Sanitizer|runtime error:' ERR; then
    fail "crash: $(cat ERR)"; return 1
  fi
  ((RC <= 2)) || { fail "exit $RC (a crash?), stderr: $(cat ERR)"; return 1; }
  [[ $RC =~ ^($code)$ ]] || { fail "exit $RC, expected $code; stderr: $(cat ERR)"; return 1; }
  [[ ! -e $out ]] || { fail "$out exists after a failed run"; return 1; }
  local tmp
  tmp=$(find "$(dirname "$out")" -maxdepth 1 -name "$(basename "$out").tmp-*" 2>/dev/null)
  [[ -z $tmp ]] || { fail "temporary file left behind: $tmp"; return 1; }
  [[ ! -s OUT.txt ]] || { fail "stdout is not empty: $(head -c 200 OUT.txt)"; return 1; }
  local errors
  errors=$(grep -c "^$program: " ERR || true)
  [[ $errors -eq 1 ]] || { fail "expected one '$program: ...' line on stderr, got:"$'\n'"$(cat ERR)"; return 1; }
  tail -n 1 ERR | grep -q "^$program: " ||
    { fail "the error is not on a line of its own at the end of stderr:"$'\n'"$(cat ERR)"; return 1; }
  tail -n 1 ERR | grep -Eqi -- "$pattern" ||
    { fail "error line does not match /$pattern/: $(tail -n 1 ERR)"; return 1; }
  return 0
}

IN=short.wav
M=(-m "$AFILM")

# --- bad input audio --------------------------------------------------------------------------
CASE="missing input file";         expect_error 1 'does_not_exist\.wav.*(no such file|not a readable)' out.wav -- "$INFER" does_not_exist.wav out.wav "${M[@]}"
CASE="empty (0-byte) input";       expect_error 1 'empty\.wav' out.wav -- "$INFER" empty.wav out.wav "${M[@]}"
CASE="garbage bytes named .wav";   expect_error 1 'garbage\.wav.*(not a readable|format)' out.wav -- "$INFER" garbage.wav out.wav "${M[@]}"
CASE="WAV header, 0 frames";       expect_error 1 'header_only\.wav.*no audio' out.wav -- "$INFER" header_only.wav out.wav "${M[@]}"
CASE="1 Hz WAV";                   expect_error 1 'input rate 1 Hz' out.wav -- "$INFER" one_hz.wav out.wav "${M[@]}"
CASE="truncated WAV";              expect_error 1 'truncated\.wav.*truncat' out.wav -- "$INFER" truncated.wav out.wav "${M[@]}"
# Compressed inputs, made by sr-infer itself (so no encoder is needed), then cut in half.
for ext in flac ogg; do
  "$INFER" --quiet "$IN" "whole.$ext" -m "$AFILM" || fail "could not make a .$ext input"
done
head -c $(($(wc -c <whole.flac) / 2)) whole.flac >cut.flac
head -c $(($(wc -c <whole.ogg) / 2)) whole.ogg >cut.ogg
CASE="truncated FLAC";             expect_error 1 'cut\.flac.*truncat' out.wav -- "$INFER" cut.flac out.wav "${M[@]}"
CASE="truncated Ogg/Vorbis";       expect_error 1 'cut\.ogg' out.wav -- "$INFER" cut.ogg out.wav "${M[@]}"
CASE="float WAV with a NaN";       expect_error 1 'nan\.wav.*NaN' out.wav -- "$INFER" nan.wav out.wav "${M[@]}"
CASE="float WAV with an Inf";      expect_error 1 'inf\.wav.*(NaN|inf)' out.wav -- "$INFER" inf.wav out.wav "${M[@]}"
CASE="NaN 38 s into a 40 s input"; expect_error 1 'late_nan\.wav.*NaN' out.wav -- "$INFER" late_nan.wav out.wav "${M[@]}"
CASE="a directory as input";       expect_error 1 'a_directory\.wav' out.wav -- "$INFER" a_directory.wav out.wav "${M[@]}"

# --- bad output paths ---------------------------------------------------------------------------
CASE="unknown output extension";   expect_error '1|2' '\.xyz' out.xyz -- "$INFER" "$IN" out.xyz "${M[@]}"
CASE="output without extension";   expect_error '1|2' 'out_noext.*(format|extension)' out_noext -- "$INFER" "$IN" out_noext "${M[@]}"
CASE="output in a missing folder"; expect_error 1 'no_such_dir/out\.wav' no_such_dir/out.wav -- "$INFER" "$IN" no_such_dir/out.wav "${M[@]}"
CASE="OUT is a directory";         # the run completes, then the final rename must fail cleanly
echo "--- $CASE"
RC=0; "$INFER" "$IN" a_directory.wav "${M[@]}" --quiet 2>ERR || RC=$?
if [[ $RC -ne 1 || $(wc -l <ERR) -ne 1 || ! -d a_directory.wav ]] || ! grep -q "a_directory.wav" ERR; then
  fail "OUT is a directory: exit $RC, stderr: $(cat ERR)"
elif [[ -n $(find . -maxdepth 1 -name 'a_directory.wav.tmp-*') ]]; then
  fail "OUT is a directory: temporary file left behind"
else
  echo "    ok (exit 1): $(cat ERR)"
fi

# --- bad models -----------------------------------------------------------------------------------
CASE="model file does not exist";  expect_error 1 'nope\.safetensors' out.wav -- "$INFER" "$IN" out.wav -m nope.safetensors
CASE="truncated .safetensors";     expect_error 1 'half\.safetensors.*truncat' out.wav -- "$INFER" "$IN" out.wav -m half.safetensors
CASE="a WAV passed as --model";    expect_error 1 'short\.wav.*not a safetensors' out.wav -- "$INFER" "$IN" out.wav -m short.wav
CASE="a directory as --model";     expect_error 1 'not a regular file' out.wav -- "$INFER" "$IN" out.wav -m "$FIX"
CASE="mis-shaped tensor";          expect_error 1 "$MISSHAPED.*shape" out.wav -- "$INFER" "$IN" out.wav -m misshaped.safetensors
CASE="missing tensor";             expect_error 1 'missing' out.wav -- "$INFER" "$IN" out.wav -m missing_tensor.safetensors
CASE="renamed tensor";             expect_error 1 'missing.*unexpected.*_renamed' out.wav -- "$INFER" "$IN" out.wav -m renamed.safetensors
CASE="metadata 'format' missing";  expect_error 1 'format' out.wav -- "$INFER" "$IN" out.wav -m no_format.safetensors
CASE="format_version 99";          expect_error 1 'version 99' out.wav -- "$INFER" "$IN" out.wav -m v99.safetensors
CASE="NaN in a weight";            expect_error 1 'nan_weight\.safetensors.*NaN' out.wav -- "$INFER" "$IN" out.wav -m nan_weight.safetensors
CASE="--r 4 with an r=2 model";    expect_error 1 'r = 2.*r = 4' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --r 4
CASE="no --model and no bundled model (SR_MODEL_DIR empty)"
SR_MODEL_DIR=$WORK/no_models expect_error 1 'no_models/speech_r2\.safetensors' out.wav -- "$INFER" "$IN" out.wav --r 2

# --- usage errors (exit 2) ------------------------------------------------------------------------
CASE="unknown flag";               expect_error 2 '--frobnicate' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --frobnicate
CASE="missing OUT";                expect_error 2 'missing OUT' out.wav -- "$INFER" "$IN" "${M[@]}"
CASE="--r abc";                    expect_error 2 "--r.*'abc'" out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --r abc
CASE="--r -1";                     expect_error 2 '--r' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --r -1
CASE="--batch 0";                  expect_error 2 '--batch' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --batch 0
CASE="--overlap -2";               expect_error 2 '--overlap' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --overlap -2
CASE="--model without a value";    expect_error 2 '--model' out.wav -- "$INFER" "$IN" out.wav --model
CASE="--quiet=1 (a flag with a value)"; expect_error 2 'quiet' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --quiet=1
CASE="IN .npy with OUT .wav";      expect_error 2 'npy' out.wav -- "$INFER" good.npy out.wav -m "$TFILM"
CASE="IN .wav with OUT .npy";      expect_error 2 'npy' out.npy -- "$INFER" "$IN" out.npy "${M[@]}"
CASE="OUT same as IN";             cp "$IN" same.wav
expect_error 2 'differ' none.wav -- "$INFER" same.wav same.wav "${M[@]}"
cmp -s same.wav "$IN" || fail "OUT same as IN: the input was modified"
CASE="no --model and no --r, .npy"; expect_error 2 '--r' out.npy -- "$INFER" "$FIX/golden_tfilm_input.npy" out.npy
CASE="--raw with --out-rate";      expect_error 2 'raw' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --raw --out-rate 48000
CASE="--out-rate 10";              expect_error 2 'out-rate' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --out-rate 10
CASE="--out-rate -5";              expect_error 2 'out-rate' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --out-rate -5
CASE="--band -1";                  expect_error 2 'band' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --band -1
CASE="--generated-gain 3";         expect_error 2 'generated-gain' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --generated-gain 3
CASE="--generated-gain abc";       expect_error 2 'generated-gain' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --generated-gain abc
CASE="--line-threshold -1";        expect_error 2 'line-threshold' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --line-threshold -1
CASE="--line-threshold 4x";        expect_error 2 'line-threshold' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --line-threshold 4x
CASE="--band on .npy";             expect_error 2 'npy' out.npy -- "$INFER" "$FIX/golden_tfilm_input.npy" out.npy "${M[@]}" --band 3000
CASE="a model serving any ratio, no --r"
"$MODEL_TOOL" init any_ratio.safetensors --filters 8,8,8,8 --kernels 9,9,9,9 --bottleneck-filters 8 \
  --patch-length 512 --ratio 0 2>/dev/null || fail "sr-model init failed for a small any-ratio model"
expect_error 2 '--r is required' out.wav -- "$INFER" "$IN" out.wav -m any_ratio.safetensors
CASE="--backend foo";              expect_error 2 "backend.*'foo'" out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --backend foo
# The kept FFT weight spectra's size (read at the first convolution of a model with long kernels).
R2=(-m "$EXAMPLES/../models/speech_r2.safetensors")
CASE="SR_FFT_WEIGHT_CACHE=lots"
SR_FFT_WEIGHT_CACHE=lots expect_error 1 'SR_FFT_WEIGHT_CACHE.*not a size' out.wav -- "$INFER" "$IN" out.wav "${R2[@]}"
CASE="SR_FFT_WEIGHT_CACHE above the memory budget"
SR_MEMORY_LIMIT=1G SR_FFT_WEIGHT_CACHE=2G expect_error 1 'SR_FFT_WEIGHT_CACHE needs 2.00 GB.*budget' out.wav -- "$INFER" "$IN" out.wav "${R2[@]}"

# --- .npy network input ---------------------------------------------------------------------------
CASE=".npy of rank 3";             expect_error 1 'rank3\.npy.*rank 3' out.npy -- "$INFER" rank3.npy out.npy -m "$TFILM"
CASE=".npy with a NaN";            expect_error 1 'nan\.npy.*NaN' out.npy -- "$INFER" nan.npy out.npy -m "$TFILM"
CASE=".npy of length 500";         expect_error 1 '500.*multiple of 32' out.npy -- "$INFER" len500.npy out.npy -m "$TFILM"
CASE=".npy with 0 rows";           expect_error 1 'empty\.npy.*empty' out.npy -- "$INFER" empty.npy out.npy -m "$TFILM"
CASE="truncated .npy";             expect_error 1 'truncated\.npy.*truncat' out.npy -- "$INFER" truncated.npy out.npy -m "$TFILM"
CASE="a WAV named .npy";           cp "$IN" wav_in_disguise.npy
expect_error 1 'wav_in_disguise\.npy.*not a \.npy' out.npy -- "$INFER" wav_in_disguise.npy out.npy -m "$TFILM"

# --- backends ------------------------------------------------------------------------------------
CASE="--backend cuda"
if "$INFER" "$IN" cuda_probe.wav "${M[@]}" --backend cuda --quiet 2>/dev/null; then
  echo "--- $CASE: a CUDA device is available here; the run succeeded (nothing to check)"
  rm -f cuda_probe.wav
else
  expect_error 1 'cuda' out.wav -- "$INFER" "$IN" out.wav "${M[@]}" --backend cuda
fi

# --- a failed run leaves an existing OUT untouched -------------------------------------------------
keep_check() {  # KEEP ARGS...: KEEP exists with known bytes before and after a failing run
  local keep=$1
  shift
  echo "--- existing $keep survives: $CASE"
  printf 'previous result, must survive\n' >"$keep"
  cp "$keep" keep.ref
  touch -d '2001-01-01 00:00:00' "$keep"
  local before rc=0
  before=$(stat -c '%s %Y %i' "$keep")
  "$INFER" "$@" --quiet 2>ERR || rc=$?
  ((rc == 1 || rc == 2)) || { fail "exit $rc, expected 1 or 2; stderr: $(cat ERR)"; return 0; }
  [[ -f $keep ]] || { fail "$keep was deleted"; return 0; }
  cmp -s "$keep" keep.ref || { fail "$keep was modified"; return 0; }
  [[ $(stat -c '%s %Y %i' "$keep") == "$before" ]] || { fail "$keep was rewritten"; return 0; }
  [[ -z $(find . -maxdepth 1 -name "$keep.tmp-*") ]] || { fail "temporary file left behind"; return 0; }
  echo "    ok: $(cat ERR)"
}
CASE="bad input";           keep_check keep.wav garbage.wav keep.wav "${M[@]}"
CASE="NaN late in input";   keep_check keep.wav late_nan.wav keep.wav "${M[@]}"
CASE="bad model";           keep_check keep.wav "$IN" keep.wav -m misshaped.safetensors
CASE="--r mismatch";        keep_check keep.wav "$IN" keep.wav "${M[@]}" --r 4
CASE="unknown extension";   keep_check keep.xyz "$IN" keep.xyz "${M[@]}"
CASE="bad .npy";            keep_check keep.npy len500.npy keep.npy -m "$TFILM"
CASE="usage error";         keep_check keep.wav "$IN" keep.wav "${M[@]}" --batch 0

# --- sr-model --------------------------------------------------------------------------------------
CASE="sr-model: no command";          expect_error 2 'missing command' none -- "$MODEL_TOOL"
CASE="sr-model: unknown command";     expect_error 2 "unknown command 'frob'" none -- "$MODEL_TOOL" frob
CASE="sr-model info: missing FILE";   expect_error 2 'missing FILE' none -- "$MODEL_TOOL" info
CASE="sr-model info: missing file";   expect_error 1 'nope\.safetensors' none -- "$MODEL_TOOL" info nope.safetensors
CASE="sr-model info: truncated";      expect_error 1 'truncat' none -- "$MODEL_TOOL" info half.safetensors
CASE="sr-model info: mis-shaped";     expect_error 1 "$MISSHAPED.*shape" none -- "$MODEL_TOOL" info misshaped.safetensors
CASE="sr-model init: bad arch";       expect_error '1|2' "wavenet" new.safetensors -- "$MODEL_TOOL" init new.safetensors --arch wavenet
CASE="sr-model init: patch 1000";     expect_error '1|2' '1000' new.safetensors -- "$MODEL_TOOL" init new.safetensors --patch-length 1000
CASE="sr-model init: --layers 3 alone"; expect_error 2 'layers' new.safetensors -- "$MODEL_TOOL" init new.safetensors --layers 3
CASE="sr-model init: bad --filters";  expect_error 2 'filters' new.safetensors -- "$MODEL_TOOL" init new.safetensors --filters 8,x,8,8 --kernels 9,9,9,9
CASE="sr-model init: missing folder"; expect_error 1 'no_such_dir/new\.safetensors' no_such_dir/new.safetensors -- "$MODEL_TOOL" init no_such_dir/new.safetensors --filters 8,8,8,8 --kernels 9,9,9,9

if ((${#FAILURES[@]})); then
  echo "${#FAILURES[@]} case(s) failed:" >&2
  printf '  %s\n' "${FAILURES[@]}" >&2
  exit 1
fi
echo "PASS: infer_bad_inputs"
