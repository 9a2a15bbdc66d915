"""Fit, evaluate and ship the footstep category model (``footstep/p``), reproducibly.

Legend: N clips, D feature dimension.

1. Import (or read) ``footsteps-dev`` (positives) and ``footsteps-neg-dev`` (negatives),
   16 kHz, 8192-sample clips, split by source file. Each clip's package is the first
   folder of its source (0ad, minetest, ufoai).
2. Features (:mod:`benchbox.metrics.category_features`), aisfx through the content-hash
   embedding cache, one thread. Beside them, the aisfx checkpoint's own ``prosfx`` head,
   class 33 (an inferred FOOTSTEPS reading) as a score.
3. Leave-one-package-out: for each package, fit on the other two packages' clips (both
   corpora, all splits), test on the held-out package: AUC with a bootstrap CI
   (resampling source files) and the acceptance of footsteps and non-footsteps at the
   threshold, for every feature set and penalty. Splitting never mixes packages.
4. The shipped model: the chosen feature set and penalty, fitted on both corpora's
   ``train`` splits, Platt-calibrated on ``val``, written to
   ``benchbox/metrics/footstep_model.json`` with the training data's hash and the seed.
   ``--check`` refits and compares with the shipped file instead of writing it.
5. ``--framing native`` writes nothing: it prints step 3's table for the shipped pipeline with
   ``aisfx_norm`` embedded under that aisfx framing (``native``: the clip alone, the framing of
   the models before scorer version 14) beside the shipped one (``centre``), the paired AUC gain
   (bootstrap over source files) and both full leave-one-package-out verdicts (detectors too).

Usage::

    PYTHONPATH=. .venv/bin/python benchmarks/fit_category.py [--data DIR] [--doc docs/verdict.md] [--check] [--framing native [--figure docs/category-framing.png]]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, load_audio
from benchbox.data.dataset import load_dataset
from benchbox.data.importer import import_folder
from benchbox.metrics import category as cat
from benchbox.metrics import category_eval as ce
from benchbox.metrics.category_fit import SYNTHETIC_KINDS, synthetic_negatives
from benchbox.metrics.category_features import envelope_matrix
from benchbox.metrics.embedders import aisfx_weights_path, embed_waves, _aisfx_safe_globals
from benchbox.metrics.fad import pool_clips
from benchbox.runs import replace_marked_section, sha256_audio

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("0ad", "minetest", "ufoai")
CORPORA = {"footsteps-dev": 1, "footsteps-neg-dev": 0}
FEATURE_SET, L2 = "aisfx_norm", 0.03  # chosen by leave-one-package-out (docs/verdict.md)
L2_GRID = (0.003, 0.03, 0.3)
THRESHOLD_GRID = ce.THRESHOLD_GRID  # footstep/p thresholds tried (Youden's J on the LOPO estimate)
SEED = 0
BOOTSTRAP = ce.BOOTSTRAP
CATEGORY_START, CATEGORY_END = "<!-- category:start -->", "<!-- category:end -->"
PROSFX_HEAD, PROSFX_FOOTSTEPS = "fc.0.", 33
SYNTHETIC, SYNTHETIC_SEED, SYNTHETIC_PER_KIND = "synthetic", 0, 100  # calibrate_verdict.py judges other seeds' draws


def load_corpus(name: str, data_dir: Path) -> pd.DataFrame:
    """The imported corpus's manifest with ``package``, ``label`` (1 footstep) and ``abs_path`` columns."""
    root = data_dir / name
    if not (root / "manifest.csv").is_file():
        import_folder(name, root)
    ds = load_dataset(root)
    rows = ds.rows().copy()
    rows["abs_path"] = [str(p) for p in ds.clip_paths()]
    rows["package"] = rows["source"].str.split("/").str[0]
    rows["y"] = CORPORA[name]
    rows["corpus"] = name
    return rows


