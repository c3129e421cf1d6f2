"""Independent float64 PyTorch reference of the audio super-resolution U-Net family.

Written from /work/shared/spec/MODELS.md sections 1-4 and the canonical weight layout used by the
C++ engine (see tests/model/README.md). It is deliberately small and explicit: every layout
conversion between our channels-last canonical tensors and torch's channels-first ops is spelled
out, so that this file is a check of the spec and not a copy of the engine.

Canonical layout
  activations   (B, L, C)          channels-last
  conv weight   (K, Cin, Cout)     y[t,co] = b[co] + sum_j sum_ci W[j,ci,co] x[t + d(j-(K-1)/2), ci]
  dense weight  (in, out)          y = x W + b
  lstm kernel   (C, 4C)            column blocks [i f g o]

Inference only: every dropout of the originals is the identity.

Run with Debian's interpreter (/usr/bin/python3, torch 1.13 CPU).
"""

import json
import math

import numpy as np
import torch
import torch.nn.functional as F

DTYPE = torch.float64


# ----------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------

def parse_config(meta):
    """safetensors __metadata__ (all values strings) -> typed config dict."""
    cfg = {
        "arch": meta["arch"],
        "layers": int(meta["layers"]),
        "filters": [int(v) for v in json.loads(meta["filters"])],
        "kernels": [int(v) for v in json.loads(meta["kernels"])],
        "bottleneck_filters": int(meta["bottleneck_filters"]),
        "bottleneck_kernel": int(meta["bottleneck_kernel"]),
        "final_kernel": int(meta["final_kernel"]),
        "dilation": int(meta["dilation"]),
        "leaky_alpha": float(meta["leaky_alpha"]),
        "block_policy": meta["block_policy"],
        "base_block": int(meta["base_block"]),
        "subpixel_order": meta["subpixel_order"],
        # Keys of the other FiLM kind are absent from files the engine writes: defaults apply.
        "gate": meta.get("gate", "sigmoid"),
        "attention_layers": int(meta.get("attention_layers", "4")),
        "attention_heads": int(meta.get("attention_heads", "8")),
        "ff_dim": int(meta.get("ff_dim", "2048")),
        "layer_norm_eps": float(meta.get("layer_norm_eps", "1e-06")),
        "patch_length": int(meta["patch_length"]),
    }
    assert meta["format"] == "audio-sr-weights" and meta["format_version"] == "1"
    assert cfg["arch"] in ("audiounet", "tfilm", "afilm")
    assert cfg["block_policy"] in ("tf", "pt")
    assert cfg["subpixel_order"] in ("tf", "pt")
    assert cfg["gate"] in ("sigmoid", "hard_sigmoid")
    assert len(cfg["filters"]) == cfg["layers"] and len(cfg["kernels"]) == cfg["layers"]
    return cfg


def block_sizes(cfg, length):
    """FiLM block sizes (spec 1.2): (S_down[l], S_b, S_up[l])."""
    layers, base = cfg["layers"], cfg["base_block"]
    steps = [length >> (l + 1) for l in range(layers)]          # sequence length at level l
    s_down = [max(1, min(steps[l], base >> l)) for l in range(layers)]
    s_b = max(1, min(length >> (layers + 1), base >> layers))
    if cfg["block_policy"] == "pt":
        s_up = list(s_down)
    else:  # TF originals: every up block reuses the bottleneck's block size
        s_up = [s_b] * layers
    return s_down, s_b, s_up


def film_sites(cfg):
    """[(prefix, channels)] of every FiLM block, in execution order."""
    layers, f = cfg["layers"], cfg["filters"]
    sites = [("down.%d.film" % l, f[l]) for l in range(layers)]
    sites.append(("bottleneck.film", cfg["bottleneck_filters"]))
    sites += [("up.%d.film" % l, f[l]) for l in reversed(range(layers))]
    return sites


