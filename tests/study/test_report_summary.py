"""The report reads from the answer down: summary first, contents with anchors, one value per quantity."""

import re
from pathlib import Path

import pandas as pd
import pytest

from benchbox.study.report import write_report
from benchbox.study.summary import slug
from tests.browser import CHROMIUM, chromium_page, layout
from tests.study.test_report import ROOT, committed_study

SEED = ROOT / "results" / "footsteps-seed-cpu" / "report.md"
RATE = r"\d+\.\d% \[\d+\.\d, \d+\.\d\] \(\d+/\d+(?:; \d+ runs, deff \d+\.\d)?\)"  # pooled over runs: the design effect


def _label(text: str) -> str:
    text = text.strip().strip("`").strip()
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def stated_rates(markdown: str) -> dict[tuple[str, str], set[str]]:
    """Every rate the report states, keyed by the quantity it names: (table's first header, row
    label) for rate tables, ("checkpoint", best|last) and ("dropout", level) for inline
    statements, ("flag"|"useful", column) for a column's overall rate."""
    found: dict[tuple[str, str], set[str]] = {}

    def add(key, value):
        found.setdefault((key[0], _label(key[1])), set()).add(value)

    header = None
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = cells[0]
            continue
        if cells and header == "finding" and len(cells) >= 4 and re.fullmatch(RATE, cells[3]):
            col = cells[2].strip("`")
            add(("useful" if "useful" in col else "flag", col), cells[3])
        elif cells and header and len(cells) >= 2 and re.match(RATE, cells[1]):
            key = ("flag", cells[0]) if header == "detector" else (header, cells[0])
            add(key, re.match(RATE, cells[1]).group(0))
        for ckpt, rate in re.findall(rf"\b(best|last) ({RATE})", line):
            add(("checkpoint", ckpt), rate)
        for level, rate in re.findall(rf"\(dropout ([\d.]+): ({RATE})\)", line):
            add(("dropout", level), rate)
        for col, rate in re.findall(rf"\*\*`(cont/useful/auto)`\*\*: ({RATE})", line):
            add(("useful", col), rate)
        scope = re.search(r"\*\*Useful samples overall, on the ([^*]+)\*\*", line)  # a families study's seed scope: another quantity
        for col, rate in re.findall(rf"\(`(cont/useful/auto)`[^)]*\): ({RATE})", line):
            add(("useful", col + (f" on the {scope.group(1)}" if scope else "")), rate)
    return found


def test_the_parser_sees_a_disagreement():
    text = ("| finding | verdict | metric | estimate | test |\n|---|---|---|---|---|\n"
            "| 4. x | **y** | `cont/useful/auto`, best vs last | best 24.8% [22.1, 27.7] (222/896) vs last 1.0% [0.1, 2.0] (1/100) | t |\n\n"
            "| checkpoint | rate [95% CI] (k/n) |\n|---|---|\n| best | 23.0% [20.7, 25.5] (265/1152) |\n")
    assert stated_rates(text)[("checkpoint", "best")] == {"24.8% [22.1, 27.7] (222/896)", "23.0% [20.7, 25.5] (265/1152)"}


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory):
    if not SEED.is_file():
        pytest.skip("no committed footsteps-seed-cpu study")
    ctx = committed_study(tmp_path_factory.mktemp("seed"), "footsteps-seed-cpu")
    write_report(ctx)
    return ctx.out


def test_no_two_sections_state_different_values_for_one_quantity(seed_report):
    """The seed study has runs whose best and last are the same weights, and continuation flags that
    differ from whole-clip ones: exactly where the findings and the questions used to disagree."""
    stated = stated_rates((seed_report / "report.md").read_text())
    disagree = {k: v for k, v in stated.items() if len(v) > 1}
    assert disagree == {}
    for key in (("checkpoint", "best"), ("checkpoint", "last"), ("flag", "cont/dc/flag"), ("useful", "cont/useful/auto"), ("dropout", "0.5")):
        assert key in stated, key  # each stated in at least one section, so the check bites
    assert stated[("checkpoint", "best")] == {_best_rate(seed_report)}


