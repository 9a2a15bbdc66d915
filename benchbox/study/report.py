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

from benchbox.runs import atomic_path, publish_files
from benchbox.study.analysis import study_answers
from benchbox.study.findings import verdict_markdown
from benchbox.study.seed_findings import findings_markdown

FIG_DIR = "figures"
SPECTRO_CLIPS = 4  # generated clips per run in the spectrogram figure, beside one real clip
LISTEN_REAL_CLIPS = 4
REAL_SPLIT = "test"
MS_PER_SECOND = 1000.0
CELL_COLUMNS = ["run", "checkpoint", "prime_ms"]


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
    useful = ans.get("useful_metric", "useful/auto")
    lines = ["## The study's questions", "",
             f"**Useful samples overall** (`{useful}`: no artefact flag and realistic; continuation of primed clips): "
             f"{_fmt_rate(ov)}. The original study found fewer than 25% useful, by ear.", ""]
    bl = ans["best_vs_last"]
    lines += ["### Are best-val checkpoints better than last?", ""]
    for run, sha in ans.get("identical_runs", []):
        lines += [f"**{run}: best and last hold the same weights** (checkpoint sha256 {sha[:12]}): not compared.", ""]
    if bl["fad"] and bl["fad"]["pairs"] == 0:
        lines += ["No pair of cells with different weights: there is nothing to test.", ""]
    elif bl["fad"]:
        f = bl["fad"]
        lines += [f"Paired cells (same run and prime): best has the lower {fad} in {f['wins']} of {f['pairs']} "
                  f"(mean difference best - last = {f['mean_diff']:.4g}; sign test p = {f['p_value']:.3g}).", ""]
    lines += _rate_lines(bl["useful"], "checkpoint") + [""]
    pr = ans["priming"]
    lines += ["### Does 20/40 ms priming raise fidelity and lower diversity?", "",
              "Judged on the continuation only (the generated part after the copied real prime, against the real "
              "clips cut at the same point); precision is fidelity, recall and coverage are diversity. These are "
              "means over cells; every cell's value with its n and 95% CI is in the verdict tables above.", ""]
    lines += _metric_lines(pr["fad"], "prime_ms", pr.get("fad_metric", fad)) + [""]
    for metric in ("precision", "recall", "coverage"):
        if metric in pr:
            lines += _metric_lines(pr[metric][1], "prime_ms", pr[metric][0]) + [""]
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


def _pick_cells(part: pd.DataFrame, k: int) -> pd.DataFrame:
    """Up to ``k`` (checkpoint, prime) cells of one run, spread over every prime and checkpoint."""
    firsts = part.sort_values(["prime_ms", "checkpoint", "path"]).groupby(["checkpoint", "prime_ms"], sort=False).head(1)
    if len(firsts) <= k:
        return firsts
    return firsts.iloc[np.linspace(0, len(firsts) - 1, k).round().astype(int)]


def spectrogram_figure(out: Path, clips: pd.DataFrame, real: list[Path], path: Path) -> Path | None:
    """One row per run: a real test clip, then generated clips across checkpoints and primes.

    Frequency in kHz, time in s, one dBFS colour bar; a dashed line marks where a prime ends.
    """
    from benchbox.plots import SpectrogramCell, spectrogram_grid

    if clips.empty or "path" not in clips.columns:
        return None
    clips = clips[[(out / "runs" / r / p).is_file() for r, p in zip(clips["run"], clips["path"])]]
    if clips.empty:
        return None
    rows = []
    for i, run in enumerate(sorted(clips["run"].unique())):
        row = []
        if real:
            wave, rate = _decode(real[i % len(real)])
            row.append(SpectrogramCell(f"real ({REAL_SPLIT} split)\n{real[i % len(real)].name}", wave, rate))
        for _, c in _pick_cells(clips[clips["run"] == run], SPECTRO_CLIPS).iterrows():
            wave, rate = _decode(out / "runs" / run / c["path"])
            prime_s = float(c["prime_ms"]) / MS_PER_SECOND if float(c["prime_ms"]) > 0 else None
            row.append(SpectrogramCell(f"{run}\n{c['checkpoint']}, prime {float(c['prime_ms']):g} ms", wave, rate, prime_s))
        rows.append(row)
    return spectrogram_grid(rows, path, columns=SPECTRO_CLIPS + (1 if real else 0))


