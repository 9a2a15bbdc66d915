"""Calibrate the usefulness verdict (no artefact flag AND realistic) on the dev footsteps.

Legend: N clips, T samples per clip, D embedding dimension.

1. Import ``../shared/data/footsteps-dev`` (or read ``--dataset``) and split its
   **recordings** into 5 folds. Each real clip gets its realism score against the
   ``train``-sized reference made of the other folds' clips, so no clip is scored
   against its own recording.
2. Calibration: ``realism_min`` is the largest value that keeps >= 97% of the clips of
   folds 0-2 realistic (margin over the 95% gate). Held out: folds 3-4 are never
   used to choose it.
3. Negatives (seeded, 8192 samples at 16 kHz, scored against the whole real set):
   stationary noise at footstep loudness, noise with periodic clicks, silence with
   isolated clicks, hum, DC, clipped steps, and clips of untrained (step 0) SaShiMi-tiny
   and WaveNet-tiny; optionally ``--negative NAME=FOLDER`` folders of generated clips
   known to be failures (gated like the synthetic ones, e.g. the 300-step tiny models'
   noise walls) and ``--extra NAME=FOLDER`` folders reported without a gate (e.g. the
   clips of models that learned, whose true useful rate is what the verdict measures).
4. Gates: >= 95% of held-out real clips useful; <= 5% of each negative useful. Beside
   each set: the 1-NN two-sample test (balanced accuracy, permutation p) of its clips
   against the real clips of folds 0-2, i.e. whether the set as a whole can be told
   from real steps even where its clips pass one by one.
5. Sweep: the per-clip realism rule under other spaces (aisfx, mel, both joined), k and
   keep_quantile, each recalibrated on folds 0-2 the same way, against the held-out real
   clips and the gated sets: what a stricter per-clip rule would buy, and what it costs.

Writes the tables into ``docs/verdict.md`` between the calibration and sweep markers. Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/calibrate_verdict.py [--dataset DIR] \
        [--negative "NAME=FOLDER_OR_GLOB"] [--extra "NAME=FOLDER_OR_GLOB"]

(the exact command behind the committed tables is in ``docs/verdict.md``)
"""

from __future__ import annotations

