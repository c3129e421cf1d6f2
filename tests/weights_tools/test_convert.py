#!/usr/bin/env python3
"""End-to-end tests of weights_tools/convert.py and inspect.py.

usage: /usr/bin/python3 tests/weights_tools/test_convert.py BIN_DIR [--keep DIR] [-v] [-k NAME]
                         [--full-size shared/spec/afilm_port_state_dict.tsv]

BIN_DIR holds the built sr-infer and sr-model. Needs Debian's interpreter (torch 1.13 CPU, numpy,
h5py). Every fixture is tiny and built on the fly in a temporary folder; the whole run takes a
few seconds on one thread. Exit status 0 when every check passes, 1 on a failure, 77 (skip) when
the interpreter lacks torch/numpy/h5py.

convert.py and inspect.py always run with a torch and a tensorflow that raise on import placed
first on PYTHONPATH (and with --self-check), proving that converting needs neither.

Parity checks (float32 engine against float64 references):
  pt_afilm_1024 / pt_afilm_8192  tiny PT-layout AFiLMNet (tests/weights_tools/pt_tiny.py, torch)
                                 -> torch.save (bare state_dict and training dict) -> convert.py
                                 -> sr-infer .npy  vs  the torch module run in float64;
                                 also tests/model/reference_net.py on the converted file vs the
                                 torch module (two independent float64 implementations).
  pt_tfilm                       the same for a PT-layout TFiLMNet (nn.LSTM, b_ih + b_hh).
  h5_tfilm / h5_afilm            hand-built Keras 2 .h5 (tests/weights_tools/keras_tiny.py), full
                                 model and weights-only -> convert.py -> sr-infer .npy  vs
                                 reference_net.py on the same weights (tf policy, tf subpixel).
Tolerance: max|engine - reference| <= 1e-4 * max|reference|. Reason: the engine computes in float32
(observed errors ~1e-6 relative: conv sums of <= 600 terms, softmax/LayerNorm/LSTM in float32);
1e-4 keeps ~100x headroom while every layout or semantic mix-up the converter could make
(untransposed weight, wrong subpixel order, block policy, head split, bias sum) moves the output by
more than 1e-2 relative; each test measures that margin and asserts it.
"""

import argparse
import collections
import importlib.util
import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile

SKIP = 77   # CTest SKIP_RETURN_CODE: this interpreter lacks torch, numpy or h5py
try:
    import h5py       # keras_tiny writes the .h5 fixtures with it
    import numpy as np
    import torch
except ImportError as e:
    print("SKIP: %s (run with Debian's /usr/bin/python3: python3-torch, python3-h5py)" % e)
    sys.exit(SKIP)
VERSIONS = "numpy %s, torch %s, h5py %s" % (np.__version__, torch.__version__, h5py.__version__)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "model"))
import keras_tiny  # noqa: E402
import pt_tiny  # noqa: E402
import reference_net as ref  # noqa: E402

# converters.py by path: its folder also holds inspect.py, which must not shadow the stdlib's.
_spec = importlib.util.spec_from_file_location(
    "converters", os.path.join(REPO, "weights_tools", "converters.py"))
converters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(converters)

CONVERT = os.path.join(REPO, "weights_tools", "convert.py")
INSPECT = os.path.join(REPO, "weights_tools", "inspect.py")
PYTHON = sys.executable
REL_TOL = 1e-4          # see the module docstring
# Two float64 implementations (PT torch module vs reference_net on the converted file) differ only
# by float32 rounding of their inputs: the port's pos_encoding buffer is float32 while
# reference_net computes PE in float64 (AFiLM), and our single LSTM bias is the float32 sum
# b_ih + b_hh while nn.LSTM adds both in float64 (TFiLM): ~1e-8 observed. 1e-6 absolute keeps
# 100x headroom; a mapping error moves the output by > 1e-2.
REF_AGREE = 1e-6

torch.set_num_threads(1)


class Ctx:
    def __init__(self, bin_dir, tmp, verbose):
        self.bin_dir, self.tmp, self.verbose = bin_dir, tmp, verbose
        # convert.py / inspect.py run with a torch and a tensorflow that cannot be imported
        # (first on PYTHONPATH): any import of either would fail the conversion.
        poison = os.path.join(tmp, "poisoned_modules")
        os.makedirs(poison, exist_ok=True)
        for mod in ("torch", "tensorflow"):
            with open(os.path.join(poison, mod + ".py"), "w") as fp:
                fp.write("raise ImportError('weights_tools must not import %s')\n" % mod)
        self.env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                        PYTHONPATH=os.pathsep.join(
                            [poison] + [p for p in os.environ.get("PYTHONPATH", "").split(
                                os.pathsep) if p]))
        self.results = []   # (test, measure) lines for the summary

    def path(self, name):
        return os.path.join(self.tmp, name)

    def run(self, cmd, expect_rc=0):
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=self.tmp)
        if self.verbose:
            print("$ " + " ".join(cmd))
            print(p.stdout + p.stderr)
        if expect_rc is not None and p.returncode != expect_rc:
            raise AssertionError("%s exited %d (expected %d)\nstdout:\n%s\nstderr:\n%s"
                                 % (" ".join(cmd), p.returncode, expect_rc, p.stdout, p.stderr))
        return p

    def convert(self, src, dst, *flags, expect_rc=0):
        return self.run([PYTHON, CONVERT, src, dst, "--self-check"] + list(flags), expect_rc)

    def infer(self, model, x, name):
        xin, yout = self.path(name + "_in.npy"), self.path(name + "_out.npy")
        np.save(xin, np.asarray(x, dtype=np.float32))
        self.run([os.path.join(self.bin_dir, "sr-infer"), xin, yout, "--model", model, "-q"])
        return np.load(yout).astype(np.float64)


