#!/usr/bin/env python3
"""Quality harness: sr-infer against Python baselines on held-out 16 kHz references, for several
ways of making the low-rate input.

For each reference of make_refs.py's manifest (at most --max-files-per-source per source, a seeded
choice that spreads over origin files), each ratio r of --ratios and each input kind of --kinds:
  decimate   scipy.signal.decimate(x, r): order-8 Chebyshev I, zero phase (the bundled models'
             training recipe)
  fir        band-limited resampler (libsoxr HQ) 16k -> 16k/r
  subsample  x[::r] (aliased)
  mulaw8k    libsoxr to 8 kHz, G.711 mu-law WAV at 8 kHz (for r = 4 too: sr-infer resamples)
  hirate44   the fir signal resampled up to 44.1 kHz (band-limited content at a high rate)
  hirate48   the same at 48 kHz, for every --hirate48-every'th reference only
  fullband   the 16 kHz reference itself, --r 2 only (a transparent tool gives it back unchanged)
  real8k     asterisk's real 8 kHz telephone prompts (manifest's input_only): no reference; only
             clipping, steady tones and the kept band against the input are measured
the input file goes through `SR_INFER IN OUT --r R --threads N --quiet INFER_ARGS`, one process at a
time; the output, whatever its rate, is resampled to 16 kHz (libsoxr VHQ) and trimmed or zero-padded
to the reference's length. Baselines from the same input file: `spline` (the originals' not-a-knot
cubic spline), `bandlimited` (libsoxr VHQ to 16 kHz), `noisefill` (bandlimited plus noise above the
input's cutoff following the level of the top 1 kHz below it; qlib.baseline_noisefill).

Metrics (qlib's module doc has the exact conventions, which match engine/core/metrics.cpp): SNR,
LSD (papers: log10, RMS over frequency, mean over frames), LSD (K21: natural log, RMS over time,
mean over frequency), the papers' LSD above and below the cutoff 8000/r Hz, WB-PESQ (speech only),
clipping (samples with |y| >= 0.999 in the output file as written, before resampling), steady tone
(largest narrow peak of the output's frame-median spectrum, above its median over +-150 Hz, that
the reference lacks, in dB, with its frequency; also over the quietest 20 % of the reference's
frames: `pause`; qlib.tone_metrics), the output rate,
and the lag that best aligns output and reference (a diagnostic; metrics use lag 0).

Each invocation runs one sr-infer configuration under --label and writes OUT/results_<label>.json;
baselines are cached in OUT/baselines.json. Every run then rebuilds OUT/summary.json (aggregates per
label, r, content, input kind and method: medians, means, counts) and OUT/table.md from all labels
in OUT (or --table-labels), so two configurations (e.g. `--label current` and
`--label raw --infer-args=--raw`) land side by side, compared on the runs all of them have (a label
run with a smaller --max-files-per-source has a subset of a larger one's files: same seed, same
order). Figures: OUT/figures/<r>_<kind>_<file>.png (reference / input / band-limited /
noise-fill / each label's output) for --figures references per r and kind (speech first, then
music).

Example:
  bench/quality/.venv/bin/python bench/quality/run.py --label current --max-files-per-source 12
  bench/quality/.venv/bin/python bench/quality/run.py --label raw --infer-args=--raw --max-files-per-source 12
"""

import argparse
import datetime
import hashlib
import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qlib  # noqa: E402
from qlib import SR  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL_KINDS = ["decimate", "fir", "subsample", "mulaw8k", "hirate44", "hirate48", "fullband", "real8k"]
BASELINES = ["spline", "bandlimited", "noisefill"]
BASELINE_VERSION = 1  # bump when a baseline or metric changes: the cache is then rebuilt


# ---------------------------------------------------------------------------------------------
# selection

