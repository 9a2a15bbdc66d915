"""Check the usefulness verdict (no artefact flag AND ``footstep/p`` >= threshold) on known clips.

Legend: N clips, T samples per clip.

Writes the table between the calibration markers of ``docs/verdict.md``, with rows:

1. per corpus (``footsteps-dev``, ``footsteps-neg-dev``), split and package: the shipped
   model's verdict (train and val clips were fitted on; test clips were not), and the
   **leave-one-package-out** verdict (the same pipeline fitted without the clip's package:
   the honest estimate for a recording chain it has never seen);
2. per negative category of ``footsteps-neg-dev`` (shipped and leave-one-package-out);
3. per synthetic failure kind (:mod:`benchbox.metrics.failures`, drawn with seed
   ``SYNTHETIC_CHECK_SEED``, never the training seed), at the loudness of real footsteps;
4. the untrained SaShiMi-tiny and WaveNet-tiny (step-0 clips), and any ``--negative`` /
   ``--extra NAME=GLOB`` folders of generated clips (e.g. the 300-step tiny models);
5. memorisation: the "close" rate of held-out real clips (val + test of footsteps-dev),
   leave-one-out, beside its closed form k / (n + 1), and per split.

Gates: real footsteps >= 90% useful, real non-footsteps <= 10%, each synthetic kind <= 5%.
Usage (the exact command behind the committed table is in ``docs/verdict.md``)::

    PYTHONPATH=. .venv/bin/python benchmarks/calibrate_verdict.py [--data DIR] [--negative NAME=GLOB] [--extra NAME=GLOB]
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fit_category, run as a script or loaded by path

import fit_category as fc  # noqa: E402

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, list_audio_files, load_audio  # noqa: E402
from benchbox.errors import AudioError  # noqa: E402
from benchbox.metrics import category as cat  # noqa: E402
from benchbox.metrics import prdc  # noqa: E402
from benchbox.metrics.artifacts import detect  # noqa: E402
from benchbox.metrics.failures import KINDS, NEGATIVES_PER_KIND, negatives  # noqa: E402,F401
from benchbox.metrics.verdict import VerdictConfig, expected_close_share, leave_one_out_close, close_threshold, verdicts  # noqa: E402
from benchbox.runs import replace_marked_section  # noqa: E402
from benchbox.stats import wilson_interval  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DOC = REPO / "docs" / "verdict.md"
START_MARK, END_MARK = "<!-- calibration:start -->", "<!-- calibration:end -->"
MIN_USEFUL_FOOTSTEPS, MAX_USEFUL_NON_FOOTSTEPS, MAX_USEFUL_FAILURE = 0.90, 0.10, 0.05
SYNTHETIC_CHECK_SEED = 1
CLIP_SAMPLES = 8192
STEP0_CLIPS = 16
MIN_SET_CLIPS = 2


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


def judge(waves: list[np.ndarray], p: np.ndarray, threshold: float) -> tuple[np.ndarray, list[str]]:
    """``(useful (N,), reasons)``: the verdict of N waves at 16 kHz given their footstep/p (N,)."""
    flags = [{k: v for k, v in detect(np.asarray(w, dtype=np.float32), PROJECT_SAMPLE_RATE_HZ).items() if k.endswith("/flag")} for w in waves]
    return verdicts(flags, p, threshold)


def rate_cell(useful: np.ndarray) -> str:
    k, n = int(np.sum(useful)), len(useful)
    if n == 0:
        return "-"
    p, lo, hi = wilson_interval(k, n)
    return f"{100 * p:.1f}% ({k}/{n}) [{100 * lo:.1f}, {100 * hi:.1f}]"


def gate(useful: np.ndarray, kind: str) -> str:
    """``pass`` / ``**FAIL**`` of a set's useful rate against its gate (footstep, non-footstep, failure), '-' for none."""
    if kind == "-" or not len(useful):
        return "-"
    rate = float(np.mean(useful))
    ok = rate >= MIN_USEFUL_FOOTSTEPS if kind == "footstep" else rate <= (MAX_USEFUL_NON_FOOTSTEPS if kind == "non-footstep" else MAX_USEFUL_FAILURE)
    return "pass" if ok else "**FAIL**"