def conv_shapes(cfg):
    """[(prefix, K, Cin, Cout)] of every conv, in execution order."""
    layers, f, k = cfg["layers"], cfg["filters"], cfg["kernels"]
    convs = []
    for l in range(layers):
        convs.append(("down.%d.conv" % l, k[l], 1 if l == 0 else f[l - 1], f[l]))
    convs.append(("bottleneck.conv", cfg["bottleneck_kernel"], f[layers - 1],
                  cfg["bottleneck_filters"]))
    for l in reversed(range(layers)):
        cin = cfg["bottleneck_filters"] if l == layers - 1 else 2 * f[l + 1]
        convs.append(("up.%d.conv" % l, k[l], cin, 2 * f[l]))
    convs.append(("final.conv", cfg["final_kernel"], 2 * f[0], 2))
    return convs


def expected_shapes(cfg):
    """name -> shape of every tensor a weights file for this config must hold (and no other)."""
    shapes = {}
    for name, k, cin, cout in conv_shapes(cfg):
        shapes[name + ".weight"] = (k, cin, cout)
        shapes[name + ".bias"] = (cout,)
    for prefix, c in film_sites(cfg):
        if cfg["arch"] == "tfilm":
            shapes[prefix + ".lstm.kernel"] = (c, 4 * c)
            shapes[prefix + ".lstm.recurrent_kernel"] = (c, 4 * c)
            shapes[prefix + ".lstm.bias"] = (4 * c,)
        elif cfg["arch"] == "afilm":
            ff = cfg["ff_dim"]
            for j in range(cfg["attention_layers"]):
                p = "%s.layers.%d." % (prefix, j)
                for proj in ("query", "key", "value", "out"):
                    shapes[p + "attn.%s.weight" % proj] = (c, c)
                    shapes[p + "attn.%s.bias" % proj] = (c,)
                shapes[p + "ff1.weight"] = (c, ff)
                shapes[p + "ff1.bias"] = (ff,)
                shapes[p + "ff2.weight"] = (ff, c)
                shapes[p + "ff2.bias"] = (c,)
                for norm in ("norm1", "norm2"):
                    shapes[p + norm + ".gamma"] = (c,)
                    shapes[p + norm + ".beta"] = (c,)
    return shapes


# ----------------------------------------------------------------------------------------------
# Ops (all on channels-last float64 tensors)
# ----------------------------------------------------------------------------------------------

def conv1d_same(x, w, b, dilation):
    """x (B, L, Cin), w (K, Cin, Cout), b (Cout) -> (B, L, Cout); 'same', zero padded."""
    k = w.shape[0]
    assert k % 2 == 1, "odd kernels only"
    pad = dilation * (k - 1) // 2
    # torch.conv1d is a cross-correlation on (B, Cin, L) with weight (Cout, Cin, K):
    #   y[b,co,t] = bias[co] + sum_ci sum_j weight[co,ci,j] * xpad[b,ci,t + dilation*j]
    # with xpad shifted by `pad`, i.e. x[t + dilation*(j - (K-1)/2)] -- exactly our definition.
    w_torch = w.permute(2, 1, 0)          # (K, Cin, Cout) -> (Cout, Cin, K)
    x_torch = x.permute(0, 2, 1)          # (B, L, Cin)   -> (B, Cin, L)
    y = F.conv1d(x_torch, w_torch, b, stride=1, padding=pad, dilation=dilation)
    return y.permute(0, 2, 1)             # back to (B, L, Cout)


def block_maxpool(x, s):
    """p[b,n,c] = max_{0<=j<s} x[b, n*s + j, c]; floor (trailing samples dropped)."""
    bsz, length, c = x.shape
    n = length // s
    return x[:, : n * s].reshape(bsz, n, s, c).amax(dim=2)


def maxpool2(x):
    return block_maxpool(x, 2)


def leaky_relu(x, alpha):
    return torch.where(x > 0, x, alpha * x)