def _decode(path: Path) -> tuple[np.ndarray, int]:
    from benchbox.score import decode

    return decode(path)  # (T,), rate


def _real_clips(data_dir: Path | None, k: int) -> list[Path]:
    """The first ``k`` clips of the reference test split; none when the dataset is not at hand."""
    from benchbox.data.dataset import load_dataset
    from benchbox.errors import DataError

    if data_dir is None:
        return []
    try:
        return list(load_dataset(data_dir).clip_paths(REAL_SPLIT))[:k]
    except DataError:
        return []


def report_markdown(ctx, run_ids: list[str], clips: pd.DataFrame, ans: dict, figure: Path | None, groups: pd.DataFrame | None = None, *, figure_is_new: bool = True) -> str:
    """The text of ``report.md``: how it was made, leaderboard, answers, figures, versions."""
    out, proto = ctx.out, ctx.proto
    groups = pd.DataFrame() if groups is None else groups
    embedder = proto.score.embedders[0] if proto.score.embedders else "aisfx"
    versions = json.loads((out / "versions.json").read_text()) if (out / "versions.json").is_file() else {}
    lines = [f"# Study report: {proto.name}", "", proto.description, "",
             "Reproduce with:", "", "```bash", ctx.command or f"benchbox run {ctx.protocol_path}", "```", "",
             f"Dataset: `{proto.data.source}`; presets: {', '.join(proto.presets)}; "
             f"{len(run_ids)} training runs; {len(clips)} scored clips.", ""]
    board = out / "leaderboard.md"
    if board.is_file():  # its own h1 is dropped: this page has one title
        body = "\n".join(ln for ln in board.read_text().strip().splitlines() if not ln.startswith("# ")).strip().splitlines()
        lines += ["## Leaderboard", "", *body, ""]
    lines += findings_markdown(clips, groups, out / "runs")
    lines += verdict_markdown(clips, groups, embedder)
    lines += answers_markdown(ans)
    curves = [r for r in run_ids if (out / "runs" / r / "curves.png").is_file()]
    if curves:
        lines += ["## Loss curves", ""]
        for r in curves:
            lines += [f"**{r}**: NLL in bits / sample and next-sample accuracy against step, train and val; "
                      "dashed horizontal lines are baselines when the run logged them.", "", f"![loss curves of {r}](runs/{r}/curves.png)", ""]
    if figure is not None:
        caption = ("One row per run: a real test clip (left), then the first clip of generated cells across checkpoints "
                   "and primes. Frequency in kHz, time in s, colour in dBFS on one scale; the dashed line marks where "
                   "the real prime ends and generation begins." if figure_is_new else
                   "The figure drawn when the clips were generated; the clips are not kept with these results, "
                   "so it was not redrawn (re-run the protocol for the labelled figure).")
        lines += ["## Spectrograms", "", caption, "", f"![spectrograms]({FIG_DIR}/{figure.name})", ""]
    lines += ["## Versions", "", "```json", json.dumps(versions, indent=2), "```", ""]
    return "\n".join(lines)


