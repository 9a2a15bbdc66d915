"""The families study's questions (issue 28), decided from score tables.

Inputs are the study's per-clip scores (``clips.csv`` of every run: one row per clip with
``run``, ``checkpoint``, ``prime_ms``, ``cont/useful/auto``, ``cont/footstep/p`` and the
``cont/<detector>/flag`` columns), its per-group rows (``groups.csv``: 1-NN two-sample
test and coverage per embedder) and a map ``run -> family`` built from the protocol's
data (:func:`families_of_runs`: a preset's family is what the protocol says, never a test
of the generator's class).

Two questions of the benchmark's own:

* **family**: does diffusion beat autoregression (and the GAN) on footsteps? The unit is the
  run (:mod:`benchbox.study.units`: clips of one run share its weights): each run's useful
  rate is one observation, and two families' runs are compared by the exact permutation test
  of their mean run rates (:func:`compare`), on the unprimed clips (the cells every family has),
  Bonferroni-corrected over the pairs compared, counted by Tarone's rule (:func:`_corrected`);
  the clip-level Fisher p is shown beside it as a statement about these runs only. Beside them
  each family's 1-NN accuracy (best cell and median cell) and the three axes, with each run's
  value (no clip-level interval).
* **backbone and representation**: within diffusion, SaShiMi vs WaveNet backbone, and
  spectrogram vs raw samples, by the same test.
* **sampling**: per swept sampling axis (top-p, sampling steps), each other value against the
  reference value (the axis' first), within each family whose generators honour the setting
  (the column is not n/a), at the reference value of the other axes; the claim tested is
  ``SAMPLING_CLAIMS``' direction (nucleus truncation helps; more sampling steps help). Cells
  that differ only in a sampling setting draw clip i from the same seed (:mod:`benchbox.generate`),
  so this question is **paired**: clip i of one cell against clip i of the other (same run,
  checkpoint and prime); each run's mean paired difference is one observation, tested by the
  Wilcoxon signed-rank test over runs (:func:`compare_paired`).

A comparison reads ``reproduced (favours <a>)`` when ``a`` is the paper's direction and the
test separates them, ``not reproduced (favours <b>)`` for the opposite, and
``inconclusive at this n`` otherwise, ``not tested`` when the study holds nothing this test can use
(:data:`benchbox.study.seed_findings.NOT_TESTED_RULE`; here a side with fewer than ``MIN_CLIPS``: no
test ran, the test text says why), and ``undecidable with these runs`` when even the most extreme outcome of this many runs could not
reach p < ALPHA after the Bonferroni factor (:func:`benchbox.study.units.smallest_p`; one run
against one, or a sign over three). The factor counts only the comparisons of a question that
could reach the corrected level (Tarone's rule, :func:`benchbox.study.units.tarone_k`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.metrics.artifacts import DETECTORS
from benchbox.stats import mcnemar_exact, two_sample_of
from benchbox.study.analysis import rate_text
from benchbox.study.seed_findings import (ALPHA, INCONCLUSIVE, NOT_REPRODUCED, NOT_TESTED, NOT_TESTED_RULE, REPRODUCED, SMOKE, UNDECIDABLE, USEFUL,
                                          _fisher, six_findings, undecidable_text)
from benchbox.study.units import permutation_p, pooled_text, run_values, runs_text, signed_rank_p, smallest_p, tarone_k

MIN_CLIPS = 32  # a family, backbone or representation with fewer scored clips is not compared
FOOTSTEP_P = "cont/footstep/p"
EMBEDDER = "aisfx"
FAMILIES = ("diffusion", "autoregressive", "gan")
SAMPLING_CLAIMS = {"top_p": -1, "sampling_steps": +1}  # the value claimed better: the lower top-p, the more steps
SAMPLING_NAMES = {"top_p": "top-p {:g}", "sampling_steps": "{:g} steps"}


def families_of_runs(runs: list[str], presets: Mapping[str, str]) -> dict[str, str]:
    """``run id -> family`` from ``presets`` (preset -> family, the protocol's data): a run
    id is ``<preset>_...``; the longest matching preset wins (``sashimi-diffwave-cpu`` over
    ``sashimi-cpu``). Runs of no listed preset are left out."""
    out = {}
    for run in runs:
        match = max((p for p in presets if run == p or run.startswith(p + "_")), key=len, default=None)
        if match is not None:
            out[run] = presets[match]
    return out


def _with(clips: pd.DataFrame, column: str, of_run: Mapping[str, str]) -> pd.DataFrame:
    return clips.assign(**{column: clips["run"].map(of_run)}).dropna(subset=[column])


def _artefact_free(clips: pd.DataFrame) -> pd.Series:
    """(N,) 1.0 where no artefact detector (:data:`benchbox.metrics.artifacts.DETECTORS`) flags the continuation;
    NaN without any detector column."""
    flags = [f"cont/{name}/flag" for name in DETECTORS if f"cont/{name}/flag" in clips.columns]
    return (clips[flags].fillna(0).sum(axis=1) == 0).astype(float) if flags else pd.Series(np.nan, index=clips.index)


def _run_means(part: pd.DataFrame, column: str) -> str:
    """Mean of ``column`` over clips, and each run's mean (runs, not clips, are the independent
    units, so no clip-level interval is given): ``"0.71; runs 0.89, 0.76, 0.49"``."""
    if column not in part or part[column].dropna().empty:
        return "n/a"
    runs = run_values(part, column).sort_values(ascending=False)
    listed = ", ".join(f"{v:.2f}" for v in runs) if len(runs) <= 6 else f"median {runs.median():.2f} ({runs.min():.2f}-{runs.max():.2f})"
    return f"{part[column].astype(float).mean():.2f}; {len(runs)} run{'s' if len(runs) != 1 else ''}: {listed}"


def _nn1_summary(groups: pd.DataFrame, runs: set[str]) -> str:
    """Best (lowest) and median 1-NN accuracy over a family's generated cells, with the best cell's p."""
    if groups.empty or "run" not in groups:
        return "n/a"
    rows = groups[(groups.get("kind") == "generated") & groups["run"].isin(runs)]
    tests = [two_sample_of(r, EMBEDDER) for r in rows.to_dict("records")]
    tests = [(a, p) for a, p in tests if np.isfinite(a)]
    if not tests:
        return "n/a"
    best = min(tests)
    return (f"best cell {best[0]:.2f} (p = {best[1]:.2g}, uncorrected for picking the best of {len(tests)}), "
            f"median cell {np.median([a for a, _ in tests]):.2f}, {len(tests)} cells")


def _coverage(groups: pd.DataFrame, runs: set[str]) -> str:
    key = f"coverage/{EMBEDDER}"
    if groups.empty or key not in groups:
        return "n/a"
    v = groups[(groups.get("kind") == "generated") & groups["run"].isin(runs)][key].dropna()
    return f"median cell {v.median():.2f} ({len(v)} cells)" if len(v) else "n/a"


def level_table(clips: pd.DataFrame, groups: pd.DataFrame, column: str) -> list[dict]:
    """Per level of ``column``: useful rate, 1-NN accuracy and the three axes, as text."""
    rows = []
    for level, part in clips.groupby(column, sort=True):
        runs = set(part["run"])
        quality = part.assign(_free=_artefact_free(part))
        rows.append({column: level, "n": len(part), "useful": f"{pooled_text(part[USEFUL])}; {runs_text(run_values(part, USEFUL))}",
                     "nn1": _nn1_summary(groups, runs),
                     "quality": f"{pooled_text(quality['_free'])}; {runs_text(run_values(quality, '_free'))}",
                     "category": _run_means(part, FOOTSTEP_P),
                     "diversity": _coverage(groups, runs)})
    return rows


Measured = tuple[float, Callable[[int, int, int], dict]]  # (floor: the smallest p, uncorrected; the row at factor (tests, of, can))


def compare(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], paper_favours_a: bool) -> Measured:
    """One comparison of useful rates, the runs of ``a`` vs the runs of ``b`` (clip rows with a
    ``run`` column), tested once: ``(floor, row)``, with ``floor`` the smallest p these run counts
    allow (uncorrected; :func:`units.smallest_p`) and ``row(tests, of, can)`` the verdict, estimate and
    test text at multiplicity factor ``tests`` (p * tests < ALPHA), Tarone's count ``can`` out of ``of``
    comparisons (:func:`_corrected` sets them). The unit is the run (:mod:`units`): the exact
    permutation test of the two sets' mean run rates."""
    ra, rb = run_values(a, USEFUL), run_values(b, USEFUL)
    est = f"{names[0]} {pooled_text(a[USEFUL])}, {runs_text(ra)} vs {names[1]} {pooled_text(b[USEFUL])}, {runs_text(rb)}"
    if min(a[USEFUL].count(), b[USEFUL].count()) < MIN_CLIPS:
        return 1.0, lambda tests, of, can: {"verdict": NOT_TESTED, "estimate": est, "test": f"not tested: a side has under {MIN_CLIPS} clips"}
    raw_floor = smallest_p("permutation", len(ra), len(rb))
    raw_p, fisher = permutation_p(ra.to_numpy(), rb.to_numpy()), _fisher(a[USEFUL], b[USEFUL])

    def row(tests: int, of: int, can: int) -> dict:
        p = min(1.0, raw_p * tests)
        floor = min(1.0, raw_floor * tests)
        test = (f"exact permutation p = {p:.3g} over runs ({len(ra)} vs {len(rb)})" + _factor_text(tests, of, can)
                + undecidable_text(floor, f"{len(ra)} vs {len(rb)} runs")
                + f"; clip-level Fisher p = {fisher:.2g} compares these runs' clips only")
        return _decided(p, ra.mean() > rb.mean(), names, paper_favours_a, est, test, floor)

    return raw_floor, row