def select_refs(manifest, max_per_source, seed, sources=None):
    """Per source, a seeded order that takes one piece of each origin file before a second."""
    by_src = defaultdict(list)
    for r in manifest["refs"]:
        if sources and r["source"] not in sources and r["source"].split(":")[0] not in sources:
            continue
        by_src[r["source"]].append(r)
    out = []
    for src in sorted(by_src):
        refs = sorted(by_src[src], key=lambda r: r["id"])
        perm = qlib.seeded_rng("select", seed, src).permutation(len(refs))
        seen = defaultdict(int)
        keyed = []
        for pos, i in enumerate(perm):
            ref = refs[i]
            keyed.append((seen[ref["origin"]], pos, ref))
            seen[ref["origin"]] += 1
        keyed.sort(key=lambda t: (t[0], t[1]))
        out.extend(t[2] for t in keyed[:max_per_source])
    return out


def select_input_only(manifest, count, seed):
    items = sorted(manifest.get("input_only", []), key=lambda r: r["id"])
    perm = qlib.seeded_rng("select-io", seed).permutation(len(items))
    return [items[i] for i in perm[:count]]


# ---------------------------------------------------------------------------------------------
# jobs

class Job:
    def __init__(self, ref, r, kind, ref_x=None):
        self.ref, self.r, self.kind = ref, r, kind
        self.key = f"{ref['id']}|{r}|{kind}"
        self.ref_x = ref_x


def build_jobs(refs, io_items, ratios, kinds, hirate48_every):
    jobs = []
    for i, ref in enumerate(refs):
        for r in ratios:
            for kind in kinds:
                if kind == "real8k":
                    continue
                if kind == "fullband" and r != 2:
                    continue
                if kind == "hirate48" and i % hirate48_every != 0:
                    continue
                jobs.append(Job(ref, r, kind))
    if "real8k" in kinds:
        for item in io_items:
            for r in ratios:
                jobs.append(Job(item, r, "real8k"))
    return jobs


def prepare_input(job, refs_dir, tmp):
    """Writes the job's input file; returns (path, x_in as read back, rate_in, ref or None)."""
    if job.kind == "real8k":
        path = os.path.join(refs_dir, job.ref["path"])
        x, rate = sf.read(path, dtype="float64")
        return path, x, rate, None
    ref, _ = sf.read(os.path.join(refs_dir, job.ref["path"]), dtype="float64")
    x, rate, subtype = qlib.make_input(job.kind, ref, job.r)
    path = os.path.join(tmp, hashlib.sha1(job.key.encode()).hexdigest()[:16] + "_in.wav")
    sf.write(path, x.astype(np.float32), rate, subtype=subtype)
    x_back, _ = sf.read(path, dtype="float64")  # what sr-infer sees (mu-law decoded)
    return path, x_back, rate, ref


def run_sr_infer(exe, in_path, out_path, r, threads, extra, timeout):
    cmd = [exe, in_path, out_path, "--r", str(r), "--threads", str(threads), "--quiet"] + extra
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        rc, err = p.returncode, p.stderr.strip()
    except subprocess.TimeoutExpired:
        rc, err = -1, f"timed out after {timeout} s"
    return {"rc": rc, "stderr": err[-500:], "seconds": time.monotonic() - t0, "cmd": cmd}


# ---------------------------------------------------------------------------------------------
# evaluation

def evaluate(y16, ref, cutoff, speech, P_ref):
    return qlib.metrics(ref, y16, cutoff, speech=speech, P_ref=P_ref)


def no_ref_metrics(y16, x_in, rate_in, cutoff):
    """For real8k: the band-limited input at 16 kHz stands in for the reference below the cutoff."""
    bl = qlib.fit_length(qlib.baseline_bandlimited(x_in, rate_in), len(y16))
    P_bl, P_y = qlib.power_stft(bl), qlib.power_stft(y16)
    lsd = qlib.lsd_all(P_bl, P_y, cutoff)
    freqs = np.arange(P_y.shape[1]) * SR / qlib.N_FFT
    total = P_y.sum() + 1e-20
    out = {"lsd_below_vs_input": lsd["lsd_below"],
           "hf_db": float(10 * np.log10(P_y[:, freqs >= cutoff].sum() / total + 1e-20))}
    t = qlib.tone_metrics(P_bl, P_y)
    out.update(t)
    return out


