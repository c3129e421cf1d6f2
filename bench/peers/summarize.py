#!/usr/bin/python3
"""Pools the rounds of one bench/run_cpu_peers.sh run into one results file, and builds the
Markdown table of every results file in a folder.

    /usr/bin/python3 bench/peers/summarize.py RAW_DIR OUT.json     # one configuration
    /usr/bin/python3 bench/peers/summarize.py --table bench/results > bench/results/peers_table.md

Every timed forward of every round is one sample. "best" is the minimum (the least disturbed
forward), "median" the median of all samples. ratio = peer time / our time: above 1, ours is faster.
"""

import glob
import json
import os
import re
import sys

import numpy as np

ENGINES = ("ours", "pytorch", "onnxruntime", "openvino")
LABEL = {"ours": "ours", "pytorch": "PyTorch", "onnxruntime": "ONNX Runtime",
         "openvino": "OpenVINO"}
ARCH = {"tfilm": "TFiLM", "afilm": "AFiLM", "audiounet": "AudioUNet"}


def pool(raw, engine):
    runs = [json.load(open(p)) for p in
            sorted(glob.glob(os.path.join(raw, "%s_r*.json" % engine)),
                   key=lambda p: int(re.search(r"_r(\d+)\.json$", p).group(1)))]
    if not runs:
        return None
    t = [x for r in runs for x in r["times_s"]]
    return {
        "engine": runs[0]["engine"],
        "settings": runs[0].get("settings", runs[0].get("threads")),
        "samples": len(t),
        "times_s_by_round": [r["times_s"] for r in runs],
        "best_s": float(min(t)),
        "median_s": float(np.median(t)),
        # each process's own getrusage peak: weights, runtime, arena and the forward
        "peak_rss_mib": max(r.get("peak_rss_mib", r.get("peak_rss_mib_forward", 0)) for r in runs),
        "cpu_s_per_forward_median": float(np.median([r["cpu_s_per_forward"] for r in runs])),
        "first": runs[0],
    }