def subpixel(x, order):
    """(B, W, 2C) -> (B, 2W, C)."""
    bsz, width, c2 = x.shape
    c = c2 // 2
    if order == "tf":
        # out[b, 2w+k, c] = in[b, w, k*C + c]: view channels as (k, c), then (w, k) -> 2w+k.
        return x.reshape(bsz, width, 2, c).reshape(bsz, 2 * width, c)
    # pt: out[b, 2w+k, c] = in[b, w, 2c + k]: view channels as (c, k), move k before c.
    return x.reshape(bsz, width, c, 2).permute(0, 1, 3, 2).reshape(bsz, 2 * width, c)


def modulate(x, m, s):
    """y[b, n*s + j, c] = x[b, n*s + j, c] * m[b, n, c]."""
    bsz, length, c = x.shape
    n = m.shape[1]
    assert n * s == length, "sequence length %d is not %d blocks of %d" % (length, n, s)
    return (x.reshape(bsz, n, s, c) * m.reshape(bsz, n, 1, c)).reshape(bsz, length, c)


def hard_sigmoid(z):
    return torch.clamp(0.2 * z + 0.5, 0.0, 1.0)


def lstm(p, kernel, recurrent_kernel, bias, gate):
    """Keras-layout LSTM, zero initial state, returns the h sequence. p (B, N, Cin) -> (B, N, C)."""
    act = torch.sigmoid if gate == "sigmoid" else hard_sigmoid
    bsz, n, _ = p.shape
    c_units = recurrent_kernel.shape[0]
    h = torch.zeros(bsz, c_units, dtype=p.dtype)
    c = torch.zeros(bsz, c_units, dtype=p.dtype)
    out = []
    for t in range(n):
        z = p[:, t] @ kernel + h @ recurrent_kernel + bias       # (B, 4C), blocks [i f g o]
        zi, zf, zg, zo = z.split(c_units, dim=1)
        i, f, g, o = act(zi), act(zf), torch.tanh(zg), act(zo)
        c = f * c + i * g
        h = o * torch.tanh(c)
        out.append(h)
    return torch.stack(out, dim=1)


def positional_encoding(n, d):
    """PE[pos, i] = sin(pos / 10000^(2 floor(i/2) / d)) for even i, cos(...) for odd i; float64."""
    pos = torch.arange(n, dtype=torch.float64).reshape(n, 1)
    i = torch.arange(d, dtype=torch.float64).reshape(1, d)
    angle = pos / torch.pow(10000.0, 2.0 * torch.floor(i / 2.0) / d)
    even = (torch.arange(d) % 2 == 0).reshape(1, d)
    return torch.where(even, torch.sin(angle), torch.cos(angle))


def multi_head_self_attention(z, w, prefix, heads):
    bsz, n, d = z.shape
    dh = d // heads
    assert dh * heads == d
    q = z @ w[prefix + "attn.query.weight"] + w[prefix + "attn.query.bias"]
    k = z @ w[prefix + "attn.key.weight"] + w[prefix + "attn.key.bias"]
    v = z @ w[prefix + "attn.value.weight"] + w[prefix + "attn.value.bias"]
    outs = []
    for h in range(heads):                       # head h = feature slice [h*dh, (h+1)*dh)
        sl = slice(h * dh, (h + 1) * dh)
        scores = q[:, :, sl] @ k[:, :, sl].transpose(1, 2) / math.sqrt(dh)   # (B, Nq, Nk)
        outs.append(torch.softmax(scores, dim=-1) @ v[:, :, sl])
    concat = torch.cat(outs, dim=-1)            # heads concatenated in head order
    return concat @ w[prefix + "attn.out.weight"] + w[prefix + "attn.out.bias"]