import argparse
import glob
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, list_audio_files, load_audio
from benchbox.errors import AudioError, BenchboxError
from benchbox.data.dataset import load_dataset
from benchbox.metrics.artifacts import FLAG_KEYS, detect
from benchbox.metrics.prdc import l2_normalise
from benchbox.metrics.twosample import nn1_test
from benchbox.metrics.verdict import VerdictConfig, realism, verdicts
from benchbox.runs import replace_marked_section
from benchbox.stats import wilson_interval

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "footsteps-dev"
DEFAULT_DOC = REPO / "docs" / "verdict.md"
START_MARK, END_MARK = "<!-- calibration:start -->", "<!-- calibration:end -->"
SWEEP_START, SWEEP_END = "<!-- sweep:start -->", "<!-- sweep:end -->"
JOINT_SPACE = "aisfx+mel"
SWEEP_K, SWEEP_KEEP = (1, 3, 5), (1.0, 0.5)
FOLDS, CALIBRATION_FOLDS = 5, (0, 1, 2)
TARGET_KEEP, MIN_USEFUL_REAL, MAX_USEFUL_NEGATIVE = 0.97, 0.95, 0.05
NEGATIVES_PER_KIND = 40
CLIP_SAMPLES = 8192
STEP0_CLIPS = 16
MIN_SET_CLIPS = 2  # FAD/KAD and the 1-NN test need two clips a set
EMBEDDERS = ("aisfx", "mel")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _coloured_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White, pink or brown noise (random), unit RMS: (T,)."""
    white = rng.normal(size=n)
    slope = rng.choice([0.0, 0.5, 1.0])  # power ~ 1 / f^(2 slope)
    spec = np.fft.rfft(white)
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    x = np.fft.irfft(spec / f**slope, n=n)
    x -= x.mean()
    return x / _rms(x)


def _clicks(n: int, positions: np.ndarray, amp: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros(n)
    for p, a in zip(positions, amp):
        out[p : p + width] += a * np.exp(-np.arange(min(width, n - p)) / max(1.0, width / 4))
    return out


def negatives(real: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Synthetic failure modes, (NEGATIVES_PER_KIND, T) each; loudness drawn from the real clips."""
    n, t = NEGATIVES_PER_KIND, real.shape[1]
    loud = np.array([_rms(x) for x in real])
    out: dict[str, list] = {k: [] for k in ("noise", "noise+periodic clicks", "silence+isolated clicks", "hum", "dc", "clipped")}
    for _ in range(n):
        level = rng.choice(loud)
        out["noise"].append(level * _coloured_noise(rng, t))
        period = int(rng.uniform(0.01, 0.1) * PROJECT_SAMPLE_RATE_HZ)
        pos = np.arange(int(rng.integers(period)), t, period)
        noise = level * _coloured_noise(rng, t)
        out["noise+periodic clicks"].append(np.clip(noise + _clicks(t, pos, rng.uniform(3, 8, len(pos)) * level, 16), -1, 1))
        pos = np.sort(rng.choice(t - 64, size=int(rng.integers(1, 4)), replace=False))
        out["silence+isolated clicks"].append(_clicks(t, pos, rng.uniform(0.1, 0.9, len(pos)) * rng.choice([-1, 1], len(pos)), int(rng.integers(1, 48))))
        ts = np.arange(t) / PROJECT_SAMPLE_RATE_HZ
        f0 = rng.uniform(40, 400)
        hum = sum(np.sin(2 * np.pi * f0 * h * ts + rng.uniform(0, 6.3)) / h for h in (1, 2, 3))
        out["hum"].append(level * math.sqrt(2) * hum / max(_rms(hum) * math.sqrt(2), 1e-9))
        step = real[rng.integers(len(real))].astype(np.float64)
        out["dc"].append(step + rng.choice([-1, 1]) * math.exp(rng.uniform(math.log(0.004), math.log(0.05))))
        out["clipped"].append(np.clip(step * rng.uniform(2, 8) / max(np.abs(step).max(), 1e-9), -1, 1))
    return {k: np.stack(v).astype(np.float32) for k, v in out.items()}


def step0_clips(preset: str, seed: int) -> np.ndarray:
    """(STEP0_CLIPS, T) unprimed clips of an untrained model (its init weights, seeded)."""
    import torch

    from benchbox.audio import decode
    from benchbox.generators import registry
    from benchbox.sample import sample

    name, model_cfg = registry.load_preset(preset, None)
    torch.manual_seed(seed)
    model = registry.build(name, dict(model_cfg))
    codes, _, _ = sample(model, n=STEP0_CLIPS, length=CLIP_SAMPLES, prime=None, generator=torch.Generator().manual_seed(seed), batch=STEP0_CLIPS)
    return decode(codes, "mulaw").numpy().astype(np.float32)


def folder_clips(folder: Path | str) -> np.ndarray:
    """(N, T) clips of every folder matching ``folder`` (a path or a glob such as
    ``results/footsteps-cpu/runs/wavenet-tiny_*/samples/*/prime0``), cut or zero-padded to T."""
    folders = [f for f in sorted(glob.glob(str(folder))) or [str(folder)] if Path(f).is_dir()]
    files = [p for f in folders for p in list_audio_files(Path(f))]
    if len(files) < MIN_SET_CLIPS:
        raise SystemExit(f"error: {len(files)} audio clip(s) in {folder}; a set needs at least {MIN_SET_CLIPS} (generate them first, see docs/verdict.md)")
    waves = []
    for p in files:
        try:
            waves.append(load_audio(p)[:CLIP_SAMPLES])
        except AudioError as e:
            raise SystemExit(f"error: {e.message} (hint: {e.hint})" if e.hint else f"error: {e.message}") from None
    return np.stack([np.pad(w, (0, CLIP_SAMPLES - len(w))) for w in waves]).astype(np.float32)


