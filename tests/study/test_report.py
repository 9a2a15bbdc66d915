"""report.html: Markdown rendered by markdown-it-py, one h1, a title, every cell listenable."""

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchbox.audio import write_wav
from benchbox.study.report import listen_html, render_html, write_report
from tests.browser import CHROMIUM, chromium_page, leftover_markdown, overflow_px

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_REPORT = ROOT / "results" / "quickstart" / "report.md"
SAMPLE = """# Study report: tiny

Reproduce with:

```bash
benchbox run protocols/tiny.toml
```

Dataset: `synth`; **Useful samples overall**: 75%.

## Leaderboard

| # | run | fad |
|---|---|---|
| 1 | a<b | 3 [1, 4] |

- a note
- another

![loss curves of r](runs/r/curves.png)

```json
{
  "torch": "2.13.0"
}
```
"""


def _png(path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1), dpi=20)
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def test_markdown_is_rendered_not_shown(tmp_path):
    _png(tmp_path / "runs" / "r" / "curves.png")
    page = render_html(tmp_path, SAMPLE, title="Study report: tiny")
    assert "<title>Study report: tiny</title>" in page and page.count("<h1") == 1
    assert "<table>" in page and "<td>a&lt;b</td>" in page and '<div class="scroll"><table>' in page
    assert "<strong>Useful samples overall</strong>" in page and "<code>synth</code>" in page
    assert "<li>a note</li>" in page and "```" not in page and "**" not in page
    assert page.count("<pre>") == 2 and '"torch": "2.13.0"' in page.replace("&quot;", '"')  # one block, not a paragraph per line
    assert 'src="data:image/png;base64,' in page and "runs/r/curves.png" not in page.split("alt=")[0]
    assert "http" not in page


def _clips(tmp_path: Path) -> pd.DataFrame:
    rows = []
    for run in ("sashimi-tiny_mulaw_do0", "wavenet-tiny_mulaw_do0"):
        for ckpt in ("best", "last"):
            for prime in (0, 10, 20, 40):
                for i in range(2):
                    rel = f"samples/{ckpt}/prime{prime}/clip_{i:04d}.wav"
                    write_wav(tmp_path / "runs" / run / rel, np.zeros(64, np.float32), 16000)
                    rows.append({"run": run, "checkpoint": ckpt, "prime_ms": prime, "path": rel})
    return pd.DataFrame(rows)


def test_listen_covers_every_cell_and_says_so(tmp_path):
    clips = _clips(tmp_path)
    part = listen_html(tmp_path, clips, [])
    assert part.count("<audio") == 2 * 2 * 4  # runs x checkpoints x primes, one clip each
    assert "wavenet-tiny_mulaw_do0" in part and "16 run x checkpoint x prime cells" in part
    assert "<audio" not in listen_html(tmp_path / "elsewhere", clips, []) and "not kept" in listen_html(tmp_path / "elsewhere", clips, [])


def committed_study(tmp_path: Path, name: str = "quickstart") -> SimpleNamespace:
    """A copy of a committed study folder and a context to rewrite its report from its CSVs."""
    from benchbox.study.protocol import load_protocol

    out = tmp_path / name
    shutil.copytree(ROOT / "results" / name, out, ignore=shutil.ignore_patterns("report.*"))
    proto = load_protocol(out / "protocol.toml")
    return SimpleNamespace(out=out, proto=proto, command=f"benchbox run protocols/{name}.toml", protocol_path=None, data_dir=None)


@pytest.mark.skipif(not COMMITTED_REPORT.is_file(), reason="no committed quickstart report")
def test_report_has_one_title_and_leaderboard_without_h1(tmp_path):
    ctx = committed_study(tmp_path)
    write_report(ctx)
    text = (ctx.out / "report.md").read_text()
    assert text.count("\n# ") + text.startswith("# ") == 1 and "# benchbox leaderboard" not in text
    page = (ctx.out / "report.html").read_text()
    assert "<title>Study report: quickstart</title>" in page and page.count("<h1") == 1


@pytest.mark.skipif(not COMMITTED_REPORT.is_file(), reason="no committed quickstart report")
def test_the_leaderboards_span_tables_sit_under_the_reports_leaderboard_section(tmp_path):
    from benchbox.study.rerender import rerender_board

    ctx = committed_study(tmp_path)
    rerender_board(ctx.out)  # one table per span (quickstart: whole clips, 10, 20 and 40 ms)
    write_report(ctx)
    text = (ctx.out / "report.md").read_text()
    board = text.split("\n## Leaderboard\n", 1)[1].split("\n## ", 1)[0]
    assert "\n### Whole clips: unprimed generations and the reference rows\n" in board and board.count("\n### Continuation after a ") == 3
    assert "  - [Continuation after a 20 ms prime](#continuation-after-a-20-ms-prime)" in text  # nested under Leaderboard in the contents


