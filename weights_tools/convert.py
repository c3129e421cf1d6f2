#!/usr/bin/env python3
"""Convert a PyTorch-port `.pth` or a Keras `.h5` checkpoint into our safetensors format.

usage: convert.py SRC DST.safetensors [--ratio R] [--sample-rate HZ] [--arch NAME] [options]

SRC is detected by content:
  * PyTorch zip container (`torch.save`) of the rovafifaliana/AFiLM port: a bare state_dict or the
    training dict {'model_state_dict', 'optimizer_state_dict', 'args', ...}. Read with zipfile and
    a restricted unpickler: PyTorch is NOT needed (and never imported).
  * Keras HDF5 of the TF originals (model.save or save_weights): needs h5py.
  * one of our .safetensors files: refused ("already converted").
The key mapping, what is inferred and what cannot be: docs/CHECKPOINT_FORMAT.md, "Converters".
Run with Debian's interpreter (/usr/bin/python3: numpy, h5py). Exit status 0 on success, 1 on a
refused or unreadable checkpoint (nothing written), 2 on a usage error.
"""

import os
import sys

# This folder also holds inspect.py, which would shadow the standard library's `inspect` for any
# module imported from here: drop the folder from the path and load converters.py by file name.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse  # noqa: E402
import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location("converters", os.path.join(_HERE, "converters.py"))
converters = importlib.util.module_from_spec(_spec)
sys.modules["converters"] = converters
_spec.loader.exec_module(converters)


def positive(text):
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return v


def non_negative(text):
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def make_parser():
    p = argparse.ArgumentParser(
        prog="convert.py",
        description="Convert a PyTorch-port .pth or a Keras .h5 checkpoint to our safetensors "
                    "format (docs/CHECKPOINT_FORMAT.md).")
    p.add_argument("src", metavar="SRC", help=".pth (torch zip) or .h5 (Keras) checkpoint")
    p.add_argument("dst", metavar="DST", help="output .safetensors")
    p.add_argument("--ratio", type=non_negative, default=None,
                   help="upscaling ratio the model serves (default: the training args' r if the "
                        "checkpoint has them, else 0 = any)")
    p.add_argument("--sample-rate", type=non_negative, default=None,
                   help="output sample rate the model serves (default 16000; 0 = any)")
    p.add_argument("--arch", choices=("audiounet", "tfilm", "afilm"), default=None,
                   help="expected architecture: refuse the file if it holds another one")
    p.add_argument("--heads", type=positive, default=None,
                   help="afilm attention heads (not recorded in weights; default 8 as in NC/PT)")
    p.add_argument("--gate", choices=("sigmoid", "hard_sigmoid"), default=None,
                   help="tfilm LSTM gate activation (default: sigmoid; for .h5 the default "
                        "of the Keras that wrote it: hard_sigmoid below standalone Keras 2.3)")
    p.add_argument("--patch-length", type=positive, default=None,
                   help="network input length (default: from the .pth positional encodings or "
                        "the .h5 model config; else 1024 for .pth, 8192 for .h5)")
    p.add_argument("--block-policy", choices=("tf", "pt"), default=None,
                   help="override the FiLM block policy (default: pt for .pth, tf for .h5)")
    p.add_argument("--subpixel-order", choices=("tf", "pt"), default=None,
                   help="override the subpixel order (default: pt for .pth, tf for .h5)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("--self-check", action="store_true",
                   help="after writing, read DST back and compare every tensor bit for bit, and "
                        "assert that neither torch nor tensorflow was imported")
    return p


def main(argv=None):
    args = make_parser().parse_args(argv)
    opts = {"ratio": args.ratio, "sample_rate": args.sample_rate, "arch": args.arch,
            "heads": args.heads, "gate": args.gate, "patch_length": args.patch_length,
            "block_policy": args.block_policy, "subpixel_order": args.subpixel_order}
    try:
        if os.path.exists(args.dst) and os.path.exists(args.src) and \
                os.path.samefile(args.src, args.dst):
            raise converters.ConvertError("SRC and DST are the same file")
        conv = converters.convert(args.src, opts)
        size = converters.write_conversion(conv, args.dst)
    except converters.ConvertError as e:
        print("convert.py: error: %s" % e, file=sys.stderr)
        return 1
    except MemoryError:
        print("convert.py: error: out of memory reading %s" % args.src, file=sys.stderr)
        return 1
    except Exception as e:  # a malformed file this reader did not foresee: still one clean line
        print("convert.py: error: %s: unexpected %s while converting: %s (please report)"
              % (args.src, type(e).__name__, e), file=sys.stderr)
        return 1

    if not args.quiet:
        cfg = conv.cfg
        print("%s: %s" % (args.src, conv.source_kind))
        for note in conv.notes:
            print("  " + note)
        print("wrote %s: %s, %d parameters in %d tensors, %d bytes"
              % (args.dst, cfg["arch"], conv.parameter_count(), len(conv.tensors), size))
        print("  " + ", ".join("%s=%s" % (k, v) for k, v in conv.metadata.items()
                               if k not in ("format", "format_version", "source")))

    if args.self_check:
        meta, back = converters.read_safetensors(args.dst)
        assert meta == dict(conv.metadata), "metadata differs after the round trip"
        assert sorted(back) == sorted(conv.tensors), "tensor names differ after the round trip"
        for name, a in conv.tensors.items():
            assert back[name].shape == a.shape and back[name].tobytes() == a.tobytes(), name
        for module in ("torch", "tensorflow", "keras"):
            assert module not in sys.modules, "%s was imported" % module
        if not args.quiet:
            print("self-check: DST read back bit-identical; torch/tensorflow not imported")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:      # output piped into head: the file is written already
        sys.stderr.close()
        sys.exit(0)
