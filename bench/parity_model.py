#!/usr/bin/python3
"""Makes a weights file for a stronger parity check: a copy of IN whose final conv is redrawn
He-uniform (seeded) instead of init_weights' tiny N(0, 1e-3) layer.

Why: init_weights draws the final conv tiny on purpose (an untrained net starts as the spline
baseline), so net(x) is ~1e-3 of x and an output comparison mostly compares the input with itself.
With a full-size final conv, net(x) is of the order of x and every layer's error shows in the output.

    /usr/bin/python3 bench/parity_model.py IN.safetensors OUT.safetensors [--seed 7]
"""

import argparse
import json
import struct

import numpy as np

from pytorch_forward import read_safetensors


def write_safetensors(path, meta, tensors):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)               # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    meta, tensors = read_safetensors(args.input)
    tensors = dict(tensors)
    k, cin, cout = tensors["final.conv.weight"].shape
    bound = np.sqrt(6.0 / (k * cin))
    rng = np.random.default_rng(args.seed)
    tensors["final.conv.weight"] = rng.uniform(-bound, bound, (k, cin, cout)).astype(np.float32)
    write_safetensors(args.output, meta, tensors)
    print("wrote %s: final.conv.weight (%d, %d, %d) He-uniform, bound %.4g" % (
        args.output, k, cin, cout, bound))


if __name__ == "__main__":
    main()
