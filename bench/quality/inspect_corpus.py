#!/usr/bin/env python3
"""Inventory of the quality corpus, per group of corpus.json: file count, formats, sample rates,
channels, total duration, and for a seeded sample of files per group the content's bandwidth and
the speakers' pitch. The numbers behind corpus.json's `reference` flags and split.

Bandwidth: long-term average spectrum (Welch, 4096-point Hann, 50 % overlap, at the file's own
rate, channels averaged) of all sampled files of a group together, levels relative to the mean
level of 300-3000 Hz. `edge_hz`: the highest frequency below min(Nyquist, 8 kHz) whose 100 Hz-
smoothed level is within 50 dB of that reference (an 8 kHz-Nyquist or 11 kHz recording resampled to
a higher rate shows up as an edge near 4 or 5.5 kHz whatever the container says). `band_db`: mean
level of 3.5-4, 5-6, 6.5-7.5 and 7.5-7.9 kHz. Pitch: median F0 (autocorrelation, 60-400 Hz, voiced
40 ms frames) per file; the group's median and its 10th-90th percentile range, a rough male /
female / child hint.

Usage: bench/quality/.venv/bin/python bench/quality/inspect_corpus.py [--corpus /work/data/corpus]
         [--sample 12] [--json OUT.json]
"""

import argparse
import json
import os
import random
import sys
from collections import Counter, defaultdict

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly, welch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import Corpus  # noqa: E402

BANDS = [(3500, 4000), (5000, 6000), (6500, 7500), (7500, 7900)]


def ltas(x, sr):
    f, p = welch(x, fs=sr, nperseg=4096, noverlap=2048, window="hann", axis=0)
    return f, p


def median_f0(x, sr):
    """Median F0 of the voiced frames (None if too few): autocorrelation on 40 ms frames at 16 kHz."""
    if sr != 16000:
        x = resample_poly(x, 16000, sr)
    n, hop = 640, 320
    if len(x) < n * 4:
        return None
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    energy = (frames**2).mean(axis=1)
    thr = np.percentile(energy, 70) * 0.1
    f0s = []
    lo, hi = 16000 // 400, 16000 // 60
    for fr, e in zip(frames, energy):
        if e < thr or e <= 0:
            continue
        fr = fr - fr.mean()
        ac = np.correlate(fr, fr, "full")[n - 1:]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.5:
            f0s.append(16000.0 / k)
    return float(np.median(f0s)) if len(f0s) >= 5 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/work/data/corpus")
    ap.add_argument("--sample", type=int, default=12, help="files per group analysed for bandwidth and pitch")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the inventory here")
    a = ap.parse_args()

    c = Corpus()
    problems = c.check(a.corpus)
    if problems:
        print("corpus.json does not cover the corpus:\n  " + "\n  ".join(problems[:20]), file=sys.stderr)
        sys.exit(1)
    groups = defaultdict(list)
    for rel, pkg, group, info in c.files(a.corpus):
        groups[(pkg, group)].append(rel)

    rng = random.Random(a.seed)
    out = []
    for (pkg, group), files in groups.items():
        info = c.group_info(pkg, group)
        rates, chans, fmts, dur = Counter(), Counter(), Counter(), 0.0
        for rel in files:
            i = sf.info(os.path.join(a.corpus, rel))
            rates[i.samplerate] += 1
            chans[i.channels] += 1
            fmts[f"{i.format}/{i.subtype}"] += 1
            dur += i.duration
        sample = sorted(rng.sample(files, min(a.sample, len(files))))
        spec_sum, spec_f, f0s, sr0 = None, None, [], None
        for rel in sample:
            x, sr = sf.read(os.path.join(a.corpus, rel), dtype="float64", always_2d=True)
            x = x.mean(axis=1)
            if info["kind"] == "music" and len(x) > 60 * sr:
                x = x[: 60 * sr]  # a minute is plenty for a spectrum
            if len(x) < 4096:
                continue
            f, p = ltas(x, sr)
            if sr0 is None:
                sr0, spec_f = sr, f
            if sr == sr0:
                spec_sum = p if spec_sum is None else spec_sum + p
            if info["kind"] == "speech":
                f0 = median_f0(x, sr)
                if f0:
                    f0s.append(f0)
        row = {
            "package": pkg, "group": group, "split": info["split"], "kind": info["kind"],
            "language": info.get("language"), "files": len(files), "hours": dur / 3600,
            "rates": dict(rates), "channels": dict(chans), "formats": dict(fmts),
        }
        if spec_sum is not None:
            db = 10 * np.log10(spec_sum + 1e-20)
            ref = db[(spec_f >= 300) & (spec_f <= 3000)].mean()
            rel_db = db - ref
            df = spec_f[1] - spec_f[0]
            k = max(1, int(round(100 / df)))
            smooth = np.convolve(rel_db, np.ones(k) / k, "same")
            top = min(sr0 / 2 * 0.98, 8000)
            ok = np.where((spec_f <= top) & (smooth > -50))[0]
            row["edge_hz"] = float(spec_f[ok[-1]]) if len(ok) else 0.0
            row["band_db"] = {f"{lo}-{hi}": (float(rel_db[(spec_f >= lo) & (spec_f < hi)].mean())
                                            if hi < sr0 / 2 else None) for lo, hi in BANDS}
        if f0s:
            row["f0_median"] = float(np.median(f0s))
            row["f0_p10_p90"] = [float(np.percentile(f0s, 10)), float(np.percentile(f0s, 90))]
        out.append(row)
        bd = row.get("band_db", {})
        print(f"{pkg:28s} {group:12s} {info['split']:10s} {info['kind']:7s} n={len(files):5d} "
              f"{dur / 60:7.1f} min rates={dict(rates)} ch={dict(chans)} "
              f"edge={row.get('edge_hz', 0):6.0f} "
              + " ".join(f"{v:6.1f}" if v is not None else "   n/a" for v in bd.values())
              + (f" f0={row['f0_median']:.0f} ({row['f0_p10_p90'][0]:.0f}-{row['f0_p10_p90'][1]:.0f})"
                 if f0s else ""), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
