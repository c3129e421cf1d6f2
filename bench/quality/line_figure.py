#!/usr/bin/env python3
"""Median-over-frames spectra of held-out files: the reference, sr-infer with the line suppressor
off (--line-threshold off) and as shipped. Writes docs/models/line_suppressor.png by default.

    bench/quality/.venv/bin/python bench/quality/line_figure.py [--refs DIR] [--sr-infer PATH] [--out PNG]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import qlib  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

CASES = [("heldout/fillets-ng-data-nl/small_fish/dir-m-rada4.wav", 8, "fir"),
         ("heldout/planetblupi-music-ogg/all/music006_0.wav", 8, "fir")]


def median_db(y):
    return np.median(10 * np.log10(qlib.power_stft(y) + 1e-20), axis=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--refs", default="/work/data/quality_refs", help="make_refs.py output")
    ap.add_argument("--sr-infer", default=os.path.join(REPO, "build/bin/sr-infer"))
    ap.add_argument("--out", default=os.path.join(REPO, "docs/models/line_suppressor.png"))
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    fig, axes = plt.subplots(len(CASES), 1, figsize=(8, 3.2 * len(CASES)))
    for ax, (rel, r, kind) in zip(axes, CASES):
        ref, sr = sf.read(os.path.join(a.refs, rel), dtype="float32")
        x, rate, subtype = qlib.make_input(kind, ref, r)
        inp, out = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out.wav")
        sf.write(inp, x, rate, subtype=subtype)
        freqs = np.arange(qlib.N_FFT // 2 + 1) * sr / qlib.N_FFT
        ref_db = median_db(ref)
        ax.plot(freqs, ref_db, "k-", lw=0.8, label="reference")
        for label, extra, style in [("lines kept (--line-threshold off)", ["--line-threshold", "off"], "C3-"),
                                    ("shipped (4 dB)", [], "C0-")]:
            subprocess.run([a.sr_infer, inp, out, "--r", str(r), "-q"] + extra, check=True)
            y, _ = sf.read(out, dtype="float32")
            ax.plot(freqs, median_db(qlib.fit_length(y, len(ref))), style, lw=0.8, label=label)
        ax.set_title(f"{rel.split('/', 1)[1].rsplit('.', 1)[0]}, r = {r}, {kind} input: "
                     "median spectrum over frames", fontsize=9)
        ax.set_xlim(0, sr / 2)
        ax.set_ylim(np.percentile(ref_db, 2) - 10, None)
        ax.set_ylabel("dB")
        ax.axvline(sr / r / 2, color="gray", lw=0.5, ls=":")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("Hz")
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(a.out)


if __name__ == "__main__":
    main()
