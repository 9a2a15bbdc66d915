"""``report.md`` / ``report.html`` of a study: leaderboard, curves, spectrograms, answers.

The report restates how it was made (command, protocol, versions), shows the leaderboard
excerpt, and answers the original study's questions with numbers and 95% CIs.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.analysis import study_answers
from benchbox.runs import atomic_path, atomic_write_text

FIG_DIR = "figures"
SPECTRO_CLIPS = 4
SPECTRO_NFFT = 256
SPECTRO_FLOOR = 1e-7  # keeps log(0) out of silent clips
LISTEN_CLIPS = 12


def _fmt_rate(d: dict) -> str:
    return f"{100 * d['rate']:.1f}% [{100 * d['lo']:.1f}, {100 * d['hi']:.1f}] ({int(d['k'])}/{int(d['n'])})"


def _rate_lines(table: pd.DataFrame, label: str) -> list[str]:
    if table.empty:
        return ["(no data)"]
    out = [f"| {label} | rate [95% CI] (k/n) |", "|---|---|"]
    for _, r in table.iterrows():
        out.append(f"| {r.iloc[0]} | {_fmt_rate(r)} |")
    return out


def _metric_lines(table: pd.DataFrame, label: str, metric: str) -> list[str]:
    if table.empty:
        return []
    out = [f"| {label} | mean {metric} | min | max | cells |", "|---|---|---|---|---|"]
    for _, r in table.iterrows():
        out.append(f"| {r.iloc[0]} | {r['mean']:.4g} | {r['min']:.4g} | {r['max']:.4g} | {int(r['cells'])} |")
    return out


def collect(out: Path, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    clips, groups = [], []
    for run_id in run_ids:
        sdir = out / "runs" / run_id / "scores"
        if (sdir / "clips.csv").is_file():
            clips.append(pd.read_csv(sdir / "clips.csv").assign(run=run_id))
        if (sdir / "groups.csv").is_file():
            groups.append(pd.read_csv(sdir / "groups.csv").assign(run=run_id))
    return (pd.concat(clips, ignore_index=True) if clips else pd.DataFrame(),
            pd.concat(groups, ignore_index=True) if groups else pd.DataFrame())


def answers_markdown(ans: dict) -> list[str]:
    fad = ans["fad_metric"] or "FAD"
    ov = ans["overall_useful"]
    lines = ["## The study's questions", "",
             f"**Useful samples overall** (no artefact detector fired): {_fmt_rate(ov)}. "
             f"The original study found fewer than 25% useful.", ""]
    bl = ans["best_vs_last"]
    lines += ["### Are best-val checkpoints better than last?", ""]
    if bl["fad"]:
        f = bl["fad"]
        lines += [f"Paired cells (same run and prime): best has the lower {fad} in {f['wins']} of {f['pairs']} "
                  f"(mean difference best - last = {f['mean_diff']:.4g}; sign test p = {f['p_value']:.3g}).", ""]
    lines += _rate_lines(bl["useful"], "checkpoint") + [""]
    pr = ans["priming"]
    lines += ["### Does 20/40 ms priming raise fidelity and lower diversity?", ""]
    lines += _metric_lines(pr["fad"], "prime_ms", fad) + [""]
    if pr["diversity_metric"]:
        lines += _metric_lines(pr["diversity"], "prime_ms", pr["diversity_metric"]) + [""]
    lines += _rate_lines(pr["useful"], "prime_ms") + [""]
    lines += ["### Does dropout 0.5 give silence?", "", "Share of clips flagged silent:", ""]
    lines += _rate_lines(ans["dropout"]["silence"], "dropout") + [""]
    lines += ["### How often are means non-zero and outputs periodic?", ""]
    lines += ["| detector | flag rate [95% CI] (k/n) |", "|---|---|"]
    lines += [f"| {k} | {_fmt_rate(v)} |" for k, v in ans["artefacts"].items()]
    if "artefacts_dc_median_abs" in ans:
        lines += ["", f"Median |DC offset| over all clips: {ans['artefacts_dc_median_abs']:.2e}."]
    lines += ["", "### Which quantisation wins?", ""]
    lines += _metric_lines(ans["quantisation"]["fad"], "quantisation", fad) + [""]
    lines += _rate_lines(ans["quantisation"]["useful"], "quantisation") + [""]
    lines += ["### Per generator", ""] + _rate_lines(ans["per_generator"], "generator") + [""]
    return lines


def spectrogram_figure(out: Path, clips: pd.DataFrame, path: Path) -> Path | None:
    """A grid of log spectrograms: one row per run, best/prime0 ... last/prime-max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchbox.audio import PROJECT_SAMPLE_RATE_HZ, load_audio

    if clips.empty or "path" not in clips.columns:
        return None
    runs = sorted(clips["run"].unique())
    fig, axes = plt.subplots(len(runs), SPECTRO_CLIPS, figsize=(3 * SPECTRO_CLIPS, 2.2 * len(runs)), squeeze=False)
    for i, run in enumerate(runs):
        part = clips[clips["run"] == run].sort_values(["checkpoint", "prime_ms", "path"])
        picks = part.groupby(["checkpoint", "prime_ms"]).head(1).head(SPECTRO_CLIPS)
        for j in range(SPECTRO_CLIPS):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            if j >= len(picks):
                continue
            row = picks.iloc[j]
            wave = load_audio(out / "runs" / run / row["path"])
            with np.errstate(divide="ignore"):  # silent clips have log(0) bins
                ax.specgram(wave + SPECTRO_FLOOR, NFFT=SPECTRO_NFFT, Fs=PROJECT_SAMPLE_RATE_HZ, noverlap=SPECTRO_NFFT * 3 // 4, cmap="magma")
            ax.set_title(f"{run}\n{row['checkpoint']} prime {row['prime_ms']:g} ms", fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path


def write_report(ctx) -> Path:
    from benchbox.protocol import train_jobs

    out, proto = ctx.out, ctx.proto
    run_ids = [j.run_id for j in train_jobs(proto)]
    clips, groups = collect(out, run_ids)
    ans = study_answers(clips, groups, proto.score.embedders[0] if proto.score.embedders else None)
    fig = spectrogram_figure(out, clips, out / FIG_DIR / "spectrograms.png")
    versions = json.loads((out / "versions.json").read_text()) if (out / "versions.json").is_file() else {}
    lines = [f"# Study report: {proto.name}", "", proto.description, "",
             "Reproduce with:", "", "```bash", ctx.command or f"benchbox run {ctx.protocol_path}", "```", "",
             f"Dataset: `{proto.data.source}`; presets: {', '.join(proto.presets)}; "
             f"{len(run_ids)} training runs; {len(clips)} scored clips.", ""]
    board = out / "leaderboard.md"
    if board.is_file():
        lines += ["## Leaderboard", "", board.read_text().strip(), ""]
    lines += answers_markdown(ans)
    lines += ["## Loss curves", ""] + [f"![{r}](runs/{r}/curves.png)" for r in run_ids if (out / "runs" / r / "curves.png").is_file()]
    if fig is not None:
        lines += ["", "## Spectrograms", "", f"![spectrograms]({FIG_DIR}/spectrograms.png)"]
    lines += ["", "## Versions", "", "```json", json.dumps(versions, indent=2), "```", ""]
    text = "\n".join(lines)
    atomic_write_text(out / "report.md", text)
    atomic_write_text(out / "report.html", _html(out, text, clips))
    return out / "report.md"


def _html(out: Path, markdown_text: str, clips: pd.DataFrame) -> str:
    """A self-contained HTML version: headings, tables, images and a few clips inline."""
    body: list[str] = []
    table: list[str] = []
    for line in markdown_text.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            body.append(_html_table(table))
            table = []
        body.append(_html_line(out, line))
    if not clips.empty:
        body.append("<h2>Listen</h2>")
        for _, row in clips.groupby(["run", "checkpoint", "prime_ms"]).head(1).head(LISTEN_CLIPS).iterrows():
            wav = out / "runs" / row["run"] / row["path"]
            if wav.is_file():
                data = base64.b64encode(wav.read_bytes()).decode()
                label = html.escape(f"{row['run']} {row['checkpoint']} prime {row['prime_ms']:g} ms")
                body.append(f'<div>{label}<br><audio controls src="data:audio/wav;base64,{data}"></audio></div>')
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>report</title><style>{style}</style></head><body>{''.join(body)}</body></html>"


def _html_line(out: Path, line: str) -> str:
    if line.startswith("![") and "](" in line:
        src = out / line.split("](", 1)[1].rstrip(")")
        if not src.is_file():
            return ""
        data = base64.b64encode(src.read_bytes()).decode()
        return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'
    if line.startswith("#"):
        level = len(line) - len(line.lstrip("#"))
        return f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>"
    return f"<p>{html.escape(line)}</p>" if line.strip() else ""


def _html_table(lines: list[str]) -> str:
    rows = [[html.escape(c.strip()) for c in line.strip().strip("|").split("|")] for line in lines
            if not set(line.replace("|", "").strip()) <= set("-: ")]
    if not rows:
        return ""
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