def _factor_text(tests: int, of: int, can: int = -1) -> str:
    """`` (Bonferroni x3)``, or under Tarone's rule, with ``can`` the comparisons whose smallest p
    is under ALPHA / tests: `` (Bonferroni x2, Tarone's rule: 1 of 6 comparisons can reach p < 0.025)``."""
    if of <= 1:
        return ""
    if of > tests or 0 <= can < of:
        return f" (Bonferroni x{tests}, Tarone's rule: {max(can, 0)} of {of} comparisons can reach p < {ALPHA / tests:.3g})"
    return f" (Bonferroni x{tests})" if tests > 1 else ""


def _corrected(measured: list[Measured]) -> list[dict]:
    """A question's comparisons (``measured``: each tested once, :func:`compare` or
    :func:`compare_paired`) under Tarone's modified Bonferroni factor (:func:`units.tarone_k`): each
    comparison's smallest attainable p sets the factor, then every row is read at it. A comparison
    that could never reach p < ALPHA / K reads undecidable and spends none of the level (a baseline
    of one run against one: floor 1), so it no longer halves the others' level."""
    floors = [floor for floor, _ in measured]
    k = tarone_k(floors, ALPHA)
    can = sum(f < ALPHA / k for f in floors)  # m(K): the comparisons that spend the level (Tarone allows m(K) < K)
    return [row(k, len(measured), can) for _, row in measured]


