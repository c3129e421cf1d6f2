#!/usr/bin/python3
"""PyTorch baseline for bench_train_throughput: the same network in training, the way a PyTorch
user writes it: bench/pytorch_forward.py's UNet (nn.Conv1d padding='same' dilation 2, F.max_pool1d,
nn.LSTM TFiLM blocks with block max-pool and multiplicative modulation, subpixel by reshape) plus
the originals' nn.Dropout(0.5) modules (bottleneck after the pool, each up block after its conv),
nn.MSELoss, torch.optim.Adam. It loads OUR initial weights (.safetensors) and our batch (.npy), and
times zero_grad + forward + loss + backward + optimizer step.

--parity: one forward + backward with dropout off, then one Adam step: prints the loss and the gradient norm
and, with --compare-grad (bench_train_throughput --parity --save-grad), compares the gradient per
tensor in our canonical layouts. nn.LSTM has two bias vectors whose gradients are equal (both are
dL/d(b_ih + b_hh)); the canonical norm counts it once, torch's total norm counts it twice.

Run with Debian's interpreter: /usr/bin/python3 bench/pytorch_train.py --model M --input X --target Y
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_forward import UNet, read_safetensors, reference_net, subpixel  # noqa: E402


class TrainUNet(UNet):
    """UNet with the originals' dropout (0.5 in the bottleneck and up blocks), as sr's training graph
    places it: bottleneck conv -> pool -> dropout -> LeakyReLU; up conv -> dropout -> ReLU."""

    def __init__(self, cfg, length, rate=0.5):
        super().__init__(cfg, length)
        self.bottleneck_drop = nn.Dropout(rate)
        self.up_drop = nn.ModuleDict({str(l): nn.Dropout(rate) for l in range(cfg["layers"])})

    def forward(self, x):
        cfg = self.cfg
        alpha, order = cfg["leaky_alpha"], cfg["subpixel_order"]
        inp = x.unsqueeze(1)
        h, skips = inp, []
        for l in range(cfg["layers"]):
            h = F.leaky_relu(F.max_pool1d(self.down_conv[l](h), 2), alpha)
            h = self.down_film[l](h, self.s_down[l])
            skips.append(h)
        h = self.bottleneck_drop(F.max_pool1d(self.bottleneck_conv(h), 2))
        h = self.bottleneck_film(F.leaky_relu(h, alpha), self.s_b)
        for l in reversed(range(cfg["layers"])):
            h = subpixel(F.relu(self.up_drop[str(l)](self.up_conv[str(l)](h))), order)
            h = self.up_film[str(l)](h, self.s_up[l])
            h = torch.cat([h, skips[l]], dim=1)
        h = subpixel(self.final_conv(h), "tf")
        return (h + inp).squeeze(1)


def canonical_grads(net):
    """{canonical name: gradient in our layout}; the inverse of UNet.load_canonical."""
    out = {}

    def conv(mod, prefix):
        out[prefix + ".weight"] = mod.weight.grad.permute(2, 1, 0)
        out[prefix + ".bias"] = mod.bias.grad

    def film(mod, prefix):
        if hasattr(mod, "rnn"):
            out[prefix + ".lstm.kernel"] = mod.rnn.weight_ih_l0.grad.t()
            out[prefix + ".lstm.recurrent_kernel"] = mod.rnn.weight_hh_l0.grad.t()
            out[prefix + ".lstm.bias"] = mod.rnn.bias_ih_l0.grad  # == bias_hh_l0.grad

    for l in range(net.cfg["layers"]):
        conv(net.down_conv[l], "down.%d.conv" % l)
        film(net.down_film[l], "down.%d.film" % l)
        conv(net.up_conv[str(l)], "up.%d.conv" % l)
        film(net.up_film[str(l)], "up.%d.film" % l)
    conv(net.bottleneck_conv, "bottleneck.conv")
    film(net.bottleneck_film, "bottleneck.film")
    conv(net.final_conv, "final.conv")
    return {k: v.detach().double().numpy() for k, v in out.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="our .safetensors initial weights")
    ap.add_argument("--input", required=True, help="(B, L) float32 .npy")
    ap.add_argument("--target", required=True, help="(B, L) float32 .npy")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--dropout", type=int, default=1, help="dropout in the timed steps (0/1)")
    ap.add_argument("--parity", action="store_true", help="one loss + gradient, dropout off")
    ap.add_argument("--compare-grad", help="our gradient (.safetensors) to compare with (--parity)")
    ap.add_argument("--compare-json", help="our --parity JSON (loss, grad_norm) to compare with")
    ap.add_argument("--json", help="write the numbers (JSON)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    meta, weights = read_safetensors(args.model)
    for key, value in (("gate", "sigmoid"), ("attention_layers", "4"), ("attention_heads", "8"),
                       ("ff_dim", "2048"), ("layer_norm_eps", "1e-06")):
        meta.setdefault(key, value)
    cfg = reference_net.parse_config(meta)
    assert cfg["arch"] == "tfilm" and cfg["gate"] == "sigmoid", "this baseline is TFiLM/sigmoid"
    x = torch.from_numpy(np.load(args.input).astype(np.float32))
    t = torch.from_numpy(np.load(args.target).astype(np.float32))
    batch, length = x.shape

    net = TrainUNet(cfg, length, rate=0.5 if args.dropout and not args.parity else 0.0)
    net.load_canonical(weights)
    net.train()
    mse = nn.MSELoss()
    result = {
        "tool": "bench/pytorch_train.py",
        "engine": "PyTorch %s, float32, train mode, autograd, torch.optim.Adam" % torch.__version__,
        "parameters_torch": sum(p.numel() for p in net.parameters()),
        "batch": batch, "length": length, "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
    }

    if args.parity:
        t0 = time.perf_counter()
        y = net(x)
        loss = mse(y, t)
        loss.backward()
        took = time.perf_counter() - t0
        loss64 = float(((y.detach().double() - t.double()) ** 2).mean())
        grads = canonical_grads(net)
        norm = float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))
        total = float(torch.sqrt(sum((p.grad.double() ** 2).sum() for p in net.parameters())))
        print("parity (dropout off): loss %.9e (float32 MSELoss), %.9e (float64 from the output)"
              % (float(loss), loss64))
        print("  grad norm %.9e canonical (LSTM bias once), %.9e over torch's parameters  (%.3f s)"
              % (norm, total, took))
        # nn.LSTM's b_hh is a second copy of the bias (ours has one): Adam would move the sum by
        # 2 lr. Leave it out of this step so both engines take the same step.
        for m in net.modules():
            if isinstance(m, nn.LSTM):
                m.bias_hh_l0.grad = None
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        opt.step()
        with torch.no_grad():
            after = float(((net(x).double() - t.double()) ** 2).mean())
        print("  loss after one Adam step (lr %g): %.9e" % (args.lr, after))
        result.update(mode="parity", loss=float(loss), loss_f64=loss64, grad_norm=norm,
                      grad_norm_torch_params=total, loss_after_step=after)
        if args.compare_json:
            with open(args.compare_json) as f:
                ours = json.load(f)
            result["loss_rel_diff"] = abs(ours["loss"] - float(loss)) / abs(float(loss))
            result["loss_rel_diff_f64"] = abs(ours["loss"] - loss64) / abs(loss64)
            result["grad_norm_rel_diff"] = abs(ours["grad_norm"] - norm) / norm
            result["loss_after_step_rel_diff"] = abs(ours["loss_after_step"] - after) / after
            print("  ours: loss %.9e grad norm %.9e -> relative diff loss %.2e (vs float64 %.2e), "
                  "grad norm %.2e; loss after the step %.9e, relative diff %.2e" % (
                      ours["loss"], ours["grad_norm"], result["loss_rel_diff"],
                      result["loss_rel_diff_f64"], result["grad_norm_rel_diff"],
                      ours["loss_after_step"], result["loss_after_step_rel_diff"]))
        if args.compare_grad:
            _, ours = read_safetensors(args.compare_grad)
            assert set(ours) == set(grads), sorted(set(ours) ^ set(grads))
            diff2 = sum(((ours[k].astype(np.float64) - grads[k]) ** 2).sum() for k in grads)
            per = {k: float(np.linalg.norm(ours[k].astype(np.float64) - grads[k]) /
                            max(np.linalg.norm(grads[k]), 1e-300)) for k in grads}
            worst = max(per, key=per.get)
            result["grad_rel_diff_global"] = float(np.sqrt(diff2)) / norm
            result["grad_rel_diff_per_tensor"] = per
            print("  gradient ours vs torch: ||a-b||/||b|| %.2e over all, worst tensor %s %.2e"
                  % (result["grad_rel_diff_global"], worst, per[worst]))
    else:
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        times, cpu, losses = [], [], []
        for i in range(args.warmup + args.steps):
            t0, c0 = time.perf_counter(), time.process_time()
            opt.zero_grad(set_to_none=True)
            loss = mse(net(x), t)
            loss.backward()
            opt.step()
            losses.append(float(loss))
            if i >= args.warmup:
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        med = float(np.median(times))
        result.update(mode="timing", dropout=bool(args.dropout), lr=args.lr, warmup=args.warmup,
                      steps=args.steps, times_s=times, median_s=med, min_s=float(min(times)),
                      cpu_s_per_step=float(np.median(cpu)), patches_per_s=batch / med,
                      patches_per_s_best=batch / float(min(times)), losses=losses)
        print("PyTorch %s  tfilm  params %d  batch %d x %d  threads %d  dropout %s" % (
            torch.__version__, result["parameters_torch"], batch, length,
            torch.get_num_threads(), "on" if args.dropout else "off"))
        print("train step: median %.4f s  min %.4f s  (%d steps after %d warmup)  cpu %.3f s/step" % (
            med, min(times), args.steps, args.warmup, result["cpu_s_per_step"]))
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if result["mode"] == "timing":
        print("  %.2f patches/s (median)  %.2f (best)   peak RSS %.1f MiB   loss %.4e -> %.4e" % (
            result["patches_per_s"], result["patches_per_s_best"], result["peak_rss_mib"],
            losses[0], losses[-1]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
