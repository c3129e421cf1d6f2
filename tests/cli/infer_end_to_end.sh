#!/usr/bin/env bash
# End-to-end runs of sr-infer and sr-model on the tiny fixture models: audio in, audio out (WAV,
# FLAC, mono, stereo, resampled input, both overlap modes), the .npy network mode against the golden
# outputs, and an `sr-model init` -> `sr-model info` -> `sr-infer` round trip.
# Usage: infer_end_to_end.sh BIN_DIR FIXTURE_DIR   (CTest passes both; see tests/CMakeLists.txt)
# Needs only bash and python3's standard library (wave, struct, json).
# One thread (common.bash): these checks are about behaviour, not speed, and OpenMP/OpenBLAS
# thread teams on tiny models slow down ten-fold when other tests (ctest -j) compete for the cores.
source "$(dirname "$0")/lib/common.bash" e2e "$@"
PY=${PYTHON:-/usr/bin/python3}
INFER=$BIN/sr-infer
MODEL_TOOL=$BIN/sr-model
TFILM=$FIX/golden_tfilm.safetensors
AFILM=$FIX/golden_afilm.safetensors
for f in "$INFER" "$MODEL_TOOL" "$TFILM" "$AFILM" "$EXAMPLES/speech_ru_8k.wav"; do
  [[ -e $f ]] || fail "missing $f"
done
[[ -x $PY ]] || PY=python3

# Runs a command that must succeed; its stderr goes to LAST.err, stdout to LAST.out.
run_ok() {
  local rc=0
  "$@" >LAST.out 2>LAST.err || rc=$?
  if ((rc != 0)); then
    cat LAST.err >&2
    fail "exit $rc from: $*"
  fi
}

# Small audio/.npy helper in python's standard library only.
cat >helper.py <<'PYEOF'
import array, ast, json, math, struct, sys, wave

def wav(path):
    w = wave.open(path)
    if w.getsampwidth() != 2:
        sys.exit(f"{path}: expected 16-bit PCM, got {8 * w.getsampwidth()}-bit")
    a = array.array("h", w.readframes(w.getnframes()))
    return w.getframerate(), w.getnchannels(), w.getnframes(), a

def npy_read(path):
    b = open(path, "rb").read()
    assert b[:6] == b"\x93NUMPY", path + ": bad magic"
    if b[6] == 1:
        n, start = struct.unpack("<H", b[8:10])[0], 10
    else:
        n, start = struct.unpack("<I", b[8:12])[0], 12
    h = ast.literal_eval(b[start:start + n].decode("latin1"))
    count = 1
    for d in h["shape"]:
        count *= d
    code = {"<f4": "f", "<f8": "d"}[h["descr"]]
    size = struct.calcsize(code)
    data = b[start + n:start + n + count * size]
    return tuple(h["shape"]), list(struct.unpack("<%d%s" % (count, code), data))

def npy_write(path, shape, values):
    d = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % (
        "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")")
    total = (10 + len(d) + 1 + 63) // 64 * 64
    header = d + " " * (total - 10 - len(d) - 1) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack("<%df" % len(values), *values))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "wavinfo":  # rate channels frames, then per channel: rms
    rate, ch, frames, a = wav(args[0])
    rms = [math.sqrt(sum(float(v) * v for v in a[c::ch]) / max(1, frames)) / 32768 for c in range(ch)]
    print(rate, ch, frames, *("%.6f" % r for r in rms))
elif cmd == "channels_differ":  # the channels of a stereo file are not copies of each other
    rate, ch, frames, a = wav(args[0])
    diff = sum(abs(int(l) - int(r)) for l, r in zip(a[0::2], a[1::2])) / max(1, frames) / 32768
    sys.exit(0 if diff > 1e-3 else f"{args[0]}: left and right are (nearly) identical ({diff:.2e})")
elif cmd == "max_lsb_diff":  # largest sample difference between two 16-bit files, in LSB
    _, _, fa, a = wav(args[0])
    _, _, fb, b = wav(args[1])
    if fa != fb:
        sys.exit(f"frame counts differ: {fa} vs {fb}")
    print(max(abs(int(x) - int(y)) for x, y in zip(a, b)))
