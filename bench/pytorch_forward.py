#!/usr/bin/python3
"""PyTorch baseline for bench_cpu_forward: the same network, written the way a PyTorch user writes
it (nn.Conv1d padding='same', F.max_pool1d, nn.LSTM, nn.Linear / nn.LayerNorm), float32, eval mode,
torch.inference_mode(), channels-first (B, C, L) activations as nn.Conv1d wants them.

It loads OUR weights file (.safetensors, canonical layouts, config in __metadata__), converts the
layouts to torch's, runs the same input (.npy, (B, L) float32), writes its output (.npy) and its
timings (JSON), and optionally compares against our output and a float64 reference.

Run with Debian's interpreter: /usr/bin/python3 bench/pytorch_forward.py --model M --input X ...

On a GPU (bench/gpu_check.sh runs this): --device cuda --precision fp32|tf32|bf16, where fp32
turns TF32 off in cuDNN and matmuls, tf32 turns it on in both, and bf16 runs under
torch.autocast(bfloat16); cudnn.benchmark picks each convolution's algorithm. Timings synchronise
the device around each forward.

Layout conversions (canonical -> torch):
  conv weight (K, Cin, Cout)            -> nn.Conv1d.weight (Cout, Cin, K)   = permute(2, 1, 0)
  dense weight (in, out)                -> nn.Linear.weight (out, in)        = transpose
  lstm kernel (Cin, 4H), [i f g o]      -> weight_ih_l0 (4H, Cin)            = transpose
  lstm recurrent_kernel (H, 4H)         -> weight_hh_l0 (4H, H)              = transpose
  lstm bias (4H)                        -> bias_ih_l0 = bias, bias_hh_l0 = 0
  layer norm gamma / beta               -> nn.LayerNorm weight / bias
"""

import argparse
import contextlib
import json
import math
import os
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "model"))
import reference_net  # noqa: E402  (config parsing, block sizes; float64 oracle for --ref64)


# ----------------------------------------------------------------------------------------------
# safetensors reader (F32 only, which is all our writer emits)
# ----------------------------------------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError("%s: dtype %s, expected F32" % (name, info["dtype"]))
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4,
                                      offset=begin).reshape(info["shape"])
    return meta, tensors


# ----------------------------------------------------------------------------------------------
# The network, channels-first
# ----------------------------------------------------------------------------------------------

def subpixel(x, order):
    """(B, 2C, W) -> (B, C, 2W); spec section 2, channels-first column."""
    b, c2, w = x.shape
    c = c2 // 2
    if order == "tf":   # out[b, c, 2w+k] = in[b, k*C + c, w]
        return x.reshape(b, 2, c, w).permute(0, 2, 3, 1).reshape(b, c, 2 * w)
    # pt: out[b, c, 2w+k] = in[b, 2c + k, w]  (1-D PixelShuffle)
    return x.reshape(b, c, 2, w).permute(0, 1, 3, 2).reshape(b, c, 2 * w)


def modulate(x, m, s):
    """x (B, C, L), m (B, N, C) with N*s = L -> x[b, c, n*s + j] * m[b, n, c]."""
    b, c, length = x.shape
    n = length // s
    return (x.reshape(b, c, n, s) * m.transpose(1, 2).reshape(b, c, n, 1)).reshape(b, c, length)


class TFiLM(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.rnn = nn.LSTM(channels, channels, batch_first=True)

    def forward(self, x, block):
        p = F.max_pool1d(x, block)                    # (B, C, N)
        h, _ = self.rnn(p.transpose(1, 2))            # (B, N, C)
        return modulate(x, h, block)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.out = (nn.Linear(d, d) for _ in range(4))

    def forward(self, z):
        b, n, d = z.shape
        h, dh = self.heads, d // self.heads
        q = self.query(z).reshape(b, n, h, dh).transpose(1, 2)   # (B, h, N, dh)
        k = self.key(z).reshape(b, n, h, dh).transpose(1, 2)
        v = self.value(z).reshape(b, n, h, dh).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1) @ v
        return self.out(a.transpose(1, 2).reshape(b, n, d))


