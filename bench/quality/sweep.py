#!/usr/bin/env python3
"""Sine-sweep gain test: does sr-infer keep the band it was given?

For each r of --ratios and each level of --levels (dBFS peak), a logarithmic (exponential) sine
sweep from 50 Hz to 0.98 x the low rate's Nyquist (16000 / (2r)), --seconds long with 20 ms
raised-cosine fades, is written at the low rate 16000 / r (float WAV) and run through
`SR_INFER IN OUT --r R --threads 1 --quiet INFER_ARGS`. The output (resampled to 16 kHz if it comes
back at another rate) is compared with the same sweep computed exactly at 16 kHz: in STFT
frames (1024-point Hann, hop 256) the power within +-3 bins of the sweep's instantaneous
frequency gives the gain (output / input, dB) at that frequency; gains are reported per 1/6
octave. Also reported: `max_gain_db` (the largest 1/6-octave gain over the whole sweep, 60 Hz -
0.98 x Nyquist: it must not be above 0 dB, i.e. the kept band is never amplified), `min_gain_db`,
`max_gain_below_0.8_nyquist_db` (the same up to 0.8 x Nyquist, the pass band of scipy's decimate,
the bundled models' training recipe),
and `added_hf_db`: output energy above the low Nyquist relative to the output's total (what the
network adds to a pure tone). The same numbers for the band-limited baseline (libsoxr VHQ from the low-rate
file) show the analysis's own floor.

Writes OUT/sweep_<label>.json and OUT/sweep_<label>.png.

Usage: bench/quality/.venv/bin/python bench/quality/sweep.py [--sr-infer build/bin/sr-infer]
         [--label current] [--infer-args ARGS] [--out /work/data/quality_out]
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qlib  # noqa: E402
from qlib import SR  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
F1 = 50.0


def make_sweep(rate, seconds, level_db, f2=None):
    """The sweep sampled at `rate` (f2 defaults to 0.98 x its Nyquist)."""
    f2 = 0.98 * rate / 2 if f2 is None else f2
    t = np.arange(int(round(seconds * rate))) / rate
    k = np.log(f2 / F1)
    phase = 2 * np.pi * F1 * seconds / k * (np.exp(t * k / seconds) - 1)
    x = 10 ** (level_db / 20) * np.sin(phase)
    n = int(0.02 * rate)
    fade = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
    x[:n] *= fade
    x[-n:] *= fade[::-1]
    return x, f2


def inst_freq(t, seconds, f2):
    return F1 * np.exp(t * np.log(f2 / F1) / seconds)


def gain_curve(x16, y16, seconds, f2, cutoff):
    n_fft, hop = 1024, 256
    win = np.hanning(n_fft)

    def stft(z):
        zp = np.pad(z, n_fft // 2)
        frames = 1 + len(z) // hop
        idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
        idx = np.minimum(idx, len(zp) - 1)
        X = np.fft.rfft(zp[idx] * win, axis=1)
        return X.real ** 2 + X.imag ** 2

    Px, Py = stft(x16), stft(y16)
    t = np.arange(Px.shape[0]) * hop / SR
    f = inst_freq(t, seconds, f2)
    binw = SR / n_fft
    gains, freqs = [], []
    for i, fi in enumerate(f):
        if t[i] < 0.05 or t[i] > seconds - 0.05 or fi > f2:
            continue
        k = int(round(fi / binw))
        sl = slice(max(0, k - 3), k + 4)
        px, py = Px[i, sl].sum(), Py[i, sl].sum()
        if px <= 0:
            continue
        gains.append(10 * np.log10((py + 1e-30) / px))
        freqs.append(fi)
    gains, freqs = np.array(gains), np.array(freqs)
    # 1/6-octave bands
    edges = F1 * 2 ** (np.arange(0, 12 * 8) / 6)
    bands = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (freqs >= lo) & (freqs < hi)
        if sel.any():
            bands.append({"hz": float(np.sqrt(lo * hi)), "gain_db": float(np.median(gains[sel]))})
    kept = [b["gain_db"] for b in bands if 60 <= b["hz"] <= f2]
    inner = [b["gain_db"] for b in bands if 60 <= b["hz"] <= 0.8 * cutoff]
    fr = np.fft.rfftfreq(len(y16), 1 / SR)
    Y = np.abs(np.fft.rfft(y16)) ** 2
    added = float(10 * np.log10(Y[fr > cutoff].sum() / (Y.sum() + 1e-30) + 1e-20))
    return {"bands": bands, "max_gain_db": float(max(kept)), "min_gain_db": float(min(kept)),
            "max_gain_hz": float(bands[[b["gain_db"] for b in bands].index(max(kept))]["hz"]),
            "max_gain_below_0.8_nyquist_db": float(max(inner)),
            "added_hf_db": added}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--sr-infer", default=os.path.join(REPO, "build/bin/sr-infer"))
    ap.add_argument("--infer-args", default="")
    ap.add_argument("--label", default="current")
    ap.add_argument("--ratios", default="2,4")
    ap.add_argument("--levels", default="-40,-20,-6,-1", help="dBFS (sine peak)")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", default="/work/data/quality_out")
    a = ap.parse_args()
    exe = os.path.abspath(a.sr_infer)
    if not os.path.exists(exe):
        sys.exit(f"{exe} missing: ./scripts/build.sh builds it (or pass --sr-infer)")
    os.makedirs(a.out, exist_ok=True)
    extra = shlex.split(a.infer_args)
    ratios = [int(x) for x in a.ratios.split(",")]
    levels = [float(x) for x in a.levels.split(",")]
    res = {"label": a.label, "sr_infer": exe, "infer_args": extra, "seconds": a.seconds, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in ratios:
            low = SR // r
            cutoff = low / 2
            for lev in levels:
                x, f2 = make_sweep(low, a.seconds, lev)
                inp, outp = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
                sf.write(inp, x.astype(np.float32), low, subtype="FLOAT")
                cmd = [exe, inp, outp, "--r", str(r), "--threads", "1", "--quiet"] + extra
                p = subprocess.run(cmd, capture_output=True, text=True,
                                   env=dict(os.environ, OMP_NUM_THREADS="1"))
                x16, _ = make_sweep(SR, a.seconds, lev, f2)  # the same sweep, exactly, at 16 kHz
                row = {"r": r, "level_dbfs": lev, "f2_hz": f2}
                if p.returncode != 0:
                    row.update({"failed": True, "stderr": p.stderr[-500:]})
                else:
                    y, rate = sf.read(outp, dtype="float64", always_2d=True)
                    y16 = qlib.fit_length(qlib.resample(y.mean(axis=1), rate, SR), len(x16))
                    row["out_rate"] = rate
                    row["clipped"] = qlib.clipping(y)[0]
                    row["model"] = gain_curve(x16, y16, a.seconds, f2, cutoff)
                bl = qlib.fit_length(qlib.baseline_bandlimited(x, low), len(x16))
                row["bandlimited"] = gain_curve(x16, bl, a.seconds, f2, cutoff)
                res["runs"].append(row)
                m = row.get("model")
                b = row["bandlimited"]
                print(f"r={r} {lev:6.1f} dBFS: band-limited baseline {b['min_gain_db']:+.2f} .. "
                      f"{b['max_gain_db']:+.2f} dB")
                print(f"r={r} {lev:6.1f} dBFS: " + (
                    f"kept-band gain {m['min_gain_db']:+.2f} .. {m['max_gain_db']:+.2f} dB "
                    f"(max at {m['max_gain_hz']:.0f} Hz; below 0.8 Nyquist max "
                    f"{m['max_gain_below_0.8_nyquist_db']:+.2f} dB), added above {cutoff:.0f} Hz {m['added_hf_db']:.1f} dB, "
                    f"clipped {row['clipped']}, out {row['out_rate']} Hz" if m else "FAILED " + row["stderr"]),
                    flush=True)
    with open(os.path.join(a.out, f"sweep_{a.label}.json"), "w") as f:
        json.dump(res, f, indent=1)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(ratios), figsize=(6 * len(ratios), 4), squeeze=False)
    for ax, r in zip(axes[0], ratios):
        for row in res["runs"]:
            if row["r"] != r or "model" not in row:
                continue
            b = row["model"]["bands"]
            ax.semilogx([x["hz"] for x in b], [x["gain_db"] for x in b], label=f"{row['level_dbfs']:.0f} dBFS")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"{a.label}: r = {r}, sweep 50 Hz - {SR // (2 * r)} Hz")
        ax.set_xlabel("Hz")
        ax.set_ylabel("gain output / input (dB)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, f"sweep_{a.label}.png"), dpi=80)
    print(f"sweep: {os.path.join(a.out, f'sweep_{a.label}.json')}, .png")


if __name__ == "__main__":
    main()
