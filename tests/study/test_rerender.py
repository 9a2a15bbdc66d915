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
    assert md.count("\n| ") == len(rows) + 1 and "cubic" not in md and "Gaussian kernel" in md
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
        (table,) = measured["tables"]
        assert table["box_right"] <= 1366 and table["table"] <= 1366  # measured: the table itself fits, flags column included
        flags = page.evaluate("() => document.querySelector('thead th:last-child').getBoundingClientRect().right")
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