class EncoderLayer(nn.Module):
    """Post-LN: z1 = LN1(z + MHSA(z)); z = LN2(z1 + FF(z1)). No dropout (eval)."""

    def __init__(self, d, heads, ff, eps):
        super().__init__()
        self.attn = MultiHeadSelfAttention(d, heads)
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, z):
        z1 = self.norm1(z + self.attn(z))
        return self.norm2(z1 + self.ff2(F.relu(self.ff1(z1))))


class AFiLM(nn.Module):
    def __init__(self, d, cfg):
        super().__init__()
        self.d = d
        self.layers = nn.ModuleList(
            EncoderLayer(d, cfg["attention_heads"], cfg["ff_dim"], cfg["layer_norm_eps"])
            for _ in range(cfg["attention_layers"]))
        self.pe_cache = {}

    def forward(self, x, block):
        p = F.max_pool1d(x, block).transpose(1, 2)    # (B, N, d)
        n = p.shape[1]
        key = (n, str(p.device))
        if key not in self.pe_cache:                  # fixed table, computed in float64
            self.pe_cache[key] = reference_net.positional_encoding(n, self.d).to(
                device=p.device, dtype=p.dtype)
        z = p * math.sqrt(self.d) + self.pe_cache[key]
        for layer in self.layers:
            z = layer(z)
        return modulate(x, z, block)


class Identity(nn.Module):
    def forward(self, x, block):
        return x


class UNet(nn.Module):
    def __init__(self, cfg, length):
        super().__init__()
        self.cfg = cfg
        self.s_down, self.s_b, self.s_up = reference_net.block_sizes(cfg, length)
        layers, dil, f = cfg["layers"], cfg["dilation"], cfg["filters"]

        def conv(cin, cout, k, dilation):
            return nn.Conv1d(cin, cout, k, padding="same", dilation=dilation)

        def film(c):
            if cfg["arch"] == "tfilm":
                return TFiLM(c)
            if cfg["arch"] == "afilm":
                return AFiLM(c, cfg)
            return Identity()

        self.down_conv = nn.ModuleList()
        self.down_film = nn.ModuleList()
        cin = 1
        for l in range(layers):
            self.down_conv.append(conv(cin, f[l], cfg["kernels"][l], dil))
            self.down_film.append(film(f[l]))
            cin = f[l]
        self.bottleneck_conv = conv(cin, cfg["bottleneck_filters"], cfg["bottleneck_kernel"], dil)
        self.bottleneck_film = film(cfg["bottleneck_filters"])
        cin = cfg["bottleneck_filters"]
        self.up_conv = nn.ModuleDict()
        self.up_film = nn.ModuleDict()
        for l in reversed(range(layers)):
            self.up_conv[str(l)] = conv(cin, 2 * f[l], cfg["kernels"][l], dil)
            self.up_film[str(l)] = film(f[l])
            cin = 2 * f[l]
        self.final_conv = conv(cin, 2, cfg["final_kernel"], 1)

    def forward(self, x):
        """x (B, L) -> (B, L)."""
        cfg = self.cfg
        alpha, order = cfg["leaky_alpha"], cfg["subpixel_order"]
        inp = x.unsqueeze(1)                           # (B, 1, L)
        h, skips = inp, []
        for l in range(cfg["layers"]):
            h = F.leaky_relu(F.max_pool1d(self.down_conv[l](h), 2), alpha)
            h = self.down_film[l](h, self.s_down[l])
            skips.append(h)
        h = F.leaky_relu(F.max_pool1d(self.bottleneck_conv(h), 2), alpha)
        h = self.bottleneck_film(h, self.s_b)
        for l in reversed(range(cfg["layers"])):
            h = subpixel(F.relu(self.up_conv[str(l)](h)), order)
            h = self.up_film[str(l)](h, self.s_up[l])
            h = torch.cat([h, skips[l]], dim=1)
        h = subpixel(self.final_conv(h), "tf")         # C_out = 1: both orders agree
        return (h + inp).squeeze(1)

    # -- weights -------------------------------------------------------------------------------
    def load_canonical(self, w):
        """Copies our canonical tensors into the torch modules (layout conversions in the header)."""
        cfg = self.cfg
        t = lambda a: torch.from_numpy(np.array(a, dtype=np.float32))  # noqa: E731
        used = set()

        def take(name):
            used.add(name)
            return t(w[name])

        def set_conv(mod, prefix):
            mod.weight.copy_(take(prefix + ".weight").permute(2, 1, 0))
            mod.bias.copy_(take(prefix + ".bias"))

        def set_linear(mod, prefix):
            mod.weight.copy_(take(prefix + ".weight").t())
            mod.bias.copy_(take(prefix + ".bias"))

        def set_film(mod, prefix):
            if isinstance(mod, TFiLM):
                rnn = mod.rnn
                rnn.weight_ih_l0.copy_(take(prefix + ".lstm.kernel").t())
                rnn.weight_hh_l0.copy_(take(prefix + ".lstm.recurrent_kernel").t())
                rnn.bias_ih_l0.copy_(take(prefix + ".lstm.bias"))
                rnn.bias_hh_l0.zero_()
            elif isinstance(mod, AFiLM):
                for j, layer in enumerate(mod.layers):
                    p = "%s.layers.%d." % (prefix, j)
                    for proj in ("query", "key", "value", "out"):
                        set_linear(getattr(layer.attn, proj), p + "attn." + proj)
                    set_linear(layer.ff1, p + "ff1")
                    set_linear(layer.ff2, p + "ff2")
                    for norm in ("norm1", "norm2"):
                        getattr(layer, norm).weight.copy_(take(p + norm + ".gamma"))
                        getattr(layer, norm).bias.copy_(take(p + norm + ".beta"))

        with torch.no_grad():
            for l in range(cfg["layers"]):
                set_conv(self.down_conv[l], "down.%d.conv" % l)
                set_film(self.down_film[l], "down.%d.film" % l)
            set_conv(self.bottleneck_conv, "bottleneck.conv")
            set_film(self.bottleneck_film, "bottleneck.film")
            for l in reversed(range(cfg["layers"])):
                set_conv(self.up_conv[str(l)], "up.%d.conv" % l)
                set_film(self.up_film[str(l)], "up.%d.film" % l)
            set_conv(self.final_conv, "final.conv")
        unused = sorted(set(w) - used)
        assert not unused, "weights not loaded: %s" % unused[:5]


