"""Signal processing shared by run.py and sweep.py: the low-rate inputs, the Python baselines and
the metrics. All metrics are computed at 16 kHz on float64 signals.

Metric conventions (match engine/core/metrics.cpp, i.e. the C++ sr-eval):
- SNR: 10 log10(sum ref^2 / sum (ref - est)^2) over the whole file, in dB (capped at SNR_CAP).
- STFT: librosa 0.8 style, n_fft 2048, hop 512, periodic Hann, centred with reflect padding
  (1 + len // 512 frames), power |X|^2 in float64.
- LSD (papers): per frame sqrt(mean over bins of (log10(P_ref + 1e-8) - log10(P_est + 1e-8))^2),
  mean over frames.
- LSD (K21, the TF original's): D = ln(P_ref + 1e-8) - ln(P_est + 1e-8); per bin
  sqrt(mean over frames of D^2 + 1e-8), mean over bins, capped at 10 (natural log, so it is about
  2.3x the papers' number for the same error).
- LSD above / below the cutoff: the papers' convention over the bins at or above / below the
  cutoff frequency only (bin k is at k * 16000 / 2048 Hz).
"""

import hashlib

import numpy as np
import soxr
from scipy import interpolate, signal
from scipy.ndimage import median_filter

SR = 16000
N_FFT, HOP = 2048, 512
SNR_CAP = 200.0


# ---------------------------------------------------------------------------------------------
# helpers

def seeded_rng(*parts):
    h = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def fit_length(y, n):
    """Trim or zero-pad to n samples."""
    if len(y) >= n:
        return y[:n]
    return np.concatenate([y, np.zeros(n - len(y), dtype=y.dtype)])


def resample(x, rate_in, rate_out, quality="VHQ"):
    """Band-limited resampling (libsoxr); identity when the rates agree."""
    if rate_in == rate_out:
        return np.asarray(x, dtype=np.float64)
    return soxr.resample(np.asarray(x, dtype=np.float64), rate_in, rate_out, quality=quality)


def spline_up(x_lr, r):
    """The originals' interpolation (kuleshov/audio-super-res utils.upsample): splrep/splev cubic
    spline with not-a-knot ends through the low-rate samples at integer multiples of r."""
    x_lr = np.asarray(x_lr, dtype=np.float64)
    n = len(x_lr) * r
    i_lr = np.arange(n, step=r)
    i_hr = np.arange(n)
    if len(x_lr) < 4:
        return np.repeat(x_lr, r)
    tck = interpolate.splrep(i_lr, x_lr)
    return interpolate.splev(i_hr, tck)


# ---------------------------------------------------------------------------------------------
# low-rate inputs: (signal, rate) from a 16 kHz reference

def make_input(kind, x, r):
    """The low-rate input of `kind` for ratio r. Returns (signal, rate, wav_subtype).
    decimate: scipy decimate (order-8 Chebyshev I, zero phase), the bundled models' training recipe.
    fir: band-limited resampler (libsoxr HQ) 16k -> 16k/r.
    subsample: x[::r], aliased.
    mulaw8k: libsoxr HQ to 8 kHz, written as a G.711 mu-law WAV (encoding happens on writing, the
      decode on reading); always 8 kHz, also for r = 4.
    hirate44 / hirate48: the fir signal resampled up to 44.1 / 48 kHz (libsoxr HQ): band-limited
      content at a high rate.
    fullband: the 16 kHz reference itself (run with --r 2 only)."""
    low = SR // r
    if kind == "decimate":
        return signal.decimate(x, r), low, "FLOAT"
    if kind == "fir":
        return resample(x, SR, low, "HQ"), low, "FLOAT"
    if kind == "subsample":
        return np.asarray(x[::r], dtype=np.float64), low, "FLOAT"
    if kind == "mulaw8k":
        return resample(x, SR, 8000, "HQ"), 8000, "ULAW"
    if kind in ("hirate44", "hirate48"):
        hi = 44100 if kind == "hirate44" else 48000
        return resample(resample(x, SR, low, "HQ"), low, hi, "HQ"), hi, "FLOAT"
    if kind == "fullband":
        return np.asarray(x, dtype=np.float64), SR, "FLOAT"
    raise ValueError(f"unknown input kind {kind}")


def content_cutoff(kind, r, rate=None):
    """The highest frequency the low-rate input of `kind` carries (Hz)."""
    if kind in ("mulaw8k", "real8k"):
        return 4000.0
    if kind == "fullband":
        return 8000.0
    return SR / (2.0 * r)


