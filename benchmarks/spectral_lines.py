"""Measure tonal lines and comb striation in clips, against real clips (issue 27).

For each clip: an STFT (512-sample Hann frames, 31.25 Hz bins, hop 128) over its *active*
frames (within 30 dB of its loudest frame), either the first ``--onset-ms`` after the first
active frame ("onset") or all active frames ("body"). Two numbers per clip, in dB:

* line contrast at ``--line-hz``: mean power of the 3 bins around the line over the median
  power of the bins in line +- 500 Hz outside line +- 100 Hz;
* ripple: the RMS over 1-7.5 kHz of the striation residual below (the clip's mean log-power
  spectrum minus its own 9-bin median-smoothed version): lines and combs at any spacing;
* comb contrast at spacing S: the clip's mean log-power spectrum minus its own 9-bin (281 Hz)
  median-smoothed version (the striation residual), averaged at k S +- 1 bin minus averaged at
  (k + 1/2) S +- 1 bin, over 1-7.5 kHz.

``--plot OUT.png`` draws each set's mean (over clips) body spectrum and its striation residual.

Usage: python benchmarks/spectral_lines.py LABEL=GLOB [LABEL=GLOB ...] [--json OUT] [--plot OUT.png]
"""

from __future__ import annotations

import argparse
import glob
import json

import numpy as np
import soundfile as sf
from scipy.ndimage import median_filter
from scipy.signal import stft

SAMPLE_RATE_HZ = 16000
N_FFT = 512
HOP = 128
ACTIVE_DB = 30.0
FLOOR = 1e-12


def _active_power(wave: np.ndarray, onset_ms: float | None) -> np.ndarray | None:
    """(F,) mean power over the clip's active frames (or the first onset_ms of them)."""
    _, _, z = stft(wave, SAMPLE_RATE_HZ, nperseg=N_FFT, noverlap=N_FFT - HOP, boundary=None, padded=False)
    p = np.abs(z) ** 2  # (F, N)
    e = 10 * np.log10(p.sum(0) + FLOOR)  # (N,)
    active = np.flatnonzero(e > e.max() - ACTIVE_DB)
    if active.size == 0 or e.max() < -100:
        return None
    if onset_ms is not None:
        first = active[0]
        n = max(1, int(onset_ms / 1000 * SAMPLE_RATE_HZ / HOP))
        active = active[(active >= first) & (active < first + n)]
    return p[:, active].mean(1)


def line_contrast_db(power: np.ndarray, line_hz: float) -> float:
    f = np.arange(power.size) * SAMPLE_RATE_HZ / N_FFT
    centre = int(round(line_hz * N_FFT / SAMPLE_RATE_HZ))
    ring = (np.abs(f - line_hz) <= 500) & (np.abs(f - line_hz) > 100)
    return float(10 * np.log10(power[centre - 1 : centre + 2].mean() + FLOOR) - 10 * np.log10(np.median(power[ring]) + FLOOR))


def _residual_db(power: np.ndarray) -> np.ndarray:
    db = 10 * np.log10(power + FLOOR)
    return db - median_filter(db, size=9, mode="nearest")


def ripple_db(power: np.ndarray) -> float:
    f = np.arange(power.size) * SAMPLE_RATE_HZ / N_FFT
    return float(np.sqrt(np.mean(_residual_db(power)[(f >= 1000) & (f <= 7500)] ** 2)))


def comb_contrast_db(power: np.ndarray, spacing_hz: float) -> float:
    resid = _residual_db(power)
    f = np.arange(power.size) * SAMPLE_RATE_HZ / N_FFT
    on, off = [], []
    k = 1
    while k * spacing_hz < 7500:
        if k * spacing_hz >= 1000:
            for target, sink in ((k * spacing_hz, on), ((k + 0.5) * spacing_hz, off)):
                i = int(round(target * N_FFT / SAMPLE_RATE_HZ))
                sink.extend(resid[i - 1 : i + 2])
        k += 1
    return float(np.mean(on) - np.mean(off))


def mean_spectrum_db(files: list[str]) -> np.ndarray:
    """(F,) the mean over clips of each clip's active-frame log-power spectrum, dB."""
    dbs = [10 * np.log10(p + FLOOR) for p in (_active_power(sf.read(f, dtype="float64")[0][:8192], None) for f in files) if p is not None]
    return np.mean(dbs, axis=0)


def plot(sets: dict[str, list[str]], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True)
    for label, files in sets.items():
        db = mean_spectrum_db(files)
        f = np.arange(db.size) * SAMPLE_RATE_HZ / N_FFT
        top.plot(f, db, lw=0.9, label=label)
        bottom.plot(f, db - median_filter(db, size=9, mode="nearest"), lw=0.9, label=label)
    top.set_ylabel("mean power (dB)")
    bottom.set_ylabel("minus 281 Hz median (dB)")
    bottom.set_xlabel("frequency (Hz)")
    bottom.set_xticks(np.arange(0, SAMPLE_RATE_HZ // 2 + 1, 500))
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


def measure(files: list[str], line_hz: float, onset_ms: float, spacings: list[float]) -> dict:
    rows = []
    for path in files:
        wave = sf.read(path, dtype="float64")[0][:8192]
        onset, body = _active_power(wave, onset_ms), _active_power(wave, None)
        if onset is None:
            continue
        rows.append({"line_onset": line_contrast_db(onset, line_hz), "line_body": line_contrast_db(body, line_hz), "ripple": ripple_db(body),
                     **{f"comb{int(s)}": comb_contrast_db(body, s) for s in spacings}})
    out = {"n": len(rows)}
    for key in rows[0]:
        v = np.array([r[key] for r in rows])
        out[key] = {"median": float(np.median(v)), "q90": float(np.quantile(v, 0.9)), "share_gt6db": float((v > 6).mean())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+", help="LABEL=GLOB")
    ap.add_argument("--line-hz", type=float, default=4000.0)
    ap.add_argument("--onset-ms", type=float, default=100.0)
    ap.add_argument("--spacings", default="250,500,1000")
    ap.add_argument("--json")
    ap.add_argument("--plot")
    args = ap.parse_args()
    spacings = [float(s) for s in args.spacings.split(",")]
    sets = {label: sorted(glob.glob(pattern)) for label, pattern in (item.split("=", 1) for item in args.sets)}
    result = {}
    for label, files in sets.items():
        result[label] = measure(files, args.line_hz, args.onset_ms, spacings)
        r = result[label]
        print(f"{label:12s} n={r['n']:3d} " + " ".join(f"{k} {v['median']:+6.1f} (q90 {v['q90']:+6.1f}, >6dB {v['share_gt6db']:.2f})" for k, v in r.items() if k != "n"))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)
    if args.plot:
        plot(sets, args.plot)


if __name__ == "__main__":
    main()