def write_report(ctx) -> Path:
    from benchbox.study.protocol import train_jobs

    out, proto = ctx.out, ctx.proto
    run_ids = [j.run_id for j in train_jobs(proto)]
    clips, groups = collect(out, run_ids)
    ans = study_answers(clips, groups, proto.score.embedders[0] if proto.score.embedders else None)
    real = _real_clips(getattr(ctx, "data_dir", None), max(LISTEN_REAL_CLIPS, len(run_ids)))
    kept = out / FIG_DIR / "spectrograms.png"
    fig = spectrogram_figure(out, clips, real, kept)
    old_fig = kept if fig is None and kept.is_file() else None  # clips not kept (a committed study): keep the old figure
    text = report_markdown(ctx, run_ids, clips, ans, fig or old_fig, groups, figure_is_new=fig is not None)
    title = f"Study report: {proto.name}"
    page = render_html(out, text, title=title, listen=listen_html(out, clips, real[:LISTEN_REAL_CLIPS]))
    publish_files({out / "report.md": text, out / "report.html": page})  # one output: both or neither
    return out / "report.md"


# ------------------------------------------------------------------------- HTML

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}"
          "table{border-collapse:collapse;font-size:12px;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 5px}"
          "th{background:#f0f0f0}pre{background:#f6f6f6;padding:0.6em;overflow-x:auto;white-space:pre-wrap}"
          "code{background:#f6f6f6;padding:0 2px}img{max-width:100%}audio{width:12em;height:2em;display:block}"
          ".listen td{vertical-align:top;font-size:12px}")


def _markdown_renderer(root: Path):
    """CommonMark + tables (markdown-it-py); images load from ``root`` and are inlined as data URIs."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        src = root / str(token.attrGet("src") or "")
        if src.is_file():
            token.attrSet("src", "data:image/png;base64," + base64.b64encode(src.read_bytes()).decode("ascii"))
        return self.image(tokens, idx, options, env)

    md.add_render_rule("image", image)
    return md


def render_html(root: Path, markdown_text: str, *, title: str, listen: str = "") -> str:
    """A self-contained page from the report's Markdown (markdown-it-py), plus the Listen section."""
    body = _markdown_renderer(root).render(markdown_text)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{body}{listen}</body></html>")


def listen_html(out: Path, clips: pd.DataFrame, real: list[Path]) -> str:
    """One player per run x checkpoint x prime cell (its first clip), and a few real clips."""
    if clips.empty:
        return ""
    firsts = clips.sort_values([*CELL_COLUMNS, "path"]).groupby(CELL_COLUMNS, sort=True).head(1)
    if not any((out / "runs" / r / p).is_file() for r, p in zip(firsts["run"], firsts["path"])):
        return ("<h2>Listen</h2><p>The clips are not kept with these results (only their scores are); "
                "re-run the protocol to listen to every cell.</p>")
    primes = sorted(firsts["prime_ms"].unique())
    head = "".join(f"<th>prime {float(p):g} ms</th>" for p in primes)
    rows = []
    for (run, ckpt), part in firsts.groupby(["run", "checkpoint"], sort=True):
        by_prime = {p: r for p, r in zip(part["prime_ms"], part["path"])}
        cells = "".join(f"<td>{_player(out / 'runs' / run / by_prime[p], '')}</td>" if p in by_prime else "<td></td>" for p in primes)
        rows.append(f"<tr><th>{html.escape(str(run))}<br>{html.escape(str(ckpt))}</th>{cells}</tr>")
    real_html = "".join(f"<div>{_player(p, p.name)}</div>" for p in real)
    note = (f"<p>Every cell: the first clip of each of the {len(firsts)} run x checkpoint x prime cells "
            f"({clips['run'].nunique()} runs, every generator). Other clips of a cell are in its samples/ folder.</p>")
    real_part = f"<h3>Real clips ({REAL_SPLIT} split)</h3>{real_html}" if real else ""
    return f"<h2>Listen</h2>{note}<table class='listen'><thead><tr><th>run / checkpoint</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{real_part}"


def _player(wav: Path, label: str) -> str:
    if not wav.is_file():
        return f"{html.escape(label)} (clip not on disk)"
    data = base64.b64encode(wav.read_bytes()).decode("ascii")
    return f'{html.escape(label)}<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio>'
