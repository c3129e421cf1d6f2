#!/usr/bin/env python3
"""Describe a weights file: architecture, hyper-parameters, tensor table, parameter count.

usage: inspect.py FILE [--source] [--ratio R] [...]

FILE may be one of our .safetensors files, or a PyTorch-port .pth / Keras .h5 checkpoint, for which
it prints what convert.py would produce (same options as convert.py for the values a checkpoint
does not record) and, with --source, the checkpoint's own tensors too. Needs no PyTorch.
"""

import os
import sys

# This file shadows the standard library's `inspect` for anything imported from its own folder:
# drop that folder from the path before importing anything, and load converters.py by path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402

import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("converters", os.path.join(_HERE, "converters.py"))
converters = importlib.util.module_from_spec(_spec)
sys.modules["converters"] = converters
_spec.loader.exec_module(converters)


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


def print_table(rows, out):
    """rows: [(name, shape, dtype)]."""
    width = max([len(r[0]) for r in rows] + [4])
    swidth = max([len(_shape(r[1])) if r[1] is not None else 1 for r in rows] + [5])
    out.write("  %-*s  %-*s  %s\n" % (width, "name", swidth, "shape", "dtype"))
    for name, shape, dtype in rows:
        out.write("  %-*s  %-*s  %s\n" % (width, name, swidth,
                                          _shape(shape) if shape is not None else "-", dtype))


def print_metadata(meta, out):
    for key in sorted(meta):
        out.write("  %s = %s\n" % (key, meta[key]))


def inspect_ours(path, out):
    meta, entries, _ = converters.read_safetensors_header(path)
    count = sum(int(np.prod(shape, dtype=np.int64)) for _, shape, _ in entries.values())
    out.write("%s: our format (audio-sr-weights safetensors)\n" % path)
    out.write("architecture: %s, %d parameters in %d tensors\n"
              % (meta.get("arch", "?"), count, len(entries)))
    out.write("hyper-parameters:\n")
    print_metadata(meta, out)
    try:
        cfg = _cfg_from_meta(meta)
        expected = converters.canonical_shapes(cfg)
        got = {n: tuple(s) for n, (_, s, _) in entries.items()}
        if got != expected:
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            bad = sorted(n for n in expected if n in got and got[n] != expected[n])
            out.write("WARNING: tensors do not match the metadata: missing %s, unexpected %s, "
                      "misshaped %s\n" % (missing[:5], extra[:5], bad[:5]))
    except (KeyError, ValueError) as e:
        out.write("WARNING: incomplete metadata (%s)\n" % e)
    out.write("tensors:\n")
    print_table([(n, s, d) for n, (d, s, _) in sorted(entries.items())], out)


def _cfg_from_meta(meta):
    import json
    return {"arch": meta["arch"], "layers": int(meta["layers"]),
            "filters": json.loads(meta["filters"]), "kernels": json.loads(meta["kernels"]),
            "bottleneck_filters": int(meta["bottleneck_filters"]),
            "bottleneck_kernel": int(meta["bottleneck_kernel"]),
            "final_kernel": int(meta["final_kernel"]),
            "attention_layers": int(meta.get("attention_layers", 0)),
            "ff_dim": int(meta.get("ff_dim", 0))}


def inspect_source(path, opts, show_source, out):
    conv = converters.convert(path, opts)
    out.write("%s: %s\n" % (path, conv.source_kind))
    out.write("source tensors: %d\n" % len(conv.source_tensors))
    if show_source:
        print_table(conv.source_tensors, out)
    out.write("converted (what convert.py writes):\n")
    out.write("architecture: %s, %d parameters in %d tensors\n"
              % (conv.cfg["arch"], conv.parameter_count(), len(conv.tensors)))
    out.write("notes:\n")
    for note in conv.notes:
        out.write("  %s\n" % note)
    out.write("hyper-parameters:\n")
    print_metadata(conv.metadata, out)
    out.write("tensors:\n")
    print_table([(n, a.shape, "F32") for n, a in sorted(conv.tensors.items())], out)


def main(argv=None):
    p = argparse.ArgumentParser(prog="inspect.py", description=__doc__.split("\n\n")[0])
    p.add_argument("file", metavar="FILE")
    p.add_argument("--source", action="store_true",
                   help="for .pth/.h5: also list the checkpoint's own tensors")
    p.add_argument("--ratio", type=int, default=None)
    p.add_argument("--sample-rate", type=int, default=None)
    p.add_argument("--heads", type=int, default=None)
    p.add_argument("--gate", choices=("sigmoid", "hard_sigmoid"), default=None)
    p.add_argument("--patch-length", type=int, default=None)
    args = p.parse_args(argv)
    try:
        if not os.path.isfile(args.file):
            raise converters.ConvertError("%s: no such file" % args.file)
        kind = converters.detect(args.file)
        if kind in ("ours", "safetensors"):
            inspect_ours(args.file, sys.stdout)
        else:
            opts = {"ratio": args.ratio, "sample_rate": args.sample_rate, "heads": args.heads,
                    "gate": args.gate, "patch_length": args.patch_length}
            inspect_source(args.file, opts, args.source, sys.stdout)
    except converters.ConvertError as e:
        print("inspect.py: error: %s" % e, file=sys.stderr)
        return 1
    except BrokenPipeError:          # e.g. piped into head
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
