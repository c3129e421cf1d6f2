#!/usr/bin/env python3
"""Probes of the generated band, after a harness run (run.py --keep-audio): where the models win and
lose against the baselines, and whether a fixed or input-derived change of the generated band's
level or spectral tilt could help. Speech references only; the same metrics as run.py (qlib).

  by-source RESULTS.json
      per source: median of (WB-PESQ - band-limited WB-PESQ) and of LSD / noise-fill LSD, from a
      results file and the baselines.json next to it.
  shape AUDIO_DIR R REFS "a,b,k;..." [--kinds decimate,fir]
      reshape each output's generated band (bins at or above the input's cutoff c) by
      g(f) = a + b * log2(max(f, k c) / (k c)) dB in a 512-point STFT and report median LSD (papers),
      WB-PESQ and SNR per input kind and variant ("0,0,1" is the output as it is).
  level AUDIO_DIR R REFS [--sibling AUDIO_DIR_2R]
      per source: how far the output's generated band sits below the reference's (dB, loud half of
      the frames), and how well that is predicted from the input alone (slope of its top octave)
      or from the r' = 2r model's error on the band the input does carry (--sibling: a run of the
      2r model on the same references).

Example (docs/models/robust_training.md, "Session 6"):
  bench/quality/.venv/bin/python bench/quality/run.py --out /tmp/q2 --ratios 2 --kinds decimate,fir \\
      --max-files-per-source 6 --keep-audio --label bundled --figures 0
  bench/quality/.venv/bin/python bench/quality/probes.py shape /tmp/q2/audio/bundled 2 \\
      /work/data/quality_refs "0,0,1;0,8,1"
"""

import argparse
import collections
import glob
import json
import os
import statistics
import sys

import numpy as np
import soundfile as sf
from scipy import signal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qlib  # noqa: E402

STFT = dict(fs=qlib.SR, window="hann", nperseg=512, noverlap=384)


def speech_outputs(audio_dir, r, refs_dir, kinds):
    """Yields (kind, manifest entry, reference, output) for every speech output of ratio r."""
    with open(os.path.join(refs_dir, "manifest.json")) as f:
        refs = {m["id"].replace("/", "_"): m for m in json.load(f)["refs"]}
    for kind in kinds:
        for path in sorted(glob.glob(os.path.join(audio_dir, f"r{r}_{kind}_*.wav"))):
            m = refs.get(os.path.basename(path)[len(f"r{r}_{kind}_"):-4])
            if m is None or m["kind"] != "speech":
                continue
            ref, _ = sf.read(os.path.join(refs_dir, m["path"]))
            out, rate = sf.read(path)
            if rate != qlib.SR:
                continue
            yield kind, m, ref, qlib.fit_length(out, len(ref))


def bandlimited(kind, ref, r):
    x_in, rate, _ = qlib.make_input(kind, ref, r)
    return qlib.fit_length(qlib.baseline_bandlimited(x_in, rate), len(ref))


def cmd_by_source(a):
    with open(a.results) as f:
        res = json.load(f)
    with open(os.path.join(os.path.dirname(a.results), "baselines.json")) as f:
        base = json.load(f)["results"]
    rows = collections.defaultdict(list)
    for x in res["files"]:
        if x["content"] != "speech" or x.get("pesq_wb") is None:
            continue
        b = base.get(f"{x['key']}|{x['r']}|{x['kind']}", {})
        if b.get("bandlimited", {}).get("pesq_wb") is None or "noisefill" not in b:
            continue  # full-band input: no baselines
        rows[(x["r"], x["kind"], x["source"])].append(
            (x["pesq_wb"] - b["bandlimited"]["pesq_wb"], x["lsd_papers"] / b["noisefill"]["lsd_papers"]))
    print("| r | input | source | files | WB-PESQ - band-limited | LSD / noise-fill LSD |")
    print("|---|---|---|---|---|---|")
    for (r, kind, src), v in sorted(rows.items()):
        print(f"| {r} | {kind} | {src} | {len(v)} | {statistics.median(t[0] for t in v):+.2f} "
              f"| {statistics.median(t[1] for t in v):.2f} |")


def reshape(y, cut, a, b, k):
    f, _, Z = signal.stft(y, boundary="even", padded=True, **STFT)
    g = np.ones_like(f)
    hi = f >= cut
    g[hi] = 10 ** ((a + b * np.log2(np.maximum(f[hi], k * cut) / (k * cut))) / 20)
    _, z = signal.istft(Z * g[:, None], boundary=True, **STFT)
    return qlib.fit_length(z, len(y))