def rel_err(y, yref):
    return float(np.max(np.abs(y - yref)) / np.max(np.abs(yref)))


def check_parity(ctx, name, y, yref, x):
    err = rel_err(y, yref)
    abs_err = float(np.max(np.abs(y - yref)))
    net_share = float(np.sqrt(np.mean((yref - x) ** 2)) / np.sqrt(np.mean(yref ** 2)))
    ctx.results.append("%-28s engine vs float64 ref: max|d| %.2e, rel %.2e (net(x) is %.0f%% of "
                       "the output RMS)" % (name, abs_err, err, 100 * net_share))
    assert net_share > 0.3, "%s: the network part is too small to test anything" % name
    assert err <= REL_TOL, "%s: relative error %.3e > %.0e" % (name, err, REL_TOL)
    return err


def check_discrimination(ctx, name, yref, variants):
    """variants: {label: output of a spec mix-up}; each must move the output >> REL_TOL."""
    parts = []
    for label, yv in variants.items():
        d = rel_err(yv, yref)
        parts.append("%s %.1e" % (label, d))
        assert d > 100 * REL_TOL, "%s: variant %s moves the output by only %.2e" % (name, label, d)
    ctx.results.append("%-28s mix-ups move it by (rel): %s" % (name, ", ".join(parts)))


def random_input(seed, batch, length):
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)
    x = np.zeros((batch, length))
    for b in range(batch):
        for _ in range(4):
            x[b] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * rng.uniform(0.002, 0.12) * t
                                                   + rng.uniform(0, 2 * np.pi))
        x[b] += 0.05 * rng.standard_normal(length)
        x[b] *= 0.5 / np.max(np.abs(x[b]))
    return x.astype(np.float32)


def ref_meta(meta):
    """reference_net.parse_config wants every key; ours omits the other archs' keys."""
    full = {"gate": "sigmoid", "attention_layers": "1", "attention_heads": "1", "ff_dim": "1",
            "layer_norm_eps": "1e-06"}
    full.update(meta)
    return full


def run_reference(meta, weights, x):
    with torch.no_grad():
        return ref.ReferenceNet(ref_meta(meta), weights).forward(x).numpy().astype(np.float64)


def train_args(**kw):
    # PT train.py's parser (codes/train.py), defaults plus overrides
    ns = argparse.Namespace(model="afilm", train="train.h5", val="val.h5", epochs=20,
                            batch_size=16, logname="tmp-run", layers=4, alg="adam", lr=3e-4,
                            save_path="model.pth", r=4, pool_size=4, strides=4)
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


# ----------------------------------------------------------------------------------------------
# PyTorch port (.pth)
# ----------------------------------------------------------------------------------------------

TINY = dict(filters=[16, 16, 32, 32], kernels=[17, 9, 9, 5], bottleneck_filters=32,
            bottleneck_kernel=5)


def make_pt_net(kind, length, seed):
    torch.manual_seed(seed)
    net = pt_tiny.TinyPTNet(kind, input_length=length, enc_layers=2, ff_dim=32, **TINY)
    x = torch.from_numpy(random_input(seed, 2, length))
    net.eval()
    pt_tiny.calibrate(net, x)
    # One optimizer step, so the training dict carries a real Adam state (exp_avg ... tensors).
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    net.train()
    loss = torch.nn.functional.mse_loss(net(x), x * 1.1)
    loss.backward()
    opt.step()
    net.eval()
    return net, x, opt


def expected_pt_tensor(sd, key):
    """What our file must hold for a PT key (the mapping of docs/CHECKPOINT_FORMAT.md)."""
    t = sd[key].numpy()
    return t.transpose(2, 1, 0) if t.ndim == 3 else t.T if t.ndim == 2 else t