def transformer(p, w, prefix, cfg):
    """AFiLM transformer on pooled blocks p (B, N, d): scale + PE, post-LN encoder layers."""
    _, n, d = p.shape
    eps = cfg["layer_norm_eps"]
    z = p * math.sqrt(d) + positional_encoding(n, d).to(p.dtype)
    for j in range(cfg["attention_layers"]):
        lp = "%s.layers.%d." % (prefix, j)
        a = multi_head_self_attention(z, w, lp, cfg["attention_heads"])
        z1 = F.layer_norm(z + a, (d,), w[lp + "norm1.gamma"], w[lp + "norm1.beta"], eps)
        f = torch.relu(z1 @ w[lp + "ff1.weight"] + w[lp + "ff1.bias"])
        f = f @ w[lp + "ff2.weight"] + w[lp + "ff2.bias"]
        z = F.layer_norm(z1 + f, (d,), w[lp + "norm2.gamma"], w[lp + "norm2.beta"], eps)
    return z


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------

class ReferenceNet:
    """Builds the network from a metadata dict (strings) and a weights dict (name -> array)."""

    def __init__(self, metadata, weights, dtype=DTYPE):
        self.dtype = dtype   # float64 for goldens; float32 only to estimate engine rounding error
        self.cfg = parse_config(metadata)
        shapes = expected_shapes(self.cfg)
        missing = sorted(set(shapes) - set(weights))
        extra = sorted(set(weights) - set(shapes))
        bad = sorted(n for n in shapes if n in weights and tuple(weights[n].shape) != shapes[n])
        assert not (missing or extra or bad), "missing %s extra %s misshaped %s" % (missing, extra, bad)
        # Weights are held as float64 copies of whatever precision they were given in.
        self.w = {n: torch.as_tensor(np.asarray(v)).to(dtype) for n, v in weights.items()}
        self.trace = None   # optional callback(name, tensor) for per-layer statistics

    def _t(self, name, x):
        if self.trace is not None:
            self.trace(name, x)
        return x

    def film(self, prefix, x, s):
        arch = self.cfg["arch"]
        if arch == "audiounet":
            return x
        p = block_maxpool(x, s)
        if arch == "tfilm":
            m = lstm(p, self.w[prefix + ".lstm.kernel"], self.w[prefix + ".lstm.recurrent_kernel"],
                     self.w[prefix + ".lstm.bias"], self.cfg["gate"])
        else:
            m = transformer(p, self.w, prefix, self.cfg)
        self._t(prefix + ".mod", m)
        return modulate(x, m, s)

    def conv(self, name, x, dilation):
        return conv1d_same(x, self.w[name + ".weight"], self.w[name + ".bias"], dilation)

    def forward(self, x):
        """x (B, L) -> (B, L), in self.dtype (float64 by default)."""
        cfg = self.cfg
        layers, dil, alpha = cfg["layers"], cfg["dilation"], cfg["leaky_alpha"]
        x = torch.as_tensor(np.asarray(x)).to(self.dtype)
        bsz, length = x.shape
        assert length % (1 << (layers + 1)) == 0, "length must be a multiple of 2^(layers+1)"
        s_down, s_b, s_up = block_sizes(cfg, length)
        inp = x.reshape(bsz, length, 1)

        h = inp
        skips = []
        for l in range(layers):
            h = self._t("down.%d.conv" % l, self.conv("down.%d.conv" % l, h, dil))
            h = leaky_relu(maxpool2(h), alpha)
            h = self._t("down.%d.out" % l, self.film("down.%d.film" % l, h, s_down[l]))
            skips.append(h)

        h = self._t("bottleneck.conv", self.conv("bottleneck.conv", h, dil))
        h = leaky_relu(maxpool2(h), alpha)
        h = self._t("bottleneck.out", self.film("bottleneck.film", h, s_b))

        for l in reversed(range(layers)):
            h = self._t("up.%d.conv" % l, self.conv("up.%d.conv" % l, h, dil))
            h = subpixel(torch.relu(h), cfg["subpixel_order"])
            h = self.film("up.%d.film" % l, h, s_up[l])
            h = self._t("up.%d.out" % l, torch.cat([h, skips[l]], dim=2))   # x first, then skip

        h = self._t("final.conv", self.conv("final.conv", h, 1))
        net = subpixel(h, "tf")                  # C_out = 1: both orders agree
        self._t("net", net)
        return (net + inp).reshape(bsz, length)