def named_sets(items: list[str], option: str) -> dict[str, str]:
    """``NAME=GLOB`` items of a repeatable option as {name: glob}; exits with one error line on a malformed item."""
    out = {}
    for item in items:
        name, sep, pattern = item.partition("=")
        if not sep or not name.strip() or not pattern.strip():
            raise SystemExit(f"error: {option} {item!r}: expected NAME=FOLDER_OR_GLOB, e.g. {option} \"wavenet-tiny=results/footsteps-cpu/runs/wavenet-tiny_*/samples/*/prime0\"")
        out[name.strip()] = pattern.strip()
    return out


def embed(waves: np.ndarray, embedder: str, cache: Path) -> np.ndarray:
    from benchbox.metrics.embedders import embed_waves
    from benchbox.metrics.fad import pool_clips

    return pool_clips(embed_waves(list(waves), PROJECT_SAMPLE_RATE_HZ, embedder, cache_dir=cache))  # (N, D)


def recording_folds(sources: pd.Series, seed: int) -> np.ndarray:
    """(N,) fold of each clip: recordings shuffled (seeded) and dealt round-robin into FOLDS."""
    names = np.array(sorted(sources.unique()))
    np.random.default_rng(seed).shuffle(names)
    fold_of = {name: i % FOLDS for i, name in enumerate(names)}
    return sources.map(fold_of).to_numpy()


def real_realism(emb: np.ndarray, folds: np.ndarray, config: VerdictConfig) -> np.ndarray:
    """(N,) realism of each real clip against the clips of the other folds' recordings."""
    out = np.empty(len(emb))
    for f in range(FOLDS):
        held = folds == f
        out[held] = realism(emb[~held], emb[held], config)[0]
    return out


def choose_realism_min(values: np.ndarray) -> float:
    """The (1 - TARGET_KEEP) quantile of ``values`` (N,), rounded down to a data value: keeps >= TARGET_KEEP of them."""
    return float(np.quantile(values, 1.0 - TARGET_KEEP, method="lower"))


def flag_rows(waves: np.ndarray) -> list[dict]:
    """The detector flags of each clip (N, T)."""
    return [{k: detect(w, PROJECT_SAMPLE_RATE_HZ)[k] for k in FLAG_KEYS} for w in waves]


def useful_rate(flags: list[dict], realism: np.ndarray, config: VerdictConfig) -> tuple[int, int, dict[str, int]]:
    """(useful count, n, reason counts) of clips with their detector flags and realism (N,)."""
    useful, reasons = verdicts(flags, realism, config)
    return int(useful.sum()), len(useful), pd.Series(reasons).value_counts().to_dict()


def space(embeddings: dict[str, np.ndarray], name: str) -> np.ndarray:
    """(N, D) clip embeddings in one space; ``aisfx+mel`` joins the two L2-normalised halves (unit length)."""
    if name == JOINT_SPACE:
        return np.hstack([l2_normalise(embeddings[e]) for e in EMBEDDERS]) / math.sqrt(len(EMBEDDERS))
    return embeddings[name]


def sweep(emb: dict[str, dict[str, np.ndarray]], flags: dict[str, list[dict]], folds: np.ndarray, clean: np.ndarray, gated: list[str]) -> list[dict]:
    """Per-clip realism rules tried against the gates: each space x k x keep_quantile, ``realism_min``
    calibrated on folds 0-2 as for the verdict. ``emb[set][embedder]`` (N, D); ``gated`` names the sets reported."""
    calib = np.isin(folds, CALIBRATION_FOLDS)
    out = []
    for name in (*EMBEDDERS, JOINT_SPACE):
        real = space(emb["real"], name)
        for k in SWEEP_K:
            for keep in SWEEP_KEEP:
                base = VerdictConfig(embedder=name, k=k, keep_quantile=keep)
                r_real = real_realism(real, folds, base)
                config = VerdictConfig(embedder=name, k=k, keep_quantile=keep, realism_min=round(choose_realism_min(r_real[calib & clean]), 3))
                row = {"space": name, "k": k, "keep": keep, "realism_min": config.realism_min,
                       "held-out real": useful_rate([f for f, c in zip(flags["real"], calib) if not c], r_real[~calib], config)}
                for g in gated:
                    row[g] = useful_rate(flags[g], realism(real, space(emb[g], name), config)[0], config)
                out.append(row)
    return out