def reasons_cell(reasons: list[str]) -> str:
    counts = Counter(r for r in reasons if r != "ok")
    return ", ".join(f"{r} {n}" for r, n in counts.most_common(6)) or "-"


def corpus_rows(rows: pd.DataFrame, shipped: np.ndarray, lopo: np.ndarray) -> list[str]:
    """Table lines per corpus, split and package (shipped and leave-one-package-out), then per negative category."""
    lines = ["| corpus | split | package | shipped model: useful/auto | leave-one-package-out: useful/auto | gate (LOPO) | what failed (LOPO) |", "|---|---|---|---|---|---|---|"]
    for (corpus, split, package), part in rows.groupby(["corpus", "split", "package"], sort=True):
        i = part.index.to_numpy()
        kind = "footstep" if corpus == "footsteps-dev" else "non-footstep"
        lines.append(f"| {corpus} | {split} | {package} | {rate_cell(shipped[i])} | {rate_cell(lopo[i])} | {gate(lopo[i], kind)} | {reasons_cell(list(rows.loc[i, 'reason_lopo']))} |")
    for corpus, part in rows.groupby("corpus", sort=True):
        i = part.index.to_numpy()
        kind = "footstep" if corpus == "footsteps-dev" else "non-footstep"
        lines.append(f"| **{corpus}** | all | all | {rate_cell(shipped[i])} | {rate_cell(lopo[i])} | {gate(lopo[i], kind)} | {reasons_cell(list(rows.loc[i, 'reason_lopo']))} |")
    lines += ["", "| negative category | clips | shipped model: useful/auto | leave-one-package-out: useful/auto | gate (LOPO) |", "|---|---|---|---|---|"]
    neg = rows[rows["corpus"] == "footsteps-neg-dev"]
    for category, part in neg.groupby("category", sort=True):
        i = part.index.to_numpy()
        lines.append(f"| {category} | {len(i)} | {rate_cell(shipped[i])} | {rate_cell(lopo[i])} | {gate(lopo[i], 'non-footstep')} |")
    return lines


def set_rows(sets: dict[str, tuple[list[np.ndarray], str]], model: cat.CategoryModel, cache: Path) -> list[str]:
    """Table lines for named sets of 16 kHz waves: ``{name: (waves, gate kind)}``."""
    lines = ["| clips | useful/auto | gate | mean footstep/p | what failed |", "|---|---|---|---|---|"]
    for name, (waves, kind) in sets.items():
        p = cat.footstep_probability(list(waves), PROJECT_SAMPLE_RATE_HZ, model, cache_dir=cache)
        useful, reasons = judge(list(waves), p, model.threshold)
        lines.append(f"| {name} | {rate_cell(useful)} | {gate(useful, kind)} | {np.mean(p):.2f} | {reasons_cell(reasons)} |")
    return lines