def baseline_results(job, x_in, rate_in, ref, cutoff_metric, speech):
    out = {}
    cut_content = qlib.content_cutoff(job.kind, job.r)
    n = len(ref) if ref is not None else int(round(len(x_in) * SR / rate_in))
    P_ref = qlib.power_stft(ref) if ref is not None else None
    for m in BASELINES:
        if m == "spline":
            y = qlib.baseline_spline(x_in, rate_in, job.r)
        elif m == "bandlimited":
            y = qlib.baseline_bandlimited(x_in, rate_in)
        else:
            y = qlib.baseline_noisefill(x_in, rate_in, cut_content, (job.key,))
        y = qlib.fit_length(y, n)
        c, frac = qlib.clipping(y)
        if ref is None:
            res = no_ref_metrics(y, x_in, rate_in, cutoff_metric)
        else:
            res = evaluate(y, ref, cutoff_metric, speech, P_ref)
        res.update({"clipped": c, "clipped_frac": frac, "out_rate": SR})
        out[m] = res
    return out


def baseline_signals(kind, r, key, x_in, rate_in, n):
    cut = qlib.content_cutoff(kind, r)
    return {"band-limited": qlib.fit_length(qlib.baseline_bandlimited(x_in, rate_in), n),
            "noise-fill": qlib.fit_length(qlib.baseline_noisefill(x_in, rate_in, cut, (key,)), n)}


# ---------------------------------------------------------------------------------------------
# aggregation and table

METRICS = ["snr_db", "lsd_papers", "lsd_k21", "lsd_above", "lsd_below", "pesq_wb", "tone_db",
           "pause_tone_db", "lsd_below_vs_input", "hf_db", "clipped_frac"]


def aggregate(rows):
    """rows: list of per-file result dicts of one (label, r, content, kind, method)."""
    ok = [x for x in rows if not x.get("failed")]
    agg = {"files": len(rows), "failed": len(rows) - len(ok)}
    for m in METRICS:
        v = [x[m] for x in ok if x.get(m) is not None]
        if v:
            agg[m] = {"median": float(np.median(v)), "mean": float(np.mean(v)), "n": len(v)}
    agg["clipped_files"] = sum(1 for x in ok if x.get("clipped", 0) > 0)
    tones = [(x["tone_db"], x.get("tone_hz")) for x in ok if x.get("tone_db") is not None]
    if tones:
        t = max(tones, key=lambda t: t[0])
        agg["tone_max"] = {"db": t[0], "hz": t[1]}
    ptones = [(x["pause_tone_db"], x.get("pause_tone_hz")) for x in ok if x.get("pause_tone_db") is not None]
    if ptones:
        t = max(ptones, key=lambda t: t[0])
        agg["pause_tone_max"] = {"db": t[0], "hz": t[1]}
    rates = sorted({x.get("out_rate") for x in ok if x.get("out_rate")})
    agg["out_rates"] = rates
    pe = [x for x in ok if x.get("pesq_error")]
    if pe:
        agg["pesq_errors"] = len(pe)
    return agg


def content_of(ref):
    return "music" if ref.get("kind") == "music" else "speech"