def summarize(raw, out):
    env = {}
    for line in open(os.path.join(raw, "env.txt")):
        key, _, value = line.rstrip("\n").partition(": ")
        env[key] = value
    engines = {}
    for e in ENGINES:
        p = pool(raw, e)
        if p:
            engines[e] = p
    if "ours" not in engines:
        sys.exit("summarize.py: no ours_r*.json in %s" % raw)
    ours = engines["ours"]
    first = ours.pop("first")
    for e, p in engines.items():
        p.pop("first", None)
        if e != "ours":
            p["ratio_best"] = p["best_s"] / ours["best_s"]
            p["ratio_median"] = p["median_s"] / ours["median_s"]
    log = open(os.path.join(raw, "load.txt")).read().splitlines()
    end = env.get("rounds_end", "")[:8]   # HH:MM:SS; drop samples a stopped monitor left late
    if re.match(r"\d\d:\d\d:\d\d$", end):
        log = [line for line in log if line[:8] <= end]
    for e, cpu in others_by_engine(log).items():
        if e in engines:
            engines[e]["others_cpu_pct_max"] = max(cpu)
    probes = [float(m.group(1)) for line in log
              for m in [re.search(r"sgemm \d+\^3 (\S+) GFLOP/s", line)] if m]
    parity_path = os.path.join(raw, "parity.json")
    parity = json.load(open(parity_path)) if os.path.exists(parity_path) else None
    tag = os.path.basename(os.path.normpath(raw))
    result = {
        "tag": tag,
        "model": tag.rsplit("_b", 1)[0],
        "variant": "wcache" if tag.endswith("_wcache") else "",
        "arch": first["arch"],
        "parameters": first["parameters"],
        "batch": first["batch"],
        "length": first["length"],
        "threads": first["threads"],
        "gflop_conv_per_forward": first["gflop_conv"],
        "env": env,
        "engines": engines,
        "parity": parity,
        "sgemm_probe_gflops_by_round": probes,   # the machine's speed at each round's start
        "load_log": log,
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print("%s: %s" % (out, ", ".join(
        "%s best %.4f s median %.4f s%s" % (e, p["best_s"], p["median_s"],
                                           " (x%.2f)" % p["ratio_best"] if e != "ours" else "")
        for e, p in engines.items())))


def others_by_engine(log):
    """engine -> the 'others' CPU samples (%) taken while that engine's process ran."""
    out, current = {}, None
    for line in log:
        m = re.search(r"run: round \d+ (\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.search(r"others (\d+)%", line)
        if m and current:
            out.setdefault(current, []).append(int(m.group(1)))
    return out


def model_label(r):
    params = r["parameters"] / 1e6
    size = "%.0fM" % params if params >= 10 else "%.1fM" % params
    variant = ""
    if r.get("variant") == "wcache":
        variant = ", ours with SR_FFT_WEIGHT_CACHE=%s" % r["env"].get("ours", "?").split()[-1]
    if r["model"] in ARCH:
        return "%s %s (default%s)" % (ARCH[r["model"]], size, variant)
    return "`%s` (%s %s%s)" % (r["model"], ARCH.get(r["arch"], r["arch"]), size, variant)


def others_range(log):
    """Min-max CPU use of the processes outside the benchmark's, over the load log."""
    cpu = [int(m.group(1)) for line in log for m in [re.search(r"others (\d+)%", line)] if m]
    return "%d–%d %%" % (min(cpu), max(cpu)) if cpu else "?"


def table(folder):
    order = {"tfilm": 0, "afilm": 1}
    results = [json.load(open(p)) for p in glob.glob(os.path.join(folder, "peers_*_b*.json"))]
    if not results:
        sys.exit("summarize.py: no peers_*_b*.json in %s" % folder)
    results.sort(key=lambda r: (order.get(r["model"], 2), r["model"], r["batch"], r.get("variant", "")))
    engines = [e for e in ENGINES if any(e in r["engines"] for r in results)]
    peers = [e for e in engines if e != "ours"]
    out = []
    w = out.append
    w("# CPU forward side by side (bench/run_cpu_peers.sh)")
    w("")
    w("Forward time in ms, **best / median** of all timed forwards (every round, every engine in "
      "its own process, rounds interleaved); in brackets the ratio peer time / our time, best / "
      "median: **above 1, ours is faster**.")
    w("")
    w("| model | batch × samples | " + " | ".join(LABEL[e] for e in engines) + " |")
    w("|---|---|" + "---|" * len(engines))
    for r in results:
        cells = []
        for e in engines:
            p = r["engines"].get(e)
            if not p:
                cells.append("–")
                continue
            c = "%.1f / %.1f" % (1e3 * p["best_s"], 1e3 * p["median_s"])
            if e != "ours":
                c += " (%.2f / %.2f)" % (p["ratio_best"], p["ratio_median"])
            cells.append(c)
        w("| %s | %d × %d | %s |" % (model_label(r), r["batch"], r["length"], " | ".join(cells)))
    w("")
    w("Peak RSS (MiB, each engine's process: weights, runtime, buffers) and parity: NMSE of the "
      "residual net(x) − x against the float64 reference (tests/model/reference_net.py) on the "
      "first *n* patches, and (in brackets) against ours on all patches.")
    w("")
    w("| model | batch | " + " | ".join("%s RSS" % LABEL[e] for e in engines) + " | n | " +
      " | ".join("%s NMSE" % LABEL[e] for e in engines) + " | parity |")
    w("|---|---|" + "---|" * (2 * len(engines) + 2))
    for r in results:
        rss = ["%.0f" % r["engines"][e]["peak_rss_mib"] if e in r["engines"] else "–"
               for e in engines]
        par = r.get("parity") or {}
        nm = []
        for e in engines:
            q = par.get("engines", {}).get(e)
            if not q:
                nm.append("–")
                continue
            c = "%.1e" % q["vs_ref64"]["nmse_residual"]
            if "vs_ours" in q:
                c += " (%.1e)" % q["vs_ours"]["nmse_residual"]
            nm.append(c)
        status = "**FAILED**" if par and not par.get("passed") else ("ok" if par else "not run")
        w("| %s | %d | %s | %s | %s | %s |" % (model_label(r), r["batch"], " | ".join(rss),
                                             par.get("ref64_items", "–"), " | ".join(nm), status))
    w("")
    w("Runs (load: 1-min load average at the start and end of the timing rounds, our own threads "
      "included; others: CPU used by every process outside the benchmark's, min–max of the "
      "samples taken every 5 s during the rounds, 100 % = one core; sgemm: a 1024³ numpy matmul "
      "on THREADS threads at the start of each round, the machine's speed then; paused: the "
      "rounds ran under PAUSE, training and compilers stopped):")
    w("")
    w("| model | batch | date | commit | rounds × timed | load start → end | others | sgemm by round "
      "(GFLOP/s) | paused |")
    w("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        env = r["env"]
        load = [re.search(r"load1 (\S+)", env.get(k, "")) for k in ("rounds_start", "rounds_end")]
        rounds = len(r["engines"]["ours"]["times_s_by_round"])
        probes = r.get("sgemm_probe_gflops_by_round") or []
        w("| %s | %d | %s | `%s` | %d × %d | %s → %s | %s | %s | %s |" % (
            model_label(r), r["batch"], env.get("date", "?"), env.get("commit", "?").split()[0],
            rounds, r["engines"]["ours"]["samples"] // max(rounds, 1),
            load[0].group(1) if load[0] else "?", load[1].group(1) if load[1] else "?",
            others_range(r["load_log"]), ", ".join("%.0f" % g for g in probes) or "–",
            "yes" if env.get("pause", "none") != "none" else "no"))
    w("")
    env = results[-1]["env"]
    w("Machine and libraries (from the last run): %s; threads %s; OpenBLAS %s; PyTorch %s; %s." % (
        env.get("cpu", "?"), env.get("threads", "?"), env.get("openblas", "?"),
        env.get("pytorch", "?"), env.get("peers", "?")))
    engines_line = []
    for e in peers:
        r = next(r for r in results if e in r["engines"])
        s = r["engines"][e]["settings"]
        engines_line.append("%s: %s" % (r["engines"][e]["engine"], json.dumps(s)))
    if engines_line:
        w("")
        w("Peer settings: " + "; ".join(engines_line) + ".")
    print("\n".join(out))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        table(sys.argv[2])
    elif len(sys.argv) == 3 and not sys.argv[1].startswith("-"):
        summarize(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