def pt_canonical_name(key, layers):
    """Independent spelling of the key map (for the bitwise check)."""
    import re
    m = re.match(r"(down_blocks|up_blocks)\.(\d+)\.(weight|bias)$", key)
    if m:
        i = int(m.group(2))
        level = i if m.group(1) == "down_blocks" else layers - 1 - i
        return "%s.%d.conv.%s" % ("down" if m.group(1) == "down_blocks" else "up", level,
                                  m.group(3))
    if key.startswith("bottleneck_conv."):
        return "bottleneck.conv." + key.split(".")[-1]
    if key.startswith("out_conv."):
        return "final.conv." + key.split(".")[-1]
    m = re.match(r"(afilm_down|afilm_up)\.(\d+)\.(.*)$", key)
    if m:
        i = int(m.group(2))
        site = "down.%d" % i if m.group(1) == "afilm_down" else "up.%d" % (layers - 1 - i)
        rest = m.group(3)
    elif key.startswith("bottleneck_afilm."):
        site, rest = "bottleneck", key[len("bottleneck_afilm."):]
    else:
        raise KeyError(key)
    if rest.endswith("pos_encoding"):
        return None
    m = re.match(r"transformer\.enc_layers\.(\d+)\.(.*)$", rest)
    j, sub = m.group(1), m.group(2)
    sub = (sub.replace("att.query_dense", "attn.query").replace("att.key_dense", "attn.key")
           .replace("att.value_dense", "attn.value").replace("att.combine_heads", "attn.out")
           .replace("dense1", "ff1").replace("dense2", "ff2"))
    sub = sub.replace("layernorm1.weight", "norm1.gamma").replace("layernorm1.bias", "norm1.beta")
    sub = sub.replace("layernorm2.weight", "norm2.gamma").replace("layernorm2.bias", "norm2.beta")
    return "%s.film.layers.%s.%s" % (site, j, sub)


def pt_afilm_case(ctx, length, seed, training_dict):
    name = "pt_afilm_%d" % length
    net, x, opt = make_pt_net("afilm", length, seed)
    sd = net.state_dict()
    bare = ctx.path(name + "_bare.pth")
    torch.save(sd, bare)
    sources = [("bare", bare, [])]
    if training_dict:
        full = ctx.path(name + "_train.pth")
        torch.save({"epoch": 3, "model_state_dict": sd, "optimizer_state_dict": opt.state_dict(),
                    "train_loss_mse": 0.01, "train_loss_rmse": 0.1, "val_loss_mse": 0.02,
                    "val_loss_rmse": 0.14, "args": train_args(r=4)}, full)
        sources.append(("train", full, []))
    else:
        sources[0][2].extend(["--ratio", "2"])

    with torch.no_grad():
        y64 = net.double()(x.double()).numpy()
        variants = {
            "subpixel tf": net(x.double(), {"subpixel": "tf"}).numpy(),
            "heads 1": net(x.double(), {"heads": 1}).numpy(),
            "up blocks tf": net(x.double(), {"up_block": "tf"}).numpy(),
        }
        net.float()
    converted = {}
    for label, src, flags in sources:
        dst = ctx.path("%s_%s.safetensors" % (name, label))
        out = ctx.convert(src, dst, *flags).stdout
        assert "torch/tensorflow not imported" in out, out
        meta, tensors = converters.read_safetensors(dst)
        converted[label] = (dst, meta, tensors)
        want = {"arch": "afilm", "layers": "4", "filters": "[16,16,32,32]",
                "kernels": "[17,9,9,5]", "bottleneck_filters": "32", "bottleneck_kernel": "5",
                "final_kernel": "9", "block_policy": "pt", "subpixel_order": "pt",
                "base_block": "128", "patch_length": str(length), "attention_layers": "2",
                "attention_heads": "8", "ff_dim": "32", "layer_norm_eps": "1e-06",
                "sample_rate": "16000", "ratio": "4" if label == "train" else
                ("2" if flags else "0")}
        for k, v in want.items():
            assert meta.get(k) == v, "%s/%s: metadata %s = %r, expected %r" % (
                name, label, k, meta.get(k), v)
        # The conversion is exact: every tensor is the PT tensor, transposed, bit for bit.
        mapped = 0
        for key in sd:
            ours = pt_canonical_name(key, 4)
            if ours is None:
                continue
            exp = np.ascontiguousarray(expected_pt_tensor(sd, key), dtype=np.float32)
            assert tensors[ours].tobytes() == exp.tobytes(), "%s: %s != %s" % (name, ours, key)
            mapped += 1
        assert mapped == len(tensors), (mapped, len(tensors))
    if training_dict:
        a, b = converted["bare"][2], converted["train"][2]
        assert all(a[k].tobytes() == b[k].tobytes() for k in a), "bare vs training dict differ"

    dst, meta, tensors = converted[sources[-1][0]]
    y = ctx.infer(dst, x.numpy(), name)
    check_parity(ctx, name, y, y64, x.numpy())
    yr = run_reference(meta, tensors, x.numpy())
    agree = float(np.max(np.abs(yr - y64)))
    ctx.results.append("%-28s reference_net vs PT torch module (both float64): max|d| %.1e"
                       % (name, agree))
    assert agree < REF_AGREE, "%s: reference_net and the PT module disagree by %.3e" % (name, agree)
    check_discrimination(ctx, name, y64, variants)

    info = ctx.run([os.path.join(ctx.bin_dir, "sr-model"), "info", dst]).stdout
    count = sum(int(np.prod(a.shape)) for a in tensors.values())
    assert "%d parameters" % count in info, info
    return sources


def test_pt_afilm_1024(ctx):
    pt_afilm_case(ctx, 1024, 11, training_dict=True)


def test_pt_afilm_8192(ctx):
    pt_afilm_case(ctx, 8192, 12, training_dict=False)