def memorisation_rows(rows: pd.DataFrame, aisfx: np.ndarray, quantile: float) -> list[str]:
    """The "close" rate of footsteps-dev's held-out (val + test) clips, leave-one-out, and per split against the pooled threshold."""
    dev = rows["corpus"] == "footsteps-dev"
    emb = prdc.l2_normalise(aisfx)
    train = emb[(dev & (rows["split"] == "train")).to_numpy()]
    held = (dev & rows["split"].isin(["val", "test"])).to_numpy()
    dist = prdc.nearest(emb[held], train)[0]
    split = rows.loc[held, "split"].to_numpy()
    loo = leave_one_out_close(dist, quantile)
    old = dist[split == "val"] < np.median(dist[split == "test"])  # the previous rule: closer than the median test clip
    cut = close_threshold(dist, quantile)
    return [f"Held-out real footsteps (footsteps-dev val + test, n = {len(dist)}, aisfx directions), quantile {quantile}: "
            f"leave-one-out close rate {rate_cell(loo)} (closed form k / (n + 1) = {expected_close_share(len(dist) - 1, quantile):.3f}); "
            f"val clips {rate_cell(loo[split == 'val'])}, test clips {rate_cell(loo[split == 'test'])}; "
            f"with the pooled threshold ({cut:.4f}) a fresh real clip is close with probability {expected_close_share(len(dist), quantile):.3f}. "
            f"The previous rule (closer than the median test clip) called {rate_cell(old)} of the val clips close."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data", help="folder holding (or for) the imported corpora")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "embeddings")
    ap.add_argument("--doc", type=Path, default=DEFAULT_DOC)
    ap.add_argument("--negative", action="append", default=[], help="NAME=GLOB of generated clips known to be failures (gated <= 5%%)")
    ap.add_argument("--extra", action="append", default=[], help="NAME=GLOB of generated clips reported without a gate")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    model = cat.load_model()
    rows = pd.concat([fc.load_corpus(n, args.data) for n in fc.CORPORA], ignore_index=True)
    neg_manifest = pd.read_csv(REPO / "corpora" / "footsteps-neg-dev" / "manifest.csv").set_index("file")["category"]
    rows["category"] = rows["source"].map(neg_manifest).fillna("footstep")
    waves = [load_audio(p, PROJECT_SAMPLE_RATE_HZ) for p in rows["abs_path"]]
    synth, synth_waves = fc.synthetic_rows(rows, fc.SYNTHETIC_SEED)
    allrows = pd.concat([rows, synth], ignore_index=True)
    f = fc.features(waves + synth_waves, args.cache, framing=model.framing or cat.AISFX_FRAMING)  # the shipped model's own framing
    real = np.arange(len(rows))
    x = fc.matrix(model.feature_set, f)
    shipped_p = model.probability(x[real])
    lopo_p = fc.lopo_probability(f, allrows, model.feature_set, model.l2)[real]
    shipped, _ = judge(waves, shipped_p, model.threshold)
    lopo, rows["reason_lopo"] = judge(waves, lopo_p, model.threshold)
    dev_train = np.stack([w for w, (_, r) in zip(waves, rows.iterrows()) if r["corpus"] == "footsteps-dev" and r["split"] == "train"])
    drawn = negatives(dev_train, np.random.default_rng(SYNTHETIC_CHECK_SEED))
    sets = {k: (list(v), "failure") for k, v in drawn.items()}
    sets.update({f"untrained {p}": (list(step0_clips(p, seed=0)), "failure") for p in ("sashimi-tiny", "wavenet-tiny")})
    sets.update({n: (list(folder_clips(g)), "failure") for n, g in named_sets(args.negative, "--negative").items()})
    sets.update({n: (list(folder_clips(g)), "-") for n, g in named_sets(args.extra, "--extra").items()})
    lines = [f"Model `{model.feature_set}`, L2 {model.l2}, threshold {model.threshold} (training data {model.data_sha256[:12]}). "
             f"Rates with Wilson 95% intervals. Gates: real footsteps >= {MIN_USEFUL_FOOTSTEPS:.0%} useful, real non-footsteps "
             f"<= {MAX_USEFUL_NON_FOOTSTEPS:.0%}, each synthetic failure <= {MAX_USEFUL_FAILURE:.0%}.", ""]
    lines += corpus_rows(rows, shipped, lopo) + [""]
    lines += [f"Synthetic failures (seed {SYNTHETIC_CHECK_SEED}, {NEGATIVES_PER_KIND} per kind; the model trained on seed {fc.SYNTHETIC_SEED}'s draw of "
              f"{', '.join(fc.SYNTHETIC_KINDS)}) and generated clips:", ""] + set_rows(sets, model, args.cache) + [""]
    lines += memorisation_rows(rows, f["aisfx"][real], VerdictConfig().memorisation_quantile)
    replace_marked_section(args.doc, "\n".join(lines), START_MARK, END_MARK)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