@pytest.mark.skipif(not COMMITTED_REPORT.is_file(), reason="no committed quickstart report")
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_report_renders_without_markdown_in_chromium(tmp_path):
    ctx = committed_study(tmp_path)
    write_report(ctx)
    with chromium_page() as page:
        page.goto((ctx.out / "report.html").as_uri())
        rendered = page.inner_text("body")
        assert leftover_markdown(rendered) == [], leftover_markdown(rendered)[:5]
        assert page.title() == "Study report: quickstart" and page.locator("h1").count() == 1
        assert page.locator("table").count() >= 5 and page.locator("pre").count() == 2
        assert overflow_px(page) <= 0  # fits a 1366 px window
        assert page.errors == []
    assert re.search(r"\d+\.\d% \[", rendered)


def test_reproduce_command_falls_back_to_the_previous_report_then_the_kept_protocol(tmp_path):
    from types import SimpleNamespace

    from benchbox.study.report import _reproduce_command

    ctx = SimpleNamespace(command="", protocol_path=None, out=tmp_path)
    assert _reproduce_command(ctx) == f"benchbox run {tmp_path / 'protocol.toml'} --out {tmp_path}"
    (tmp_path / "report.md").write_text("x\n```bash\nbenchbox run None\n```\n")  # a re-score's placeholder is never kept
    assert "None" not in _reproduce_command(ctx)
    (tmp_path / "report.md").write_text("x\n```bash\nbenchbox run protocols/p.toml --out r -q\n```\n")
    assert _reproduce_command(ctx) == "benchbox run protocols/p.toml --out r -q"
    assert _reproduce_command(SimpleNamespace(command="", protocol_path="protocols/q.toml", out=tmp_path)) == "benchbox run protocols/q.toml"
    assert _reproduce_command(SimpleNamespace(command="benchbox run a", protocol_path="b", out=tmp_path)) == "benchbox run a"


def test_collect_gives_a_consolidated_frame_so_later_inserts_do_not_warn(tmp_path):
    """A scores/clips.csv of ~120 columns reads as one pandas block per column; collect() must
    consolidate it, or each of the report's later column inserts prints a PerformanceWarning."""
    import warnings

    from benchbox.study.report import collect

    runs = ["r1", "r2", "r3"]
    for j, run in enumerate(runs):  # several runs whose columns differ a little: concat fragments again
        sdir = tmp_path / "runs" / run / "scores"
        sdir.mkdir(parents=True)
        cols = {f"f{i}": (np.arange(4) * i).astype(float if (i + j) % 2 else int) for i in range(120)}
        pd.DataFrame({"name": list("abcd"), **cols}).to_csv(sdir / "clips.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        clips, groups = collect(tmp_path, runs)
        for k in range(60):
            clips[f"extra{k}"] = k  # more than the report's sections add
    assert clips.shape == (12, 121 + 1 + 60) and clips["run"].tolist() == [r for r in runs for _ in range(4)]
    assert clips["f3"].tolist() == [0.0, 3.0, 6.0, 9.0] * 3 and groups.empty


def test_collect_keeps_the_nan_detectors_reason_as_text(tmp_path):
    """useful/reason "nan" (a clip flagged by the nan detector alone) is a reason, not a missing value:
    pandas' default read_csv turned it into NaN, and the rejected-clip examples (a groupby) dropped it."""
    from benchbox.study.findings import rejected_examples
    from benchbox.study.report import collect

    sdir = tmp_path / "runs" / "r1" / "scores"
    sdir.mkdir(parents=True)
    pd.DataFrame({"path": ["a.wav", "b.wav", "c.wav"], "generator": ["g"] * 3, "useful/auto": [0, 0, 1],
                  "useful/reason": ["nan", "nan+not-footstep", "ok"], "footstep/p": [np.nan, 0.1, 0.9]}).to_csv(sdir / "clips.csv", index=False)
    clips, _ = collect(tmp_path, ["r1"])
    assert clips["useful/reason"].tolist() == ["nan", "nan+not-footstep", "ok"] and clips["footstep/p"].isna().tolist() == [True, False, False]
    assert any(line.startswith("| nan (1) | r1/a.wav") for line in rejected_examples(clips, "aisfx"))