def training_set(data_dir: Path, per_kind: int = SYNTHETIC_PER_KIND) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Both corpora's rows plus ``per_kind`` synthetic negatives per kind (seed ``SYNTHETIC_SEED``),
    and their waves at 16 kHz in the same order: what every category measurement fits and scores."""
    rows = pd.concat([load_corpus(n, data_dir) for n in CORPORA], ignore_index=True)
    waves = [load_audio(p, PROJECT_SAMPLE_RATE_HZ) for p in rows["abs_path"]]
    synth, synth_waves = synthetic_rows(rows, SYNTHETIC_SEED, per_kind)
    return pd.concat([rows, synth], ignore_index=True), waves + synth_waves


def prosfx_p33(aisfx: np.ndarray) -> np.ndarray:
    """(N,) softmax probability of class 33 of the checkpoint's ``prosfx`` head on (N, 512) embeddings."""
    with torch.serialization.safe_globals(_aisfx_safe_globals()):
        state = torch.load(aisfx_weights_path(), map_location="cpu", weights_only=True)[0]
    h = torch.from_numpy(aisfx.astype(np.float32))
    for i in (0, 2, 4):
        h = h @ state[f"{PROSFX_HEAD}{i}.weight"].T + state[f"{PROSFX_HEAD}{i}.bias"]
        h = torch.relu(h) if i < 4 else h
    return torch.softmax(h, dim=1)[:, PROSFX_FOOTSTEPS].numpy()


def synthetic_rows(rows: pd.DataFrame, seed: int, per_kind: int = SYNTHETIC_PER_KIND) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Training negatives: ``per_kind`` clips of each of ``SYNTHETIC_KINDS`` (seeded), at real footstep loudness.

    They are in the ``train`` split of package ``synthetic``, which leave-one-package-out never holds out.
    A smaller ``per_kind`` draws the first clips of the larger draw (scorer version 4 drew 40 per kind).
    """
    real = [load_audio(p, PROJECT_SAMPLE_RATE_HZ) for p in rows.loc[(rows["y"] == 1) & (rows["split"] == "train"), "abs_path"]]
    meta, waves = synthetic_negatives(real, seed=seed, per_kind=per_kind)
    meta["package"] = SYNTHETIC
    meta["corpus"] = SYNTHETIC
    return meta.drop(columns=["group", "train_only"]), waves


def features(waves: list[np.ndarray], cache_dir: Path, framing: str = cat.AISFX_FRAMING) -> dict[str, np.ndarray]:
    """Envelope (N, E), mel (N, 128), aisfx (N, 512), aisfx of the level-normalised clips (N, 512, in aisfx's
    ``framing``) and prosfx p33 (N,) of N waves at 16 kHz."""
    aisfx = pool_clips(embed_waves(waves, PROJECT_SAMPLE_RATE_HZ, "aisfx", cache_dir=cache_dir))
    mel = pool_clips(embed_waves(waves, PROJECT_SAMPLE_RATE_HZ, "mel", cache_dir=cache_dir))
    aisfx_norm = cat.aisfx_normalised(waves, cache_dir=cache_dir, framing=framing)
    return {"envelope": envelope_matrix(waves), "mel": mel, "aisfx": aisfx, "aisfx_norm": aisfx_norm, "prosfx": prosfx_p33(aisfx)}


def matrix(feature_set: str, f: dict[str, np.ndarray]) -> np.ndarray:
    """(N, D) features of ``feature_set`` from the dict of :func:`features`."""
    return cat.feature_matrix(feature_set, envelope=f["envelope"], mel=f["mel"], aisfx=f["aisfx"], aisfx_norm=f["aisfx_norm"])


def lopo_splits(packages: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(held-out package, train index, test index)`` per real package; no package is on both sides.

    Synthetic rows (package ``synthetic``) are always on the train side and never tested.
    """
    return ce.logo_splits(packages, np.asarray(packages) == SYNTHETIC)