elif cmd == "flacinfo":  # rate channels frames from the STREAMINFO block
    b = open(args[0], "rb").read(42)
    if b[:4] != b"fLaC" or (b[4] & 0x7F) != 0:
        sys.exit(args[0] + ": not a FLAC file with STREAMINFO first")
    si = b[8:42]
    bits = int.from_bytes(si[10:18], "big")
    rate, ch, total = bits >> 44, ((bits >> 41) & 7) + 1, bits & ((1 << 36) - 1)
    print(rate, ch, total)
elif cmd == "make_stereo":  # mono 16-bit IN -> OUT: left = IN, right = -IN/2 delayed 400 frames
    rate, ch, frames, a = wav(args[0])
    st = array.array("h", [0]) * (2 * frames)
    for i in range(frames):
        st[2 * i] = a[i]
        st[2 * i + 1] = -(a[i - 400] // 2) if i >= 400 else 0
    w = wave.open(args[1], "wb")
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate); w.writeframes(st.tobytes()); w.close()
elif cmd == "relabel":  # first N frames of IN written with sample rate RATE
    rate, ch, frames, a = wav(args[0])
    n, new_rate = int(args[2]), int(args[3])
    w = wave.open(args[1], "wb")
    w.setnchannels(ch); w.setsampwidth(2); w.setframerate(new_rate)
    w.writeframes(a[:n * ch].tobytes()); w.close()
elif cmd == "npy_shape":
    print(" ".join(map(str, npy_read(args[0])[0])))
elif cmd == "npy_row":  # row R of a (B, L) array -> 1-D .npy
    shape, v = npy_read(args[0])
    r, L = int(args[2]), shape[1]
    npy_write(args[1], (L,), v[r * L:(r + 1) * L])
elif cmd == "npy_close":  # A B ATOL [ROW]: same shape (B taken at ROW when given), |a-b| <= ATOL
    sa, a = npy_read(args[0])
    sb, b = npy_read(args[1])
    if len(args) > 3:
        r, L = int(args[3]), sb[1]
        sb, b = (L,), b[r * L:(r + 1) * L]
    if sa != sb:
        sys.exit(f"shape {sa} != expected {sb}")
    err = max(abs(x - y) for x, y in zip(a, b))
    if not err <= float(args[2]):
        sys.exit(f"max |diff| = {err:.3e} > {args[2]}")
    print("max |diff| = %.3e" % err)
elif cmd == "json_get":  # FILE KEY: a top-level value of a JSON document
    print(json.load(open(args[0]))[args[1]])
else:
    sys.exit("unknown helper command " + cmd)
PYEOF
helper() { "$PY" "$WORK/helper.py" "$@"; }

IN8K=$EXAMPLES/speech_ru_8k.wav
read -r _ _ IN_FRAMES _ <<<"$(helper wavinfo "$IN8K")"

# OUT must be RATE Hz, CH channels, FRAMES frames, and no channel silent.
expect_wav() {
  local out=$1 rate=$2 ch=$3 frames=$4 info
  [[ -s $out ]] || fail "$out was not written"
  info=$(helper wavinfo "$out") || fail "$out is not a readable 16-bit WAV"
  read -r -a f <<<"$info"
  [[ ${f[0]} == "$rate" ]] || fail "$out: rate ${f[0]}, expected $rate"
  [[ ${f[1]} == "$ch" ]] || fail "$out: ${f[1]} channels, expected $ch"
  [[ ${f[2]} == "$frames" ]] || fail "$out: ${f[2]} frames, expected $frames"
  for rms in "${f[@]:3}"; do
    "$PY" -c "import sys; sys.exit(0 if $rms > 1e-3 else 1)" || fail "$out: a channel is silent (rms $rms)"
  done
  echo "    ok: $rate Hz, $ch ch, $frames frames, rms ${f[*]:3}"
}