def test_pt_tfilm(ctx):
    name = "pt_tfilm_1024"
    net, x, _ = make_pt_net("tfilm", 1024, 13)
    sd = net.state_dict()
    src = ctx.path(name + ".pth")
    torch.save(sd, src)
    dst = ctx.path(name + ".safetensors")
    ctx.convert(src, dst, "--ratio", "4")
    meta, tensors = converters.read_safetensors(dst)
    assert meta["arch"] == "tfilm" and meta["gate"] == "sigmoid" and \
        meta["block_policy"] == "pt" and meta["subpixel_order"] == "pt", meta
    assert meta["patch_length"] == "1024", meta
    # LSTM: kernel = W_ih^T, recurrent = W_hh^T, bias = b_ih + b_hh (float32)
    for pt, site in [("tfilm_down.1", "down.1"), ("bottleneck_tfilm", "bottleneck"),
                     ("tfilm_up.0", "up.3")]:
        r = pt + ".rnn."
        assert tensors[site + ".film.lstm.kernel"].tobytes() == \
            np.ascontiguousarray(sd[r + "weight_ih_l0"].numpy().T).tobytes()
        assert tensors[site + ".film.lstm.recurrent_kernel"].tobytes() == \
            np.ascontiguousarray(sd[r + "weight_hh_l0"].numpy().T).tobytes()
        assert tensors[site + ".film.lstm.bias"].tobytes() == \
            (sd[r + "bias_ih_l0"].numpy() + sd[r + "bias_hh_l0"].numpy()).tobytes()
    with torch.no_grad():
        y64 = net.double()(x.double()).numpy()
        variants = {"subpixel tf": net(x.double(), {"subpixel": "tf"}).numpy()}
        net.float()
    y = ctx.infer(dst, x.numpy(), name)
    check_parity(ctx, name, y, y64, x.numpy())
    yr = run_reference(meta, tensors, x.numpy())
    agree = float(np.max(np.abs(yr - y64)))
    ctx.results.append("%-28s reference_net vs PT torch module (both float64): max|d| %.1e"
                       % (name, agree))
    assert agree < REF_AGREE, agree
    # dropping b_hh (a plausible converter bug) must be visible
    t2 = dict(tensors)
    for pt, site in converters._pt_sites(4, "tfilm"):
        t2[site + ".film.lstm.bias"] = sd[pt + ".rnn.bias_ih_l0"].numpy()
    variants["bias b_ih only"] = run_reference(meta, t2, x.numpy())
    check_discrimination(ctx, name, y64, variants)

    # The port's real TFiLMNet declares up convs with 2*nf inputs and out_conv with 2: refused.
    broken = collections.OrderedDict(sd)
    broken["up_blocks.0.weight"] = torch.zeros(64, 64, 5)
    broken["out_conv.weight"] = torch.zeros(2, 2, 9)
    bad = ctx.path("pt_tfilm_broken.pth")
    torch.save(broken, bad)
    out = ctx.path("pt_tfilm_broken.safetensors")
    p = ctx.convert(bad, out, expect_rc=1)
    for s in ("up_blocks.0.weight: (64, 64, 5), expected (64, 32, 5)", "out_conv.weight",
              "TFiLMNet"):
        assert s in p.stderr, p.stderr
    assert not os.path.exists(out)


# ----------------------------------------------------------------------------------------------
# Keras (.h5)
# ----------------------------------------------------------------------------------------------

def canonical_meta(arch, **kw):
    meta = {"format": "audio-sr-weights", "format_version": "1", "arch": arch, "layers": "4",
            "filters": "[8,16,16,16]", "kernels": "[17,9,9,5]", "bottleneck_filters": "16",
            "bottleneck_kernel": "5", "final_kernel": "9", "dilation": "2", "leaky_alpha": "0.2",
            "block_policy": "tf", "base_block": "128", "subpixel_order": "tf", "gate": "sigmoid",
            "attention_layers": "2", "attention_heads": "8", "ff_dim": "32",
            "layer_norm_eps": "1e-06", "patch_length": "1024", "sample_rate": "16000",
            "ratio": "0"}
    meta.update(kw)
    return meta


def random_canonical(meta, x, seed):
    """Random canonical weights (float32), convs calibrated with the reference so that net(x)
    is comparable to x."""
    rng = np.random.default_rng(seed)
    cfg = ref.parse_config(meta)
    w = {}
    for name, shape in ref.expected_shapes(cfg).items():
        if name.endswith("conv.weight"):
            w[name] = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / (shape[0] * shape[1]))
        elif name.endswith(".gamma"):
            w[name] = 1.0 + rng.uniform(-0.1, 0.1, shape)
        elif len(shape) == 1:
            w[name] = rng.uniform(-0.1, 0.1, shape)
        else:
            w[name] = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / shape[0])
            if ".attn.query." in name:
                w[name] *= 0.3 if ".layers.0." in name else 3.0
    for name, _, _, _ in ref.conv_shapes(cfg):
        stats = {}
        net = ref.ReferenceNet(meta, w)
        net.trace = lambda n, t: stats.__setitem__(n, float(t.pow(2).mean().sqrt()))
        with torch.no_grad():
            net.forward(x)
        target = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if name == "final.conv" \
            else 1.0
        scale = target / stats[name]
        w[name + ".weight"] = w[name + ".weight"] * scale
        w[name + ".bias"] = w[name + ".bias"] * scale
    return {n: np.asarray(a, dtype=np.float32) for n, a in w.items()}