def rebuild_summary(out_dir, only_labels=None):
    """Aggregates the results_<label>.json in out_dir (all, or only_labels) with the cached
    baselines, over the (reference, r, kind) runs that every one of those labels has (so labels
    run with different --max-files-per-source are compared on the same files); writes
    summary.json and table.md. Returns the Markdown."""
    labels = {}
    for fn in sorted(os.listdir(out_dir)):
        if fn.startswith("results_") and fn.endswith(".json"):
            with open(os.path.join(out_dir, fn)) as f:
                d = json.load(f)
            if not only_labels or d["label"] in only_labels:
                labels[d["label"]] = d
    common = None
    for d in labels.values():
        ks = {(row["key"], row["r"], row["kind"]) for row in d["files"]}
        common = ks if common is None else common & ks
    for d in labels.values():
        d["files"] = [row for row in d["files"] if (row["key"], row["r"], row["kind"]) in common]
    bpath = os.path.join(out_dir, "baselines.json")
    base = json.load(open(bpath))["results"] if os.path.exists(bpath) else {}
    groups = defaultdict(list)  # (r, content, kind, method) -> rows
    keys = set()
    for label, d in labels.items():
        for row in d["files"]:
            k = (row["r"], row["content"], row["kind"], f"model:{label}")
            groups[k].append(row)
            keys.add((row["key"], row["r"], row["content"], row["kind"], row["source"]))
    for rid, r, content, kind, src in sorted(keys):
        b = base.get(f"{rid}|{r}|{kind}")
        if not b:
            continue
        for m, res in b.items():
            groups[(r, content, kind, m)].append({**res, "source": src})
    by_src = defaultdict(list)  # (r, kind, method, source) -> rows
    for (r, content, kind, method), rows in groups.items():
        for row in rows:
            by_src[(r, kind, method, row["source"])].append(row)
    per_source = [{"r": r, "kind": kind, "method": method, "source": src, **aggregate(rows)}
                  for (r, kind, method, src), rows in sorted(by_src.items())]
    summary = []
    for (r, content, kind, method), rows in groups.items():
        summary.append({"r": r, "content": content, "kind": kind, "method": method, **aggregate(rows)})
    order_k = {k: i for i, k in enumerate(ALL_KINDS)}
    order_m = {m: i for i, m in enumerate(BASELINES)}
    summary.sort(key=lambda s: (s["r"], s["content"] != "speech", order_k.get(s["kind"], 99),
                                order_m.get(s["method"], 9), s["method"]))
    runs = {label: {k: v for k, v in d.items() if k != "files"} for label, d in labels.items()}
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump({"runs": runs, "aggregates": summary, "per_source": per_source}, f, indent=1)
    md = markdown_tables(summary, runs) + source_table(per_source)
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(md)
    return md


def fmt(agg, m, digits=2):
    v = agg.get(m)
    return "—" if v is None else f"{v['median']:.{digits}f}"