# ----------------------------------------------------------------------------------------------

def compare(ours, theirs, inp):
    """Max abs diff and NMSE = ||a-b||^2/||b||^2, on the output and on the residual net(x)."""
    d = ours.astype(np.float64) - theirs.astype(np.float64)
    res = theirs.astype(np.float64) - inp.astype(np.float64)
    return {
        "max_abs_diff": float(np.abs(d).max()),
        "nmse_output": float((d ** 2).sum() / (theirs.astype(np.float64) ** 2).sum()),
        "nmse_residual": float((d ** 2).sum() / max((res ** 2).sum(), 1e-300)),
        "residual_rms": float(np.sqrt((res ** 2).mean())),
        "output_rms": float(np.sqrt((theirs.astype(np.float64) ** 2).mean())),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="our .safetensors weights file")
    ap.add_argument("--input", required=True, help="(B, L) float32 .npy")
    ap.add_argument("--output", help="write PyTorch's output (.npy)")
    ap.add_argument("--json", help="write timings and comparisons (JSON)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"],
                    help="cuda only: fp32 (no TF32), tf32 (cuDNN and matmul TF32), bf16 (autocast)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", help="our output (.npy) to compare with")
    ap.add_argument("--ref64-items", type=int, default=0,
                    help="also run the float64 reference (tests/model/reference_net.py) on the first "
                         "N patches and compare both engines with it")
    ap.add_argument("--profile", action="store_true",
                    help="torch.profiler op table of one forward, and each conv / FiLM module timed "
                         "alone on its real input")
    ap.add_argument("--gemm-peak", type=int, default=0,
                    help="time an N x N x N float32 matmul before and after the forwards (a probe "
                         "of how much of the shared machine the run had)")
    args = ap.parse_args()
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device")
    if cuda and (args.profile or args.gemm_peak):
        sys.exit("--profile and --gemm-peak are CPU-only")
    if not cuda and args.precision != "fp32":
        sys.exit("--precision applies to --device cuda only")
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = args.precision == "tf32"

    torch.set_num_threads(args.threads)
    meta, weights = read_safetensors(args.model)
    # Our writer stores only the keys an architecture uses (no attention keys for tfilm, no gate
    # for afilm/audiounet); reference_net.parse_config wants them all: fill unused ones.
    for key, value in (("gate", "sigmoid"), ("attention_layers", "4"), ("attention_heads", "8"),
                       ("ff_dim", "2048"), ("layer_norm_eps", "1e-06")):
        meta.setdefault(key, value)
    cfg = reference_net.parse_config(meta)
    if cfg["arch"] == "tfilm" and cfg["gate"] != "sigmoid":
        sys.exit("nn.LSTM has sigmoid gates only; this model uses %s" % cfg["gate"])
    x = np.load(args.input).astype(np.float32)
    batch, length = x.shape

    t0 = time.perf_counter()
    net = UNet(cfg, length)
    net.load_canonical(weights)
    net.eval()
    build_s = time.perf_counter() - t0
    params = sum(p.numel() for p in net.parameters())
    xt = torch.from_numpy(x)

    if cuda:
        net.to("cuda")
        xt = xt.to("cuda")
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and args.precision == "bf16"
                else contextlib.nullcontext())

    def sync():
        if cuda:
            torch.cuda.synchronize()

    times, cpu_times = [], []
    with torch.inference_mode(), autocast:
        gemm_before = matmul_gflops(args.gemm_peak) if args.gemm_peak else 0.0
        for i in range(args.warmup + args.repeat):
            sync()
            t0, c0 = time.perf_counter(), time.process_time()
            y = net(xt)
            sync()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if i >= args.warmup:
                times.append(dt)
                cpu_times.append(dc)
        y = y.float().cpu().numpy()
        gemm_after = matmul_gflops(args.gemm_peak) if args.gemm_peak else 0.0
        prof_table, modules = None, None
        if args.profile:
            from torch.profiler import ProfilerActivity, profile
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                net(xt)
            prof_table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)
            modules = module_times(net, xt)
    med = float(np.median(times))
    audio_s = batch * length / 16000.0
    # Conv FLOPs as in bench_cpu_forward: 2 * B * L_out * Cin * K * Cout per conv.
    conv_flops = 0.0
    lengths = conv_lengths(cfg, length)
    for name, k, cin, cout in reference_net.conv_shapes(cfg):
        conv_flops += 2.0 * batch * lengths[name] * cin * k * cout

    result = {
        "tool": "bench/pytorch_forward.py",
        "engine": ("PyTorch %s, %s, %s, eval, inference_mode" % (
            torch.__version__, torch.cuda.get_device_name(0), args.precision) if cuda else
            "PyTorch %s (%s), float32, eval, inference_mode" % (
                torch.__version__,
                "mkldnn" if torch.backends.mkldnn.is_available() else "no mkldnn")),
        "device": args.device,
        "precision": args.precision,
        "arch": cfg["arch"],
        "parameters_torch": params,
        "batch": batch,
        "length": length,
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "warmup": args.warmup,
        "repeat": args.repeat,
        "times_s": times,
        "median_s": med,
        "min_s": float(min(times)),
        "patches_per_s": batch / med,
        "audio_s_per_s_16k": audio_s / med,
        "gflop_conv": conv_flops / 1e9,
        "gflops_conv": conv_flops / med / 1e9,
        "build_and_load_s": build_s,
        "cpu_s_per_forward": float(np.median(cpu_times)),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    print("PyTorch %s  %s  params %d  batch %d x %d  %s" % (
        torch.__version__, cfg["arch"], params, batch, length,
        "%s %s" % (torch.cuda.get_device_name(0), args.precision) if cuda
        else "threads %d" % torch.get_num_threads()))
    print("forward: median %.4f s  min %.4f s  (%d runs after %d warmup)" % (
        med, min(times), args.repeat, args.warmup))
    print("  %.3f patches/s   %.3f s of 16 kHz audio per s   %.1f GFLOP/s conv   peak RSS %.0f MiB" % (
        batch / med, audio_s / med, conv_flops / med / 1e9, result["peak_rss_mib"]))
    if args.gemm_peak:
        result["sgemm_probe"] = {"n": args.gemm_peak, "gflops_before": gemm_before,
                                 "gflops_after": gemm_after}
        print("matmul %d^3: %.1f GFLOP/s before the forwards, %.1f after" % (
            args.gemm_peak, gemm_before, gemm_after))
    if prof_table:
        print(prof_table)
        result["profile_table"] = prof_table
        result["modules"] = modules
        print("modules timed alone (median of 3):")
        for m in sorted(modules, key=lambda m: -m["seconds"]):
            print("  %-22s %-7s %8.4f s %s" % (
                m["name"], m["kind"], m["seconds"],
                "  %6.1f GFLOP/s" % (m["gflop"] / m["seconds"]) if m["gflop"] else ""))

    if args.output:
        np.save(args.output, y)
    if args.compare:
        ours = np.load(args.compare)
        assert ours.shape == y.shape, "shape %s vs %s" % (ours.shape, y.shape)
        result["parity_ours_vs_torch"] = compare(ours, y, x)
        print("parity ours vs PyTorch: %s" % json.dumps(result["parity_ours_vs_torch"]))
    if args.ref64_items > 0:
        n = min(args.ref64_items, batch)
        t0 = time.perf_counter()
        ref = reference_net.ReferenceNet(meta, weights).forward(x[:n]).numpy()
        result["ref64_items"] = n
        result["ref64_s"] = time.perf_counter() - t0
        result["parity_torch_vs_ref64"] = compare(y[:n], ref, x[:n])
        print("parity PyTorch f32 vs float64 reference (%d patches): %s" % (
            n, json.dumps(result["parity_torch_vs_ref64"])))
        if args.compare:
            result["parity_ours_vs_ref64"] = compare(ours[:n], ref, x[:n])
            print("parity ours vs float64 reference (%d patches): %s" % (
                n, json.dumps(result["parity_ours_vs_ref64"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


def matmul_gflops(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        a @ b
        t.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / float(np.median(t)) / 1e9


def module_times(net, xt):
    """Each Conv1d and FiLM module timed alone on the input it saw in a forward (median of 3)."""
    names = {}
    for name, m in net.named_modules():
        if isinstance(m, (nn.Conv1d, TFiLM, AFiLM)):
            # down_conv.0 -> down.0.conv, up_film.3 -> up.3.film, final_conv -> final.conv
            part, _, idx = name.partition(".")
            stem, _, kind = part.partition("_")
            names[m] = "%s.%s%s" % (stem, idx + "." if idx else "", kind)
    seen, hooks = [], []
    for m in names:
        hooks.append(m.register_forward_pre_hook(lambda mod, inp: seen.append((mod, inp))))
    net(xt)
    for h in hooks:
        h.remove()
    blocks = {"down.%d.film" % l: s for l, s in enumerate(net.s_down)}
    blocks.update({"up.%d.film" % l: s for l, s in enumerate(net.s_up)})
    blocks["bottleneck.film"] = net.s_b
    out = []
    for mod, inp in seen:
        name = names[mod]
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            mod(*inp) if isinstance(mod, nn.Conv1d) else mod(inp[0], blocks[name])
            t.append(time.perf_counter() - t0)
        gflop = 0.0
        if isinstance(mod, nn.Conv1d):
            b, cin, length = inp[0].shape
            gflop = 2.0 * b * length * cin * mod.kernel_size[0] * mod.out_channels / 1e9
        out.append({"name": name, "kind": "conv" if gflop else "film", "seconds": float(np.median(t)),
                    "gflop": gflop, "input_shape": list(inp[0].shape)})
    return out


def conv_lengths(cfg, length):
    """Sequence length each conv runs at (its output length: 'same')."""
    out = {}
    for l in range(cfg["layers"]):
        out["down.%d.conv" % l] = length >> l
    out["bottleneck.conv"] = length >> cfg["layers"]
    for l in range(cfg["layers"]):
        out["up.%d.conv" % l] = length >> (l + 2)
    out["final.conv"] = length >> 1
    return out


if __name__ == "__main__":
    main()