def _decided(p: float, a_wins: bool, names: tuple[str, str], paper_favours_a: bool, est: str, test: str, floor: float = 0.0) -> dict:
    """The row of a tested comparison: undecidable when ``floor`` (the smallest p these runs could
    give, Bonferroni included) is at or above ALPHA, inconclusive at ``p >= ALPHA``, else reproduced
    when the winner (``names[0]`` when ``a_wins``) is the paper's side, not reproduced otherwise."""
    if floor >= ALPHA:
        return {"verdict": UNDECIDABLE, "estimate": est, "test": test}
    if p >= ALPHA:
        return {"verdict": INCONCLUSIVE, "estimate": est, "test": test}
    winner = names[0] if a_wins else names[1]
    agrees = a_wins == paper_favours_a
    return {"verdict": f"{REPRODUCED if agrees else NOT_REPRODUCED} (favours {winner})", "estimate": est, "test": test}


PAIR_KEY = ["run", "checkpoint", "prime_ms", "_clip"]  # clip i of a cell: its file's trailing number (clip_0003.wav)


def clip_pairs(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Columns ``a``, ``b`` (the useful flags): one row per clip of ``a`` whose partner (same run,
    checkpoint, prime and clip number) is in ``b``; clips without a partner are left out."""
    def keyed(part: pd.DataFrame) -> pd.DataFrame:
        index = part["path"].astype(str).str.extract(r"(\d+)\.[^./]+$", expand=False)
        out = part.assign(_clip=pd.to_numeric(index, errors="coerce"), prime_ms=part["prime_ms"].astype(float),
                          checkpoint=part["checkpoint"].astype(str))
        return out.dropna(subset=["_clip", USEFUL]).drop_duplicates(PAIR_KEY)[[*PAIR_KEY, USEFUL]]

    if a.empty or b.empty:
        return pd.DataFrame(columns=["a", "b"])
    joined = keyed(a).merge(keyed(b), on=PAIR_KEY, suffixes=("_a", "_b"))
    return pd.DataFrame({"a": joined[f"{USEFUL}_a"].astype(float).to_numpy(), "b": joined[f"{USEFUL}_b"].astype(float).to_numpy()})


def compare_paired(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], paper_favours_a: bool) -> Measured:
    """:func:`compare` for cells that share their seeds: per run, rate(a) - rate(b) over its clip
    pairs (:func:`clip_pairs`, same run, checkpoint, prime and clip number), and the Wilcoxon
    signed-rank test over the runs (Bonferroni x ``tests`` in the row); the pooled discordant pairs and
    the clip-level exact McNemar p are reported beside it, as a statement about these runs only."""
    diffs, only_a, only_b, n = {}, 0, 0, 0
    for run in sorted(set(a["run"]) & set(b["run"])):
        pairs = clip_pairs(a[a["run"] == run], b[b["run"] == run])
        if len(pairs):
            diffs[run] = float(pairs["a"].mean() - pairs["b"].mean())
            only_a += int(((pairs["a"] == 1) & (pairs["b"] != 1)).sum())
            only_b += int(((pairs["b"] == 1) & (pairs["a"] != 1)).sum())
            n += len(pairs)
    d = pd.Series(diffs, dtype=float)
    est = (f"{names[0]} vs {names[1]}: {n} clip pairs in {len(d)} runs; {only_a} vs {only_b} discordant pairs; "
           f"{names[0]} higher in {int((d > 0).sum())}, {names[1]} in {int((d < 0).sum())} runs"
           + (f", median run difference {100 * d.median():+.1f} points" if len(d) else ""))
    if n < MIN_CLIPS:
        return 1.0, lambda tests, of, can: {"verdict": NOT_TESTED, "estimate": est, "test": f"not tested: under {MIN_CLIPS} clip pairs"}
    p_runs, n_runs, direction = signed_rank_p(d.to_numpy())
    raw_floor = smallest_p("signed_rank", len(d))
    mcnemar = mcnemar_exact(only_a, only_b)

    def row(tests: int, of: int, can: int) -> dict:
        p = min(1.0, p_runs * tests)
        floor = min(1.0, raw_floor * tests)
        test = (f"Wilcoxon signed-rank p = {p:.3g} over runs ({n_runs} with a non-zero difference)" + _factor_text(tests, of, can)
                + undecidable_text(floor, f"{len(d)} runs") + f"; clip-level exact McNemar p = {mcnemar:.2g} compares these runs' clips only")
        return _decided(p, direction > 0, names, paper_favours_a, est, test, floor)

    return raw_floor, row


def unprimed(clips: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``prime_ms`` 0 (every row of a table without the column): the cells every family has."""
    if "prime_ms" not in clips:
        return clips
    return clips[pd.to_numeric(clips["prime_ms"], errors="coerce").fillna(0) == 0]


def family_question(clips: pd.DataFrame, family_of: Mapping[str, str], setting: str = "") -> list[dict]:
    """Diffusion vs autoregression (the SaShiMi paper's direction: diffusion better), and
    diffusion vs GAN when both were scored (no paper direction: diffusion is the claim tested),
    on the **unprimed** clips (``prime_ms`` 0, or every clip without the column): every family
    has those cells, while a generator without the prime capability has no primed ones, so run
    rates over all cells would compare different cell sets. ``setting`` names the sampling
    setting of ``clips`` (the reference one in a report) in the question."""
    fam = unprimed(_with(clips, "family", family_of))
    present = [f for f in ("autoregressive", "gan") if (fam["family"] == f).any()]
    diff = fam[fam["family"] == "diffusion"]
    at = f" (unprimed clips{', ' + setting if setting else ''})"
    measured = [compare(diff, fam[fam["family"] == other], ("diffusion", other), True) for other in present]
    return [{"question": f"family: diffusion beats {other}{at}", "metric": f"`{USEFUL}`", **row} for other, row in zip(present, _corrected(measured))]


def backbone_question(clips: pd.DataFrame, backbone_of: Mapping[str, str], representation_of: Mapping[str, str]) -> list[dict]:
    """Within diffusion: SaShiMi vs WaveNet backbone (paper: SaShiMi), spectrogram vs raw samples
    (issue 23's expectation at this budget: spectrogram). Maps are run -> level, from the protocol.
    The two comparisons share the level by Tarone's rule (:func:`_corrected`)."""
    specs = []
    for what, of_run, (a, b) in (("backbone", backbone_of, ("sashimi", "wavenet")),
                                 ("representation", representation_of, ("spectrogram", "raw"))):
        part = _with(clips, what, of_run)
        specs.append((f"{what}: {a} beats {b} (diffusion only)", part[part[what] == a], part[part[what] == b], (a, b)))
    measured = [compare(x, y, n, True) for _, x, y, n in specs]
    return [{"question": q, "metric": f"`{USEFUL}`", **row} for (q, *_), row in zip(specs, _corrected(measured))]


def sampling_question(clips: pd.DataFrame, family_of: Mapping[str, str], proto) -> list[dict]:
    """Per swept sampling axis, per family that honours it: each other value vs the reference.
    Each axis' comparisons share the level by Tarone's rule (:func:`_corrected`): a family of
    one run (a baseline) cannot reach any level and spends none of it."""
    from benchbox.study.sampling import reference_mask

    fam = _with(clips, "family", family_of)
    out = []
    for column, values in proto.sweep.swept().items():
        if len(values) < 2 or column not in fam.columns:
            continue
        setting = pd.to_numeric(fam[column], errors="coerce")
        part = fam[setting.notna() & reference_mask(fam, proto, skip=(column,))].assign(_v=setting)
        ref, others = float(values[0]), [float(v) for v in values[1:]]
        specs = []
        for family in sorted(part["family"].unique()):
            rows = part[part["family"] == family]
            for other in others:
                a, b = sorted((ref, other), key=lambda v: SAMPLING_CLAIMS.get(column, 1) * -v)  # a: the value claimed better
                names = (SAMPLING_NAMES[column].format(a), SAMPLING_NAMES[column].format(b))
                specs.append((f"sampling: {names[0]} beats {names[1]} ({family})", rows[np.isclose(rows["_v"], a)], rows[np.isclose(rows["_v"], b)], names))
        measured = [compare_paired(x, y, n, True) for _, x, y, n in specs]
        out += [{"question": q, "metric": f"`{USEFUL}`", **row} for (q, *_), row in zip(specs, _corrected(measured))]
    return out


def per_family_findings(clips: pd.DataFrame, groups: pd.DataFrame, runs_dir: Path, family_of: Mapping[str, str]) -> list[dict]:
    """The seed's six findings decided within each family (:func:`seed_findings.six_findings`
    on that family's clips and cells). A finding whose axis the family lacks (no dropout-0.5
    run, no primed cell) reads ``n/a`` rather than not tested."""
    fam = _with(clips, "family", family_of)
    out = []
    for family, part in fam.groupby("family", sort=True):
        cells = groups[groups["run"].isin(set(part["run"]))] if "run" in groups else groups
        floor = groups[groups.get("kind") == "floor"] if "kind" in groups else groups.iloc[0:0]
        for row in six_findings(part.drop(columns="family"), pd.concat([floor, cells]), runs_dir):
            lacks = row["finding"].startswith("6.") and not (part["dropout"] >= 0.5).any() or \
                row["finding"].startswith("5.") and not (part["prime_ms"] > 0).any()
            out.append({**row, "family": family, **({"verdict": "n/a", "test": "the family has no such cell"} if lacks else {})})
    return out


LISTEN_QUANTILES = (0.1, 0.5, 0.9)
BEST_CELLS = 5
CELL = ["run", "checkpoint", "prime_ms"]


def _quantile_picks(subset: pd.DataFrame) -> list[pd.Series]:
    """The rows at LISTEN_QUANTILES of ``cont/footstep/p`` (then path; path alone without it)."""
    ranked = subset.sort_values([FOOTSTEP_P, "path"] if FOOTSTEP_P in subset else ["path"], kind="stable")
    return [ranked.iloc[i] for i in sorted({round(q * (len(ranked) - 1)) for q in LISTEN_QUANTILES})] if len(ranked) else []


def best_cells(clips: pd.DataFrame, family_of: Mapping[str, str], k: int = BEST_CELLS) -> list[dict]:
    """The ``k`` cells (run x checkpoint x prime) of the study's families with the highest useful
    rate (ties: more clips, then the cell's name), each with its clips at the 10th, 50th and 90th
    percentile of ``cont/footstep/p``: what a reviewer listens to, cell by cell."""
    fam = _with(clips, "family", family_of)
    fam = fam[fam["family"] != "baseline"]
    cells = [(float(part[USEFUL].mean()), len(part), key, part) for key, part in fam.groupby(CELL, sort=True)]
    cells.sort(key=lambda c: (-c[0], -c[1], str(c[2])))
    return [{"run": key[0], "checkpoint": key[1], "prime_ms": float(key[2]), "family": part["family"].iloc[0],
             "useful": rate_text(int(part[USEFUL].sum()), n), "picks": _quantile_picks(part)} for _, n, key, part in cells[:k]]


def listen_examples(clips: pd.DataFrame, family_of: Mapping[str, str]) -> dict[str, dict[str, list[pd.Series]]]:
    """Per family, the clips the report shows and plays: among its unprimed clips the verdict
    calls useful, those at the 10th, 50th and 90th percentile of ``cont/footstep/p``; among those
    it rejects, likewise. (Ranked by ``footstep/p`` then path; the clip at index
    round(q (n - 1)); fewer when a set is small, none when it is empty; by path alone in scores
    without a category model.)"""
    fam = _with(clips, "family", family_of)
    fam = fam[fam["prime_ms"] == 0] if "prime_ms" in fam else fam
    out = {}
    for family, part in fam.groupby("family", sort=True):
        out[family] = {label: _quantile_picks(subset) for label, subset in (("useful", part[part[USEFUL] == 1]), ("rejected", part[part[USEFUL] != 1]))}
    return out



def reference_text(proto) -> str:
    """The reference sampling setting in words, ``"top-p 1, 50 steps"`` (empty when nothing is swept)."""
    from benchbox.study.sampling import reference_values

    swept = proto.sweep.swept()
    return ", ".join(SAMPLING_NAMES[c].format(v) for c, v in reference_values(proto).items() if c in swept and c in SAMPLING_NAMES)


SEED_FAMILY = "autoregressive"  # the seed study's generators: a families study decides the six findings on these


def seed_scope(clips: pd.DataFrame, groups: pd.DataFrame, proto) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """``(clips, groups, note)`` the study-level six findings are decided on. In a study with a
    ``families`` table that names ``SEED_FAMILY``, only those runs' clips and cells (and every
    reference row: floor, resynthesis, noise): the seed's findings are claims about its
    autoregressive models, and pooling diffusion, GAN and baseline runs into them would let one
    family's rates decide another's claim (the per-family table decides each family's). ``note``
    names the scope (empty when nothing was left out)."""
    if not getattr(proto, "families", None) or clips.empty or "run" not in clips:
        return clips, groups, ""
    family_of = run_maps(sorted(clips["run"].unique()), proto)[0]
    seed = {run for run, family in family_of.items() if family == SEED_FAMILY}
    if not seed or seed == set(clips["run"]):
        return clips, groups, ""
    if not groups.empty and "run" in groups:
        generated = groups["kind"] == "generated" if "kind" in groups else pd.Series(True, index=groups.index)
        groups = groups[~generated | groups["run"].isin(seed)]
    return clips[clips["run"].isin(seed)], groups, f"{SEED_FAMILY} runs ({len(seed)} of {clips['run'].nunique()})"


def run_maps(runs: list[str], proto) -> tuple[dict, dict, dict]:
    """``(family_of, backbone_of, representation_of)``: run -> level, from the protocol's
    ``families``, ``backbones`` and ``representations`` tables (preset -> level)."""
    return tuple(families_of_runs(runs, dict(table)) for table in (proto.families, proto.backbones, proto.representations))


def family_markdown(clips: pd.DataFrame, groups: pd.DataFrame, runs_dir: Path, proto, smoke: str = "", every_clip: pd.DataFrame | None = None) -> list[str]:
    """The report's families section: the new questions, the per-family table, the six findings
    per family and the clips the listening rule picks. ``clips`` and ``groups`` are at the
    reference sampling setting (:mod:`benchbox.study.sampling`); ``every_clip`` (all settings)
    decides the sampling question. Empty without a ``families`` table."""
    if not proto.families or clips.empty or USEFUL not in clips:
        return []
    family_of, backbone_of, representation_of = run_maps(sorted(clips["run"].unique()), proto)
    questions = family_question(clips, family_of, reference_text(proto)) + backbone_question(clips, backbone_of, representation_of)
    if every_clip is not None and USEFUL in every_clip:
        questions += sampling_question(every_clip, run_maps(sorted(every_clip["run"].unique()), proto)[0], proto)
    findings = per_family_findings(clips, groups, runs_dir, family_of)
    if smoke:
        questions = [{**q, "verdict": SMOKE} for q in questions]
        findings = [{**f, "verdict": SMOKE} for f in findings]
    lines = ["## Families: which generator makes usable footsteps?", ""]
    lines += [f"**{SMOKE}**: {smoke}.", ""] if smoke else []
    lines += [f"Useful rates (`{USEFUL}`): the pooled clip count and each run's rate. Every question is a claim about "
              "generators, so it is decided over **runs**, not clips: clips of one run share its weights, and a test that "
              "counts them as independent reports p-values about these runs as if they were about the family. The family, "
              "backbone and representation questions compare the sides' run rates by the exact permutation test "
              "(Bonferroni over the comparisons of a question, counting by Tarone's rule only those whose most extreme outcome "
              f"could reach the corrected level); **{NOT_TESTED}**: {NOT_TESTED_RULE}, here a side with under {MIN_CLIPS} clips. The family question "
              "uses the unprimed clips, the cells every family has (a generator without the prime capability has no primed "
              "cells). The "
              "sampling questions are paired: cells that differ only in a sampling setting draw clip i from the same seed, so "
              "clip i of one is matched with clip i of the other (same run, checkpoint and prime), and each run's mean paired "
              "difference is one observation of a Wilcoxon signed-rank test over runs. The clip-level Fisher and McNemar p-values "
              "beside them describe these runs' clips only. With one to six runs a side, few questions can be decided.", "",
              "| question | verdict | estimate | test |", "|---|---|---|---|"]
    lines += [f"| {q['question']} | **{q['verdict']}** | {q['estimate']} | {q['test']} |" for q in questions]
    table = level_table(_with(unprimed(clips), "family", family_of), unprimed(groups), "family")
    setting = reference_text(proto)
    every = f"every cell at the reference sampling setting ({setting}), primed ones too" if setting else "every cell, primed ones too"
    lines += ["", "Per family, on the unprimed clips and cells (as the family question: a generator without the prime capability "
              f"has no primed ones); the seed's findings below use {every}.", "",
              f"| family | n | useful | 1-NN (`{EMBEDDER}`) | quality: artefact-free | category: mean `{FOOTSTEP_P}` | "
              f"diversity: `coverage/{EMBEDDER}` |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['family']} | {r['n']} | {r['useful']} | {r['nn1']} | {r['quality']} | {r['category']} | {r['diversity']} |" for r in table]
    lines += ["", "### The seed's six findings, per family", "", "| family | finding | verdict | estimate | test |", "|---|---|---|---|---|"]
    lines += [f"| {f['family']} | {f['finding']} | **{f['verdict']}** | {f['estimate']} | {f['test']} |" for f in findings]
    lines += ["", "### Listen before you believe", "",
              "Per family, of its unprimed clips at the reference sampling setting: the useful clips and the rejected clips "
              "at the 10th, 50th and 90th percentile of `cont/footstep/p` within each set.", "",
              "| family | useful clips | rejected clips |", "|---|---|---|"]
    for family, picks in listen_examples(clips, family_of).items():
        cells = ["<br>".join(f"`{p['run']}/{p['path']}`" + (f" (p = {p[FOOTSTEP_P]:.2f})" if FOOTSTEP_P in p else "") for p in picks[label]) or "none"
                 for label in ("useful", "rejected")]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    best = best_cells(clips, family_of)
    if best:
        lines += ["", f"#### The best {len(best)} cells", "",
                  f"The cells with the highest useful rate (baselines aside), each with its clips at the 10th, 50th and 90th "
                  "percentile of `cont/footstep/p`, to judge cell by cell whether what one hears matches these numbers: "
                  "report.html plays them (section Listen) and `figures/best-cells-listen.png` draws their spectrograms.", "", "| # | cell | family | useful | clips |", "|---|---|---|---|---|"]
        lines += [f"| {i} | `{c['run']}` {c['checkpoint']}, prime {c['prime_ms']:g} ms | {c['family']} | {c['useful']} | "
                  + "<br>".join(f"`{p['path']}`" + (f" (p = {p[FOOTSTEP_P]:.2f})" if FOOTSTEP_P in p else "") for p in c["picks"]) + " |"
                  for i, c in enumerate(best, 1)]
    return lines + [""]
