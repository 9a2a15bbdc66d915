"""``report.md`` / ``report.html`` of a study: the answer first, then the evidence.

A summary opens the report (the study's questions with their answers, metric, n and CI;
the best generator on its axes; what the clips sound like), then a table of contents
with anchors, the findings, effect charts with 95% CIs, the verdict, the answers in
detail, the leaderboard, curves and spectrograms, and how it was made (command,
protocol, versions). Each number is computed once (:mod:`benchbox.study.analysis`) and
every section that states it reuses it.
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from benchbox.runs import publish_files
from benchbox.study.analysis import study_answers
from benchbox.study.findings import verdict_markdown
from benchbox.study.listen import player
from benchbox.study.questions import answers_markdown
from benchbox.study.family_findings import family_markdown, seed_scope
from benchbox.study.seed_findings import all_findings, findings_markdown
from benchbox.study.summary import slug, summary_section, toc

FIG_DIR = "figures"
LISTEN_REAL_CLIPS = 4
REAL_SPLIT = "test"
CELL_COLUMNS = ["run", "checkpoint", "prime_ms"]


def collect(out: Path, run_ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    clips, groups = [], []
    for run_id in run_ids:
        sdir = out / "runs" / run_id / "scores"
        if (sdir / "clips.csv").is_file():
            # read_csv gives one block per column (~116 here); .copy() consolidates them, or every
            # later assign/insert on the study frame prints pandas' PerformanceWarning to the user
            # keep_default_na=False: only an empty cell is missing, so the nan detector's useful/reason "nan" stays text
            clips.append(pd.read_csv(sdir / "clips.csv", keep_default_na=False, na_values=[""]).copy().assign(run=run_id))
        if (sdir / "groups.csv").is_file():
            groups.append(pd.read_csv(sdir / "groups.csv", keep_default_na=False, na_values=[""]).assign(run=run_id))
    # and the concatenation of several runs' frames is fragmented again: consolidate it too
    return (pd.concat(clips, ignore_index=True).copy() if clips else pd.DataFrame(),
            pd.concat(groups, ignore_index=True) if groups else pd.DataFrame())


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


METRICS_DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def metrics_href(out: Path) -> str:
    """The link from ``out``'s report to docs/metrics.md: relative to this checkout's copy (the
    committed studies: ``../../docs/metrics.md``); that conventional path when the package runs
    without its source tree (an installed wheel)."""
    if not METRICS_DOC.is_file():
        return "../../docs/metrics.md"
    return Path(os.path.relpath(METRICS_DOC, Path(out).resolve())).as_posix()


def _section(title: str, body: list[str]) -> list[str]:
    return [f"## {title}", "", *body, ""] if body else []


def _reproduce_command(ctx) -> str:
    """The command that reproduces the study: the one it ran with; else ``benchbox run`` on its
    protocol file; else (a re-render or re-score, which has neither) the previous report's
    command; else the resolved protocol kept in the study folder."""
    if ctx.command:
        return ctx.command
    if getattr(ctx, "protocol_path", None):
        return f"benchbox run {ctx.protocol_path}"
    old = ctx.out / "report.md"
    if old.is_file():
        line = next((ln for ln in old.read_text().splitlines() if ln.startswith("benchbox run ") and ln != "benchbox run None"), "")
        if line:
            return line
    return f"benchbox run {ctx.out / 'protocol.toml'} --out {ctx.out}"


def versions_lines(out: Path) -> list[str]:
    """The report's Versions block, saying which invocation it describes: the latest ``benchbox run``
    that ran a stage (:func:`benchbox.study.runner.record_versions`); each run folder keeps its own."""
    from benchbox.runs import RECORDED_KEY
    from benchbox.study.protocol import FIRST_STAGE_KEY

    path = out / "versions.json"
    versions = json.loads(path.read_text()) if path.is_file() else {}
    if RECORDED_KEY in versions:
        which = (f"Versions of the latest `benchbox run` that ran a stage of this study (its first: `{versions[FIRST_STAGE_KEY]}`, "
                 f"{versions[RECORDED_KEY]} UTC).")
    else:  # written before the record named its invocation: by whichever ran last, perhaps one that skipped every stage
        which = "Versions of the latest `benchbox run` in this folder (recorded before benchbox noted whether it ran a stage)."
    where = ("Each training run records the invocation that trained it in `runs/<run>/versions.json`; a resumed training adds "
             "`versions-resume-<k>.json` beside it.")
    return [f"{which} {where}", "", "```json", json.dumps(versions, indent=2), "```"]


def report_markdown(ctx, run_ids: list[str], clips: pd.DataFrame, ans: dict, figure: Path | None, groups: pd.DataFrame | None = None, *,
                    figure_is_new: bool = True, figure_caption: str = "", charts: list | None = None, smoke: str = "",
                    every_clip: pd.DataFrame | None = None, families_listen: list[str] | None = None, changes: list[str] | None = None) -> str:
    """The text of ``report.md``: the summary first, contents, findings, charts, verdict, answers,
    leaderboard, curves, spectrograms, then how it was made. ``clips`` and ``groups`` are at the
    reference sampling setting (:mod:`benchbox.study.sampling`); ``every_clip`` holds every
    setting (the sampling question); ``families_listen`` closes the families section; ``changes``
    (:func:`benchbox.study.changes.changes_markdown`) follows the findings."""
    from benchbox.study.figures import curves_section
    from benchbox.study.protocol import train_jobs

    out, proto = ctx.out, ctx.proto
    groups = pd.DataFrame() if groups is None else groups
    embedder = proto.score.embedders[0] if proto.score.embedders else "aisfx"
    seed_clips, seed_groups, scope = seed_scope(clips, groups, proto)
    findings = all_findings(seed_clips, seed_groups, out / "runs", smoke)
    charts = charts or []
    metrics = metrics_href(out)
    heading = "## The seed study's six findings" + (f", on the {scope}" if scope else "")
    body = findings_markdown(findings, smoke, heading, metrics=metrics, scope=scope) + (changes or [])
    every_clip = clips if every_clip is None else every_clip
    body += family_markdown(clips, groups, out / "runs", proto, smoke, every_clip=every_clip)
    body += families_listen or []
    if charts:
        g = proto.generate
        swept = proto.sweep.swept()
        sampling = (f" The sampling axes ({', '.join(swept)}) get their own charts; every other chart and table holds the clips "
                    "at the reference setting (the first value of each axis)." if swept else
                    f" Sampling settings are not swept by this protocol (temperature {g.temperature:g}, top-p {g.top_p:g} for every "
                    "clip), so they get no chart; nor does any axis with a single level.")
        body += ["## Effects at a glance", "", "Each point is a rate or mean with its 95% CI (Wilson for rates, widened by the design effect where a point "
                 "pools several runs, whose clips are not independent; a t-interval "
                 "over cells for a group metric such as the 1-NN accuracy or KAD); the metrics are defined in "
                 f"[docs/metrics.md]({metrics}).{sampling}", ""]
        for title, rel, caption in charts:
            body += [f"### {title}", "", caption, "", f"![{title}]({rel})", ""]
    body += verdict_markdown(clips, groups, embedder)
    body += answers_markdown(ans)
    board = out / "leaderboard.md"
    if board.is_file():  # its own h1 is dropped (this page has one title); its per-span tables' h2 go under this section
        rows = "\n".join("#" + ln if ln.startswith("## ") else ln for ln in board.read_text().strip().splitlines() if not ln.startswith("# ")).strip().splitlines()
        body += _section("Leaderboard", rows)
    body += curves_section(out, run_ids)
    if figure is not None:
        caption = figure_caption if figure_is_new else (
            "The figure drawn when the clips were generated; the clips are not kept with these results, so it was not "
            "redrawn with the clip-selection rule of this version (re-run the protocol for it).")
        body += _section("Spectrograms", [caption, "", f"![spectrograms]({FIG_DIR}/{figure.name})"])
    presets = sorted({job.preset for job in train_jobs(proto)})  # the grid's and the extra runs' presets
    made = ["Reproduce with:", "", "```bash", _reproduce_command(ctx), "```", "",
            f"Dataset: `{proto.data.source}`; presets: {', '.join(presets)}; {len(run_ids)} training runs; "
            f"{len(every_clip)} scored clips" + (f" ({len(clips)} at the reference sampling setting)." if len(every_clip) != len(clips) else "."), "", *versions_lines(out)]
    body += _section("How it was made", made)
    figures = [t for t in ("Effects at a glance", "Spectrograms") if any(ln == f"## {t}" for ln in body)]
    summary = summary_section(findings, clips, groups, useful=ans.get("useful_metric", "useful/auto"), embedder=embedder,
                              smoke=smoke, figures=figures + ["Listen"], scope=scope)
    head = [f"# Study report: {proto.name}", "", proto.description, "",
            "Every metric and test below is defined, with its unit, reference set, CI method and caveats, in "
            f"[docs/metrics.md]({metrics}).", ""]
    return "\n".join(head + summary + toc(body, ["[Listen](#listen) (report.html only)"]) + body)


def summary_of(out: Path, clips: pd.DataFrame, groups: pd.DataFrame, *, smoke: bool, proto=None) -> dict:
    """:func:`benchbox.study.changes.study_summary` of a report's clips and groups (at the
    reference sampling setting), its findings decided without the smoke label, on the runs the
    report decides them on (:func:`seed_scope` with ``proto``)."""
    from benchbox.study.changes import study_summary

    seed_clips, seed_groups, _ = seed_scope(clips, groups, proto)
    return study_summary(out, clips, all_findings(seed_clips, seed_groups, Path(out) / "runs"), smoke=smoke)


def write_report(ctx) -> Path:
    from benchbox.study.figures import effect_charts, spectrogram_figure
    from benchbox.study.protocol import evidence_of, train_jobs

    from benchbox.study import listen
    from benchbox.study.changes import SUMMARY_NAME, changes_markdown, next_record
    from benchbox.study.family_findings import best_cells, listen_examples, run_maps
    from benchbox.study.sampling import at_reference

    out, proto = ctx.out, ctx.proto
    run_ids = [j.run_id for j in train_jobs(proto)]
    every_clip, every_group = collect(out, run_ids)
    clips, groups = at_reference(every_clip, proto), at_reference(every_group, proto)  # the sampling question alone sees every setting
    embedder = proto.score.embedders[0] if proto.score.embedders else None
    seed_clips, seed_groups, scope = seed_scope(clips, groups, proto)  # the seed's questions: the runs its findings are decided on
    ans = {**study_answers(seed_clips, seed_groups, embedder), "scope": scope}
    is_smoke, why = evidence_of(proto, _dataset_kind(getattr(ctx, "data_dir", None)))
    real = _real_clips(getattr(ctx, "data_dir", None), max(LISTEN_REAL_CLIPS, len(run_ids)))
    kept = out / FIG_DIR / "spectrograms.png"
    fig, caption = spectrogram_figure(out, clips, real, kept, embedder or "aisfx")
    old_fig = kept if fig is None and kept.is_file() else None  # clips not kept (a committed study): keep the old figure
    charts = effect_charts(out, FIG_DIR, clips, groups, embedder or "aisfx", sampling_clips=every_clip)
    kept, figs = {}, [(f"{FIG_DIR}/{listen.FIGURE_NAME}", None), (f"{FIG_DIR}/{listen.CELLS_FIGURE_NAME}", None)]
    if proto.families and "cont/useful/auto" in clips:
        family_of = run_maps(sorted(clips["run"].unique()), proto)[0]
        cells = {f"{listen.CELL_GROUP}{i}": {f"{i}. {c['run']} {c['checkpoint']}, prime {c['prime_ms']:g} ms": c["picks"]}
                 for i, c in enumerate(best_cells(clips, family_of), 1)}
        kept = listen.keep_clips(out, {**listen_examples(clips, family_of), **cells})
        figs = [(rel, listen.families_figure(out, part, out / rel)) for (rel, _), part in zip(figs, listen.split(kept))]
    record = next_record(out, summary_of(out, clips, groups, smoke=is_smoke, proto=proto))
    text = report_markdown(ctx, run_ids, clips, ans, fig or old_fig, groups, figure_is_new=fig is not None,
                           figure_caption=caption, charts=charts, smoke=why if is_smoke else "", every_clip=every_clip,
                           families_listen=listen.listen_markdown(out, kept, *figs), changes=changes_markdown(record))
    title = f"Study report: {proto.name}"
    page = render_html(out, text, title=title, listen=listen_html(out, clips, real[:LISTEN_REAL_CLIPS]) + listen.families_html(kept))
    summary = json.dumps(record, indent=1) + "\n"
    publish_files({out / "report.md": text, out / "report.html": page, out / SUMMARY_NAME: summary})  # one output: all or none
    return out / "report.md"


def _dataset_kind(data_dir: Path | None) -> str | None:
    meta = Path(data_dir) / "dataset.json" if data_dir else None
    try:
        return json.loads(meta.read_text()).get("kind") if meta and meta.is_file() else None
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------------- HTML

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:1280px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}"
          ".scroll{overflow-x:auto;max-width:100%;margin:0.5em 0}"
          "table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 5px;background:#fff}"
          "th{background:#f0f0f0}.scroll tr>:first-child{position:sticky;left:0;z-index:1;box-shadow:1px 0 0 #ccc}"
          "pre{background:#f6f6f6;padding:0.6em;overflow-x:auto;white-space:pre-wrap}"
          "code{background:#f6f6f6;padding:0 2px;overflow-wrap:anywhere}img{max-width:100%}audio{width:12em;height:2em;display:block}"
          "blockquote{margin:0.5em 0;padding:0.4em 1em;background:#fff3cd;border-left:4px solid #d39e00}"
          "h2{border-bottom:1px solid #ddd;padding-bottom:0.2em;margin-top:1.8em}"
          ".listen td{vertical-align:top;font-size:12px}")


def _markdown_renderer(root: Path):
    """CommonMark + tables (markdown-it-py); headings get GitHub's anchors, each table a
    horizontal scroll container (its first column stays in view), images load from ``root``
    and are inlined as data URIs."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")

    def image(self, tokens, idx, options, env):
        token = tokens[idx]
        src = root / str(token.attrGet("src") or "")
        if src.is_file():
            token.attrSet("src", "data:image/png;base64," + base64.b64encode(src.read_bytes()).decode("ascii"))
        return self.image(tokens, idx, options, env)

    def heading_open(self, tokens, idx, options, env):
        tokens[idx].attrSet("id", slug(tokens[idx + 1].content))
        return self.renderToken(tokens, idx, options, env)

    def table_open(self, tokens, idx, options, env):
        return '<div class="scroll">' + self.renderToken(tokens, idx, options, env)

    def table_close(self, tokens, idx, options, env):
        return self.renderToken(tokens, idx, options, env) + "</div>"

    md.add_render_rule("image", image)
    md.add_render_rule("heading_open", heading_open)
    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
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
        return ("<h2 id='listen'>Listen</h2><p>The clips are not kept with these results (only their scores are); "
                "re-run the protocol to listen to every cell.</p>")
    primes = sorted(firsts["prime_ms"].unique())
    head = "".join(f"<th>prime {float(p):g} ms</th>" for p in primes)
    rows = []
    for (run, ckpt), part in firsts.groupby(["run", "checkpoint"], sort=True):
        by_prime = {p: r for p, r in zip(part["prime_ms"], part["path"])}
        cells = "".join(f"<td>{player(out / 'runs' / run / by_prime[p], '')}</td>" if p in by_prime else "<td></td>" for p in primes)
        rows.append(f"<tr><th>{html.escape(str(run))}<br>{html.escape(str(ckpt))}</th>{cells}</tr>")
    real_html = "".join(f"<div>{player(p, p.name)}</div>" for p in real)
    note = (f"<p>Every cell: the first clip of each of the {len(firsts)} run x checkpoint x prime cells "
            f"({clips['run'].nunique()} runs, every generator). Other clips of a cell are in its samples/ folder.</p>")
    real_part = f"<h3>Real clips ({REAL_SPLIT} split)</h3>{real_html}" if real else ""
    return (f"<h2 id='listen'>Listen</h2>{note}<div class='scroll'><table class='listen'><thead><tr><th>run / checkpoint</th>{head}</tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table></div>{real_part}")


