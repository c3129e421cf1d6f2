#!/usr/bin/python3
"""Pools the interleaved rounds written by run_cpu_vs_pytorch.sh into one summary (JSON + a
Markdown table on stdout).

    /usr/bin/python3 bench/summarize.py bench/results TAG     # TAG e.g. tfilm_b4

Timings: every timed forward of every round is one sample. "best" is the minimum (the least
disturbed forward on a shared machine), "median" the median over all samples. The ratio
PyTorch time / our time is > 1 when our engine is faster.
"""

import glob
import json
import os
import sys

import numpy as np


def load(pattern):
    runs = [json.load(open(p)) for p in sorted(glob.glob(pattern))]
    if not runs:
        sys.exit("no files match %s" % pattern)
    return runs


def pooled(runs):
    t = [x for r in runs for x in r["times_s"]]
    probes = [v for r in runs if "sgemm_probe" in r
              for v in (r["sgemm_probe"]["gflops_before"], r["sgemm_probe"]["gflops_after"])]
    r0 = runs[0]
    best, med = float(min(t)), float(np.median(t))
    audio = r0["batch"] * r0["length"] / 16000.0
    return {
        "samples": len(t),
        "times_s": t,
        "best_s": best,
        "median_s": med,
        "rtf_best": audio / best,
        "rtf_median": audio / med,
        "patches_per_s_best": r0["batch"] / best,
        "gflops_conv_best": r0["gflop_conv"] / best,
        "gflops_conv_median": r0["gflop_conv"] / med,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "cpu_s_per_forward_median": float(np.median([r["cpu_s_per_forward"] for r in runs])),
        "sgemm_probe_gflops": [float(min(probes)), float(max(probes))] if probes else None,
    }


def main():
    res, tag = sys.argv[1], sys.argv[2]
    ours_runs = load(os.path.join(res, "ours_%s_r*.json" % tag))
    torch_runs = load(os.path.join(res, "torch_%s_r*.json" % tag))
    ours, theirs = pooled(ours_runs), pooled(torch_runs)
    r0 = ours_runs[0]
    summary = {
        "tag": tag,
        "arch": r0["arch"],
        "parameters": r0["parameters"],
        "batch": r0["batch"],
        "length": r0["length"],
        "threads": r0["threads"],
        "gflop_conv_per_forward": r0["gflop_conv"],
        "arena_mib": r0["arena_bytes"] / 2 ** 20,
        "ours": ours,
        "pytorch": theirs,
        "speed_ratio_best": theirs["best_s"] / ours["best_s"],
        "speed_ratio_median": theirs["median_s"] / ours["median_s"],
        "parity_default_weights": torch_runs[-1].get("parity_ours_vs_torch"),
    }
    parity = os.path.join(res, "parity_%s.json" % tag)
    if os.path.exists(parity):
        p = json.load(open(parity))
        summary["parity_full_final_conv"] = {
            k: p[k] for k in ("parity_ours_vs_torch", "parity_torch_vs_ref64",
                              "parity_ours_vs_ref64", "ref64_items") if k in p}
    with open(os.path.join(res, "summary_%s.json" % tag), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    print("| %s, batch %d x %d, %d threads | ours | PyTorch %s |" % (
        summary["arch"], summary["batch"], summary["length"],
        r0["threads"]["omp_max_threads"], torch_runs[0]["engine"].split()[1]))
    print("|---|---|---|")
    row = lambda name, fmt, a, b: print("| %s | %s | %s |" % (name, fmt % a, fmt % b))  # noqa: E731
    row("forward, best (s)", "%.3f", ours["best_s"], theirs["best_s"])
    row("forward, median (s)", "%.3f", ours["median_s"], theirs["median_s"])
    row("timed forwards", "%d", ours["samples"], theirs["samples"])
    row("real-time factor, best (s of 16 kHz audio / s)", "%.3f", ours["rtf_best"], theirs["rtf_best"])
    row("real-time factor, median", "%.3f", ours["rtf_median"], theirs["rtf_median"])
    row("conv GFLOP/s, best", "%.0f", ours["gflops_conv_best"], theirs["gflops_conv_best"])
    row("peak RSS (MiB)", "%.0f", ours["peak_rss_mib"], theirs["peak_rss_mib"])
    row("CPU s per forward (median)", "%.2f", ours["cpu_s_per_forward_median"],
        theirs["cpu_s_per_forward_median"])
    if ours["sgemm_probe_gflops"] and theirs["sgemm_probe_gflops"]:
        print("| sgemm 2048^3 probe (GFLOP/s, min-max) | %.0f-%.0f | %.0f-%.0f |" % (
            tuple(ours["sgemm_probe_gflops"]) + tuple(theirs["sgemm_probe_gflops"])))
    print()
    print("speed ratio PyTorch time / our time: best %.2f, median %.2f" % (
        summary["speed_ratio_best"], summary["speed_ratio_median"]))
    print("arena %.1f MiB" % summary["arena_mib"])
    print("parity (default weights): %s" % json.dumps(summary["parity_default_weights"]))
    if "parity_full_final_conv" in summary:
        print("parity (full-size final conv): %s" % json.dumps(summary["parity_full_final_conv"]))


if __name__ == "__main__":
    main()
