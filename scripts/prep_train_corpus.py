#!/usr/bin/env python3
"""Training corpus for sr-train's on-the-fly degradation (issue 10): the `train` groups of
bench/quality/corpus.json (speech, optionally music) with wide-band content (`reference`), as
16 kHz mono float WAVs, one per group, split into train / validation BY GROUP (a speaker or a
language, never by file); then sr-prep cuts them into HDF5 patches whose `label` (the 16 kHz
audio) is what `sr-train --degrade` reads.

Held-out groups are never opened. Each file is read, mixed to mono, resampled to 16 kHz
(soxr HQ), trimmed of leading/trailing silence (below --trim-db under its peak), and
concatenated per group with 10 ms fades; each group is capped at --max-minutes so that one
large speaker (festvox-ru) or long music does not dominate.

--speed 0.9,1.1 adds speed-perturbed copies of every training speech group (more voices: pitch
and formants move together by the factor; T. Ko et al., "Audio augmentation for speech
recognition", Interspeech 2015): the file is read as if its rate were rate x factor, so it plays
factor times faster. A copy is made only where the original's band still fills 8 kHz after the
shift (rate x factor >= 16 kHz); validation groups and music are never perturbed.

usage: /work/venv/bin/python scripts/prep_train_corpus.py [--corpus /work/data/corpus]
       [--out /work/data/train16k] [--music] [--speed 0.9,1.1] [--sr-prep build/bin/sr-prep]
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import soundfile as sf
import soxr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench", "quality"))
from corpus import Corpus  # noqa: E402

RATE = 16000
# Validation groups: whole languages of the train split (speakers never seen in training).
DEFAULT_VAL = "klettres-data:cs,ktuberling-data:ro,klettres-data:hu"


def trim(x, top_db):
    """Drops leading/trailing 10 ms frames whose peak is more than top_db under the file's peak."""
    peak = np.max(np.abs(x)) if len(x) else 0.0
    if peak <= 0:
        return x[:0]
    frame = RATE // 100
    n = len(x) // frame
    if n == 0:
        return x
    peaks = np.abs(x[: n * frame]).reshape(n, frame).max(axis=1)
    loud = np.nonzero(peaks > peak * 10 ** (-top_db / 20))[0]
    if len(loud) == 0:
        return x[:0]
    return x[loud[0] * frame : (loud[-1] + 1) * frame]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="/work/data/corpus")
    ap.add_argument("--out", default="/work/data/train16k")
    ap.add_argument("--val-groups", default=DEFAULT_VAL, help="package:group,... for validation")
    ap.add_argument("--music", action="store_true", help="also the train split's music groups")
    ap.add_argument("--max-minutes", type=float, default=15.0, help="cap per speech group")
    ap.add_argument("--music-minutes", type=float, default=6.0, help="cap per music group")
    ap.add_argument("--trim-db", type=float, default=40.0)
    ap.add_argument("--speed", default="", help="speed factors for extra copies of the training speech, e.g. 0.9,1.1")
    ap.add_argument("--dimension", type=int, default=4096, help="sr-prep patch length")
    ap.add_argument("--stride", type=int, default=2048, help="sr-prep stride")
    ap.add_argument("--sr-prep", default=os.path.join(HERE, "..", "build", "bin", "sr-prep"))
    a = ap.parse_args()

    corpus = Corpus()
    val = set(a.val_groups.split(",")) if a.val_groups else set()
    kinds = {"speech", "music"} if a.music else {"speech"}
    groups = {}
    for rel, pkg, group, info in corpus.files(a.corpus):
        if info is None or info.get("split") != "train" or not info.get("reference"):
            continue  # held out, input-only or narrow-band: never read
        if info.get("kind") not in kinds:
            continue
        groups.setdefault((pkg, group), []).append(rel)
    for key in val:
        pkg, group = key.split(":")
        if (pkg, group) not in groups:
            sys.exit(f"validation group {key} is not a train group with wide-band content")

    speeds = [float(v) for v in a.speed.split(",") if v]
    if any(not 0.5 <= v <= 2.0 for v in speeds):
        sys.exit("--speed factors must lie in 0.5-2")
    fade = np.linspace(0.0, 1.0, RATE // 100, dtype=np.float32)
    lists = {"train": [], "val": []}
    jobs = []
    for (pkg, group), rels in sorted(groups.items()):
        part = "val" if f"{pkg}:{group}" in val else "train"
        jobs.append((pkg, group, rels, part, 1.0))
        if part == "train" and corpus.group_info(pkg, group)["kind"] == "speech":
            jobs += [(pkg, group, rels, part, v) for v in speeds if v != 1.0]
    for pkg, group, rels, part, speed in jobs:
        os.makedirs(os.path.join(a.out, part), exist_ok=True)
        tag = "" if speed == 1.0 else f"__speed{speed:g}"
        path = os.path.join(a.out, part, f"{pkg}__{group}{tag}.wav")
        cap = (a.music_minutes if corpus.group_info(pkg, group)["kind"] == "music"
               else a.max_minutes) * 60 * RATE
        pieces, total = [], 0
        for rel in sorted(rels):
            x, rate = sf.read(os.path.join(a.corpus, rel), dtype="float32", always_2d=True)
            x = x.mean(axis=1)
            # Played `speed` times faster: the samples taken as if at rate x speed.
            shifted = int(round(rate * speed))
            if speed != 1.0 and shifted < RATE:
                continue  # the copy's band would end below 8 kHz
            if shifted != RATE:
                x = soxr.resample(x, shifted, RATE, "HQ").astype(np.float32)
            x = trim(x, a.trim_db)
            if len(x) < 2 * len(fade):
                continue
            x = x.copy()
            x[: len(fade)] *= fade
            x[-len(fade) :] *= fade[::-1]
            pieces.append(x)
            total += len(x)
            if total >= cap:
                break
        if not pieces:
            continue
        audio = np.concatenate(pieces)[: int(cap)]
        sf.write(path, audio, RATE, subtype="FLOAT")
        lists[part].append(path)
        print(f"{part:5s} {pkg}:{group}{tag}  {len(rels)} files  {len(audio) / RATE / 60:.1f} min",
              file=sys.stderr)

    for part, paths in lists.items():
        listing = os.path.join(a.out, f"{part}.txt")
        with open(listing, "w") as f:
            f.write("".join(p + "\n" for p in paths))
        # --scale 2 without --low-pass: only `label` (the 16 kHz audio) is used by --degrade.
        subprocess.run([a.sr_prep, "--file-list", listing, "--out",
                        os.path.join(a.out, f"{part}.h5"), "--scale", "2", "--dimension",
                        str(a.dimension), "--stride", str(a.stride), "--batch-size", "1",
                        "--sr", str(RATE), "--quiet"], check=True)
        print(f"{part}: {os.path.join(a.out, part + '.h5')}", file=sys.stderr)


if __name__ == "__main__":
    main()