def two_sample(real: np.ndarray, gen: np.ndarray, seed: int) -> tuple[float, float]:
    """(balanced 1-NN accuracy, permutation p) of ``gen`` against ``real`` in the verdict's cosine geometry."""
    test = nn1_test(l2_normalise(real), l2_normalise(gen), seed=seed)
    return test["accuracy"], test["p"]


def calibrate(dataset: Path, cache: Path, seed: int, extra: dict[str, str], negative: dict[str, str] | None = None) -> dict:
    ds = load_dataset(dataset)
    real = ds.load_clips()[:, :CLIP_SAMPLES]  # (N, T)
    folds = recording_folds(ds.manifest["source"], seed)
    rng = np.random.default_rng(seed)
    neg = negatives(real, rng)
    neg["untrained sashimi-tiny"] = step0_clips("sashimi-tiny", seed)
    neg["untrained wavenet-tiny"] = step0_clips("wavenet-tiny", seed)
    neg.update({name: folder_clips(folder) for name, folder in (negative or {}).items()})
    neg.update({name: folder_clips(folder) for name, folder in extra.items()})  # folders or globs
    result = {"n_real": len(real), "n_recordings": int(ds.manifest["source"].nunique()), "embedders": {}, "extra": sorted(extra)}
    flags = {"real": flag_rows(real), **{name: flag_rows(waves) for name, waves in neg.items()}}
    clean = np.array([not any(f.values()) for f in flags["real"]])
    calib = np.isin(folds, CALIBRATION_FOLDS)
    pick = lambda rows, mask: [f for f, m in zip(rows, mask) if m]  # noqa: E731
    emb: dict[str, dict[str, np.ndarray]] = {"real": {}, **{name: {} for name in neg}}
    for emb_name in EMBEDDERS:
        e_real = emb["real"][emb_name] = embed(real, emb_name, cache)
        base = VerdictConfig(embedder=emb_name)
        r_real = real_realism(e_real, folds, base)
        config = VerdictConfig(embedder=emb_name, realism_min=round(choose_realism_min(r_real[calib & clean]), 3))
        held = "held-out real (folds 3-4)"
        rows = {held: useful_rate(pick(flags["real"], ~calib), r_real[~calib], config),
                "calibration real (folds 0-2)": useful_rate(pick(flags["real"], calib), r_real[calib], config),
                "all real, each against the other folds": useful_rate(flags["real"], r_real, config)}
        tests = {held: two_sample(e_real[calib], e_real[~calib], seed)}
        for name, waves in neg.items():
            e_neg = emb[name][emb_name] = embed(waves, emb_name, cache)
            rows[name] = useful_rate(flags[name], realism(e_real, e_neg, config)[0], config)
            tests[name] = two_sample(e_real[calib], e_neg, seed)
        result["embedders"][emb_name] = {"config": config, "rows": rows, "two_sample": tests}
    result["sweep"] = sweep(emb, flags, folds, clean, ["noise", "noise+periodic clicks", *(negative or {})])
    return result


def _rate(k: int, n: int) -> str:
    p, lo, hi = wilson_interval(k, n)
    return f"{100 * p:.1f}% ({k}/{n}) [{100 * lo:.1f}, {100 * hi:.1f}]"


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]) if k != "ok") or "-"


def gate(name: str, useful: int, n: int) -> bool:
    if "real" in name:
        return "calibration" in name or "all real" in name or useful >= MIN_USEFUL_REAL * n
    return useful <= MAX_USEFUL_NEGATIVE * n


