"""Which envelope and spectrum statistics tell generated clips from real ones: per-feature medians
and the two-sample Kolmogorov-Smirnov test.

Legend: N clips per set, E = 16 envelope and spectrum statistics
(:data:`benchbox.metrics.category_features.ENVELOPE_NAMES`: attack and decay in ms, peak over
median and tail in dB, onsets, temporal and spectral centroid, flatness, band shares, ...).

A per-clip verdict passes a clip that looks like *a* footstep; a set of clips can still differ
from real footsteps in one statistic every clip shares (an attack too slow, a decay too even).
For each named folder of clips this prints each statistic's median [25%, 75%] beside the real
clips' (every split of the dataset, at its clip length), and the KS statistic D with its p
(scipy, two-sided, exact for these sizes), Benjamini-Hochberg adjusted over the E statistics of
one set. It judges nothing: it points at what to listen for.

Writes ``OUT.json`` and ``OUT.md``::

    .venv/bin/python benchmarks/envelope_vs_real.py --data ../shared/data/footsteps-dev \\
        --out benchmarks/results/quality/families/envelope-vs-real "specdiff=RUN/samples/best/prime0_steps50" ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, load_audio
from benchbox.data.dataset import load_dataset
from benchbox.metrics.category_features import ENVELOPE_NAMES, envelope_matrix


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values of (E,) p."""
    from scipy.stats import false_discovery_control

    return false_discovery_control(p, method="bh")


def _load(folder: Path) -> list[np.ndarray]:
    waves = []
    for path in sorted(folder.glob("*.wav")):
        waves.append(load_audio(path, PROJECT_SAMPLE_RATE_HZ))  # (T,) mono at 16 kHz
    if not waves:
        raise SystemExit(f"error: no .wav clips in {folder}")
    return waves


def compare(real: np.ndarray, gen: np.ndarray) -> list[dict]:
    """One row per statistic: real and generated quartiles, KS D, p and BH-adjusted p ((N, E) inputs)."""
    from scipy.stats import ks_2samp

    rows, ps = [], []
    for j, name in enumerate(ENVELOPE_NAMES):
        test = ks_2samp(real[:, j], gen[:, j])
        ps.append(test.pvalue)
        rows.append({"statistic": name, "real": np.percentile(real[:, j], [25, 50, 75]).tolist(),
                     "generated": np.percentile(gen[:, j], [25, 50, 75]).tolist(), "ks_d": float(test.statistic), "p": float(test.pvalue)})
    for row, adj in zip(rows, _bh(np.asarray(ps))):
        row["p_bh"] = float(adj)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="the real dataset folder")
    ap.add_argument("--out", required=True, type=Path, help="OUT.json and OUT.md are written")
    ap.add_argument("sets", nargs="+", help="NAME=FOLDER of generated clips")
    args = ap.parse_args()
    ds = load_dataset(args.data)
    real = envelope_matrix(list(ds.load_clips()))  # (N_real, E)
    result = {"data": str(args.data), "real_clips": len(real), "sets": {}}
    lines = [f"Real: {len(real)} clips of `{args.data.name}` (every split). Median [25%, 75%]; KS D, BH-adjusted p over the {len(ENVELOPE_NAMES)} statistics.", ""]
    for spec in args.sets:
        name, _, folder = spec.partition("=")
        gen = envelope_matrix(_load(Path(folder)))
        rows = compare(real, gen)
        result["sets"][name] = {"folder": folder, "clips": len(gen), "rows": rows}
        lines += [f"### {name} ({len(gen)} clips)", "", "| statistic | real | generated | KS D | p (BH) |", "|---|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: -r["ks_d"]):
            q = lambda v: f"{v[1]:.3g} [{v[0]:.3g}, {v[2]:.3g}]"  # noqa: E731
            lines.append(f"| {r['statistic']} | {q(r['real'])} | {q(r['generated'])} | {r['ks_d']:.2f} | {r['p_bh']:.2g} |")
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
