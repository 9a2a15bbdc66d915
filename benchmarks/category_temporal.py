"""Does a step's fine time structure tell it from a knock? (issue 22, session 18: a reading, not adopted).

Legend: N clips, T samples at 16 kHz, F STFT bins (129), K frames (2 ms hop), D = 18 features.

The probe's worst confusions are single knocks and hits on wood or earth taken for steps on wood or
gravel (docs/verdict.md). A walking step is not one impulse: the heel strikes, the foot rolls,
the ball or toe lands some 30-150 ms later, often with a scuff (broadband friction) after the
impact, while a knock is one impulse and a resonant decay. aisfx pools its last block over time
at 23 ms per frame, so it may keep little of that. This script measures, on the same clips and
folds as ``category_variants.py`` (a probe fitted on two packages, both corpora and the synthetic
training negatives, scoring the third package's real clips), D hand-made features of that
structure, from a 16 ms STFT at a 2 ms hop:

* onset strength: the mean positive log-spectral flux per frame (Bello et al. 2005, "A tutorial
  on onset detection in music signals", IEEE TSALP 13(5)); around the loudest frame: the number
  of its peaks at >= 25% of the largest within 300 ms, the second peak over the first, and the
  onset strength's largest autocorrelation (over its lag-0 value) at lags 20-150 ms (a heel-toe interval;
  bins more than 60 dB under the clip's loudest are clamped first, so a noise floor's log
  fluctuations do not count as onsets);
* four band shares (0-0.3, 0.3-1.5, 1.5-4, 4-8 kHz) at the loudest 16 ms and their change
  30-200 ms later (a scuff moves energy up);
* the level drop 20, 50, 100 and 200 ms after the loudest frame, the attack time from 20 dB
  under it, the roughness of the decay (std of the level's second difference over 100 ms) and
  the onset strength's spread 20-300 ms after it (texture).

Usage (one CPU core, about 2 minutes with the embedding cache warm)::

    PYTHONPATH=. .venv/bin/python benchmarks/category_temporal.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.signal import find_peaks, stft

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling scripts, run as a script or loaded by path

import category_variants as cv  # noqa: E402
import fit_category as fc  # noqa: E402

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ  # noqa: E402

WINDOW, HOP = 256, 32  # 16 ms window, 2 ms hop at 16 kHz
HOP_MS = 1000 * HOP / PROJECT_SAMPLE_RATE_HZ
TOP_DB = 60.0  # the onset strength ignores level changes this far under the clip's loudest bin (librosa's top_db idea)
BANDS_HZ = ((0, 300), (300, 1500), (1500, 4000), (4000, 8000))
DROPS_MS = (20, 50, 100, 200)
NAMES = ("onset peaks", "second peak / first", "onset autocorrelation 20-150 ms",
         *(f"share {a}-{b} Hz at peak" for a, b in BANDS_HZ), *(f"share {a}-{b} Hz change" for a, b in BANDS_HZ),
         *(f"drop {ms} ms (dB)" for ms in DROPS_MS), "attack (ms)", "decay roughness (dB)", "onset spread")  # fmt: skip


def frames(ms: float) -> int:
    """Frames in ``ms`` milliseconds at the 2 ms hop."""
    return int(round(ms / HOP_MS))


def temporal_features(wave: np.ndarray) -> np.ndarray:
    """(D,) float features of one (T,) 16 kHz clip (T >= WINDOW), in the order of ``NAMES``; finite for any finite input."""
    freqs, _, z = stft(np.asarray(wave, np.float64), fs=PROJECT_SAMPLE_RATE_HZ, nperseg=WINDOW, noverlap=WINDOW - HOP, boundary=None, padded=False)
    power = np.abs(z) ** 2 + 1e-12  # (F, K)
    level = 10 * np.log10(power.sum(axis=0))  # (K,) dB
    db = 10 * np.log10(power)
    db = np.maximum(db, db.max() - TOP_DB)  # (F, K): bins under the clip's loudest by more than TOP_DB read as that floor
    onset = np.r_[0.0, np.maximum(np.diff(db, axis=1), 0).mean(axis=0)]  # (K,) positive log-spectral flux
    k = int(np.argmax(level))
    around = onset[max(k - frames(10), 0) : k + frames(300)]
    top = around.max() + 1e-12
    peaks, props = find_peaks(around, height=0.25 * top, distance=frames(10))
    heights = np.sort(props["peak_heights"])[::-1] / top
    after = onset[max(k - frames(10), 0) : k + frames(400)]  # non-negative: no mean removed, so silence adds nothing
    ac = np.correlate(after, after, "full")[len(after) - 1 :] / (after @ after + 1e-12)  # lag 0 reads 1
    lags = ac[frames(20) : frames(150) + 1]
    bands = np.stack([power[(freqs >= a) & (freqs < b)].sum(axis=0) for a, b in BANDS_HZ])  # (4, K)
    share = bands / bands.sum(axis=0, keepdims=True)
    at = share[:, k : k + frames(16)].mean(axis=1)
    later = share[:, k + frames(30) : k + frames(200)]
    change = later.mean(axis=1) - at if later.shape[1] else np.zeros(len(BANDS_HZ))
    drops = [level[k] - level[min(k + frames(ms), len(level) - 1)] for ms in DROPS_MS]
    quiet = np.flatnonzero(level[: k + 1] < level[k] - 20)
    attack = (k - (quiet[-1] if len(quiet) else 0)) * HOP_MS
    decay = level[k : k + frames(100)]
    rough = float(np.std(np.diff(decay, 2))) if len(decay) > 3 else 0.0
    tail = onset[k + frames(20) : k + frames(300)]
    return np.array([len(peaks), heights[1] if len(heights) > 1 else 0.0, lags.max() if len(lags) else 0.0,
                     *at, *change, *drops, attack, rough, tail.std() if len(tail) > 1 else 0.0], dtype=np.float64)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=fc.REPO.parent / "shared" / "data", help="folder for (or holding) the imported corpora")
    args = ap.parse_args()
    rows, waves = fc.training_set(args.data)
    y, pk = rows["y"].to_numpy(), rows["package"].to_numpy()
    t = np.stack([temporal_features(w) for w in waves])  # (N, D)
    shipped = cv.aisfx_direction(cv.block_features(waves, cv.SHIPPED_RMS, cv.loaded_embedder())["emb"])
    measured = {"`aisfx_norm` (version 13's shipped probe: native framing, all splits)": cv.lopo_logistic(shipped, y, pk, cv.L2)}
    for l2 in (cv.L2, 0.3):
        measured[f"the {t.shape[1]} time-structure features alone, L2 {l2}"] = cv.lopo_logistic(t, y, pk, l2)
    real = pk != fc.SYNTHETIC
    alone = np.full(len(y), np.nan)
    alone[real] = cv.lopo_logistic(t[real], y[real], pk[real], 0.3)
    measured["the same, L2 0.3, fitted without the synthetic negatives"] = alone
    measured["time-structure features + `aisfx_norm` concatenated"] = cv.lopo_logistic(np.c_[shipped, t], y, pk, cv.L2)
    for weight in (0.25, 0.5):
        measured[f"`aisfx_norm` logit + {weight} x the time-structure probe's (L2 0.3)"] = (
            measured["`aisfx_norm` (version 13's shipped probe: native framing, all splits)"] + weight * measured["the 18 time-structure features alone, L2 0.3"])
    print(f"| variant (logistic, L2 {cv.L2}, {fc.SYNTHETIC_PER_KIND} synthetic negatives per kind, unless noted) | pooled LOPO AUC | {' | '.join(fc.PACKAGES)} |")
    print("|---|---|---|---|---|")
    for name, score in measured.items():
        print(cv.row(name, score, y, pk), flush=True)
    print("\nEach feature alone, pooled AUC over the real clips (no fit; 0.5 is chance, under 0.5 ranks the other way):")
    for name, column in zip(NAMES, t.T):
        per = ", ".join(f"{p} {cv.cat.auc(column[pk == p], y[pk == p]):.3f}" for p in fc.PACKAGES)
        print(f"- {name}: {cv.cat.auc(column[real], y[real]):.3f} ({per})")


if __name__ == "__main__":
    main()
