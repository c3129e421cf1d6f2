#!/usr/bin/python3
"""Exports the PyTorch network of bench/pytorch_forward.py, loaded from OUR weights file, to ONNX
with a fixed input shape (B, L), for ONNX Runtime and OpenVINO (bench/peers/onnx_forward.py).

    /usr/bin/python3 bench/peers/export_onnx.py --model M.safetensors --batch 4 --length 8192 \
        --out M_b4.onnx [--opset 17]

Needs Debian's torch (the export writes the protobuf itself; the onnx package is not needed).
Fixed shapes: the U-Net's FiLM block sizes depend on L, and a static graph lets both peers plan
their buffers once, as our engine does. Weights become initializers (float32, unchanged).
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import pytorch_forward as ptf  # noqa: E402  (the network, the safetensors reader, the config)


def build(model_path, length):
    meta, weights = ptf.read_safetensors(model_path)
    for key, value in (("gate", "sigmoid"), ("attention_layers", "4"), ("attention_heads", "8"),
                       ("ff_dim", "2048"), ("layer_norm_eps", "1e-06")):
        meta.setdefault(key, value)             # as pytorch_forward.main: keys of the other FiLM
    cfg = ptf.reference_net.parse_config(meta)
    if cfg["arch"] == "tfilm" and cfg["gate"] != "sigmoid":
        sys.exit("export_onnx.py: ONNX LSTM via nn.LSTM has sigmoid gates only; model uses %s"
                 % cfg["gate"])
    net = ptf.UNet(cfg, length)
    net.load_canonical(weights)
    explicit_padding(net)
    return net.eval(), cfg


def explicit_padding(net):
    """torch 1.13 cannot export Conv1d(padding='same') (aten::_convolution_mode): give each conv
    its explicit symmetric padding d*(K-1)/2, the same 'same' for odd K (all our kernels)."""
    for name, mod in net.named_modules():
        if isinstance(mod, torch.nn.Conv1d) and mod.padding == "same":
            total = mod.dilation[0] * (mod.kernel_size[0] - 1)
            if total % 2:
                sys.exit("export_onnx.py: %s: even kernel, asymmetric 'same' padding" % name)
            mod.padding = (total // 2,)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="our .safetensors weights file")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--length", type=int, default=0, help="samples per patch (0: the model's)")
    ap.add_argument("--out", required=True, help="the .onnx file to write")
    ap.add_argument("--opset", type=int, default=17,
                    help="ONNX opset (>= 13; 17 has LayerNormalization as one op) [17]")
    args = ap.parse_args()
    if args.opset < 13:
        sys.exit("export_onnx.py: --opset must be >= 13")
    meta, _ = ptf.read_safetensors(args.model)
    length = args.length or int(meta["patch_length"])
    net, cfg = build(args.model, length)
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (args.batch, length))
                         .astype(np.float32))
    t0 = time.perf_counter()
    with torch.no_grad():
        net(x)                                   # fills AFiLM's positional-encoding cache
        torch.onnx.export(net, (x,), args.out, input_names=["x"], output_names=["y"],
                          opset_version=args.opset, do_constant_folding=True)
    print("wrote %s: %s, batch %d x %d, opset %d, %.1f MB, %.1f s" % (
        args.out, cfg["arch"], args.batch, length, args.opset,
        os.path.getsize(args.out) / 1e6, time.perf_counter() - t0))


if __name__ == "__main__":
    main()
