#!/usr/bin/env bash
# Rebuilds speech_ru_16k.wav and speech_ru_8k.wav from Debian's festvox-ru package (see README.md).
# Needs apt-get (Debian/Ubuntu) and a Python with numpy and scipy (PYTHON, default /usr/bin/python3).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-/usr/bin/python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && apt-get download festvox-ru >/dev/null)
dpkg-deb -x "$work"/festvox-ru_*.deb "$work/root"
src="$work/root/usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav/ru_0683.wav"

"$python" - "$src" "$here" <<'PY'
import sys

import numpy as np
import scipy.io.wavfile as wavfile
from scipy.signal import decimate

src, out = sys.argv[1], sys.argv[2]
rate, x = wavfile.read(src)
assert rate == 16000 and x.dtype == np.int16 and x.ndim == 1, (rate, x.dtype, x.shape)
x = x[: len(x) - len(x) % 2]
wavfile.write(f"{out}/speech_ru_16k.wav", 16000, x)  # the original samples, unchanged

# Anti-aliased decimation by 2 (Chebyshev I, order 8, zero-phase: scipy's defaults, spec 5.1).
low = decimate(x.astype(np.float64) / 32768.0, 2)
low = np.clip(np.round(low * 32768.0), -32768, 32767).astype(np.int16)
wavfile.write(f"{out}/speech_ru_8k.wav", 8000, low)
print(f"ru_0683.wav: {len(x)} samples at 16 kHz -> {len(low)} at 8 kHz")
PY
