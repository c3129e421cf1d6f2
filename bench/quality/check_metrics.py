#!/usr/bin/env python3
"""Checks qlib's SNR and LSDs against the C++ metrics' reference values
(tests/fixtures/metrics_*.npy, made by tests/fixtures/make_metrics_fixture.py and used by
tests/unit/test_metrics.cpp), so the harness's numbers and sr-eval's are the same quantities.
Exit status 1 on a mismatch.

Usage: bench/quality/.venv/bin/python bench/quality/check_metrics.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qlib  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                   "tests", "fixtures")


def main():
    cases = np.load(os.path.join(FIX, "metrics_cases.npy"))
    ref = np.load(os.path.join(FIX, "metrics_ref.npy")).astype(np.float64)
    est = np.load(os.path.join(FIX, "metrics_est.npy")).astype(np.float64)
    want = np.load(os.path.join(FIX, "metrics_values.npy"))
    off, bad, checked = 0, 0, 0
    for (n, _), v in zip(cases, want):
        n = int(n)
        a, b = ref[off:off + n], est[off:off + n]
        off += n
        if n <= qlib.N_FFT // 2:  # np.pad reflect needs len > pad; the harness's files are longer
            continue
        got_snr = qlib.snr_db(a, b)
        lsd = qlib.lsd_all(qlib.power_stft(a), qlib.power_stft(b), 4000)
        for name, g, w in (("snr_db", got_snr, v[0]), ("lsd_k21", lsd["lsd_k21"], v[2]),
                           ("lsd_papers", lsd["lsd_papers"], v[3])):
            checked += 1
            if not (np.isinf(w) and g >= qlib.SNR_CAP) and abs(g - w) > 1e-9 * max(1, abs(w)):
                print(f"case n={n}: {name} {g} != {w}")
                bad += 1
    print(f"check_metrics: {checked - bad} of {checked} values match the C++ metrics' fixture")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