def lopo_scores(x: np.ndarray, y: np.ndarray, packages: np.ndarray, l2: float) -> np.ndarray:
    """(N,) held-out logits: each clip scored by a probe fitted without its package."""
    out = np.full(len(y), np.nan)
    for _, tr, te in lopo_splits(packages):
        mean, scale = x[tr].mean(axis=0), np.maximum(x[tr].std(axis=0), 1e-6)
        w, b = cat.fit_logistic((x[tr] - mean) / scale, y[tr], l2=l2, weight=cat.balanced_weights(y[tr]))
        out[te] = ((x[te] - mean) / scale) @ w + b
    return out


def lopo_table(score: np.ndarray, y: np.ndarray, packages: np.ndarray, sources: np.ndarray, cut: float) -> list[dict]:
    """Per held-out package and pooled: AUC [CI], footstep and non-footstep acceptance at ``score >= cut``."""
    rows = ce.evaluation_rows(score, y, packages, sources, cut, tested=np.asarray(packages) != SYNTHETIC, n_boot=BOOTSTRAP, seed=SEED)
    return [{"held out": r["group"], "auc": r["auc"], "lo": r["lo"], "hi": r["hi"], "footsteps": ce.share(r["positives_accepted"], r["positives"]),
             "non-footsteps": ce.share(r["negatives_accepted"], r["negatives"]), **r} for r in rows]


def fit(f: dict[str, np.ndarray], rows: pd.DataFrame, mask: np.ndarray, feature_set: str, l2: float, threshold: float) -> cat.CategoryModel:
    """The shipped pipeline on the clips in ``mask``: probe on their train split, Platt on their val split."""
    return ce.fit_masked(matrix(feature_set, f), rows["y"].to_numpy(), rows["split"].to_numpy(), rows["sha256"].to_numpy(), mask,
                         feature_set=feature_set, l2=l2, threshold=threshold, seed=SEED)


def lopo_probability(f: dict[str, np.ndarray], rows: pd.DataFrame, feature_set: str, l2: float) -> np.ndarray:
    """(N,) calibrated footstep/p of every clip from the pipeline fitted without its package (NaN for synthetic clips)."""
    pk = rows["package"].to_numpy()
    return ce.logo_probability(matrix(feature_set, f), rows["y"].to_numpy(), rows["split"].to_numpy(), rows["sha256"].to_numpy(), pk, pk == SYNTHETIC,
                               feature_set=feature_set, l2=l2)


