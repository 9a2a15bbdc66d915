"""What changed since the previous report: the summary record and its section."""

import hashlib
import json

import pandas as pd
import pytest

from benchbox.score import SCORER_VERSION
from benchbox.study.changes import SUMMARY_NAME, VERDICT_LABELS, changes_markdown, next_record, study_summary
from tests.study.test_report import COMMITTED_REPORT, committed_study


def _clips():
    return pd.DataFrame({"run": ["a", "a", "a", "b"], "cont/useful/auto": [1.0, 0.0, 1.0, 0.0]})


def test_summary_counts_each_runs_clips_and_useful_ones_and_ties_them_to_its_scores(tmp_path):
    scores = tmp_path / "runs" / "a" / "scores"
    scores.mkdir(parents=True)
    (scores / "scores.json").write_text(json.dumps({"scorer_version": 7}))
    (scores / "clips.csv").write_text("path\nx.wav\n")
    found = study_summary(tmp_path, _clips(), [{"finding": "1. few useful", "verdict": "reproduced"}], smoke=False)
    digest = hashlib.sha256(b"path\nx.wav\n").hexdigest()
    assert found["runs"] == {"a": {"scorer_version": 7, "clips_sha256": digest, "clips": 3, "useful": 2},
                             "b": {"scorer_version": None, "clips_sha256": None, "clips": 1, "useful": 0}}
    assert found["findings"] == {"1": "reproduced"} and found["smoke"] is False and found["verdict_labels"] == VERDICT_LABELS


def _summary(version, useful, verdict, smoke=False):
    return {"runs": {"a": {"scorer_version": version, "clips_sha256": f"h{version}", "clips": 3, "useful": useful}},
            "findings": {"1": verdict}, "smoke": smoke}


def test_the_record_keeps_the_last_change_across_re_renders_of_the_same_scores(tmp_path):
    one, two = _summary(9, 1, "inconclusive at this n"), _summary(10, 2, "reproduced")
    first = next_record(tmp_path, one)
    assert first == {"current": one, "previous": None} and changes_markdown(first) == []
    (tmp_path / SUMMARY_NAME).write_text(json.dumps(first))
    second = next_record(tmp_path, two)
    assert second == {"current": two, "previous": one}
    (tmp_path / SUMMARY_NAME).write_text(json.dumps(second))
    assert next_record(tmp_path, two) == second  # the same scores re-rendered: the change stays on the page
    lines = changes_markdown(second)
    assert "| a | 9 | 10 | 1/3 (33.3%) | 2/3 (66.7%) |" in lines and "| 1 | inconclusive at this n | reproduced |" in lines
    smoke = changes_markdown({"current": _summary(10, 2, "reproduced", smoke=True), "previous": one})
    assert not any(ln.startswith("| 1 |") for ln in smoke) and any("not compared" in ln for ln in smoke)


def test_an_older_summarys_inconclusive_for_an_untested_finding_reads_as_a_relabel(tmp_path):
    """Summaries before "not tested" labelled an untested finding "inconclusive at this n": the
    same scores re-rendered keep the previous report's change on the page, and the section names
    the pair a relabel, not a change in the evidence."""
    old = {k: v for k, v in _summary(9, 1, "inconclusive at this n").items()}  # no verdict_labels: an older benchbox's summary
    old["findings"] = {"1": "reproduced", "4": "inconclusive at this n"}
    older = _summary(8, 0, "reproduced")
    (tmp_path / SUMMARY_NAME).write_text(json.dumps({"current": old, "previous": older}))
    now = {**old, "findings": {"1": "reproduced", "4": "not tested"}, "verdict_labels": VERDICT_LABELS}
    record = next_record(tmp_path, now)
    assert record == {"current": now, "previous": older}  # a re-render of the same scores: the last change stays
    lines = changes_markdown({"current": now, "previous": old})
    row = next(ln for ln in lines if ln.startswith("| 4 |"))
    assert row == "| 4 | inconclusive at this n (earlier reports' label for an untested finding) | not tested |"
    fresh = {**old, "verdict_labels": VERDICT_LABELS}  # a summary that knew "not tested": a real move
    assert "| 4 | inconclusive at this n | not tested |" in changes_markdown({"current": now, "previous": fresh})
    assert next_record(tmp_path, {**now, "runs": {}})["previous"] == old  # other scores: the old current moves down