def render(result: dict) -> str:
    lines = [f"Measured on {result['n_real']} real clips from {result['n_recordings']} recordings (5 folds by recording, seed 0) "
             f"and {NEGATIVES_PER_KIND} clips per synthetic failure mode ({STEP0_CLIPS} per untrained model). "
             "Rates with Wilson 95% intervals. Gates: held-out real >= 95% useful, each negative <= 5% useful.", ""]
    for emb_name, entry in result["embedders"].items():
        c = entry["config"]
        default = " (the verdict's space)" if emb_name == VerdictConfig().embedder else " (reported only)"
        lines += [f"### {emb_name}{default}", "",
                  f"k = {c.k}, keep_quantile = {c.keep_quantile}, L2-normalised = {c.normalise}, calibrated `realism_min` = {c.realism_min}", "",
                  "| clips | useful/auto | gate | 1-NN acc vs real folds 0-2 (p) | what failed (counts) |", "|---|---|---|---|---|"]
        for name, (useful, n, reasons) in entry["rows"].items():
            verdict = "pass" if gate(name, useful, n) else "**FAIL**"
            if "calibration" in name or "all real" in name or name in result["extra"]:
                verdict = "(not a gate)"
            acc, p = entry["two_sample"].get(name, (math.nan, math.nan))
            test = "-" if math.isnan(acc) else f"{acc:.2f} (p = {p:.2g})"
            lines.append(f"| {name} | {_rate(useful, n)} | {verdict} | {test} | {_reasons(reasons)} |")
        lines.append("")
    return "\n".join(lines)


def render_sweep(rows: list[dict]) -> str:
    """The per-clip rules tried: useful rate of held-out real clips and of each gated set."""
    if not rows:
        return ""
    sets = [c for c in rows[0] if c not in ("space", "k", "keep", "realism_min")]
    lines = ["| space | k | keep_quantile | realism_min | " + " | ".join(sets) + " |", "|---|---|---|---|" + "---|" * len(sets)]
    for r in rows:
        cells = [f"{100 * u / n:.1f}% ({u}/{n})" for u, n, _ in (r[s] for s in sets)]
        lines.append(f"| {r['space']} | {r['k']} | {r['keep']} | {r['realism_min']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_doc(path: Path, table: str, sweep_table: str = "") -> None:
    replace_marked_section(path, table, START_MARK, END_MARK)
    if sweep_table:
        replace_marked_section(path, sweep_table, SWEEP_START, SWEEP_END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of dev recordings to import")
    parser.add_argument("--dataset", type=Path, default=None, help="an imported dataset folder (skips the import)")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="markdown file to write the tables into (needs the calibration and sweep markers)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "benchbox" / "embeddings", help="embedding cache")
    parser.add_argument("--extra", action="append", default=[], help="NAME=FOLDER_OR_GLOB of generated clips to report, no gate (repeatable)")
    parser.add_argument("--negative", action="append", default=[], help="NAME=FOLDER_OR_GLOB of generated failures, gated at <= 5%% useful (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the recording folds, the synthetic negatives and the permutations")
    args = parser.parse_args()
    extra, negative = named_sets(args.extra, "--extra"), named_sets(args.negative, "--negative")
    text = args.doc.read_text(encoding="utf-8") if args.doc.is_file() else ""
    if not all(mark in text for mark in (START_MARK, END_MARK, SWEEP_START, SWEEP_END)):
        raise SystemExit(f"error: {args.doc} needs the markers {START_MARK} {END_MARK} {SWEEP_START} {SWEEP_END}; pass --doc a file that has them")
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as work:
            dataset = args.dataset
            if dataset is None:
                from benchbox.data.importer import import_folder

                dataset = Path(work) / "dataset"
                import_folder(args.data, dataset, overwrite=True)
            result = calibrate(dataset, args.cache, args.seed, extra, negative)
    except BenchboxError as e:
        raise SystemExit(f"error: {e.message}" + (f" (hint: {e.hint})" if e.hint else "")) from None
    table, sweep_table = render(result), render_sweep(result["sweep"])
    print(table)
    print(sweep_table)
    print(f"{time.perf_counter() - start:.1f} s")
    write_doc(args.doc, table, sweep_table)


if __name__ == "__main__":
    main()