check "tfilm: 8 kHz mono WAV -> 16 kHz, 2x frames, not silent"
run_ok "$INFER" "$IN8K" tfilm.wav --model "$TFILM" --r 2
expect_wav tfilm.wav 16000 1 $((2 * IN_FRAMES))
grep -q "tfilm" LAST.err || fail "stderr does not name the model's architecture: $(cat LAST.err)"
[[ ! -s LAST.out ]] || fail "sr-infer wrote to stdout: $(head -c 200 LAST.out)"

check "afilm: 8 kHz mono WAV -> 16 kHz, 2x frames, not silent (--r taken from the model)"
run_ok "$INFER" "$IN8K" afilm.wav -m "$AFILM"
expect_wav afilm.wav 16000 1 $((2 * IN_FRAMES))
cmp -s tfilm.wav afilm.wav && fail "tfilm and afilm outputs are byte-identical"

check "--batch does not change the result (afilm, --batch 1 vs the default)"
run_ok "$INFER" "$IN8K" afilm_b1.wav -m "$AFILM" --r 2 --batch 1
lsb=$(helper max_lsb_diff afilm.wav afilm_b1.wav)
((lsb <= 1)) || fail "--batch 1 output differs from --batch 4 by $lsb LSB"
echo "    ok: max difference $lsb LSB"

check "stereo input keeps 2 distinct channels"
helper make_stereo "$IN8K" stereo.wav
run_ok "$INFER" stereo.wav stereo_out.wav -m "$AFILM" --r 2
expect_wav stereo_out.wav 16000 2 $((2 * IN_FRAMES))
helper channels_differ stereo_out.wav || fail "stereo output channels are copies of each other"

check "--raw: 22050 Hz input is resampled to the model's 8 kHz low rate; output is 16 kHz"
helper relabel "$IN8K" in22k.wav 22050 22050  # 1 s at 22050 Hz -> 8000 low-rate frames
run_ok "$INFER" in22k.wav out22k.wav -m "$AFILM" --r 2 --raw
grep -qi "resampl" LAST.err || fail "stderr does not mention resampling: $(cat LAST.err)"
expect_wav out22k.wav 16000 1 16000

check "--raw: 16 kHz input to an r=2 model is resampled down to 8 kHz first (output keeps the duration)"
helper relabel "$EXAMPLES/speech_ru_16k.wav" in16k.wav 16000 16000
run_ok "$INFER" in16k.wav out16k.wav -m "$AFILM" --raw
grep -qi "resampl" LAST.err || fail "stderr does not mention resampling: $(cat LAST.err)"
expect_wav out16k.wav 16000 1 16000

check "FLAC output"
run_ok "$INFER" "$IN8K" out.flac -m "$AFILM" --r 2
read -r rate ch frames <<<"$(helper flacinfo out.flac)" || fail "out.flac is not FLAC"
[[ "$rate $ch $frames" == "16000 1 $((2 * IN_FRAMES))" ]] ||
  fail "out.flac: $rate Hz, $ch ch, $frames frames; expected 16000 Hz, 1 ch, $((2 * IN_FRAMES))"
echo "    ok: $rate Hz, $ch ch, $frames frames"

check "--overlap 0 (the originals' tiling)"
run_ok "$INFER" "$IN8K" ov0.wav -m "$AFILM" --r 2 --overlap 0
expect_wav ov0.wav 16000 1 $((2 * IN_FRAMES))
grep -q "overlap 0" LAST.err || fail "summary does not report overlap 0: $(cat LAST.err)"
cmp -s ov0.wav afilm.wav && fail "--overlap 0 output is byte-identical to the crossfaded one"

check "--quiet prints nothing on stderr or stdout"
run_ok "$INFER" "$IN8K" quiet.wav -m "$AFILM" --r 2 --quiet
[[ ! -s LAST.err ]] || fail "--quiet still printed on stderr: $(cat LAST.err)"
[[ ! -s LAST.out ]] || fail "--quiet printed on stdout: $(cat LAST.out)"
cmp -s quiet.wav afilm.wav || fail "--quiet changed the output"
echo "    ok"