def cmd_shape(a):
    variants = [tuple(float(t) for t in v.split(",")) for v in a.variants.split(";") if v]
    res = collections.defaultdict(list)
    for kind, m, ref, y in speech_outputs(a.audio, a.r, a.refs, a.kinds.split(",")):
        cut = qlib.content_cutoff(kind, a.r)
        P_ref = qlib.power_stft(ref)
        for name, est in [("band-limited", bandlimited(kind, ref, a.r))] + [
                (f"a={v[0]:g} b={v[1]:g} k={v[2]:g}", reshape(y, cut, *v)) for v in variants]:
            lsd = qlib.lsd_all(P_ref, qlib.power_stft(est), cut)["lsd_papers"]
            pesq = qlib.wb_pesq(ref, est)[0]
            res[(kind, name)].append((lsd, np.nan if pesq is None else pesq, qlib.snr_db(ref, est)))
    print("| input | generated band | files | LSD papers | WB-PESQ | SNR |")
    print("|---|---|---|---|---|---|")
    for (kind, name), v in res.items():
        lsd, pesq, snr = np.nanmedian(np.array(v, dtype=float), axis=0)
        print(f"| {kind} | {name} | {len(v)} | {lsd:.3f} | {pesq:.2f} | {snr:.2f} |")


def band_db(P, f, loud, lo, hi):
    sel = (f >= lo) & (f < hi)
    return 10 * np.log10(P[loud][:, sel].mean() + 1e-20)


def cmd_level(a):
    f = np.arange(qlib.N_FFT // 2 + 1) * qlib.SR / qlib.N_FFT
    rows = collections.defaultdict(list)
    for kind, m, ref, y in speech_outputs(a.audio, a.r, a.refs, a.kinds.split(",")):
        cut = qlib.content_cutoff(kind, a.r)
        P_ref, P_out = qlib.power_stft(ref), qlib.power_stft(y)
        P_bl = qlib.power_stft(bandlimited(kind, ref, a.r))
        level = P_bl.sum(axis=1)
        loud = level >= np.median(level)
        top = (f >= cut / 2) & (f < 0.9 * cut)
        spectrum = 10 * np.log10(P_bl[loud][:, top].mean(axis=0) + 1e-20)
        slope = np.polyfit(np.log2(f[top]), spectrum, 1)[0]
        gap = band_db(P_ref, f, loud, 1.15 * cut, 7400) - band_db(P_out, f, loud, 1.15 * cut, 7400)
        row = [slope, gap]
        if a.sibling:
            path = os.path.join(a.sibling, f"r{2 * a.r}_{kind}_{m['id'].replace('/', '_')}.wav")
            if not os.path.exists(path):
                continue
            P_sib = qlib.power_stft(qlib.fit_length(sf.read(path)[0], len(ref)))
            row.append(band_db(P_ref, f, loud, 0.6 * cut, 0.9 * cut) - band_db(P_sib, f, loud, 0.6 * cut, 0.9 * cut))
        rows[m["source"]].append(row)
    cols = ["top-octave slope dB/oct", "reference - output above the cutoff, dB"]
    if a.sibling:
        cols.append(f"same for the r = {2 * a.r} model on the known band, dB")
    print("| source | files | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for src, v in sorted(rows.items()):
        med = np.median(np.array(v), axis=0)
        print(f"| {src} | {len(v)} | " + " | ".join(f"{x:.1f}" for x in med) + " |")
    allrows = np.array([x for v in rows.values() for x in v])
    line = f"correlation over files: slope vs gap {np.corrcoef(allrows[:, 0], allrows[:, 1])[0, 1]:.2f}"
    if a.sibling:
        line += f", sibling's known-band gap vs gap {np.corrcoef(allrows[:, 2], allrows[:, 1])[0, 1]:.2f}"
    print("\n" + line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("by-source")
    p.add_argument("results")
    p.set_defaults(run=cmd_by_source)
    for name, run in (("shape", cmd_shape), ("level", cmd_level)):
        p = sub.add_parser(name)
        p.add_argument("audio")
        p.add_argument("r", type=int)
        p.add_argument("refs")
        if name == "shape":
            p.add_argument("variants")
        else:
            p.add_argument("--sibling", default="")
        p.add_argument("--kinds", default="decimate,fir")
        p.set_defaults(run=run)
    a = ap.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
