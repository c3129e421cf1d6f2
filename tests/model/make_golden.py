"""Generates the golden fixtures tests/fixtures/golden_<name>{.safetensors,_input.npy,_output.npy}.

Usage:  /usr/bin/python3 tests/model/make_golden.py [--verbose] [--out DIR]

Every fixture is a tiny random network (fixed seeds, so re-running rewrites identical files) in the
canonical weights format, an input batch (B, L) float32 and the reference output (B, L) computed by
reference_net.py in float64 and then cast to float32. Before writing anything the script
cross-checks pieces of the reference against independent implementations (naive loops,
torch.nn.LSTM, torch.nn.TransformerEncoderLayer) and checks the safetensors round trip.
"""

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_net as ref  # noqa: E402

torch.set_num_threads(2)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_FILE_BYTES = 1 << 20


# ----------------------------------------------------------------------------------------------
# Minimal safetensors writer / reader (F32 only)
# ----------------------------------------------------------------------------------------------

def safetensors_bytes(tensors, metadata):
    """u64 LE header length N, N bytes of JSON (space padded so data starts at a multiple of 8),
    then the tensors back to back in sorted-name order, little-endian float32."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(np.asarray(tensors[name], dtype="<f4"))
        blob = arr.tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_safetensors(data):
    """bytes -> (metadata dict, {name: float32 array}); strict about layout."""
    (n,) = struct.unpack("<Q", data[:8])
    assert (8 + n) % 8 == 0, "data section not 8-aligned"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, expect = {}, 0
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        info = header[name]
        assert info["dtype"] == "F32"
        begin, end = info["data_offsets"]
        assert begin == expect, "tensors not contiguous"
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == 4 * count
        tensors[name] = np.frombuffer(body[begin:end], dtype="<f4").reshape(info["shape"]).copy()
        expect = end
    assert expect == len(body), "trailing bytes after the last tensor"
    return metadata, tensors


# ----------------------------------------------------------------------------------------------
# Fixture definitions
# ----------------------------------------------------------------------------------------------

BASE_META = {
    "format": "audio-sr-weights",
    "format_version": "1",
    "dilation": "2",
    "leaky_alpha": "0.2",
    "block_policy": "tf",
    "base_block": "128",
    "subpixel_order": "tf",
    "gate": "sigmoid",
    "attention_layers": "4",
    "attention_heads": "8",
    "ff_dim": "2048",
    "layer_norm_eps": "1e-06",
    "sample_rate": "16000",
    "ratio": "2",
}

FIXTURES = [
    # name, seed, batch, length, metadata overrides
    ("tfilm", 1001, 2, 512, {
        "arch": "tfilm", "layers": "4", "filters": "[8,16,16,16]", "kernels": "[17,9,9,5]",
        "bottleneck_filters": "16", "bottleneck_kernel": "5", "final_kernel": "9",
        "block_policy": "tf", "subpixel_order": "tf", "gate": "sigmoid", "base_block": "128"}),
    # base_block 32 (not 128): with L = 256 and the pt policy, 128 would make every FiLM a
    # single block (N = 1) and leave the LSTM recurrence untested; 32 gives N = 4 everywhere.
    ("tfilm_hard", 1002, 3, 256, {
        "arch": "tfilm", "layers": "3", "filters": "[8,16,16]", "kernels": "[17,9,9]",
        "bottleneck_filters": "16", "bottleneck_kernel": "9", "final_kernel": "9",
        "block_policy": "pt", "subpixel_order": "pt", "gate": "hard_sigmoid", "base_block": "32"}),
    # base_block 32: N = 8 blocks at every FiLM site (128 would give N = 2).
    ("afilm", 1003, 2, 512, {
        "arch": "afilm", "layers": "4", "filters": "[16,16,32,32]", "kernels": "[17,9,9,5]",
        "bottleneck_filters": "32", "bottleneck_kernel": "5", "final_kernel": "9",
        "block_policy": "pt", "subpixel_order": "pt", "base_block": "32",
        "attention_layers": "2", "attention_heads": "8", "ff_dim": "32"}),
    ("audiounet", 1004, 1, 128, {
        "arch": "audiounet", "layers": "2", "filters": "[8,16]", "kernels": "[9,9]",
        "bottleneck_filters": "16", "bottleneck_kernel": "9", "final_kernel": "9",
        "block_policy": "tf", "subpixel_order": "tf"}),
]

META_ORDER = ["format", "format_version", "arch", "layers", "filters", "kernels",
              "bottleneck_filters", "bottleneck_kernel", "final_kernel", "dilation", "leaky_alpha",
              "block_policy", "base_block", "subpixel_order", "gate", "attention_layers",
              "attention_heads", "ff_dim", "layer_norm_eps", "patch_length", "sample_rate", "ratio"]


def fixture_metadata(length, overrides):
    meta = dict(BASE_META)
    meta.update(overrides)
    meta["patch_length"] = str(length)
    assert sorted(meta) == sorted(META_ORDER), sorted(set(meta) ^ set(META_ORDER))
    return {k: meta[k] for k in META_ORDER}


# ----------------------------------------------------------------------------------------------
# Random weights and inputs
# ----------------------------------------------------------------------------------------------

def uniform(rng, shape, bound):
    return rng.uniform(-bound, bound, size=shape)


def random_weights(cfg, rng):
    """float64 random weights for every tensor of expected_shapes(cfg) (conv scales calibrated
    later by calibrate_convs)."""
    w = {}
    for name, k, cin, cout in ref.conv_shapes(cfg):
        w[name + ".weight"] = uniform(rng, (k, cin, cout), np.sqrt(3.0 / (cin * k)))
        w[name + ".bias"] = uniform(rng, (cout,), 0.05)
    for prefix, c in ref.film_sites(cfg):
        if cfg["arch"] == "tfilm":
            bound = 1.0 / np.sqrt(c)
            w[prefix + ".lstm.kernel"] = uniform(rng, (c, 4 * c), bound)
            w[prefix + ".lstm.recurrent_kernel"] = uniform(rng, (c, 4 * c), bound)
            w[prefix + ".lstm.bias"] = uniform(rng, (4 * c,), bound)
        elif cfg["arch"] == "afilm":
            ff = cfg["ff_dim"]
            for j in range(cfg["attention_layers"]):
                p = "%s.layers.%d." % (prefix, j)
                for proj in ("query", "key", "value", "out"):
                    w[p + "attn.%s.weight" % proj] = uniform(rng, (c, c), np.sqrt(3.0 / c))
                    w[p + "attn.%s.bias" % proj] = uniform(rng, (c,), 0.05)
                # Keep every softmax between one-hot and uniform, so the golden output depends on
                # the attention scores: layer 0 sees z = p*sqrt(d) + PE (RMS ~ sqrt(d)), so its
                # queries are shrunk; later layers see LayerNorm output (RMS ~ 1) and their
                # queries are enlarged (otherwise the attention is almost uniform).
                w[p + "attn.query.weight"] *= (1.0 / np.sqrt(c)) if j == 0 else 3.0
                w[p + "ff1.weight"] = uniform(rng, (c, ff), np.sqrt(6.0 / c))
                w[p + "ff1.bias"] = uniform(rng, (ff,), 0.05)
                w[p + "ff2.weight"] = uniform(rng, (ff, c), np.sqrt(3.0 / ff))
                w[p + "ff2.bias"] = uniform(rng, (c,), 0.05)
                for norm in ("norm1", "norm2"):
                    w[p + norm + ".gamma"] = 1.0 + uniform(rng, (c,), 0.1)
                    w[p + norm + ".beta"] = uniform(rng, (c,), 0.1)
    assert {n: a.shape for n, a in w.items()} == ref.expected_shapes(cfg)
    return w


def as_f32(weights):
    return {n: np.asarray(a, dtype=np.float32) for n, a in weights.items()}


def rms(a):
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a)))


def run_reference(meta, weights, x, trace=None, dtype=torch.float64):
    net = ref.ReferenceNet(meta, weights, dtype=dtype)
    stats = {}
    if trace is not None:
        net.trace = lambda name, t: stats.__setitem__(name, rms(t.numpy()))
    with torch.no_grad():
        y = net.forward(x).numpy().astype(np.float64)
    return y, stats


def discrimination_report(meta, weights, x, y):
    """How far the golden output is from (a) the same reference run in float32 (an estimate of an
    engine's rounding error) and (b) the outputs of spec variants an engine could mix up. Each
    variant must move the output far more than float32 rounding does, or the fixture is useless."""
    cfg = ref.parse_config(meta)
    net_rms = rms(y - x)
    y32, _ = run_reference(meta, weights, x, dtype=torch.float32)
    f32_err = float(np.max(np.abs(y32 - y)))
    lines = ["float32 run max|diff| %.2e" % f32_err]
    flips = [("subpixel_order", {"tf": "pt", "pt": "tf"})]
    if cfg["arch"] != "audiounet":
        flips.append(("block_policy", {"tf": "pt", "pt": "tf"}))
    if cfg["arch"] == "tfilm":
        flips.append(("gate", {"sigmoid": "hard_sigmoid", "hard_sigmoid": "sigmoid"}))
    for key, swap in flips:
        variant = dict(meta, **{key: swap[meta[key]]})
        yv, _ = run_reference(variant, weights, x)
        diff = float(np.max(np.abs(yv - y)))
        lines.append("%s=%s max|diff| %.2e (%.0f%% of net RMS)" % (
            key, variant[key], diff, 100 * rms(yv - y) / net_rms))
        # block_policy only matters where the two policies give different sizes
        s_down, s_b, s_up = ref.block_sizes(cfg, x.shape[1])
        if not (key == "block_policy" and s_up == s_down and s_up == [s_b] * len(s_up)):
            assert diff > 1000 * f32_err, (key, diff, f32_err)
    return "; ".join(lines)


def calibrate_convs(meta, weights, x):
    """Data-dependent scaling (LSUV-like), conv by conv in execution order: hidden conv outputs get
    RMS ~1 and the final conv RMS ~ RMS(input), so net(x) is comparable to x. Scale factors are
    rounded to 3 significant digits so the result does not hinge on the last bits."""
    cfg = ref.parse_config(meta)
    target_final = rms(x)
    for name, _, _, _ in ref.conv_shapes(cfg):
        _, stats = run_reference(meta, as_f32(weights), x, trace=True)
        target = target_final if name == "final.conv" else 1.0
        scale = float("%.3g" % (target / stats[name]))
        weights[name + ".weight"] = weights[name + ".weight"] * scale
        weights[name + ".bias"] = weights[name + ".bias"] * scale
    return weights


def random_input(rng, batch, length):
    """Sum of a few sines (a smooth spline-upsampled-looking signal) plus a little noise, peak ~0.5."""
    t = np.arange(length, dtype=np.float64)
    x = np.zeros((batch, length))
    for b in range(batch):
        for _ in range(4):
            freq = rng.uniform(0.002, 0.12)          # cycles per sample
            x[b] += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        x[b] += 0.05 * rng.standard_normal(length)
        x[b] *= 0.5 / np.max(np.abs(x[b]))
    return x.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Cross-checks of reference pieces against independent implementations
# ----------------------------------------------------------------------------------------------

def check_conv(rng):
    for k, dil, cin, cout, length in [(5, 2, 3, 4, 23), (9, 1, 2, 3, 16), (3, 3, 1, 2, 7)]:
        x = rng.standard_normal((2, length, cin))
        w = rng.standard_normal((k, cin, cout))
        b = rng.standard_normal(cout)
        naive = np.zeros((2, length, cout))
        for bb in range(2):
            for t in range(length):
                for co in range(cout):
                    acc = b[co]
                    for j in range(k):
                        src = t + dil * (j - (k - 1) // 2)
                        if 0 <= src < length:
                            for ci in range(cin):
                                acc += w[j, ci, co] * x[bb, src, ci]
                    naive[bb, t, co] = acc
        got = ref.conv1d_same(torch.tensor(x), torch.tensor(w), torch.tensor(b), dil).numpy()
        err = np.max(np.abs(got - naive))
        assert err < 1e-12, ("conv", k, dil, err)


def check_subpixel_and_pool(rng):
    x = rng.standard_normal((2, 5, 6))
    c = 3
    for order in ("tf", "pt"):
        naive = np.zeros((2, 10, c))
        for b in range(2):
            for w in range(5):
                for k in range(2):
                    for ch in range(c):
                        naive[b, 2 * w + k, ch] = x[b, w, k * c + ch] if order == "tf" else x[b, w, 2 * ch + k]
        assert np.array_equal(ref.subpixel(torch.tensor(x), order).numpy(), naive), order
    x = rng.standard_normal((2, 12, 3))
    p = ref.block_maxpool(torch.tensor(x), 4).numpy()
    m = rng.standard_normal((2, 3, 3))
    y = ref.modulate(torch.tensor(x), torch.tensor(m), 4).numpy()
    for n in range(3):
        assert np.array_equal(p[:, n], x[:, 4 * n:4 * n + 4].max(axis=1))
        assert np.array_equal(y[:, 4 * n:4 * n + 4], x[:, 4 * n:4 * n + 4] * m[:, n:n + 1])
    assert ref.maxpool2(torch.tensor(rng.standard_normal((1, 7, 2)))).shape == (1, 3, 2)


def check_block_sizes():
    meta = fixture_metadata(8192, dict(FIXTURES[0][4], layers="4", filters="[1,1,1,1]",
                                       kernels="[1,1,1,1]"))
    cfg = ref.parse_config(meta)
    assert ref.block_sizes(cfg, 8192) == ([128, 64, 32, 16], 8, [8, 8, 8, 8])   # spec 1.2, TF
    cfg["block_policy"] = "pt"
    assert ref.block_sizes(cfg, 8192) == ([128, 64, 32, 16], 8, [128, 64, 32, 16])  # spec 1.2, PT
    assert ref.block_sizes(cfg, 1024) == ([128, 64, 32, 16], 8, [128, 64, 32, 16])
    assert ref.block_sizes(cfg, 256) == ([128, 64, 32, 16], 8, [128, 64, 32, 16])
    assert ref.block_sizes(cfg, 64) == ([32, 16, 8, 4], 2, [32, 16, 8, 4])


def check_lstm(rng):
    c_in, c, n, bsz = 6, 5, 7, 3
    kernel = rng.uniform(-0.6, 0.6, (c_in, 4 * c))
    rec = rng.uniform(-0.6, 0.6, (c, 4 * c))
    bias = rng.uniform(-0.6, 0.6, 4 * c)
    p = rng.standard_normal((bsz, n, c_in))
    ours = ref.lstm(torch.tensor(p), torch.tensor(kernel), torch.tensor(rec), torch.tensor(bias),
                    "sigmoid").numpy()
    mod = torch.nn.LSTM(c_in, c, batch_first=True).double()
    with torch.no_grad():
        # Keras (in, 4C) column blocks [i f g o] -> torch (4C, in) row blocks [i f g o]: transpose.
        mod.weight_ih_l0.copy_(torch.tensor(kernel.T))
        mod.weight_hh_l0.copy_(torch.tensor(rec.T))
        mod.bias_ih_l0.copy_(torch.tensor(bias))
        mod.bias_hh_l0.zero_()                       # torch adds both biases
        theirs = mod(torch.tensor(p))[0].numpy()
    err = np.max(np.abs(ours - theirs))
    assert err < 1e-12, ("lstm", err)
    # hard_sigmoid: one step by hand (h0 = c0 = 0, so only the kernel and bias matter).
    z = p[:, 0] @ kernel + bias
    hs = lambda v: np.clip(0.2 * v + 0.5, 0.0, 1.0)  # noqa: E731
    cell = hs(z[:, :c]) * np.tanh(z[:, 2 * c:3 * c])
    h1 = hs(z[:, 3 * c:]) * np.tanh(cell)
    ours_hard = ref.lstm(torch.tensor(p), torch.tensor(kernel), torch.tensor(rec),
                         torch.tensor(bias), "hard_sigmoid").numpy()
    assert np.max(np.abs(ours_hard[:, 0] - h1)) < 1e-14


def check_transformer(rng):
    d, heads, ff, n, bsz, nl = 16, 4, 24, 6, 2, 2
    cfg = {"attention_layers": nl, "attention_heads": heads, "layer_norm_eps": 1e-6}
    w = {}
    prefix = "t"
    for j in range(nl):
        p = "%s.layers.%d." % (prefix, j)
        for proj in ("query", "key", "value", "out"):
            w[p + "attn.%s.weight" % proj] = rng.uniform(-0.4, 0.4, (d, d))
            w[p + "attn.%s.bias" % proj] = rng.uniform(-0.1, 0.1, d)
        w[p + "ff1.weight"] = rng.uniform(-0.4, 0.4, (d, ff))
        w[p + "ff1.bias"] = rng.uniform(-0.1, 0.1, ff)
        w[p + "ff2.weight"] = rng.uniform(-0.3, 0.3, (ff, d))
        w[p + "ff2.bias"] = rng.uniform(-0.1, 0.1, d)
        for norm in ("norm1", "norm2"):
            w[p + norm + ".gamma"] = 1 + rng.uniform(-0.1, 0.1, d)
            w[p + norm + ".beta"] = rng.uniform(-0.1, 0.1, d)
    wt = {k: torch.tensor(v) for k, v in w.items()}
    pooled = rng.standard_normal((bsz, n, d)) * 0.3
    ours = ref.transformer(torch.tensor(pooled), wt, prefix, cfg).numpy()

    # Independent: PE by numpy loop, torch.nn.TransformerEncoderLayer (post-LN, relu, no dropout).
    pe = np.zeros((n, d))
    for pos in range(n):
        for i in range(d):
            ang = pos / 10000.0 ** (2 * (i // 2) / d)
            pe[pos, i] = np.sin(ang) if i % 2 == 0 else np.cos(ang)
    z = torch.tensor(pooled * np.sqrt(d) + pe)
    for j in range(nl):
        p = "%s.layers.%d." % (prefix, j)
        layer = torch.nn.TransformerEncoderLayer(d, heads, dim_feedforward=ff, dropout=0.0,
                                                 activation="relu", layer_norm_eps=1e-6,
                                                 batch_first=True, norm_first=False).double()
        layer.train()  # no dropout anyway (p = 0); train() keeps torch off its fused fast path
        with torch.no_grad():
            # Our dense weights are (in, out); nn.Linear / in_proj want (out, in): transpose.
            layer.self_attn.in_proj_weight.copy_(torch.cat(
                [wt[p + "attn.query.weight"].T, wt[p + "attn.key.weight"].T,
                 wt[p + "attn.value.weight"].T]))
            layer.self_attn.in_proj_bias.copy_(torch.cat(
                [wt[p + "attn.query.bias"], wt[p + "attn.key.bias"], wt[p + "attn.value.bias"]]))
            layer.self_attn.out_proj.weight.copy_(wt[p + "attn.out.weight"].T)
            layer.self_attn.out_proj.bias.copy_(wt[p + "attn.out.bias"])
            layer.linear1.weight.copy_(wt[p + "ff1.weight"].T)
            layer.linear1.bias.copy_(wt[p + "ff1.bias"])
            layer.linear2.weight.copy_(wt[p + "ff2.weight"].T)
            layer.linear2.bias.copy_(wt[p + "ff2.bias"])
            layer.norm1.weight.copy_(wt[p + "norm1.gamma"])
            layer.norm1.bias.copy_(wt[p + "norm1.beta"])
            layer.norm2.weight.copy_(wt[p + "norm2.gamma"])
            layer.norm2.bias.copy_(wt[p + "norm2.beta"])
            z = layer(z)
    err = np.max(np.abs(ours - z.numpy()))
    assert err < 1e-10, ("transformer", err)


def run_cross_checks():
    rng = np.random.default_rng(7)
    check_conv(rng)
    check_subpixel_and_pool(rng)
    check_block_sizes()
    check_lstm(rng)
    check_transformer(rng)
    # safetensors round trip including shape edge cases
    t = {"b": rng.standard_normal((3,)).astype(np.float32),
         "a.w": rng.standard_normal((2, 3, 1)).astype(np.float32),
         "c": rng.standard_normal((1,)).astype(np.float32)}
    data = safetensors_bytes(t, {"k": "v"})
    meta, back = read_safetensors(data)
    assert meta == {"k": "v"} and sorted(back) == sorted(t)
    assert all(np.array_equal(back[k], t[k]) for k in t)
    print("cross-checks passed: conv (naive loop), subpixel/pool/modulate (loops), block sizes "
          "(spec 1.2 table), LSTM (torch.nn.LSTM, hard_sigmoid by hand), transformer "
          "(torch.nn.TransformerEncoderLayer), safetensors round trip")


# ----------------------------------------------------------------------------------------------

def make_fixture(name, seed, batch, length, overrides, out_dir, verbose):
    meta = fixture_metadata(length, overrides)
    cfg = ref.parse_config(meta)
    rng = np.random.default_rng(seed)
    x = random_input(rng, batch, length)
    weights = calibrate_convs(meta, random_weights(cfg, rng), x)
    weights = as_f32(weights)

    y, stats = run_reference(meta, weights, x, trace=True)
    y32 = y.astype(np.float32)
    net_rms = rms(y - x.astype(np.float64))

    blob = safetensors_bytes(weights, meta)
    meta_back, weights_back = read_safetensors(blob)
    assert meta_back == meta
    assert sorted(weights_back) == sorted(weights)
    assert all(np.array_equal(weights_back[k], weights[k]) for k in weights)
    # The reference run from the round-tripped file must agree bit for bit.
    y_back, _ = run_reference(meta_back, weights_back, x)
    assert np.array_equal(y_back, y)

    paths = {
        "weights": os.path.join(out_dir, "golden_%s.safetensors" % name),
        "input": os.path.join(out_dir, "golden_%s_input.npy" % name),
        "output": os.path.join(out_dir, "golden_%s_output.npy" % name),
    }
    with open(paths["weights"], "wb") as f:
        f.write(blob)
    np.save(paths["input"], x)
    np.save(paths["output"], y32)
    for p in paths.values():
        assert os.path.getsize(p) < MAX_FILE_BYTES, p
    with open(paths["weights"], "rb") as f:
        assert f.read() == blob
    assert np.array_equal(np.load(paths["input"]), x) and np.array_equal(np.load(paths["output"]), y32)

    s_down, s_b, s_up = ref.block_sizes(cfg, length)
    n_params = sum(a.size for a in weights.values())
    print("golden_%s: arch %s B=%d L=%d params=%d blocks down %s bottleneck %d up %s" % (
        name, cfg["arch"], batch, length, n_params, s_down, s_b, s_up))
    print("  input RMS %.4f  output RMS %.4f  net(x) RMS %.4f  max|out| %.4f" % (
        rms(x), rms(y), net_rms, float(np.max(np.abs(y)))))
    print("  sizes: %s" % ", ".join("%s %d B" % (os.path.basename(p), os.path.getsize(p))
                                    for p in paths.values()))
    print("  " + discrimination_report(meta, weights, x.astype(np.float64), y))
    if verbose:
        for k, v in stats.items():
            print("    %-22s RMS %.4f" % (k, v))
    assert 0.3 < net_rms / rms(x) < 3.0, "net(x) should be comparable to x"
    assert np.all(np.isfinite(y))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true", help="print per-layer activation RMS")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    run_cross_checks()
    for name, seed, batch, length, overrides in FIXTURES:
        make_fixture(name, seed, batch, length, overrides, args.out, args.verbose)


if __name__ == "__main__":
    main()