def choose_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The grid threshold with the largest footstep minus non-footstep acceptance (Youden's J) of LOPO ``p`` (N,)."""
    return ce.choose_threshold(p, y)


def paired_auc_gain(p_new: np.ndarray, p_old: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[float, float, float]:
    """AUC of ``p_new`` minus that of ``p_old`` on the same (N,) clips, with a 95% bootstrap CI resampling ``groups``."""
    rng = np.random.default_rng(SEED)
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    gains = []
    for _ in range(BOOTSTRAP):
        pick = np.concatenate([members[g] for g in rng.integers(len(uniq), size=len(uniq))])
        gains.append(cat.auc(p_new[pick], y[pick]) - cat.auc(p_old[pick], y[pick]))
    lo, hi = np.nanpercentile(gains, [2.5, 97.5])
    return cat.auc(p_new, y) - cat.auc(p_old, y), float(lo), float(hi)


def compare_framing(f: dict[str, np.ndarray], rows: pd.DataFrame, waves: list[np.ndarray], framing: str, cache: Path, figure: Path | None = None) -> None:
    """Print the shipped pipeline's LOPO table with ``aisfx_norm`` embedded under another aisfx ``framing``, the paired
    AUC gain over the shipped framing, both full LOPO verdicts (detectors and footstep/p) of the real clips, and the
    clips whose category verdict differs (each framing at its own Youden threshold); ``figure``: their spectrograms."""
    from benchbox.metrics.artifacts import detect
    from benchbox.metrics.verdict import verdicts

    other = dict(f, aisfx_norm=cat.aisfx_normalised(waves, cache_dir=cache, framing=framing))
    y, pk, src = rows["y"].to_numpy(), rows["package"].to_numpy(), (rows["corpus"] + ":" + rows["source"]).to_numpy()
    real = pk != SYNTHETIC
    p_old, p_new = (lopo_probability(g, rows, FEATURE_SET, L2)[real] for g in (f, other))
    gain = paired_auc_gain(p_new, p_old, y[real], src[real])
    flags = [{k: v for k, v in detect(np.asarray(w, dtype=np.float32), PROJECT_SAMPLE_RATE_HZ).items() if k.endswith("/flag")} for w, r in zip(waves, real) if r]
    shipped_threshold = cat.load_model().threshold
    for name, p in ((f"{cat.AISFX_FRAMING} framing (this benchbox's fits)", p_old), (f"{framing} framing", p_new)):
        print("\n".join(markdown(lopo_table(p, y[real], pk[real], src[real], shipped_threshold), f"{FEATURE_SET}, {name}, threshold {shipped_threshold}")))
        for t in sorted({shipped_threshold, choose_threshold(p, y[real])}):
            useful = verdicts(flags, p, t)[0].astype(bool)
            yr = y[real]
            print(f"full LOPO verdict at {t}: footsteps {useful[yr == 1].mean():.1%} ({useful[yr == 1].sum()}/{(yr == 1).sum()}), "
                  f"non-footsteps {useful[yr == 0].mean():.1%} ({useful[yr == 0].sum()}/{(yr == 0).sum()})" + (" (its Youden threshold)" if t == choose_threshold(p, yr) else ""))
    print(f"paired AUC gain of {framing} framing: {gain[0]:+.4f} [{gain[1]:+.4f}, {gain[2]:+.4f}] (bootstrap over source files)")
    shipped = p_old >= choose_threshold(p_old, y[real])
    moved = {f"{kind} {what} under the {cat.AISFX_FRAMING} framing": (y[real] == label) & (shipped == gained) & (shipped != (p_new >= choose_threshold(p_new, y[real])))
             for label, kind in ((1, "footsteps"), (0, "non-footsteps")) for gained, what in ((True, "gained"), (False, "lost"))}  # fmt: skip
    sources = rows["source"].to_numpy()[real]
    for name, mask in moved.items():
        print(f"{name}: {mask.sum()} ({', '.join(sorted(set(sources[mask]))[:12])}{', ...' if len(set(sources[mask])) > 12 else ''})")
    if figure is not None:
        flip_figure([w for w, r in zip(waves, real) if r], sources, p_new, p_old, moved, framing, figure)


def flip_figure(waves: list[np.ndarray], sources: np.ndarray, p_other: np.ndarray, p_shipped: np.ndarray, moved: dict[str, np.ndarray], framing: str, path: Path) -> None:
    """Spectrograms (16 kHz, dB) of up to six clips (seed 0) of each ``moved`` mask (N,), titled with both framings' footstep/p."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(SEED)
    fig, axes = plt.subplots(len(moved), 6, figsize=(18, 2.6 * len(moved)), squeeze=False)
    for row, (name, mask) in zip(axes, moved.items()):
        picks = rng.choice(np.flatnonzero(mask), size=min(6, int(mask.sum())), replace=False) if mask.any() else []
        for ax in row:
            ax.set_xticks([]), ax.set_yticks([])
        for ax, i in zip(row, picks):
            ax.specgram(waves[i], NFFT=256, Fs=PROJECT_SAMPLE_RATE_HZ, noverlap=192, cmap="magma", vmin=-120)
            ax.set_title(f"{name}\n{sources[i][-40:]}\nfootstep/p {framing} {p_other[i]:.2f}, shipped {p_shipped[i]:.2f}", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=60)
    print(f"wrote {path}")


def markdown(table: list[dict], title: str) -> list[str]:
    return ce.markdown_table(table, title, group_label="held-out package", positive="footsteps", negative="non-footsteps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder for (or holding) the imported corpora")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "embeddings")
    ap.add_argument("--explore", action="store_true", help="print the LOPO sweep over feature sets and penalties")
    ap.add_argument("--sweep", action="store_true", help="with --explore: every feature set and penalty (slow)")
    ap.add_argument("--check", action="store_true", help="refit and compare with the shipped model instead of writing it")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "verdict.md")
    ap.add_argument("--figure", type=Path, help="with --framing: write spectrograms of the clips whose category verdict differs here (PNG)")
    ap.add_argument("--framing", choices=tuple(f for f in cat.FRAMINGS if f != cat.AISFX_FRAMING), help="compare the shipped pipeline with aisfx_norm embedded under this aisfx framing (nothing written)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = pd.concat([load_corpus(n, args.data) for n in CORPORA], ignore_index=True)
    waves = [load_audio(p, PROJECT_SAMPLE_RATE_HZ) for p in rows["abs_path"]]
    synth, synth_waves = synthetic_rows(rows, SYNTHETIC_SEED)
    rows = pd.concat([rows, synth], ignore_index=True)
    f = features(waves + synth_waves, args.cache)
    y, pk, src = rows["y"].to_numpy(), rows["package"].to_numpy(), (rows["corpus"] + ":" + rows["source"]).to_numpy()
    if args.framing:
        compare_framing(f, rows, waves + synth_waves, args.framing, args.cache, args.figure)
        return
    if args.explore:
        print("prosfx p33", lopo_table(f["prosfx"], y, pk, src, 0.5))
        real = pk != SYNTHETIC
        for fs in (FEATURE_SET, "envelope+aisfx"):  # with and without the synthetic training negatives
            x = matrix(fs, f)
            for name, keep in (("without synthetic", real), ("with synthetic", np.ones(len(y), bool))):
                t = lopo_table(lopo_scores(x[keep], y[keep], pk[keep], L2), y[keep], pk[keep], src[keep], 0.0)
                print(fs, name, " | ".join(f"{r['held out']} {r['auc']:.3f} fs {r['footsteps']} neg {r['non-footsteps']}" for r in t), flush=True)
        for fs in cat.FEATURE_SETS if args.sweep else ():
            x = matrix(fs, f)
            for l2 in L2_GRID:
                t = lopo_table(lopo_scores(x, y, pk, l2), y, pk, src, 0.0)
                print(fs, l2, " | ".join(f"{r['held out']} {r['auc']:.3f} [{r['lo']:.3f},{r['hi']:.3f}] fs {r['footsteps']} neg {r['non-footsteps']}" for r in t), flush=True)
        return
    p = lopo_probability(f, rows, FEATURE_SET, L2)
    real = pk != SYNTHETIC
    threshold = choose_threshold(p[real], y[real])
    model = fit(f, rows, np.ones(len(rows), bool), FEATURE_SET, L2, threshold)
    if args.check:
        shipped = cat.load_model()
        x = matrix(FEATURE_SET, f)
        theirs = x if shipped.framing == model.framing else matrix(FEATURE_SET, features(waves + synth_waves, args.cache, shipped.framing))  # each on its own framing
        gap = float(np.abs(model.probability(x) - shipped.probability(theirs)).max())
        print(f"data hash {'matches' if model.data_sha256 == shipped.data_sha256 else 'DIFFERS'}; largest footstep/p difference {gap:.2e}; "
              f"threshold {threshold:g} (shipped {shipped.threshold:g}); framing {model.framing} (shipped {shipped.framing})")
        return
    model.save(cat.MODEL_PATH)
    lines = markdown(lopo_table(p, y, pk, src, threshold), f"`footstep/p` ({FEATURE_SET}, L2 {L2}, with synthetic training negatives), threshold {threshold}")
    lines += markdown(lopo_table(f["prosfx"], y, pk, src, 0.5), "aisfx `prosfx` head, class 33 (softmax probability), threshold 0.5")
    replace_marked_section(args.doc, "\n".join(lines), CATEGORY_START, CATEGORY_END)
    print("\n".join(lines))
    print(f"wrote {cat.MODEL_PATH} (data {model.data_sha256[:12]})")


if __name__ == "__main__":
    main()