@pytest.mark.skipif(not COMMITTED_REPORT.is_file(), reason="no committed quickstart report")
def test_a_re_rendered_committed_report_reads_not_tested_and_keeps_its_last_change(tmp_path):
    """The committed quickstart has no dropout-0.5 run and identical best and last weights:
    re-rendered (what `benchbox study rerender` writes), findings 4 and 6 read "not tested" in
    report_summary.json, with the reason in the table's test column (a smoke study: its table's
    verdicts read the smoke label), and the older summary's "inconclusive" for them counts as the
    same scores, so its previous record stays."""
    from benchbox.study.report import write_report

    ctx = committed_study(tmp_path)
    committed = json.loads((ctx.out / SUMMARY_NAME).read_text())
    write_report(ctx)
    text = (ctx.out / "report.md").read_text()
    record = json.loads((ctx.out / SUMMARY_NAME).read_text())
    assert record["current"]["findings"]["4"] == record["current"]["findings"]["6"] == "not tested"
    assert "| no dropout-0.5 run scored yet | not tested: no dropout-0.5 run scored |" in text
    if committed["current"]["findings"].get("4") == "inconclusive at this n":  # a summary written before "not tested"
        assert record["previous"] == committed["previous"]


@pytest.mark.parametrize("text", ["[1, 2]", '{"current": {"runs": [], "findings": {}}}', '{"current": {"runs": {"a": "x"}, "findings": {}}}',
                                  '{"current": {"runs": {"a": {"clips": 3, "useful": "x"}}, "findings": {}}}', '{"current": {"runs": {}, "findings": []}}', "{",
                                  '{"current": {"runs": {}, "findings": {}, "verdict_labels": "2"}}'])
def test_a_malformed_record_counts_as_none(tmp_path, text):
    (tmp_path / SUMMARY_NAME).write_text(text)
    two = _summary(10, 2, "reproduced")
    assert next_record(tmp_path, two) == {"current": two, "previous": None}
@pytest.mark.skipif(not COMMITTED_REPORT.is_file(), reason="no committed quickstart report")
def test_a_re_scored_study_says_in_its_report_what_changed(tmp_path):
    ctx = committed_study(tmp_path)
    run = "wavenet-tiny_mulaw_do0"
    from benchbox.errors import ProtocolError
    from benchbox.study.rerender import record_previous

    (ctx.out / SUMMARY_NAME).unlink(missing_ok=True)  # a study whose reports predate the record
    record_previous(ctx.out, ctx.out)
    with pytest.raises(ProtocolError):
        record_previous(ctx.out, ctx.out)  # would lose the record it wrote
    path = ctx.out / "runs" / run / "scores" / "clips.csv"
    clips = pd.read_csv(path)
    was = int(clips["cont/useful/auto"].sum())
    clips.loc[clips.index[:40], "cont/useful/auto"] = 1.0  # a re-score that calls more clips useful
    clips.to_csv(path, index=False)
    now = int(clips["cont/useful/auto"].sum())
    from benchbox.study.report import write_report

    write_report(ctx)
    text = (ctx.out / "report.md").read_text()
    section = text.split("\n## What changed since the previous report\n", 1)[1].split("\n## ", 1)[0]
    assert f"| {run} | {SCORER_VERSION} | {SCORER_VERSION} | {was}/128 ({100 * was / 128:.1f}%) | {now}/128 ({100 * now / 128:.1f}%) |" in section
    assert "sashimi-tiny_mulaw_do0" not in section and "not compared" in section  # unchanged run; a smoke study's verdicts
    assert json.loads((ctx.out / SUMMARY_NAME).read_text())["current"]["runs"][run]["useful"] == now
    write_report(ctx)  # re-rendered unchanged: the section stays
    assert "## What changed since the previous report" in (ctx.out / "report.md").read_text()