def _best_rate(out) -> str:
    """The best checkpoints' useful rate over the grid's runs whose best and last weights differ, computed
    here from the clips (``k/n`` and scipy's Wilson interval), as every section must state it."""
    from scipy.stats import binomtest

    clips = pd.concat([pd.read_csv(p).assign(run=p.parts[-3]) for p in sorted(out.glob("runs/*/scores/clips.csv"))], ignore_index=True)
    shas = clips.groupby(["run", "checkpoint"])["checkpoint_sha256"].first().unstack()
    differ = [r for r in shas.index[shas["best"] != shas["last"]] if not r.endswith("_minmax")]  # finding 4's runs: not the min-max ablation
    best = clips[clips["run"].isin(differ) & (clips["checkpoint"] == "best")]
    k, n = int(best["cont/useful/auto"].sum()), len(best)
    per = best.groupby("run")["cont/useful/auto"].agg(["sum", "count"])
    if len(per) < 2:
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        return f"{100 * k / n:.1f}% [{100 * ci.low:.1f}, {100 * ci.high:.1f}] ({k}/{n})"
    # several runs: Wilson at the effective n = n / deff x (z / t_{R-1})^2, deff from the one-way ANOVA ICC (Fleiss)
    ni, pi, p, r = per["count"].to_numpy(float), (per["sum"] / per["count"]).to_numpy(), k / n, len(per)
    msb, msw = (ni * (pi - p) ** 2).sum() / (r - 1), (ni * pi * (1 - pi)).sum() / (n - r)
    n0 = (n - (ni**2).sum() / n) / (r - 1)
    icc = min(1.0, max(0.0, (msb - msw) / (msb + (n0 - 1) * msw)))
    deff = 1 + ((ni**2).sum() / n - 1) * icc
    from scipy.stats import norm, t

    z = 1.96
    m = n / deff * (z / t.ppf(norm.cdf(z), r - 1)) ** 2  # Korn and Graubard's degrees-of-freedom step
    centre, half = (p + z * z / (2 * m)) / (1 + z * z / m), z * (p * (1 - p) / m + z * z / (4 * m * m)) ** 0.5 / (1 + z * z / m)
    return f"{100 * p:.1f}% [{100 * (centre - half):.1f}, {100 * (centre + half):.1f}] ({k}/{n}; {r} runs, deff {deff:.1f})"


def test_summary_first_then_contents_and_every_link_lands(seed_report):
    text = (seed_report / "report.md").read_text()
    h2 = re.findall(r"^## (.+)$", text, flags=re.M)
    assert h2[:2] == ["Summary", "Contents"]
    summary = text.split("## Summary", 1)[1].split("## Contents", 1)[0]
    assert summary.count("- **") >= 6 and "What the clips sound like" in summary
    assert "**Best generator**" in summary or "**Leading generator (not a tested win)**" in summary
    for line in summary.splitlines():  # every finding in the summary links to its section, with n and a CI
        if line.startswith("- **") and "finding" not in line and re.match(r"- \*\*(reproduced|not reproduced|inconclusive)", line):
            assert re.search(r"\]\(#[\w-]+\)", line) and re.search(r"\(\d+/\d+\)", line), line
    anchors = {slug(h) for h in re.findall(r"^#{2,3} (.+)$", text, flags=re.M)} | {"listen"}
    links = set(re.findall(r"\]\(#([\w-]+)\)", text))
    assert links and links <= anchors, links - anchors
    assert "docs/metrics.md" in text.split("## Summary")[0]
    page = (seed_report / "report.html").read_text()
    ids = set(re.findall(r'id="([\w-]+)"', page)) | set(re.findall(r"id='([\w-]+)'", page))
    assert links <= ids, links - ids


def test_the_report_says_why_the_two_best_vs_last_tests_differ(seed_report):
    section = (seed_report / "report.md").read_text().split("### Are best-val checkpoints better than last?", 1)[1].split("###", 1)[0]
    assert "sign test over runs" in section and "useful rate counts single clips" in section and "measure different things" in section
    assert "(" + _best_rate(seed_report).rsplit("(", 1)[1] in section
    clips = pd.concat([pd.read_csv(p).assign(run=p.parts[-3]) for p in sorted(seed_report.glob("runs/*/scores/clips.csv"))])
    shas = clips.groupby(["run", "checkpoint"])["checkpoint_sha256"].first().unstack()
    assert ("the same weights" in section) == bool((shas["best"] == shas["last"]).any())  # said exactly when some run's are


def test_effect_charts_are_drawn_and_captioned(seed_report):
    text = (seed_report / "report.md").read_text()
    for title in ("Priming", "Best vs last checkpoint", "Dropout", "Quantisation"):
        assert f"### {title}" in text
    for rel in re.findall(r"!\[[^\]]*\]\((figures/effect-[\w-]+\.png)\)", text):
        assert (seed_report / rel).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
