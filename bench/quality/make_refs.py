#!/usr/bin/env python3
"""Makes the quality harness's references: mono 16 kHz float WAVs cut from the held-out groups of
corpus.json (scripts/fetch_corpus.sh's tree), plus a manifest.

What becomes a reference, per file of a group with `reference: true` in the chosen split:
- its true rate must be >= 16 kHz (lower-rate files of the group are listed as skipped: `rate`);
- channels are averaged, then it is resampled to 16 kHz with libsoxr (very high quality,
  band-limited);
- its 16 kHz long-term spectrum must reach near 8 kHz: the highest frequency below 7.9 kHz whose
  100 Hz-smoothed level is within 50 dB of the mean level of 300-3000 Hz (`edge_hz`) must be at
  least --min-edge (7000 Hz); an upsampled narrow-band file fails this (`narrow`);
- speech: one piece per file; a file longer than 12 s is cut into pieces of at most 10 s at its
  quietest 50 ms between 5 and 10 s of each piece; music: --music-excerpts excerpts per track of
  8-12 s each (seeded random length and position, not overlapping, avoiding the first and last 5 s);
- a piece shorter than 0.5 s (`short`), or near-silent (`silent`: RMS below -50 dBFS for speech,
  -40 dBFS for music, or fewer than 20 % of its 20 ms frames within 40 dB of its loudest) is dropped;
- a piece whose peak exceeds -1 dBFS is scaled down to peak -1 dBFS (`gain_db` in the manifest) so
  that an output sample at |y| >= 0.999 is the method's doing, not the reference's.
Randomness comes from a generator seeded by --seed and the file's path, so a piece does not depend
on which other files exist or on the order they are processed in.

Groups with split `input_only` (asterisk's 8 kHz telephone prompts) are copied, as mono float at
their own rate, into input_only/ (up to --max-input-only files, seeded choice): real narrow-band
input without a reference.

Output: OUT/<split>/<package>/<group>/<name>.wav, OUT/input_only/..., OUT/manifest.json
(`refs`: one entry per piece: id, path relative to OUT, source (package:group), kind, language,
speaker hint, origin file and span, rates, duration, RMS, edge_hz, gain; `input_only`; `skipped`
with reasons; `sources`: counts and seconds per source).

Usage: bench/quality/.venv/bin/python bench/quality/make_refs.py [--corpus /work/data/corpus]
         [--out /work/data/quality_refs] [--split heldout] [--seed 0]
"""

import argparse
import hashlib
import json
import os
import re
import sys
from collections import defaultdict

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import welch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus import Corpus  # noqa: E402

SR = 16000
PEAK = 10 ** (-1 / 20)  # -1 dBFS


def rng_for(seed, rel):
    h = hashlib.sha256(f"{seed}:{rel}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def edge_hz(x, sr=SR):
    """Highest frequency < 7.9 kHz within 50 dB of the 300-3000 Hz level (100 Hz smoothing)."""
    n = min(1024, len(x))
    f, p = welch(x, fs=sr, nperseg=n, noverlap=n // 2, window="hann")
    db = 10 * np.log10(p + 1e-20)
    db -= db[(f >= 300) & (f <= 3000)].mean()
    k = max(1, int(round(100 / (f[1] - f[0]))))
    smooth = np.convolve(db, np.ones(k) / k, "same")
    ok = np.where((f < 7900) & (smooth > -50))[0]
    return float(f[ok[-1]]) if len(ok) else 0.0


def frame_rms_db(x, n):
    m = len(x) // n
    if m == 0:
        return np.array([20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)])
    fr = x[: m * n].reshape(m, n)
    return 20 * np.log10(np.sqrt((fr**2).mean(axis=1)) + 1e-12)


def silent(x, kind):
    rms = 20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-12)
    if rms < (-40 if kind == "music" else -50):
        return True, rms
    fr = frame_rms_db(x, SR // 50)
    return bool(np.mean(fr > fr.max() - 40) < 0.2), rms


def speech_pieces(x):
    """[(start, end)] in samples: whole file, or pieces of <= 10 s cut at quiet 50 ms frames."""
    if len(x) <= 12 * SR:
        return [(0, len(x))]
    out, start, hop = [], 0, SR // 20
    while len(x) - start > 12 * SR:
        lo, hi = start + 5 * SR, start + 10 * SR
        fr = frame_rms_db(x[lo:hi], hop)
        cut = lo + int(np.argmin(fr)) * hop + hop // 2
        out.append((start, cut))
        start = cut
    out.append((start, len(x)))
    return out


def music_pieces(x, rng, count):
    """Up to `count` non-overlapping 8-12 s excerpts, seeded, avoiding the first and last 5 s."""
    out = []
    lo, hi = 5 * SR, len(x) - 5 * SR
    for _ in range(50 * count):
        if len(out) == count:
            break
        n = int(rng.uniform(8, 12) * SR)
        if hi - lo < n:
            break
        s = int(rng.integers(lo, hi - n + 1))
        if all(s + n <= a or s >= b for a, b in out):
            out.append((s, s + n))
    return sorted(out)


def safe_name(rel):
    base = os.path.splitext(os.path.basename(rel))[0]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base)


