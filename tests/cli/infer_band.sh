#!/usr/bin/env bash
# sr-infer on real files, end to end through the band path: a full-band 16 kHz file through r = 2
# comes back byte-identical at 16 kHz; an 8 kHz recording stored at 48 kHz keeps 48 kHz and its
# length, is reported as a ~3.5 kHz band and extended; --out-rate, --band and the automatic
# choice of the bundled model; --raw keeps the originals' output rate.
# Usage: infer_band.sh BIN_DIR FIXTURE_DIR. Needs bash and python3's standard library.
source "$(dirname "$0")/lib/common.bash" infer_band "$@"
MODELS=$(cd "$FIX/../../models" && pwd)
PY=${PYTHON:-/usr/bin/python3}
[[ -x $PY ]] || PY=python3
INFER=$BIN/sr-infer
export SR_MODEL_DIR=$MODELS
run_ok() {
  local rc=0
  "$@" >LAST.out 2>LAST.err || rc=$?
  ((rc == 0)) || { cat LAST.err >&2; fail "exit $rc from: $*"; }
}

cat >helper.py <<'PYEOF'
import array, math, sys, wave

def read(path):
    w = wave.open(path)
    return w.getframerate(), w.getnchannels(), w.getnframes(), w.readframes(w.getnframes())

def write(path, rate, samples):
    w = wave.open(path, "wb")
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(array.array("h", samples).tobytes())
    w.close()

cmd = sys.argv[1]
if cmd == "info":          # rate channels frames
    r, c, n, _ = read(sys.argv[2]); print(r, c, n)
elif cmd == "same_audio":  # exit 0 when the two files hold the same samples
    a, b = read(sys.argv[2]), read(sys.argv[3]); sys.exit(0 if a == b else 1)
elif cmd == "tones":       # full-band tone complex, 16 kHz, 1.5 s
    n = 24000
    write(sys.argv[2], 16000, [int(round(32767 * sum(0.04 * math.sin(2 * math.pi * 500 * k * i / 16000 + k)
                                                   for k in range(1, 16)))) for i in range(n)])
elif cmd == "upsample":    # band-limited upsampling by an integer factor: Hann-windowed sinc,
    # 12 zero crossings each side, cutoff at 0.9 of the source's Nyquist
    rate, _, n, data = read(sys.argv[2]); f = int(sys.argv[4]); x = array.array("h", data)
    half, fc = 12, 0.9
    phases = []
    for p in range(f):
        taps = []
        for k in range(-half + 1, half + 1):
            t = k - p / f  # distance from the output sample to source sample i0 + k, in samples
            w = 0.5 + 0.5 * math.cos(math.pi * t / half) if abs(t) < half else 0.0
            taps.append(fc * (math.sin(math.pi * fc * t) / (math.pi * fc * t) if t else 1.0) * w)
        phases.append(taps)
    out = []
    for i0 in range(n):
        for p in range(f):
            acc = 0.0
            for j, h in enumerate(phases[p]):
                k = i0 + j - half + 1
                if 0 <= k < n: acc += h * x[k]
            out.append(max(-32768, min(32767, int(round(acc)))))
    write(sys.argv[3], rate * f, out)
PYEOF
helper() { "$PY" helper.py "$@"; }

check "a full-band 16 kHz tone complex through --r 2 comes back unchanged, at 16 kHz"
helper tones tones16k.wav
run_ok "$INFER" tones16k.wav tones_out.wav --r 2
grep -q "passed through unchanged" LAST.err || fail "no pass-through notice: $(cat LAST.err)"
helper same_audio tones16k.wav tones_out.wav || fail "the output differs from the input"
echo "    ok"

check "the 16 kHz speech example through --r 2: passed through, unchanged"
run_ok "$INFER" "$EXAMPLES/speech_ru_16k.wav" speech16_out.wav --r 2
helper same_audio "$EXAMPLES/speech_ru_16k.wav" speech16_out.wav || fail "the output differs"
echo "    ok"

