#!/usr/bin/python3
"""Parity of every engine's output: against ours and against the float64 reference
(tests/model/reference_net.py), as NMSE on the output and on the residual net(x) - x.

    /usr/bin/python3 bench/peers/parity.py --model M.safetensors --input X.npy \
        --output ours=Y0.npy --output pytorch=Y1.npy ... [--ref64-items N] [--limit 1e-8] \
        [--json P.json]

The first --output is the one the others are compared with ("vs ours"). NMSE = ||a - b||^2 / ||b||^2
(output) or ||a - b||^2 / ||b - x||^2 (residual: the network's own contribution; the stricter of the
two, since the output is x plus a residual). Exits 1, after writing the JSON, when any engine's
residual NMSE against the float64 reference exceeds --limit (all engines here are fp32).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pytorch_forward as ptf  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="the weights file every engine ran")
    ap.add_argument("--input", required=True, help="(B, L) float32 .npy every engine ran")
    ap.add_argument("--output", action="append", required=True, metavar="NAME=Y.npy",
                    help="an engine's output; the first is the 'ours' column")
    ap.add_argument("--ref64-items", type=int, default=0,
                    help="patches run through the float64 reference (0: all) [0]")
    ap.add_argument("--limit", type=float, default=1e-8,
                    help="largest residual NMSE vs float64 that passes [1e-8]")
    ap.add_argument("--json", help="write the figures (JSON)")
    args = ap.parse_args()
    x = np.load(args.input).astype(np.float32)
    outs = []
    for spec in args.output:
        name, sep, path = spec.partition("=")
        if not sep:
            sys.exit("parity.py: --output wants NAME=Y.npy, got %r" % spec)
        y = np.load(path)
        if y.shape != x.shape:
            sys.exit("parity.py: %s: shape %s, input %s" % (path, y.shape, x.shape))
        outs.append((name, y))
    n = args.ref64_items or x.shape[0]
    n = min(n, x.shape[0])
    meta, weights = ptf.read_safetensors(args.model)
    for key, value in (("gate", "sigmoid"), ("attention_layers", "4"), ("attention_heads", "8"),
                       ("ff_dim", "2048"), ("layer_norm_eps", "1e-06")):
        meta.setdefault(key, value)
    t0 = time.perf_counter()
    ref = ptf.reference_net.ReferenceNet(meta, weights).forward(x[:n]).numpy()
    ref_s = time.perf_counter() - t0
    ours = outs[0][1]
    result = {"ref64_items": n, "ref64_s": ref_s, "limit_nmse_residual_vs_ref64": args.limit,
              "engines": {}}
    failed = []
    for name, y in outs:
        r = {"vs_ref64": ptf.compare(y[:n], ref, x[:n])}
        if name != outs[0][0]:
            r["vs_ours"] = ptf.compare(y, ours, x)
        result["engines"][name] = r
        nmse = r["vs_ref64"]["nmse_residual"]
        if not nmse <= args.limit:                 # also catches NaN
            failed.append("%s %.3g" % (name, nmse))
        print("parity %-12s vs float64 (%d patches): NMSE output %.3g, residual %.3g%s" % (
            name, n, r["vs_ref64"]["nmse_output"], nmse,
            "; vs ours: output %.3g, residual %.3g" % (
                r["vs_ours"]["nmse_output"], r["vs_ours"]["nmse_residual"])
            if "vs_ours" in r else ""))
    result["passed"] = not failed
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    if failed:
        sys.exit("parity.py: FAILED: residual NMSE vs float64 above %g: %s" % (
            args.limit, ", ".join(failed)))


if __name__ == "__main__":
    main()
