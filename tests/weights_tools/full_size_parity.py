#!/usr/bin/env python3
"""Opt-in full-size check (about a minute, ~2 GB of temporary files): a default-size AFiLMNet in
the PyTorch port's exact key layout and container (random weights, calibrated so every layer
matters), at input lengths 1024 and 8192, saved with torch.save, converted by convert.py (without
torch), run by sr-infer's .npy mode, compared with the torch module's output.
Usage: /usr/bin/python3 tests/weights_tools/full_size_parity.py BIN_DIR"""
import os, subprocess, sys, tempfile, time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import pt_tiny  # noqa: E402

torch.set_num_threads(2)


def main():
    bin_dir = sys.argv[1]
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for length in (1024, 8192):
            torch.manual_seed(length)
            net = pt_tiny.TinyPTNet("afilm", [128, 256, 512, 512], [65, 33, 17, 9], 512, 9, length,
                                    enc_layers=4, ff_dim=2048, heads=8).eval()
            x = torch.from_numpy(np.random.default_rng(length).standard_normal((2, length))
                                 .astype(np.float32) * 0.3)
            with torch.no_grad():
                pt_tiny.calibrate(net, x)
                ref = net(x).numpy()
            src, dst = os.path.join(tmp, "afilm.pth"), os.path.join(tmp, "afilm.safetensors")
            torch.save({"epoch": 1, "model_state_dict": net.state_dict()}, src)
            t0 = time.time()
            subprocess.run([sys.executable, os.path.join(ROOT, "weights_tools", "convert.py"), src,
                            dst, "--ratio", "2"], check=True)
            conv_s = time.time() - t0
            np.save(os.path.join(tmp, "in.npy"), x.numpy())
            subprocess.run([os.path.join(bin_dir, "sr-infer"), os.path.join(tmp, "in.npy"),
                            os.path.join(tmp, "out.npy"), "--model", dst, "--backend", "cpu",
                            "--quiet"], check=True)
            got = np.load(os.path.join(tmp, "out.npy"))
            xin = x.numpy()
            # Compare the network's own contribution (output - input), not the residual sum.
            err = np.abs((got - xin) - (ref - xin)).max() / np.abs(ref - xin).max()
            nmse = ((got - ref) ** 2).sum() / ((ref - xin) ** 2).sum()
            params = sum(p.numel() for p in net.parameters())
            print("length %5d: %d parameters, convert %.1f s, max |error| / max |net(x)| = %.2e, "
                  "NMSE of net(x) = %.2e" % (length, params, conv_s, err, nmse))
            worst = max(worst, err)
    # float32 engines over 134M weights: errors of a few 1e-6 of the output scale; a layout error
    # is O(1).
    if worst > 1e-4:
        sys.exit("FAIL: relative error %.2e above 1e-4" % worst)
    print("PASS")


if __name__ == "__main__":
    main()