def speaker_hint(pkg, group, rel):
    if pkg == "fillets-ng-data-nl":
        m = re.search(r"/[^/]*?-([mv])-[^/]*$", rel)
        return {"m": "small fish (female voice)", "v": "big fish (male voice)"}.get(m.group(1)) if m else None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--corpus", default="/work/data/corpus", help="scripts/fetch_corpus.sh's folder")
    ap.add_argument("--out", default="/work/data/quality_refs")
    ap.add_argument("--split", default="heldout", choices=["heldout", "train"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-edge", type=float, default=7000.0, help="Hz, see above")
    ap.add_argument("--music-excerpts", type=int, default=2, help="excerpts per music track")
    ap.add_argument("--max-input-only", type=int, default=40, help="input_only files to copy")
    a = ap.parse_args()

    c = Corpus()
    problems = c.check(a.corpus)
    if problems:
        sys.exit("corpus.json does not cover the corpus:\n  " + "\n  ".join(problems[:20]))

    refs, skipped, input_only = [], [], []
    sources = defaultdict(lambda: {"pieces": 0, "seconds": 0.0, "files_used": 0, "files_skipped": 0})
    io_candidates = []
    for rel, pkg, group, info in c.files(a.corpus):
        if info["split"] == "input_only":
            io_candidates.append((rel, pkg, group, info))
            continue
        if info["split"] != a.split or not info.get("reference"):
            continue
        src = f"{pkg}:{group}"
        path = os.path.join(a.corpus, rel)
        fi = sf.info(path)
        if fi.samplerate < SR:
            skipped.append({"file": rel, "source": src, "reason": "rate", "rate": fi.samplerate})
            sources[src]["files_skipped"] += 1
            continue
        x, sr = sf.read(path, dtype="float64", always_2d=True)
        x = x.mean(axis=1)
        if sr != SR:
            x = soxr.resample(x, sr, SR, quality="VHQ")
        if len(x) < SR // 2:
            skipped.append({"file": rel, "source": src, "reason": "short", "seconds": len(x) / SR})
            sources[src]["files_skipped"] += 1
            continue
        e = edge_hz(x)
        if e < a.min_edge:
            skipped.append({"file": rel, "source": src, "reason": "narrow", "edge_hz": e, "rate": sr})
            sources[src]["files_skipped"] += 1
            continue
        rng = rng_for(a.seed, rel)
        spans = music_pieces(x, rng, a.music_excerpts) if info["kind"] == "music" else speech_pieces(x)
        used = False
        for k, (s, t) in enumerate(spans):
            piece = x[s:t].copy()
            if len(piece) < SR // 2:
                skipped.append({"file": rel, "source": src, "reason": "short", "span_s": [s / SR, t / SR]})
                continue
            is_silent, rms = silent(piece, info["kind"])
            if is_silent:
                skipped.append({"file": rel, "source": src, "reason": "silent", "span_s": [s / SR, t / SR],
                                "rms_dbfs": rms})
                continue
            peak = float(np.max(np.abs(piece)))
            gain = min(1.0, PEAK / peak) if peak > 0 else 1.0
            piece *= gain
            name = safe_name(rel) + (f"_{k}" if len(spans) > 1 else "")
            out_rel = os.path.join(a.split, pkg, group, name + ".wav")
            os.makedirs(os.path.join(a.out, os.path.dirname(out_rel)), exist_ok=True)
            sf.write(os.path.join(a.out, out_rel), piece.astype(np.float32), SR, subtype="FLOAT")
            refs.append({
                "id": f"{pkg}/{group}/{name}", "path": out_rel, "source": src, "package": pkg,
                "group": group, "kind": info["kind"], "language": info.get("language"),
                "speaker": speaker_hint(pkg, group, rel), "origin": rel, "origin_rate": sr,
                "origin_channels": fi.channels, "span_s": [s / SR, t / SR],
                "seconds": len(piece) / SR, "rms_dbfs": rms + 20 * np.log10(gain),
                "gain_db": 20 * np.log10(gain), "edge_hz": e,
            })
            sources[src]["pieces"] += 1
            sources[src]["seconds"] += len(piece) / SR
            used = True
        sources[src]["files_used" if used else "files_skipped"] += 1

    rng = np.random.default_rng(a.seed)
    io_candidates.sort(key=lambda t: t[0])
    pick = sorted(rng.permutation(len(io_candidates))[: a.max_input_only]) if io_candidates else []
    for i in pick:
        rel, pkg, group, info = io_candidates[i]
        x, sr = sf.read(os.path.join(a.corpus, rel), dtype="float64", always_2d=True)
        x = x.mean(axis=1)
        if len(x) < sr // 2 or silent(x, "speech")[0]:
            continue
        out_rel = os.path.join("input_only", pkg, group, safe_name(rel) + ".wav")
        os.makedirs(os.path.join(a.out, os.path.dirname(out_rel)), exist_ok=True)
        sf.write(os.path.join(a.out, out_rel), x.astype(np.float32), sr, subtype="FLOAT")
        input_only.append({"id": f"{pkg}/{group}/{safe_name(rel)}", "path": out_rel, "source": f"{pkg}:{group}",
                           "kind": info["kind"], "language": info.get("language"), "origin": rel,
                           "rate": sr, "seconds": len(x) / sr})

    manifest = {"rate": SR, "split": a.split, "seed": a.seed, "min_edge_hz": a.min_edge,
                "corpus_versions": {p: open(os.path.join(a.corpus, p, "VERSION")).read().strip()
                                    for p in c.packages},
                "sources": dict(sorted(sources.items())), "refs": refs, "input_only": input_only,
                "skipped": skipped}
    with open(os.path.join(a.out, "manifest.json.tmp"), "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(os.path.join(a.out, "manifest.json.tmp"), os.path.join(a.out, "manifest.json"))
    for src, s in sorted(sources.items()):
        print(f"{src:40s} {s['pieces']:5d} pieces {s['seconds'] / 60:7.1f} min "
              f"(files used {s['files_used']}, skipped {s['files_skipped']})")
    reasons = defaultdict(int)
    for s in skipped:
        reasons[s["reason"]] += 1
    print(f"make_refs: {len(refs)} references, {len(input_only)} input-only files, skipped: {dict(reasons)}; "
          f"{os.path.join(a.out, 'manifest.json')}")


if __name__ == "__main__":
    main()