check "no temporary files left beside the outputs"
leftovers=$(find . -name '*.tmp-*')
[[ -z $leftovers ]] || fail "temporary files left behind: $leftovers"
echo "    ok"

check ".npy mode: golden_tfilm_input (2, 512) -> golden_tfilm_output within 1e-4"
run_ok "$INFER" "$FIX/golden_tfilm_input.npy" tfilm_out.npy -m "$TFILM"
helper npy_close tfilm_out.npy "$FIX/golden_tfilm_output.npy" 1e-4 || fail "tfilm .npy output differs"

check ".npy mode: golden_afilm_input -> golden_afilm_output within 1e-4"
run_ok "$INFER" "$FIX/golden_afilm_input.npy" afilm_out.npy -m "$AFILM"
helper npy_close afilm_out.npy "$FIX/golden_afilm_output.npy" 1e-4 || fail "afilm .npy output differs"

check ".npy mode: a 1-D (512,) input gives a 1-D output equal to that golden row"
helper npy_row "$FIX/golden_tfilm_input.npy" row1.npy 1
run_ok "$INFER" row1.npy row1_out.npy -m "$TFILM"
[[ $(helper npy_shape row1_out.npy) == "512" ]] || fail "1-D input gave shape ($(helper npy_shape row1_out.npy))"
helper npy_close row1_out.npy "$FIX/golden_tfilm_output.npy" 1e-4 1 || fail "1-D output differs"

check "sr-model init -> sr-model info round trip (small afilm)"
run_ok "$MODEL_TOOL" init small.safetensors --arch afilm --filters 16,16,32,32 --kernels 9,9,5,5 \
  --bottleneck-filters 32 --bottleneck-kernel 5 --ff-dim 32 --attention-layers 1 \
  --patch-length 1024 --ratio 2
[[ -s small.safetensors ]] || fail "sr-model init wrote nothing"
grep -q "wrote small.safetensors" LAST.err || fail "sr-model init did not report: $(cat LAST.err)"
run_ok "$MODEL_TOOL" info small.safetensors
head -1 LAST.out | grep -q "small.safetensors: afilm, [0-9]* parameters" ||
  fail "info headline: $(head -1 LAST.out)"
for kv in "arch = afilm" "filters = \[16,16,32,32\]" "kernels = \[9,9,5,5\]" "bottleneck_filters = 32" \
  "bottleneck_kernel = 5" "ff_dim = 32" "attention_layers = 1" "patch_length = 1024" "ratio = 2" \
  "sample_rate = 16000" "layers = 4" "format = audio-sr-weights"; do
  grep -q "^  $kv\$" LAST.out || fail "sr-model info lacks '$kv':"$'\n'"$(cat LAST.out)"
done
params_text=$(head -1 LAST.out | sed -E 's/.*afilm, ([0-9]+) parameters.*/\1/')
run_ok "$MODEL_TOOL" info small.safetensors --json
params_json=$(helper json_get LAST.out parameters) || fail "info --json is not JSON: $(head -c 300 LAST.out)"
[[ $params_json == "$params_text" ]] || fail "info --json says $params_json parameters, text says $params_text"
echo "    ok: $params_text parameters"

check "sr-model init is deterministic for a seed"
run_ok "$MODEL_TOOL" init small_again.safetensors --arch afilm --filters 16,16,32,32 --kernels 9,9,5,5 \
  --bottleneck-filters 32 --bottleneck-kernel 5 --ff-dim 32 --attention-layers 1 \
  --patch-length 1024 --ratio 2
cmp -s small.safetensors small_again.safetensors || fail "same config and seed gave different files"
echo "    ok"

check "sr-infer with the freshly initialised model"
run_ok "$INFER" "$IN8K" small.wav -m small.safetensors --r 2
expect_wav small.wav 16000 1 $((2 * IN_FRAMES))
grep -q "patch 1024" LAST.err || fail "stderr does not report the model's patch length: $(cat LAST.err)"

echo "PASS: infer_end_to_end"
