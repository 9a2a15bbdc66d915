"""A committed study's pages re-render from its scores of record, keeping the old page's players."""

import shutil

import pandas as pd
import pytest

from benchbox.study.rerender import old_media, rerender_board
from tests.browser import CHROMIUM, chromium_page, layout
from tests.study.test_report import ROOT

BOARDS = [ROOT / "results" / s for s in ("quickstart", "footsteps-cpu", "footsteps-seed-cpu", "footsteps-families-cpu")]


def _copy(tmp_path, study):
    out = tmp_path / study.name
    shutil.copytree(study, out, ignore=shutil.ignore_patterns("report.*", "figures", "references", "synth-reference"))
    return out


def test_old_media_is_found_in_both_layouts():
    old = ('<tr class="generated"><td>1</td><td>generated</td><td>r_<wbr>1</td><td>g/<wbr>0</td><td>8</td>'
           '<td class="media"><audio src="a"></audio></td><td><img alt="spectrogram" src="x"></td></tr>')
    new = ('<tr class="generated"><td>1</td><td class="id" data-sort="r_1">r_<wbr>1<br><span class="group">g/<wbr>0</span></td>'
           '<td>8</td><td class="media"><audio src="a"></audio></td><td><img alt="spectrogram" src="x"></td></tr>')
    assert old_media(old) == old_media(new) == {("r_1", "g/0"): ('<audio src="a"></audio>', '<img alt="spectrogram" src="x">')}


@pytest.mark.skipif(not BOARDS[0].joinpath("leaderboard.csv").is_file(), reason="no committed quickstart study")
def test_board_rerenders_from_its_csv_keeping_rows_players_and_notes(tmp_path):
    out = _copy(tmp_path, BOARDS[0])
    before = (out / "leaderboard.html").read_text().count("<audio")
    rerender_board(out)
    page, md = (out / "leaderboard.html").read_text(), (out / "leaderboard.md").read_text()
    rows = pd.read_csv(out / "leaderboard.csv")
    assert page.count("<tr class=") == len(rows) and page.count("<audio") == before > 0
    tables = rows["span"].nunique()
    assert md.count("\n| ") == len(rows) + tables and md.count("\n## ") - md.count("\n## Notes\n") == page.count("<table") == tables
    assert md.count("\n## Notes\n") == 1 and md.rstrip().splitlines()[-1].startswith("- ")  # the board's notes, under their own heading
    assert "cubic" not in md and "Gaussian kernel" in md
    rerender_board(out)  # again, from its own output: the same page
    assert (out / "leaderboard.html").read_text() == page


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
@pytest.mark.parametrize("study", BOARDS, ids=lambda p: p.name)
def test_committed_boards_fit_1366_px_with_the_row_identity_in_view(tmp_path, study):
    if not (study / "leaderboard.csv").is_file():
        pytest.skip("study not committed")
    out = _copy(tmp_path, study)
    rerender_board(out)
    with chromium_page() as page:
        page.goto((out / "leaderboard.html").as_uri())
        measured = layout(page)
        assert measured["wide"] == [] and measured["page"] <= 0
        assert len(measured["tables"]) == pd.read_csv(out / "leaderboard.csv")["span"].nunique()  # one per span
        for table in measured["tables"]:
            assert table["box_right"] <= 1366 and table["table"] <= 1366  # measured: the table itself fits, flags column included
        flags = page.evaluate("() => Math.max(...[...document.querySelectorAll('thead th:last-child')].map(th => th.getBoundingClientRect().right))")
        assert flags <= 1366
        sticky = page.evaluate("() => getComputedStyle(document.querySelector('td.id')).position")
        assert sticky == "sticky" and page.errors == []


def test_rerender_study_refuses_scores_from_an_older_scorer(tmp_path):
    from benchbox.errors import ProtocolError
    from benchbox.score import SCORER_VERSION
    from benchbox.study.rerender import rerender_study, scorer_versions

    for run, version in (("a", SCORER_VERSION), ("b", SCORER_VERSION - 1)):
        (tmp_path / "runs" / run / "scores").mkdir(parents=True)
        (tmp_path / "runs" / run / "scores" / "scores.json").write_text(f'{{"scorer_version": {version}}}')
    versions = scorer_versions(tmp_path)
    assert versions["a"] == (SCORER_VERSION, None) and versions["b"][0] == SCORER_VERSION - 1 and versions["b"][1]
    md = tmp_path / "report.md"
    md.write_text("kept")
    with pytest.raises(ProtocolError, match=rf"b \(version {SCORER_VERSION - 1}\)"):
        rerender_study(tmp_path)
    assert md.read_text() == "kept"  # nothing rewritten


def test_a_board_ranked_across_spans_is_ranked_within_them_with_every_other_cell_kept(tmp_path):
    """A committed board ranked a 20 ms continuation first, above the whole clips: re-rendered, each span is
    ranked apart, whole clips first, and no score is parsed and printed again (40 stays 40, not 40.0)."""
    from benchbox.study.rerender import ranked_by_span

    csv = tmp_path / "leaderboard.csv"
    csv.write_text("rank,kind,run,group,prime_ms,rank/kad/mel,vs_floor\n"
                   "1,generated,p,p/20,20,0.0100000000000000002,x\n"
                   "2,floor,reference: data,floor,,0.1,\n"
                   "3,generated,a,a/0,0,0.2,y\n"
                   "4,generated,p,p/40,40,0.25,z\n")
    text = ranked_by_span(csv)
    assert text.splitlines() == ["rank,span,kind,run,group,prime_ms,rank/kad/mel,vs_floor",
                                 "1,whole clip,floor,reference: data,floor,,0.1,",
                                 "2,whole clip,generated,a,a/0,0,0.2,y",
                                 "1,continuation after a 20 ms prime,generated,p,p/20,20,0.0100000000000000002,x",
                                 "1,continuation after a 40 ms prime,generated,p,p/40,40,0.25,z"]
    csv.write_text(text)
    assert ranked_by_span(csv) == text  # again, from its own output
    csv.write_text("rank,kind,run,group,prime_ms\n,generated,p,p/20,20\n,floor,reference: data,floor,\n")  # unranked
    assert ranked_by_span(csv).splitlines()[1:] == [",whole clip,floor,reference: data,floor,", ",continuation after a 20 ms prime,generated,p,p/20,20"]


def test_rerender_study_hands_the_report_the_studys_dataset_when_it_is_on_disk(tmp_path, rng, monkeypatch):
    """rerender_study passed no dataset, so a re-rendered report lost its real test clips (the
    players and the spectrograms' first column); with the study's data/ on disk it passes it on."""
    import benchbox.study.report
    from benchbox.study.rerender import rerender_study
    from tests.score_helpers import make_dataset

    seen = []
    monkeypatch.setattr(benchbox.study.report, "write_report", lambda ctx: seen.append(ctx.data_dir) or ctx.out / "report.md")
    out = _copy(tmp_path, ROOT / "results" / "quickstart")
    shutil.rmtree(out / "data", ignore_errors=True)  # the committed study has none; a local one may
    rerender_study(out)
    make_dataset(out / "data", rng, kind="synth")
    rerender_study(out)
    assert seen == [None, out / "data"]