def test_report_fits_1366_px_with_contents_and_the_summary_first(seed_report):
    with chromium_page() as page:
        page.goto((seed_report / "report.html").as_uri())
        measured = layout(page)
        assert measured["wide"] == [] and measured["page"] <= 0  # nothing passes the window outside a scroll box
        assert all(t["box_right"] <= 1366 for t in measured["tables"])
        first = page.evaluate("() => [...document.querySelectorAll('h2')].slice(0, 2).map(h => h.id)")
        assert first == ["summary", "contents"]
        assert page.locator("#contents + ul a").count() >= 10 and page.errors == []
        page.click("a[href='#usefulness-verdict']")
        assert page.evaluate("() => location.hash") == "#usefulness-verdict"


def test_every_metric_and_test_the_report_names_is_in_docs_metrics(seed_report):
    docs = (ROOT / "docs" / "metrics.md").read_text()
    text = (seed_report / "report.md").read_text()
    keys = {k for k in re.findall(r"`((?:cont/)?[a-z0-9]+/[a-z0-9_/]+)`", text) if not k.startswith(("runs/", "samples/"))}
    families = {k.removeprefix("cont/").split("/")[0] for k in keys}
    assert {"useful", "kad", "dc", "silence"} <= families
    missing = [f for f in sorted(families) if f"`{f}/" not in docs and f"`{f}`" not in docs]
    assert missing == []
    for test in ("Wilson", "Fisher", "Wilcoxon", "sign test", "1-NN", "Benjamini-Hochberg", "bootstrap", "t-interval"):
        assert test in docs and (test.lower() in text.lower() or test in ("t-interval", "bootstrap")), test


def test_the_metrics_link_lands_from_any_study_folder(tmp_path):
    from benchbox.study.report import METRICS_DOC, metrics_href

    assert metrics_href(ROOT / "results" / "quickstart") == "../../docs/metrics.md"
    assert (tmp_path / "study" / metrics_href(tmp_path / "study")).resolve() == METRICS_DOC


def test_a_best_generator_is_named_only_when_it_beats_the_runner_up():
    """Quickstart read 'Best generator' on a tie (the same useful rate, KAD 0.839 vs 0.840)."""
    import pandas as pd

    from benchbox.study.summary import best_generator

    def clips(rates):
        return pd.DataFrame([{"run": run, "cont/useful/auto": int(i < k)} for run, k in rates.items() for i in range(64)])

    groups = pd.DataFrame(columns=["kind", "run"])
    tie = "\n".join(best_generator(clips({"a": 10, "b": 9}), groups, "cont/useful/auto", "aisfx"))
    assert "**Leading generator (not a tested win)**: `a`" in tie and "not separated from `b`" in tie and "Fisher's exact p" in tie
    win = "\n".join(best_generator(clips({"a": 40, "b": 5}), groups, "cont/useful/auto", "aisfx"))
    assert "**Best generator**: `a`" in win and "ahead of `b`" in win
    none = "\n".join(best_generator(clips({"a": 0, "b": 0}), groups, "cont/useful/auto", "aisfx"))
    assert "**Leading generator (not a tested win)**" in none and "untested" in none


def test_a_families_report_states_one_value_per_quantity():
    """A families study decides the seed's questions on its autoregressive runs: their overall rate is
    labelled as such, apart from the every-run rate of the verdict section, and nothing else disagrees."""
    from types import SimpleNamespace

    from benchbox.study.analysis import study_answers
    from benchbox.study.family_findings import seed_scope
    from benchbox.study.protocol import load_protocol, train_jobs
    from benchbox.study.report import collect, report_markdown
    from benchbox.study.sampling import at_reference

    out = ROOT / "results" / "footsteps-families-cpu"
    if not (out / "protocol.toml").is_file():
        pytest.skip("no committed families study")
    proto = load_protocol(out / "protocol.toml")
    runs = [j.run_id for j in train_jobs(proto)]
    every, every_group = collect(out, runs)
    clips, groups = at_reference(every, proto), at_reference(every_group, proto)
    seed_clips, seed_groups, scope = seed_scope(clips, groups, proto)
    assert scope.startswith("autoregressive runs")
    ans = {**study_answers(seed_clips, seed_groups, "aisfx"), "scope": scope}
    text = report_markdown(SimpleNamespace(out=out, proto=proto, command="x", protocol_path=out / "protocol.toml"), runs, clips, ans, None,
                           groups, every_clip=every)
    stated = stated_rates(text)
    assert {k: v for k, v in stated.items() if len(v) > 1} == {}
    assert ("useful", f"cont/useful/auto on the {scope}") in stated and ("useful", "cont/useful/auto") in stated