# ---------------------------------------------------------------------------------------------
# baselines: 16 kHz estimates from the low-rate input (x_in at rate_in)

def baseline_spline(x_in, rate_in, r):
    """Not-a-knot cubic spline by the integer factor 16000 / rate_in when there is one (the
    originals' interpolation); otherwise the input is first resampled to 16000 / r (as sr-infer
    does) and splined by r."""
    if rate_in < SR and SR % rate_in == 0:
        return spline_up(x_in, SR // rate_in)
    low = SR // r
    return spline_up(resample(x_in, rate_in, low), r)


def baseline_bandlimited(x_in, rate_in):
    """libsoxr, very high quality, straight to 16 kHz."""
    return resample(x_in, rate_in, SR)


NF_FFT, NF_HOP = 512, 128


def baseline_noisefill(x_in, rate_in, cutoff, seed_parts):
    """Band-limited resample plus noise above the cutoff. STFT (512-point Hann, hop 128) of the
    band-limited signal; per frame, E = mean power of the bins in [cutoff - 1 kHz, 0.95 cutoff)
    (smoothed over 3 frames); every bin at f >= cutoff gets complex Gaussian noise of mean power
    E * (cutoff / f)^2 (a -6 dB/octave decay from the level just below the cutoff); inverse STFT,
    added. Deterministic (seeded by seed_parts)."""
    bl = baseline_bandlimited(x_in, rate_in)
    if cutoff >= SR / 2 - 1:
        return bl
    f, _, Z = signal.stft(bl, fs=SR, window="hann", nperseg=NF_FFT, noverlap=NF_FFT - NF_HOP,
                          boundary="even", padded=True)
    P = np.abs(Z) ** 2
    band = (f >= cutoff - 1000) & (f < 0.95 * cutoff)
    E = P[band].mean(axis=0)
    E = np.convolve(E, np.ones(3) / 3, "same")
    above = f >= cutoff
    shape = np.zeros_like(f)
    shape[above] = (cutoff / f[above]) ** 2
    rng = seeded_rng("noisefill", *seed_parts)
    noise = (rng.standard_normal(Z.shape) + 1j * rng.standard_normal(Z.shape)) / np.sqrt(2)
    Zn = noise * np.sqrt(shape[:, None] * E[None, :])
    _, n = signal.istft(Zn, fs=SR, window="hann", nperseg=NF_FFT, noverlap=NF_FFT - NF_HOP,
                        boundary=True)
    return bl + fit_length(n, len(bl))


# ---------------------------------------------------------------------------------------------
# metrics

def power_stft(x, n_fft=N_FFT, hop=HOP):
    """(frames, bins) power of the centred, reflect-padded STFT with a periodic Hann window."""
    x = np.asarray(x, dtype=np.float64)
    xp = np.pad(x, n_fft // 2, mode="reflect")
    frames = 1 + len(x) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    X = np.fft.rfft(xp[idx] * win, axis=1)
    return X.real ** 2 + X.imag ** 2


def snr_db(ref, est):
    noise = np.sum((ref - est) ** 2)
    sig = np.sum(ref ** 2)
    if noise == 0:
        return SNR_CAP
    if sig == 0:
        return -SNR_CAP
    return float(min(SNR_CAP, 10 * np.log10(sig / noise)))


def lsd_all(P_ref, P_est, cutoff):
    """dict: lsd_papers, lsd_k21, lsd_above, lsd_below (see the module doc)."""
    D = np.log(P_ref + 1e-8) - np.log(P_est + 1e-8)
    D2 = D ** 2
    ln10 = np.log(10.0)
    freqs = np.arange(P_ref.shape[1]) * SR / N_FFT
    out = {
        "lsd_papers": float(np.mean(np.sqrt(D2.mean(axis=1)) / ln10)),
        "lsd_k21": float(min(np.mean(np.sqrt(D2.mean(axis=0) + 1e-8)), 10.0)),
    }
    above, below = freqs >= cutoff, freqs < cutoff
    out["lsd_above"] = float(np.mean(np.sqrt(D2[:, above].mean(axis=1)) / ln10)) if above.any() else None
    out["lsd_below"] = float(np.mean(np.sqrt(D2[:, below].mean(axis=1)) / ln10)) if below.any() else None
    return out


def wb_pesq(ref, est):
    """WB-PESQ (P.862.2) at 16 kHz, or (None, error text)."""
    try:
        from pesq import pesq
        return float(pesq(SR, ref.astype(np.float32), est.astype(np.float32), "wb")), None
    except Exception as e:  # noqa: BLE001 - the pesq package raises several kinds
        return None, f"{type(e).__name__}: {e}"[:200]


def clipping(y):
    """(count, fraction) of samples with |y| >= 0.999 (any channel)."""
    y = np.asarray(y)
    c = int(np.count_nonzero(np.abs(y) >= 0.999))
    return c, c / max(1, y.size)


TONE_FLOOR_HZ = 150.0
TONE_TOL_BINS = 2
TONE_GATE_DB = 60.0


def _prominence_db(db):
    """dB above the running median over +-150 Hz of a (bins,) dB spectrum (7.8 Hz bins)."""
    k = 2 * int(round(TONE_FLOOR_HZ / (SR / N_FFT))) + 1
    return db - median_filter(db, size=k, mode="nearest")


def steady_tone(ref_db, est_db, gate_level_db, lo=50.0, hi=7950.0):
    """Largest narrow peak of the estimate's frame-median spectrum that the reference lacks.
    Prominence = level above the spectrum's own median over +-150 Hz; excess = the estimate's
    prominence at a local maximum minus the reference's largest prominence within +-2 bins (floored
    at 0 dB). Peaks quieter than gate_level_db are ignored (numerical floors of empty bands).
    Returns (excess dB, frequency Hz); (0, None) when there is no candidate."""
    pe, pr = _prominence_db(est_db), _prominence_db(ref_db)
    pr_max = np.maximum(pr, 0)
    for s in range(1, TONE_TOL_BINS + 1):
        pr_max = np.maximum(pr_max, np.roll(pr, s))
        pr_max = np.maximum(pr_max, np.roll(pr, -s))
    freqs = np.arange(len(pe)) * SR / N_FFT
    peak = np.zeros_like(pe, dtype=bool)
    peak[1:-1] = (pe[1:-1] >= pe[:-2]) & (pe[1:-1] >= pe[2:])
    ok = peak & (freqs >= lo) & (freqs <= hi) & (est_db >= gate_level_db)
    if not ok.any():
        return 0.0, None
    excess = np.where(ok, pe - pr_max, -np.inf)
    i = int(np.argmax(excess))
    if excess[i] <= 0:
        return 0.0, None
    return float(excess[i]), float(freqs[i])


def tone_metrics(P_ref, P_est):
    """Steady tones. A steady tone is in most frames, so the spectra compared are the median over
    frames of each bin's dB level (random peaks of noise or speech do not survive the median; a
    tone does). Whole file, and `pause`: the quietest 20 % of the reference's frames (at least
    one). Candidate peaks must be within 60 dB of the loudest bin of the reference's whole-file
    median spectrum."""
    ref_db = 10 * np.log10(P_ref + 1e-20)
    est_db = 10 * np.log10(P_est + 1e-20)
    r_med, e_med = np.median(ref_db, axis=0), np.median(est_db, axis=0)
    gate = r_med.max() - TONE_GATE_DB
    t_db, t_hz = steady_tone(r_med, e_med, gate)
    e = P_ref.sum(axis=1)
    k = max(1, int(round(0.2 * len(e))))
    quiet = np.argsort(e, kind="stable")[:k]
    p_db, p_hz = steady_tone(np.median(ref_db[quiet], axis=0), np.median(est_db[quiet], axis=0), gate)
    return {"tone_db": t_db, "tone_hz": t_hz, "pause_tone_db": p_db, "pause_tone_hz": p_hz}


def best_lag(ref, est, max_lag=64):
    """Lag (samples, est behind ref positive) maximising the cross-correlation within +-max_lag:
    a diagnostic for alignment errors; metrics use lag 0."""
    n = min(len(ref), len(est), SR * 4)
    a, b = ref[:n], est[:n]
    if not np.any(a) or not np.any(b):
        return 0
    c = signal.correlate(b, a, mode="full", method="fft")
    mid = n - 1
    seg = c[mid - max_lag: mid + max_lag + 1]
    return int(np.argmax(seg)) - max_lag


def metrics(ref, est, cutoff, speech=True, P_ref=None):
    """All reference metrics for a 16 kHz estimate already aligned to len(ref)."""
    if P_ref is None:
        P_ref = power_stft(ref)
    P_est = power_stft(est)
    m = {"snr_db": snr_db(ref, est)}
    m.update(lsd_all(P_ref, P_est, cutoff))
    if speech:
        m["pesq_wb"], err = wb_pesq(ref, est)
        if err:
            m["pesq_error"] = err
    m.update(tone_metrics(P_ref, P_est))
    m["lag"] = best_lag(ref, est)
    return m