def h5_case(ctx, arch, seed, extra_meta):
    name = "h5_" + arch
    x = random_input(seed, 2, 1024)
    meta = canonical_meta(arch, **extra_meta)
    w = random_canonical(meta, x, seed)
    cfg = ref.parse_config(meta)
    full, wonly = ctx.path(name + "_model.h5"), ctx.path(name + "_weights.h5")
    keras_tiny.write_h5(full, cfg, w, full_model=True, input_length=1024)
    keras_tiny.write_h5(wonly, cfg, w, full_model=False)
    outs = {}
    for label, src, flags in (("full", full, ["--ratio", "4"]), ("weights", wonly, [])):
        dst = ctx.path("%s_%s.safetensors" % (name, label))
        ctx.convert(src, dst, *flags)
        m, t = converters.read_safetensors(dst)
        outs[label] = (dst, m, t)
        assert sorted(t) == sorted(w), "%s/%s: tensor names differ" % (name, label)
        for n in w:
            assert t[n].tobytes() == w[n].tobytes(), "%s/%s: %s differs" % (name, label, n)
        for k in ("arch", "layers", "filters", "kernels", "bottleneck_filters",
                  "bottleneck_kernel", "final_kernel", "block_policy", "subpixel_order",
                  "base_block"):
            assert m[k] == meta[k], "%s/%s: %s = %r, expected %r" % (name, label, k, m[k], meta[k])
        if arch == "tfilm":
            assert m["gate"] == "sigmoid"
        else:
            for k in ("attention_layers", "attention_heads", "ff_dim"):
                assert m[k] == meta[k], (k, m[k])
    assert outs["full"][1]["patch_length"] == "1024" and outs["full"][1]["ratio"] == "4"
    assert outs["weights"][1]["patch_length"] == "8192" and outs["weights"][1]["ratio"] == "0"

    dst, m, t = outs["full"]
    yref = run_reference(m, t, x)
    y = ctx.infer(dst, x, name)
    check_parity(ctx, name, y, yref, x)
    y2 = ctx.infer(outs["weights"][0], x, name + "_w")
    assert np.array_equal(y, y2), "full-model and weights-only conversions run differently"
    variants = {"subpixel pt": run_reference(dict(m, subpixel_order="pt"), t, x),
                "block policy pt": run_reference(dict(m, block_policy="pt"), t, x)}
    if arch == "tfilm":
        variants["hard_sigmoid"] = run_reference(dict(m, gate="hard_sigmoid"), t, x)
    check_discrimination(ctx, name, yref, variants)
    return cfg, w


def test_h5_tfilm(ctx):
    cfg, w = h5_case(ctx, "tfilm", 21, {})
    # LSTM gates from keras_version: standalone Keras < 2.3 defaulted to hard_sigmoid; '2.2.4-tf'
    # (TF 1.x or TF 2.0-2.1 tf.keras) is ambiguous: sigmoid with a warning; --gate overrides.
    dst = ctx.path("h5_tfilm_version.safetensors")
    for version, gate, warn in (("2.2.4", "hard_sigmoid", False), ("2.3.1", "sigmoid", False),
                                ("2.2.4-tf", "sigmoid", True), ("2.4.0", "sigmoid", False)):
        src = ctx.path("h5_tfilm_keras%s.h5" % version)
        keras_tiny.write_h5(src, cfg, w, full_model=True, keras_version=version,
                            input_length=1024)
        p = ctx.convert(src, dst)
        assert converters.read_safetensors(dst)[0]["gate"] == gate, (version, p.stdout)
        assert ("warning: LSTM gates" in p.stdout) == warn, (version, p.stdout)
    p = ctx.convert(src, dst, "--gate", "hard_sigmoid")
    assert converters.read_safetensors(dst)[0]["gate"] == "hard_sigmoid", p.stdout


def test_h5_afilm(ctx):
    h5_case(ctx, "afilm", 22, {"filters": "[16,16,32,32]", "bottleneck_filters": "32"})


# ----------------------------------------------------------------------------------------------
# Refusals
# ----------------------------------------------------------------------------------------------

def expect_refusal(ctx, src, needles, label, flags=()):
    dst = ctx.path("refused_%s.safetensors" % label)
    p = ctx.convert(src, dst, *flags, expect_rc=1)
    for needle in needles:
        assert needle in p.stderr, "%s: %r not in stderr:\n%s" % (label, needle, p.stderr)
    assert not os.path.exists(dst), "%s: output written despite the error" % label
    assert not any(f.startswith("refused_%s.safetensors" % label) for f in os.listdir(ctx.tmp)), \
        "%s: temporary output left behind" % label
    ctx.results.append("%-28s refused: %s" % ("refuse " + label,
                                              p.stderr.strip().splitlines()[0][:110]))