check "8 kHz speech stored at 48 kHz: a ~3.5 kHz band, kept at 48 kHz and extended"
# --out-rate on a pass-through: resampled, nothing else.
run_ok "$INFER" "$EXAMPLES/speech_ru_16k.wav" full48k.wav --r 2 --out-rate 48000
read -r rate ch frames <<<"$(helper info full48k.wav)"
[[ "$rate $ch $frames" == "48000 1 183000" ]] || fail "--out-rate 48000 gave $rate $ch $frames"
grep -q "passed through" LAST.err || fail "not a pass-through: $(cat LAST.err)"
# --out-rate at the input's own low rate: the network may only restore up to that Nyquist.
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" out8k.wav --r 2 --out-rate 8000
read -r rate ch frames <<<"$(helper info out8k.wav)"
[[ "$rate $ch $frames" == "8000 1 30500" ]] || fail "--out-rate 8000 gave $rate $ch $frames"
helper upsample "$EXAMPLES/speech_ru_8k.wav" held48k.wav 6
run_ok "$INFER" held48k.wav held_out.wav
read -r rate ch frames <<<"$(helper info held_out.wav)"
[[ "$rate $ch $frames" == "48000 1 183000" ]] || fail "48 kHz input came back as $rate Hz, $ch ch, $frames frames"
grep -q "network adds" LAST.err || fail "not extended: $(cat LAST.err)"
grep -q "model chosen for r = 2" LAST.err || fail "no automatic model choice: $(cat LAST.err)"
echo "    ok: $(grep 'input band' LAST.err)"

check "8 kHz input: 16 kHz out, automatic r = 2; --band overrides the detection"
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" auto.wav
read -r rate ch frames <<<"$(helper info auto.wav)"
[[ "$rate $ch $frames" == "16000 1 61000" ]] || fail "got $rate $ch $frames"
grep -Eq "input band: 3\.[2-9][0-9] kHz" LAST.err || fail "band not reported near 3.5 kHz: $(cat LAST.err)"
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" band.wav --r 2 --band 3000
grep -q "input kept below 3.00 kHz" LAST.err || fail "--band not used: $(cat LAST.err)"
cmp -s band.wav auto.wav && fail "--band 3000 gave the same output as the detected band"
echo "    ok"

check "--raw: the network's output alone at the model rate"
run_ok "$INFER" held48k.wav raw.wav --r 2 --raw
read -r rate ch frames <<<"$(helper info raw.wav)"
[[ "$rate $ch $frames" == "16000 1 61000" ]] || fail "--raw gave $rate $ch $frames"
grep -q "raw network output" LAST.err || fail "no raw notice: $(cat LAST.err)"
echo "    ok"

check "--line-threshold: auto is the default, off keeps the network's lines, the cut is reported"
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" lt_auto.wav --r 2 --line-threshold auto
cmp -s lt_auto.wav auto.wav || fail "--line-threshold auto differs from the default"
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" lt_off.wav --r 2 --line-threshold off
cmp -s lt_off.wav auto.wav && fail "--line-threshold off changed nothing"
grep -q "steady lines" LAST.err && fail "a cut reported with --line-threshold off: $(cat LAST.err)"
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" lt_0.wav --r 2 --line-threshold 0
grep -q "steady lines in the added band lowered" LAST.err || fail "no cut reported at 0 dB: $(cat LAST.err)"
echo "    ok"

check "sr-model set generated_gain_db: used by sr-infer, validated, only usage keys"
cp "$MODELS/speech_r2.safetensors" m.safetensors
run_ok "$BIN/sr-model" set m.safetensors generated_gain_db=-30
"$BIN/sr-model" info m.safetensors | grep -q "generated_gain_db = -30" || fail "info does not show the new gain"
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" g30.wav -m m.safetensors
run_ok "$INFER" "$EXAMPLES/speech_ru_8k.wav" g30b.wav -m m.safetensors --generated-gain -30
cmp -s g30.wav g30b.wav || fail "the model's generated_gain_db is not sr-infer's default"
cmp -s g30.wav auto.wav && fail "generated_gain_db -30 changed nothing"
rc=0; "$BIN/sr-model" set m.safetensors generated_gain_db=4 2>err.txt || rc=$?
((rc == 1)) || fail "an out-of-range gain: exit $rc"
rc=0; "$BIN/sr-model" set m.safetensors filters=[1] 2>err.txt || rc=$?
((rc == 2)) || fail "a structural key: exit $rc"
"$BIN/sr-model" info m.safetensors | grep -q "generated_gain_db = -30" || fail "a refused set changed the file"
echo "    ok"