def markdown_tables(summary, runs):
    lines = ["Labels are compared on the runs that all of them have."]
    for label, d in runs.items():
        lines.append(f"- `{label}`: `{' '.join(d.get('command', []))}` "
                     f"(sr-infer {d.get('sr_infer_sha256', '')[:12]}, {d.get('date', '')}, "
                     f"{d.get('wall_seconds', 0):.0f} s)")
    lines.append("")
    lines.append("Medians over files. SNR in dB (higher is better); LSD papers (log10) and K21 (ln), and "
                 "the papers' LSD above / below the cutoff 8000/r Hz (lower is better); WB-PESQ (speech only, "
                 "higher is better); clipped: files with any output sample at |y| >= 0.999; steady tone: "
                 "median / largest excess (dB) of a narrow spectral peak the reference lacks, with the "
                 "largest one's frequency; pause tone: the largest over the quietest 20 % of frames; "
                 "out rate: the rate sr-infer wrote.")
    by_section = defaultdict(list)
    for s in summary:
        by_section[(s["r"], s["content"] if s["kind"] != "real8k" else "real8k")].append(s)
    for (r, content), rows in sorted(by_section.items(), key=lambda t: (t[0][0], ["speech", "music", "real8k"].index(t[0][1]))):
        lines.append("")
        if content == "real8k":
            lines.append(f"### r = {r}, real 8 kHz telephone speech (no reference; compared with the band-limited input)")
            lines.append("")
            lines.append("| input | method | files | LSD below cutoff vs input | energy above cutoff (dB of total) | clipped | steady tone med / max | pause tone max | out rate |")
            lines.append("|---|---|---|---|---|---|---|---|---|")
            for s in rows:
                lines.append(f"| {s['kind']} | {s['method']} | {s['files']}{' (' + str(s['failed']) + ' failed)' if s['failed'] else ''} | "
                             f"{fmt(s, 'lsd_below_vs_input', 3)} | {fmt(s, 'hf_db', 1)} | {s['clipped_files']} | "
                             f"{tone_cell(s)} | {pause_cell(s)} | {rates_cell(s)} |")
            continue
        lines.append(f"### r = {r} ({SR // r} -> {SR} Hz content), {content}")
        lines.append("")
        lines.append("| input | method | files | SNR | LSD papers | LSD K21 | LSD above | LSD below | PESQ | clipped | steady tone med / max | pause tone max | out rate |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for s in rows:
            lines.append(f"| {s['kind']} | {s['method']} | {s['files']}{' (' + str(s['failed']) + ' failed)' if s['failed'] else ''} | "
                         f"{fmt(s, 'snr_db')} | {fmt(s, 'lsd_papers', 3)} | {fmt(s, 'lsd_k21', 3)} | "
                         f"{fmt(s, 'lsd_above', 3)} | {fmt(s, 'lsd_below', 3)} | {fmt(s, 'pesq_wb')} | "
                         f"{s['clipped_files']} | {tone_cell(s)} | {pause_cell(s)} | {rates_cell(s)} |")
    return "\n".join(lines) + "\n"


def source_table(per_source, kinds=("decimate", "fir")):
    """Median SNR / LSD (papers) per source for the spline and each model, inputs decimate, fir."""
    cols = sorted({(p["r"], p["kind"]) for p in per_source if p["kind"] in kinds})
    if not cols:
        return ""
    cell = {(p["source"], p["method"], p["r"], p["kind"]): p for p in per_source}
    rows = sorted({(p["source"], p["method"]) for p in per_source
                   if p["kind"] in kinds and (p["method"] == "spline" or p["method"].startswith("model:"))})
    out = ["", "### Per source: median SNR (dB) / LSD papers", "",
           "| source | method | files | " + " | ".join(f"r={r} {k}" for r, k in cols) + " |",
           "|---|---|---|" + "---|" * len(cols)]
    for src, m in rows:
        vals, n = [], 0
        for r, k in cols:
            p = cell.get((src, m, r, k))
            if p and "snr_db" in p:
                vals.append(f"{p['snr_db']['median']:.1f} / {p['lsd_papers']['median']:.2f}")
                n = max(n, p["files"])
            else:
                vals.append("—")
        out.append(f"| {src} | {m} | {n} | " + " | ".join(vals) + " |")
    return "\n".join(out) + "\n"


def tone_cell(s):
    if "tone_db" not in s:
        return "—"
    t = s["tone_max"]
    return f"{s['tone_db']['median']:.1f} / {t['db']:.1f} @ {t['hz']:.0f} Hz" if t["hz"] else f"{s['tone_db']['median']:.1f}"


def pause_cell(s):
    t = s.get("pause_tone_max")
    if not t:
        return "—"
    return f"{t['db']:.1f} @ {t['hz']:.0f} Hz" if t["hz"] else f"{t['db']:.1f}"


def rates_cell(s):
    return ", ".join(str(r) for r in s.get("out_rates", [])) or "—"


# ---------------------------------------------------------------------------------------------
# figures

def spec_panel(ax, y, rate, title, vmax, ylim_hz):
    import matplotlib  # noqa: F401
    from scipy.signal import spectrogram
    n = max(256, int(2 ** np.round(np.log2(0.032 * rate))))
    f, t, S = spectrogram(y, fs=rate, window="hann", nperseg=n, noverlap=3 * n // 4, mode="psd")
    db = 10 * np.log10(S + 1e-12)
    ax.pcolormesh(t, f / 1000, db, shading="auto", vmin=vmax - 90, vmax=vmax, cmap="magma")
    ax.set_ylim(0, ylim_hz / 1000)
    ax.set_ylabel("kHz")
    ax.set_title(title, fontsize=8, loc="left")


def make_figure(path, ref, x_in, rate_in, baselines, models, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import spectrogram
    panels = []
    if ref is not None:
        panels.append((ref, SR, "reference (16 kHz)"))
    panels.append((x_in, rate_in, f"input ({rate_in} Hz)"))
    for name, y in baselines.items():
        panels.append((y, SR, name))
    for name, (y, rate) in models.items():
        panels.append((y, rate, f"{name} (out {rate} Hz)"))
    top = ref if ref is not None else x_in
    top_rate = SR if ref is not None else rate_in
    _, _, S = spectrogram(top, fs=top_rate, nperseg=512)
    vmax = 10 * np.log10(S.max() + 1e-12) + 5
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.6 * len(panels)), sharex=True)
    for ax, (y, rate, name) in zip(np.atleast_1d(axes), panels):
        spec_panel(ax, y, rate, name, vmax, rate / 2 if rate > SR else 8000)
    np.atleast_1d(axes)[-1].set_xlabel("s")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def figure_choice(refs, io_items, kinds, ratios, per):
    """{(r, kind): [ref ids]}: alternately a speech and a music reference, `per` of them; the
    speech and music sources rotate from one (r, kind) to the next so the figures cover several
    speakers."""
    def by_source(items):
        d = defaultdict(list)
        for x in items:
            d[x["source"]].append(x["id"])
        return [d[k] for k in sorted(d)]
    speech = by_source([r for r in refs if content_of(r) == "speech"])
    music = by_source([r for r in refs if content_of(r) == "music"])
    chosen, i = {}, 0
    for r in ratios:
        for kind in kinds:
            if kind == "real8k":
                chosen[(r, kind)] = [x["id"] for x in io_items[:per]]
                continue
            if kind == "fullband" and r != 2:
                continue
            ids = []
            for j in range(per):
                pool = speech if (j % 2 == 0 and speech) or not music else music
                src = pool[(i + j // 2) % len(pool)]
                ids.append(src[(j // 2) % len(src)])
            chosen[(r, kind)] = ids
            i += 1
    return chosen


def render_figures(out_dir, refs_dir, refs, io_items, chosen):
    audio = os.path.join(out_dir, "audio")
    fig_dir = os.path.join(out_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    by_id = {r["id"]: r for r in refs + io_items}
    labels = sorted(os.listdir(audio)) if os.path.isdir(audio) else []
    count = 0
    for (r, kind), ids in chosen.items():
        for rid in ids:
            item = by_id[rid]
            job = Job(item, r, kind)
            if kind == "fullband" and r != 2:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                _, x_in, rate_in, ref = prepare_input(job, refs_dir, tmp)
            n = len(ref) if ref is not None else int(round(len(x_in) * SR / rate_in))
            base = {} if kind == "fullband" else baseline_signals(kind, r, job.key, x_in, rate_in, n)
            models = {}
            for label in labels:
                p = os.path.join(audio, label, audio_name(job))
                if os.path.exists(p):
                    y, rate = sf.read(p, dtype="float64", always_2d=True)
                    models[f"sr-infer {label}"] = (y.mean(axis=1), rate)
            if not models:
                continue
            name = f"r{r}_{kind}_{rid.replace('/', '_')}.png"
            make_figure(os.path.join(fig_dir, name), ref, x_in, rate_in, base, models,
                        f"{rid}  r={r}  input {kind}")
            count += 1
    return count


def audio_name(job):
    return f"r{job.r}_{job.kind}_{job.ref['id'].replace('/', '_')}.wav"


# ---------------------------------------------------------------------------------------------

def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--refs", default="/work/data/quality_refs", help="make_refs.py's output folder")
    ap.add_argument("--out", default="/work/data/quality_out", help="results, table, figures")
    ap.add_argument("--sr-infer", default=os.path.join(REPO, "build/bin/sr-infer"))
    ap.add_argument("--infer-args", default="", help="extra sr-infer arguments (one string, split like a shell)")
    ap.add_argument("--label", default="current", help="name of this sr-infer configuration in the table")
    ap.add_argument("--ratios", default="2,4")
    ap.add_argument("--kinds", default=",".join(ALL_KINDS))
    ap.add_argument("--max-files-per-source", type=int, default=12)
    ap.add_argument("--sources", default="", help="comma list of sources (package or package:group) to keep")
    ap.add_argument("--input-only-files", type=int, default=12, help="real8k files (asterisk)")
    ap.add_argument("--hirate48-every", type=int, default=3, help="hirate48 for every N'th reference")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="sr-infer --threads")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per sr-infer call")
    ap.add_argument("--figures", type=int, default=2, help="references per (r, kind) drawn")
    ap.add_argument("--keep-audio", action="store_true", help="keep every output, not only the figures'")
    ap.add_argument("--summary-only", action="store_true", help="rebuild summary.json and table.md, run nothing")
    ap.add_argument("--table-labels", default="",
                    help="comma list of labels in summary and table (default: every results_<label>.json in OUT)")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    table_labels = set(x for x in a.table_labels.split(",") if x) or None
    if a.summary_only:
        print(rebuild_summary(a.out, table_labels))
        return
    exe = os.path.abspath(a.sr_infer)
    if not os.path.exists(exe):
        sys.exit(f"{exe} missing: ./scripts/build.sh builds it (or pass --sr-infer)")
    ratios = [int(x) for x in a.ratios.split(",") if x]
    kinds = [k for k in a.kinds.split(",") if k]
    for k in kinds:
        if k not in ALL_KINDS:
            sys.exit(f"unknown kind {k}; known: {','.join(ALL_KINDS)}")
    extra = shlex.split(a.infer_args)
    with open(os.path.join(a.refs, "manifest.json")) as f:
        manifest = json.load(f)
    refs = select_refs(manifest, a.max_files_per_source, a.seed,
                       set(s for s in a.sources.split(",") if s) or None)
    io_items = select_input_only(manifest, a.input_only_files, a.seed) if "real8k" in kinds else []
    jobs = build_jobs(refs, io_items, ratios, kinds, a.hirate48_every)
    chosen = figure_choice(refs, io_items, kinds, ratios, a.figures)
    fig_keys = {f"{rid}|{r}|{kind}" for (r, kind), ids in chosen.items() for rid in ids}
    print(f"run: {len(refs)} references from {len({r['source'] for r in refs})} sources, "
          f"{len(io_items)} input-only files, {len(jobs)} sr-infer runs, label {a.label}", flush=True)

    bpath = os.path.join(a.out, "baselines.json")
    bcache = {"version": BASELINE_VERSION, "results": {}}
    if os.path.exists(bpath):
        with open(bpath) as f:
            d = json.load(f)
        if d.get("version") == BASELINE_VERSION:
            bcache = d
    audio_dir = os.path.join(a.out, "audio", a.label)
    os.makedirs(audio_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="sr_quality_", dir=a.out)

    # sr-infer runs in a worker thread (one process at a time) while the main thread evaluates the
    # previous output: the two cores each have one job.
    todo, done = queue.Queue(maxsize=2), queue.Queue()

    def worker():
        while True:
            item = todo.get()
            if item is None:
                done.put(None)
                return
            job, in_path, out_path = item
            job.run = run_sr_infer(exe, in_path, out_path, job.r, a.threads, extra, a.timeout)
            done.put(item)

    th = threading.Thread(target=worker, daemon=True)
    th.start()
    t_start = time.monotonic()
    results, n_fail, infer_seconds = [], 0, 0.0

    def feed(job):
        in_path, x_in, rate_in, ref = prepare_input(job, a.refs, tmp)
        job.x_in, job.rate_in, job.ref_x = x_in, rate_in, ref
        out_path = os.path.join(tmp, hashlib.sha1(job.key.encode()).hexdigest()[:16] + "_out.wav")
        todo.put((job, in_path, out_path))

    def finish(item):
        nonlocal n_fail, infer_seconds
        job, in_path, out_path = item
        ref, x_in, rate_in = job.ref_x, job.x_in, job.rate_in
        speech = content_of(job.ref) == "speech"
        cutoff = SR / (2.0 * job.r)
        row = {"key": job.ref["id"], "source": job.ref["source"], "r": job.r, "kind": job.kind,
               "content": "real8k" if job.kind == "real8k" else content_of(job.ref),
               "in_rate": rate_in, "sr_infer_seconds": job.run["seconds"]}
        infer_seconds += job.run["seconds"]
        if job.run["rc"] != 0 or not os.path.exists(out_path):
            row.update({"failed": True, "rc": job.run["rc"], "stderr": job.run["stderr"]})
            n_fail += 1
        else:
            y, out_rate = sf.read(out_path, dtype="float64", always_2d=True)
            c, frac = qlib.clipping(y)
            y16 = qlib.resample(y.mean(axis=1), out_rate, SR)
            n = len(ref) if ref is not None else int(round(len(x_in) * SR / rate_in))
            row.update({"out_rate": out_rate, "out_channels": y.shape[1], "out_frames": len(y),
                        "len_diff_16k": len(y16) - n, "clipped": c, "clipped_frac": frac})
            y16 = qlib.fit_length(y16, n)
            if ref is None:
                row.update(no_ref_metrics(y16, x_in, rate_in, cutoff))
            else:
                row.update(evaluate(y16, ref, cutoff, speech, qlib.power_stft(ref)))
            if a.keep_audio or f"{job.ref['id']}|{job.r}|{job.kind}" in fig_keys:
                shutil.copyfile(out_path, os.path.join(audio_dir, audio_name(job)))
        bkey = job.key
        if job.kind != "fullband" and bkey not in bcache["results"]:
            bcache["results"][bkey] = baseline_results(job, x_in, rate_in, ref, cutoff, speech)
        for p in (out_path,) + ((in_path,) if in_path.startswith(tmp) else ()):
            if os.path.exists(p):
                os.remove(p)
        results.append(row)

    pending = 0
    try:
        for i, job in enumerate(jobs):
            feed(job)
            pending += 1
            if pending >= 2:
                finish(done.get())
                pending -= 1
            if (i + 1) % 100 == 0:
                el = time.monotonic() - t_start
                print(f"  {i + 1}/{len(jobs)} runs, {el:.0f} s, ~{el / (i + 1) * (len(jobs) - i - 1):.0f} s left, "
                      f"{n_fail} failed", flush=True)
        todo.put(None)
        while True:
            item = done.get()
            if item is None:
                break
            finish(item)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.monotonic() - t_start

    git = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"], capture_output=True, text=True)
    meta = {"label": a.label, "sr_infer": exe, "sr_infer_sha256": file_sha256(exe),
            "infer_args": extra, "command": [os.path.basename(exe), "IN", "OUT", "--r", "R", "--threads",
                                             str(a.threads), "--quiet"] + extra,
            "repo_head": git.stdout.strip(), "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "refs": a.refs, "max_files_per_source": a.max_files_per_source, "seed": a.seed,
            "ratios": ratios, "kinds": kinds, "references": len(refs), "input_only": len(io_items),
            "runs": len(jobs), "failed": n_fail, "wall_seconds": wall, "sr_infer_seconds": infer_seconds}
    with open(os.path.join(a.out, f"results_{a.label}.json"), "w") as f:
        json.dump({**meta, "files": results}, f, indent=1)
    with open(bpath + ".tmp", "w") as f:
        json.dump(bcache, f)
    os.replace(bpath + ".tmp", bpath)
    nfig = render_figures(a.out, a.refs, refs, io_items, chosen) if a.figures > 0 else 0
    md = rebuild_summary(a.out, table_labels)
    print(md)
    print(f"run: {len(jobs)} sr-infer runs ({n_fail} failed) in {wall:.0f} s "
          f"(sr-infer {infer_seconds:.0f} s); {nfig} figures; {a.out}/table.md, summary.json, "
          f"results_{a.label}.json", flush=True)


if __name__ == "__main__":
    main()