def torch_zip_with_pickle(path, payload):
    """A torch-style zip container whose data.pkl is `payload`."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/version", "3\n")


class _Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return (self.func, (self.arg,))


def test_refusals(ctx):
    marker = ctx.path("PWNED")
    # 1. A pickle that would run os.system on load: refused at the GLOBAL, nothing executed.
    evil = ctx.path("evil.pth")
    torch_zip_with_pickle(evil, pickle.dumps(
        collections.OrderedDict(a=1, b=_Evil(os.system, "touch " + marker)), protocol=2))
    expect_refusal(ctx, evil, ["refusing to load global 'posix.system'"], "os_system")
    assert not os.path.exists(marker), "the malicious pickle was executed"
    evil2 = ctx.path("evil_eval.pth")
    torch_zip_with_pickle(evil2, pickle.dumps(
        {"model_state_dict": _Evil(eval, "open(%r, 'w')" % marker)}, protocol=4))
    expect_refusal(ctx, evil2, ["refusing to load global 'builtins.eval'"], "builtins_eval")
    assert not os.path.exists(marker), "the malicious pickle was executed"
    # ... also when the bad global hides inside an otherwise genuine checkpoint.
    net, _, _ = make_pt_net("afilm", 1024, 31)
    sd = net.state_dict()
    good = ctx.path("good.pth")
    torch.save(sd, good)
    sneaky = ctx.path("sneaky.pth")
    torch.save({"model_state_dict": sd, "args": _Evil(os.system, "touch " + marker)}, sneaky)
    expect_refusal(ctx, sneaky, ["posix.system"], "inside_checkpoint")
    assert not os.path.exists(marker)

    # 2. Damaged containers.
    data = open(good, "rb").read()
    trunc = ctx.path("truncated.pth")
    with open(trunc, "wb") as fp:
        fp.write(data[: len(data) * 6 // 10])
    expect_refusal(ctx, trunc, ["not a readable zip archive"], "truncated_zip")
    corrupt = ctx.path("corrupt.pth")
    with zipfile.ZipFile(good) as zf:
        info = [i for i in zf.infolist() if "/data/" in i.filename][0]
    # local header: 30 bytes, then the name and the local extra field (torch pads it to align)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:
                                                   info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    blob = bytearray(data)
    blob[start + 8] ^= 0xFF
    with open(corrupt, "wb") as fp:
        fp.write(bytes(blob))
    expect_refusal(ctx, corrupt, ["cannot read record", info.filename], "corrupt_record")
    legacy = ctx.path("legacy.pth")
    with open(legacy, "wb") as fp:
        pickle.dump({"a": 1}, fp, protocol=2)
    expect_refusal(ctx, legacy, ["legacy"], "legacy_pickle")

    # 2b. Hostile containers (issue "Hostile input and faults"): each used to read, allocate or
    # print what the file asked for, or to succeed wrongly.
    bomb = ctx.path("zip_bomb.pth")
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:  # 128 MB of zeros in ~130 KB
        zf.writestr("archive/data.pkl", bytes(128 << 20))
        zf.writestr("archive/version", "3\n")
    expect_refusal(ctx, bomb, ["record archive/data.pkl declares 134217728 bytes, more than"],
                   "zip_bomb")
    sizer = ctx.path("sizer.pth")
    torch_zip_with_pickle(sizer, pickle.dumps({"model_state_dict": _Evil(bytearray, 10 ** 12)},
                                              protocol=2))
    expect_refusal(ctx, sizer, ["refusing bytearray(1000000000000)"], "pickle_sizes_allocation")
    # Found by fuzz/fuzz_convert.py: the C unpickler sizes memory from a memo index or a length
    # field before it sees any data (3 GB from a few hundred bytes).
    memo = ctx.path("memo_index.pth")
    torch_zip_with_pickle(memo, b"\x80\x02}r" + struct.pack("<I", 0x7FFFFFFF) + b".")
    expect_refusal(ctx, memo, ["memo index 2147483647 at byte 3 is absurd"], "pickle_memo_index")
    length = ctx.path("length_field.pth")
    torch_zip_with_pickle(length, b"\x80\x02X" + struct.pack("<I", 0x28000000) + b"ab.")
    expect_refusal(ctx, length, ["data.pkl is not a well-formed pickle"], "pickle_length_field")
    laughs = []
    for _ in range(40):  # 2^40 leaves by reference, a few hundred bytes pickled
        laughs = [laughs, laughs]

    class _LaughsPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return laughs if isinstance(obj, _Marker) else None

    class _Marker:
        pass

    buf = io.BytesIO()
    _LaughsPickler(buf, protocol=2).dump({"model_state_dict": {"w": _Marker()}})
    lol = ctx.path("billion_laughs.pth")
    torch_zip_with_pickle(lol, buf.getvalue())
    start = time.time()
    expect_refusal(ctx, lol, ["unexpected persistent id [[[["], "billion_laughs_repr")
    assert time.time() - start < 30, "the error message took %.0f s" % (time.time() - start)
    # A storage record longer than its tensor: refused, not silently cut.
    oversized = ctx.path("oversized.pth")
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(oversized, "w") as zout:
        grown = [i.filename for i in zin.infolist() if "/data/" in i.filename][0]
        for info in zin.infolist():
            data = zin.read(info.filename)
            zout.writestr(info.filename, data + bytes(64) if info.filename == grown else data)
    expect_refusal(ctx, oversized, ["storage record %s holds" % grown, "not a torch storage"],
                   "oversized_record")
    # A stride-0 view (one stored element broadcast to a whole tensor) would let the file size the
    # converter's allocation: refused.
    key = "afilm_down.2.transformer.enc_layers.1.dense1.weight"
    broadcast = collections.OrderedDict(sd)
    broadcast[key] = torch.zeros(1).expand(*sd[key].shape)
    p = ctx.path("broadcast.pth")
    torch.save(broadcast, p)
    expect_refusal(ctx, p, ["tensor of 1024 elements from a storage of 1"], "stride0_view")

    # 3. State dicts that do not fit the topology: each offending key is named.
    missing = collections.OrderedDict(sd)
    del missing["afilm_up.1.transformer.enc_layers.0.dense2.bias"]
    p = ctx.path("missing.pth")
    torch.save(missing, p)
    expect_refusal(ctx, p, ["missing: afilm_up.1.transformer.enc_layers.0.dense2.bias"],
                   "missing_key")
    wrong = collections.OrderedDict(sd)
    wrong["afilm_down.2.transformer.enc_layers.1.dense1.weight"] = torch.zeros(33, 32)
    p = ctx.path("wrong_shape.pth")
    torch.save(wrong, p)
    expect_refusal(ctx, p, ["wrong shape: afilm_down.2.transformer.enc_layers.1.dense1.weight: "
                            "(33, 32), expected (32, 32)"], "wrong_shape")
    extra = collections.OrderedDict(sd)
    extra["afilm_up.0.transformer.enc_layers.2.dense1.weight"] = torch.zeros(32, 32)
    p = ctx.path("unexpected.pth")
    torch.save(extra, p)
    expect_refusal(ctx, p, ["unexpected: afilm_up.0.transformer.enc_layers.2.dense1.weight"],
                   "unexpected_key")
    pe = collections.OrderedDict(sd)
    pe["afilm_down.0.transformer.pos_encoding"] = torch.zeros(1, 5, 16)
    p = ctx.path("bad_pe.pth")
    torch.save(pe, p)
    expect_refusal(ctx, p, ["afilm_down.1.transformer.pos_encoding has 4 rows, but input length "
                            "1280 gives 5"], "pos_encoding_rows")
    # a pos_encoding table with other values only warns (the engine computes the formula)
    pe = collections.OrderedDict(sd)
    pe["afilm_up.2.transformer.pos_encoding"] = pe["afilm_up.2.transformer.pos_encoding"] + 0.01
    p = ctx.path("pe_values.pth")
    torch.save(pe, p)
    out = ctx.convert(p, ctx.path("pe_values.safetensors")).stdout
    assert "warning: stored pos_encoding tables differ" in out, out

    # 4. Ours, twice.
    ours = ctx.path("ours.safetensors")
    ctx.convert(good, ours)
    expect_refusal(ctx, ours, ["already converted"], "already_converted")

    # 5. Keras files with layers that do not fit.
    meta = canonical_meta("tfilm")
    cfg = ref.parse_config(meta)
    w = {n: np.zeros(s, np.float32) for n, s in ref.expected_shapes(cfg).items()}
    layers = keras_tiny.keras_layers(cfg, w)
    bad_layers = []
    for lname, cls, wl in layers:
        if lname == "conv1d_6":       # U2: (9, 32, 32) expected
            wl = [(wl[0][0], np.zeros((9, 32, 31), np.float32)), (wl[1][0],
                                                                  np.zeros(31, np.float32))]
        bad_layers.append((lname, cls, wl))
    p = ctx.path("bad_conv.h5")
    keras_tiny.write_h5(p, cfg, w, input_length=1024, layer_list=bad_layers)
    expect_refusal(ctx, p, ["layer 'conv1d_6' (used as up.2.conv): kernel (9, 32, 31)",
                            "expected (9, 32, 32)"], "h5_conv_shape")
    swapped = list(layers)
    i = [n for n, _, _ in swapped].index("t_fi_lm_2")
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]      # FiLM after the next conv
    swapped[i - 1], swapped[i] = swapped[i], swapped[i - 1]
    p = ctx.path("bad_order.h5")
    keras_tiny.write_h5(p, cfg, w, input_length=1024, layer_list=swapped)
    expect_refusal(ctx, p, ["not in U-Net order"], "h5_layer_order")
    odd = [(n, c, wl[:2] if n == "t_fi_lm_1" else wl) for n, c, wl in layers]
    p = ctx.path("bad_lstm.h5")
    keras_tiny.write_h5(p, cfg, w, input_length=1024, layer_list=odd)
    expect_refusal(ctx, p, ["t_fi_lm_1"], "h5_lstm_weights")


def test_inspect(ctx):
    net, _, _ = make_pt_net("afilm", 1024, 41)
    src = ctx.path("inspect.pth")
    torch.save(net.state_dict(), src)
    dst = ctx.path("inspect.safetensors")
    ctx.convert(src, dst)
    count = sum(int(np.prod(a.shape)) for a in converters.read_safetensors(dst)[1].values())
    for f, needles in ((src, ["PyTorch port", "converted (what convert.py writes)",
                              "afilm_down.0.transformer.pos_encoding"]),
                       (dst, ["our format", "patch_length = 1024"])):
        out = ctx.run([PYTHON, INSPECT, f, "--source"]).stdout
        for needle in needles + ["%d parameters" % count, "down.0.film.layers.1.ff2.weight"]:
            assert needle in out, "inspect %s: %r missing:\n%s" % (f, needle, out[:2000])
    meta = canonical_meta("tfilm")
    cfg = ref.parse_config(meta)
    w = {n: np.zeros(s, np.float32) for n, s in ref.expected_shapes(cfg).items()}
    h5 = ctx.path("inspect.h5")
    keras_tiny.write_h5(h5, cfg, w, input_length=1024)
    out = ctx.run([PYTHON, INSPECT, h5, "--source"]).stdout
    count = sum(a.size for a in w.values())
    for needle in ("full Keras model", "%d parameters" % count, "t_fi_lm_4/lstm_cell_4/kernel:0",
                   "bottleneck.film.lstm.recurrent_kernel"):
        assert needle in out, "inspect h5: %r missing:\n%s" % (needle, out[:2000])


def full_size_check(ctx, tsv):
    """Opt-in (--full-size TSV): the real PT AFiLMNet key set and shapes, from
    shared/spec/afilm_port_state_dict.tsv (input length 8192 column), zero weights and the real
    positional encodings -> training dict -> convert.py -> sr-model info. Conversion only (no
    inference): ~540 MB of float32, a few seconds."""
    sd = collections.OrderedDict()
    for line in open(tsv):
        if line.startswith("#") or not line.strip():
            continue
        _, key, kind, shape8192, _ = line.rstrip("\n").split("\t")
        shape = tuple(int(s) for s in shape8192.split("x"))
        if key.endswith("pos_encoding"):
            sd[key] = pt_tiny.pt_positional_encoding(shape[1], shape[2])
        else:
            sd[key] = torch.zeros(shape)
    assert len(sd) == 605, len(sd)
    src = ctx.path("full_size.pth")
    torch.save({"epoch": 1, "model_state_dict": sd, "args": train_args(r=2)}, src)
    del sd
    dst = ctx.path("full_size.safetensors")
    start = time.time()
    ctx.convert(src, dst)
    seconds = time.time() - start
    meta, entries, _ = converters.read_safetensors_header(dst)
    count = sum(int(np.prod(s)) for _, s, _ in entries.values())
    assert count == 134723842, count
    assert meta["patch_length"] == "8192" and meta["ratio"] == "2", meta
    assert meta["filters"] == "[128,256,512,512]" and meta["ff_dim"] == "2048", meta
    info = ctx.run([os.path.join(ctx.bin_dir, "sr-model"), "info", dst]).stdout
    assert "134723842 parameters" in info, info
    ctx.results.append("%-28s 605 PT keys -> %d tensors, %d parameters, patch 8192, ratio 2; "
                       "convert.py %.1f s" % ("full_size_pt_afilm", len(entries), count, seconds))


TESTS = [test_pt_afilm_1024, test_pt_afilm_8192, test_pt_tfilm, test_h5_tfilm, test_h5_afilm,
         test_refusals, test_inspect]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("bin_dir", help="folder with sr-infer and sr-model")
    p.add_argument("--keep", help="write fixtures here and keep them")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("-k", help="run only tests whose name contains this")
    p.add_argument("--full-size", metavar="TSV",
                   help="also convert a full-size PT AFiLMNet key set built from this "
                        "afilm_port_state_dict.tsv (zeros; ~540 MB, conversion only)")
    args = p.parse_args()
    for tool in ("sr-infer", "sr-model"):
        if not os.access(os.path.join(args.bin_dir, tool), os.X_OK):
            print("missing %s in %s" % (tool, args.bin_dir), file=sys.stderr)
            return 2
    tmp = args.keep or tempfile.mkdtemp(prefix="weights_tools_test_")
    os.makedirs(tmp, exist_ok=True)
    ctx = Ctx(os.path.abspath(args.bin_dir), tmp, args.verbose)
    failed = []
    print("weights_tools tests (%s; fixtures in %s)" % (VERSIONS, tmp))
    try:
        for test in TESTS:
            if args.k and args.k not in test.__name__:
                continue
            start = time.time()
            try:
                test(ctx)
                print("PASS %-22s (%.1f s)" % (test.__name__, time.time() - start))
            except Exception:
                failed.append(test.__name__)
                print("FAIL %s\n%s" % (test.__name__, traceback.format_exc()))
        if args.full_size:
            start = time.time()
            try:
                full_size_check(ctx, args.full_size)
                print("PASS %-22s (%.1f s)" % ("full_size_check", time.time() - start))
            except Exception:
                failed.append("full_size_check")
                print("FAIL full_size_check\n%s" % traceback.format_exc())
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(ctx.results))
    print("%d failed: %s" % (len(failed), ", ".join(failed)) if failed else "all passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
