"""Calibrate the artefact detectors: false positives on real steps, recall on planted artefacts.

Legend: N clips, T samples per clip.

Imports the dev recordings with ``benchbox.data.importer.import_folder`` (or reads an
already imported dataset with ``--dataset``), runs every detector of
``benchbox.metrics.artifacts`` with its default thresholds on

* the real clips (each detector's false-positive rate must be <= 5%),
* the real clips after an 8-bit mu-law / linear round trip (what a perfect 8-bit
  generator emits; reported, not a gate),
* copies of the real clips with one planted artefact each (recall must be >= 95%),

and writes the measured table into ``docs/detectors.md`` between the calibration
markers. Usage::

    .venv/bin/python benchmarks/calibrate_detectors.py [--data corpora/footsteps-dev] [--limit N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchbox.audio import quantise
from benchbox.data.dataset import load_dataset
from benchbox.metrics.artifacts import FLAG_KEYS, USEFUL_KEY, DetectorConfig, detect
from benchbox.runs import replace_marked_section
from benchbox.stats import wilson_interval

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / "corpora" / "footsteps-dev"
DEFAULT_DOC = REPO / "docs" / "detectors.md"
START_MARK, END_MARK = "<!-- calibration:start -->", "<!-- calibration:end -->"
MAX_FPR, MIN_RECALL = 0.05, 0.95
HUM_REL_DB = -6.0  # planted hum RMS relative to the clip's RMS
DC_RANGE = (0.004, 0.05)  # planted offset, log-uniform, random sign
CLIP_DRIVE = (2.0, 8.0)  # planted clipping: the clip's peak is driven to this multiple of full scale
SILENT_NOISE_DBFS = -80.0

Planter = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _sine(n: int, f_hz: float, amp: float, rng: np.random.Generator, rate: int) -> np.ndarray:
    t = np.arange(n) / rate  # (T,)
    return amp * np.sin(2 * np.pi * f_hz * t + rng.uniform(0, 2 * np.pi))


def plant_dc(x, rng, rate):
    return x + rng.choice([-1.0, 1.0]) * math.exp(rng.uniform(*np.log(DC_RANGE)))


def plant_hum(x, rng, rate):
    amp = _rms(x) * 10 ** (HUM_REL_DB / 20) * math.sqrt(2.0)
    return x + _sine(len(x), rng.uniform(50.0, 300.0), amp, rng, rate)


def plant_silence(x, rng, rate):
    if rng.random() < 0.5:
        return np.zeros_like(x)
    return rng.normal(0.0, 10 ** (SILENT_NOISE_DBFS / 20), size=len(x))


def plant_clipping(x, rng, rate):
    drive = rng.uniform(*CLIP_DRIVE) / max(float(np.abs(x).max()), 1e-9)
    return np.clip(x * drive, -1.0, 1.0)


def plant_sine_only(x, rng, rate):
    return _sine(len(x), rng.uniform(50.0, 300.0), rng.uniform(0.05, 0.9), rng, rate)


def plant_noise(x, rng, rate):
    return rng.normal(0.0, 10 ** (rng.uniform(-40.0, -10.0) / 20), size=len(x))


def plant_clicks(x, rng, rate):
    """1-3 one-sample impulses of -20 to -1 dBFS, random sign, each where the clip within
    1 ms is at least 16 dB below the impulse (else at the clip's quietest such place): what a
    model that draws one extreme code from its distribution's tail leaves in a clip. An
    impulse inside the loud onset is masked, to the ear and to the detector alike."""
    from scipy.ndimage import maximum_filter1d

    y = x.astype(np.float64).copy()
    context = maximum_filter1d(np.abs(y), size=2 * round(rate / 1000) + 1, mode="constant")  # (T,)
    for _ in range(int(rng.integers(1, 4))):
        amp = 10 ** (rng.uniform(-20.0, -1.0) / 20)
        room = np.flatnonzero(context <= amp / 6.5)
        pos = int(rng.choice(room)) if room.size else int(np.argmin(context))
        y[pos] = rng.choice([-1.0, 1.0]) * amp
    return y


def plant_nan(x, rng, rate):
    y = x.astype(np.float64).copy()
    y[rng.integers(len(y))] = np.nan
    return y


# (name, description, planter, the flag that must fire)
PLANTED: tuple[tuple[str, str, Planter, str], ...] = (
    ("dc", f"constant offset c, abs(c) log-uniform in [{DC_RANGE[0]}, {DC_RANGE[1]}]", plant_dc, "dc/flag"),
    ("hum", f"50-300 Hz sine mixed in at {HUM_REL_DB:+.0f} dB re clip RMS", plant_hum, "periodicity/flag"),
    ("silence", f"all zeros, or white noise at {SILENT_NOISE_DBFS:.0f} dBFS", plant_silence, "silence/flag"),
    ("clipping", f"peak driven to {CLIP_DRIVE[0]:.0f}-{CLIP_DRIVE[1]:.0f}x full scale, hard-clipped", plant_clipping, "clip/flag"),
    ("sine only", "50-300 Hz sine, amplitude 0.05-0.9, no footstep", plant_sine_only, "periodicity/flag"),
    ("sine only (any flag)", "as above; useful/auto must be 0", plant_sine_only, USEFUL_KEY),
    ("stationary noise", "white noise, -40 to -10 dBFS RMS", plant_noise, "transient/flag"),
    ("clicks", "1-3 samples set to +/-(-20 to -1 dBFS), >= 16 dB above the clip within 1 ms", plant_clicks, "click/flag"),
    ("nan", "one sample set to NaN", plant_nan, "nan/flag"),
)


def real_clips(data: Path | None, dataset: Path | None, work: Path) -> tuple[np.ndarray, int]:
    """(N, T) real clips of every split, imported from ``data`` unless ``dataset`` is given."""
    if dataset is None:
        from benchbox.data.importer import import_folder

        dataset = work / "dataset"
        import_folder(data, dataset, overwrite=True)
    ds = load_dataset(dataset)
    return ds.load_clips(), ds.sample_rate_hz


def flags_of(clips: np.ndarray, rate: int, config: DetectorConfig) -> dict[str, np.ndarray]:
    rows = [detect(x, rate, config) for x in clips]
    return {k: np.array([r[k] for r in rows]) for k in (*FLAG_KEYS, USEFUL_KEY)}


def calibrate(clips: np.ndarray, rate: int, config: DetectorConfig | None = None, seed: int = 0, quantised: bool = True) -> dict:
    """False-positive rates (real and, with ``quantised``, 8-bit round trips) and recall per planted artefact."""
    config = config or DetectorConfig()
    n = len(clips)
    fpr = {"real": flags_of(clips, rate, config)}
    for scheme in ("mulaw", "linear") if quantised else ():
        fpr[f"8-bit {scheme}"] = flags_of(np.stack([quantise(x, scheme) for x in clips]), rate, config)
    recall = {}
    for i, (name, _, planter, key) in enumerate(PLANTED):
        rng = np.random.default_rng([seed, i])
        planted = [planter(x.astype(np.float64), rng, rate) for x in clips]
        hits = np.array([detect(y, rate, config)[key] for y in planted])
        recall[name] = int((hits == 0).sum()) if key == USEFUL_KEY else int(hits.sum())
    counts = {}
    for source, flags in fpr.items():
        counts[source] = {k: int(flags[k].sum()) for k in FLAG_KEYS}
        counts[source]["any"] = int((flags[USEFUL_KEY] == 0).sum())
    return {"n": n, "fpr": counts, "recall": recall}


def _rate(k: int, n: int) -> str:
    p, lo, hi = wilson_interval(k, n)
    return f"{100 * p:.1f}% ({k}/{n}) [{100 * lo:.1f}, {100 * hi:.1f}]"


def render(result: dict, config: DetectorConfig) -> str:
    n = result["n"]
    lines = [f"Measured on {n} real clips (seed 0). Rates with Wilson 95% intervals.", ""]
    lines += ["| flag | FPR real (gate <= 5%) | FPR 8-bit mu-law | FPR 8-bit linear |", "|---|---|---|---|"]
    for key in (*FLAG_KEYS, "any"):
        cells = [_rate(result["fpr"][s][key], n) for s in ("real", "8-bit mulaw", "8-bit linear")]
        lines.append(f"| `{key}` | " + " | ".join(cells) + " |")
    lines += ["", "| planted artefact | must fire | recall (gate >= 95%) |", "|---|---|---|"]
    for name, desc, _, key in PLANTED:
        target = "`useful/auto` = 0" if key == USEFUL_KEY else f"`{key}`"
        lines.append(f"| {name}: {desc} | {target} | {_rate(result['recall'][name], n)} |")
    lines += ["", "Thresholds (`DetectorConfig` defaults):", ""]
    lines += [f"- `{k}` = {v}" for k, v in vars(config).items()]
    return "\n".join(lines)


def gates_hold(result: dict) -> bool:
    n = result["n"]
    fpr_ok = all(result["fpr"]["real"][k] <= MAX_FPR * n for k in FLAG_KEYS)
    return fpr_ok and all(v >= MIN_RECALL * n for v in result["recall"].values())


def write_doc(path: Path, table: str) -> None:
    replace_marked_section(path, table, START_MARK, END_MARK)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of dev recordings to import")
    parser.add_argument("--dataset", type=Path, default=None, help="an imported dataset folder (skips the import)")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="markdown file to write the table into")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N clips (0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the planted artefacts")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        clips, rate = real_clips(args.data, args.dataset, Path(work))
    clips = clips[: args.limit] if args.limit else clips
    config = DetectorConfig()
    result = calibrate(clips, rate, config, seed=args.seed)
    table = render(result, config)
    print(table)
    print(f"\n{time.perf_counter() - start:.1f} s; gates {'hold' if gates_hold(result) else 'FAIL'}")
    if not args.limit:
        write_doc(args.doc, table)


if __name__ == "__main__":
    main()
