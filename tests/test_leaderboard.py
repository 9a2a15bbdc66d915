"""build_leaderboard over two tiny scored runs: files, reference rows, sorting, HTML."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.errors import DataError
from benchbox.leaderboard import build_leaderboard, fmt_ci
from benchbox.score import ScoreConfig, score_run
from tests.score_helpers import RATE_HZ, make_dataset, make_run, step

BOOTSTRAP = 20


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Two scored runs ("good": one sine per group, "bad": three) and a synth dataset, built once."""
    root = tmp_path_factory.mktemp("leaderboard")
    rng = np.random.default_rng(0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHBOX_CACHE", str(root / "cache"))
        data = make_dataset(root / "data", rng)
        make_dataset(root / "results" / "synth", rng, counts={"train": 2, "val": 2, "test": 4}, kind="synth")
        for name, sines, dropout in (("good", 1, 0.0), ("bad", 3, 0.1)):  # dropout 0.0 is written "0.0", keyed "0"
            run = make_run(root / "results" / name, data, rng, sine_clips=sines, dropout=dropout)
            score_run(run, embedders=("mel",), bootstrap=BOOTSTRAP)
        _write_png(root / "results" / "good" / "curves.png")
        yield root / "results"


def _write_png(path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1), dpi=30)
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([3, 2, 1])
    fig.savefig(path)


def test_leaderboard_files_rows_and_order(results, tmp_path):
    out = build_leaderboard(results, out=tmp_path / "board")
    table = pd.read_csv(out / "leaderboard.csv")
    assert sorted(table["kind"].unique()) == ["floor", "generated", "noise", "silence", "synth"]
    assert (table["kind"] == "generated").sum() == 4 and set(table[table["kind"] == "generated"]["run"]) == {"good", "bad"}
    assert table["span"].tolist() == ["whole clip"] * 6 + ["continuation after a 100 ms prime"] * 2  # whole clips first
    for _, span in table.groupby("span", sort=False):  # sorted and numbered within each span, never across
        assert (np.diff(span["rank/kad/mel"].dropna().to_numpy()) >= 0).all() and span["rank"].tolist() == list(range(1, len(span) + 1))
    for _, span in table[table["kind"] == "generated"].groupby("span"):
        good = span[span["run"] == "good"]["rank/kad/mel"].max()
        bad = span[span["run"] == "bad"]["rank/kad/mel"].min()
        assert good < bad  # three sines of four are further from real than one
    floor_lo, floor_hi = table.set_index("kind").loc["floor", ["rank/kad/mel/lo", "rank/kad/mel/hi"]]
    marked = table["vs_floor"].fillna("")
    overlap = (table["rank/kad/mel/lo"] <= floor_hi) & (floor_lo <= table["rank/kad/mel/hi"]) & (table["kind"] != "floor")
    p = table["cont/nn1/mel/p"].fillna(table["nn1/mel/p"])  # these rows are unprimed: the whole clip's test may stand in
    separated = overlap & (p < 0.05)  # overlapping CIs, but the 1-NN test tells the clips from real ones
    assert ((marked == "indistinguishable from real at this n") == (overlap & (p >= 0.05))).all()
    assert ((marked == "differs (1-NN test)") == separated).all()
    assert (marked[~overlap & (table["kind"] != "floor")] == "differs (CI)").all() and marked[table["kind"] == "floor"].eq("").all()
    assert ((marked == "overlaps the floor (1-NN test not measured)") == (overlap & p.isna())).all()
    assert (marked[table["kind"] == "silence"] == "differs (CI)").all()
    assert table.set_index("kind").loc["noise", "n"] == 16
    md = (out / "leaderboard.md").read_text()
    assert "| # | kind | run |" in md and re.search(r"\d \[[-\d.e+]+, [-\d.e+]+\]", md)
    gen = table[table["kind"] == "generated"].iloc[0]
    shown = f"{gen['cont/nn1/mel']:.2f} (p = {gen['cont/nn1/mel/p']:.2g})"
    assert "1-NN acc (p), mel" in md and f"| {shown} |" in md  # the continuation's two-sample test, beside vs floor


def test_metric_fad_ranks_by_fad_and_an_unknown_metric_is_refused(results, tmp_path):
    out = build_leaderboard(results, out=tmp_path / "board", metric="fad")
    table = pd.read_csv(out / "leaderboard.csv")
    for _, span in table.groupby("span"):
        assert (np.diff(span["rank/fad/mel"].dropna().to_numpy()) >= 0).all()
    assert "Ranked by `fad/mel`" in (out / "leaderboard.md").read_text()
    with pytest.raises(DataError, match="ranking metric"):
        build_leaderboard(results, out=tmp_path / "board", metric="fid")


def test_primed_rows_are_ranked_by_their_continuation():
    from benchbox.leaderboard import _order

    rows = pd.DataFrame([
        {"kind": "floor", "run": "ref", "group": "floor", "n": 8, "kad/mel": 0.01, "kad/mel/lo": -0.01, "kad/mel/hi": 0.03},
        # whole clip flattered by its real prime (0.02), continuation far (0.50)
        {"kind": "generated", "run": "a", "group": "a/40", "n": 8, "kad/mel": 0.02, "kad/mel/lo": 0.0, "kad/mel/hi": 0.05,
         "cont/kad/mel": 0.50, "cont/kad/mel/lo": 0.40, "cont/kad/mel/hi": 0.60},
        {"kind": "generated", "run": "b", "group": "b/0", "n": 8, "kad/mel": 0.20, "kad/mel/lo": 0.02, "kad/mel/hi": 0.30,
         "cont/kad/mel": 0.20, "cont/kad/mel/lo": 0.02, "cont/kad/mel/hi": 0.30},
    ])  # fmt: skip
    for col in ("generator", "quantisation", "dropout", "checkpoint", "prime_ms"):
        rows[col] = np.nan
    rows["kad/aisfx"], rows["cont/kad/aisfx"] = [0.1, 0.2, 0.3], [np.nan, 0.25, 0.35]  # a second space, shown beside
    table = _order(rows, "mel", "kad")
    assert table["run"].tolist() == ["ref", "b", "a"]
    assert table["vs_floor"].tolist() == ["", "overlaps the floor (1-NN test not measured)", "differs (CI)"]  # no nn1 columns in this table
    assert table["rank/kad/aisfx"].tolist() == [0.1, 0.35, 0.25]  # every space gets its continuation column
    short = rows.assign(prime_ms=[np.nan, 40, 0]).drop(columns=["cont/kad/mel", "cont/kad/mel/lo", "cont/kad/mel/hi"])
    table = _order(short, "mel", "kad")  # no continuation score: only the unprimed row may use its whole clip
    assert table["run"].tolist() == ["ref", "b", "a"] and np.isnan(table.set_index("run").loc["a", "rank/kad/mel"])
    assert table.set_index("run").loc["b", "rank/kad/mel"] == 0.20
    from benchbox.leaderboard import render_markdown

    md = render_markdown(table, "mel", [], "kad")
    assert "| kad/mel | fad/mel |" in md and "| kad/aisfx | fad/aisfx |" in md and "| 0.35 |" in md


def test_html_is_self_contained_and_sortable(results, tmp_path):
    out = build_leaderboard(results, out=tmp_path / "board")
    page = (out / "leaderboard.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<link" not in page and "<script src" not in page and "http" not in page
    assert "sortTable" in page and 'addEventListener("click"' in page
    rows = len(pd.read_csv(out / "leaderboard.csv"))
    assert page.count('src="data:audio/wav;base64,') == 2 * rows
    assert page.count('alt="spectrogram" src="data:image/png;base64,') == rows
    assert 'alt="loss curves of good"' in page


def test_every_generated_row_has_media(results, tmp_path):
    from benchbox.leaderboard import collect_rows
    from benchbox.progress import no_progress

    rows, _, _ = collect_rows(results, out=tmp_path / "board", synth=None, progress=no_progress)
    generated = rows[rows["kind"] == "generated"]
    assert "sashimi/mulaw/0/best/0" in set(generated["group"])
    assert all(len(media) == 2 for media in generated["_media"]), generated[["group", "_media"]]


def test_group_key_is_one_format_for_text_and_numbers():
    from benchbox.score import group_key

    base = {"generator": "wavenet", "quantisation": "mulaw", "checkpoint": "best"}
    assert group_key({**base, "dropout": "0.0", "prime_ms": "40"}) == group_key({**base, "dropout": 0.0, "prime_ms": 40.0}) == "wavenet/mulaw/0/best/40"
    assert group_key({**base, "dropout": "0.5", "prime_ms": 10}) == "wavenet/mulaw/0.5/best/10"


def test_reference_rows_are_cached(results, tmp_path):
    build_leaderboard(results, out=tmp_path / "board")
    cached = sorted((tmp_path / "board" / "references").rglob("scores/groups.csv"))
    assert len(cached) == 3  # noise, silence, synth
    stamps = [p.stat().st_mtime_ns for p in cached]
    build_leaderboard(results, out=tmp_path / "board")
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    noise_info = tmp_path / "board" / "references"
    info_path = next(noise_info.rglob("noise/scores/scores.json"))
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "scorer_version": 1}))  # scored by an older verdict
    build_leaderboard(results, out=tmp_path / "board")
    assert json.loads(info_path.read_text())["scorer_version"] != 1


def test_reference_rows_follow_the_reference_content_not_its_path(results, tmp_path):
    """A committed study's cached reference rows were keyed by the reference's absolute path, so
    every fresh clone rescored them into a new folder; the same corpus at another path reuses them."""
    build_leaderboard(results, out=tmp_path / "board")
    cached = sorted(p.relative_to(tmp_path / "board") for p in (tmp_path / "board" / "references").rglob("scores/groups.csv"))
    stamps = {p: (tmp_path / "board" / p).stat().st_mtime_ns for p in cached}
    copy = tmp_path / "clone"
    shutil.copytree(results, copy / "results")
    shutil.copytree(results.parent / "data", copy / "data")  # the reference corpus, at another path
    shutil.copytree(tmp_path / "board", copy / "board")  # the study's committed leaderboard folder
    for scores in (copy / "results").rglob("scores/scores.json"):
        info = json.loads(scores.read_text())
        if info.get("reference"):
            assert Path(info["reference"]).resolve() == (results.parent / "data").resolve()
            scores.write_text(json.dumps({**info, "reference": str(copy / "data")}))
    build_leaderboard(copy / "results", out=copy / "board")
    after = sorted(p.relative_to(copy / "board") for p in (copy / "board" / "references").rglob("scores/groups.csv"))
    assert after == cached  # the same folders: no new one for the new path
    assert {p: (copy / "board" / p).stat().st_mtime_ns for p in after} == {p: (tmp_path / "board" / p).stat().st_mtime_ns for p in cached}  # not rescored
    from benchbox.leaderboard import _reference_dir

    assert _reference_dir(copy, copy / "data", 16000) == _reference_dir(copy, results.parent / "data", 16000)
    (copy / "data" / "manifest.csv").write_text((copy / "data" / "manifest.csv").read_text().replace(",train,", ",val,", 1))  # other content
    assert _reference_dir(copy, copy / "data", 16000) != _reference_dir(copy, results.parent / "data", 16000)


def test_human_rates_join_when_tags_exist(results, tmp_path, monkeypatch):
    import benchbox.review.stats as review_stats

    tags = results / "good" / "tags.sqlite"
    tags.write_bytes(b"")
    human = pd.DataFrame([{"generator": "sashimi", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best", "prime_ms": 100,
                           "useful/human_rate": 0.5, "useful/human_lo": 0.1, "useful/human_hi": 0.9, "n_human": 4}])
    monkeypatch.setattr(review_stats, "group_rates", lambda run_dir: human)
    try:
        out = build_leaderboard(results, out=tmp_path / "board")
    finally:
        tags.unlink()
    table = pd.read_csv(out / "leaderboard.csv")
    joined = table[table["useful/human_rate"].notna()]
    assert joined[["run", "prime_ms", "n_human"]].values.tolist() == [["good", 100, 4]]
    assert '0.5<br><span class="ci">[0.1,<wbr> 0.9]</span>' in (out / "leaderboard.html").read_text()  # a CI may wrap after its comma


def test_no_synth_is_noted(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    run = make_run(tmp_path / "results" / "only", data, rng)
    score_run(run, embedders=("mel",), bootstrap=0)
    out = build_leaderboard(tmp_path / "results", out=tmp_path / "results" / "board")  # out inside results is skipped
    assert "procedural corpus row omitted" in (out / "leaderboard.md").read_text()
    assert "synth" not in set(pd.read_csv(out / "leaderboard.csv")["kind"])


def test_moved_reference_keeps_the_floor_and_notes_the_rest(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    score_run(make_run(tmp_path / "results" / "r", data, rng), embedders=("mel",), bootstrap=0)
    (data / "dataset.json").unlink()
    out = build_leaderboard(tmp_path / "results", out=tmp_path / "board")
    assert set(pd.read_csv(out / "leaderboard.csv")["kind"]) == {"generated", "floor"}
    assert "noise/silence/synth rows for" in (out / "leaderboard.md").read_text()


def test_no_scored_runs_is_a_data_error_and_cli_one_liner(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no scored runs"):
        build_leaderboard(tmp_path / "empty", out=tmp_path / "board")
    result = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "empty"), "--out", str(tmp_path / "board")])
    assert result.exit_code == 1 and "error: no scored runs" in result.output and "Traceback" not in result.output


def test_cli_json(results, tmp_path):
    result = CliRunner().invoke(app, ["leaderboard", str(results), "--out", str(tmp_path / "board"), "--json"])
    assert result.exit_code == 0, result.output
    import json

    doc = json.loads(result.stdout)
    assert (doc["format"], doc["command"], doc["out"]) == (1, "leaderboard", str(tmp_path / "board"))
    rows = doc["rows"]
    assert rows[0]["rank"] == 1 and {r["kind"] for r in rows} >= {"floor", "noise", "silence"}


def test_fmt_ci():
    assert fmt_ci(12.34, 10.1, 14.8) == "12.3 [10.1, 14.8]"
    assert fmt_ci(float("nan"), 1, 2) == "n/a"
    assert fmt_ci(0.5) == "0.5"


def _scored_runs(tmp_path, rng, monkeypatch, names) -> list:
    """Runs ``tmp_path/results/<name>``, each scored (mel, no intervals) against one dataset."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    runs = [make_run(tmp_path / "results" / name, data, rng) for name in names]
    for run in runs:
        score_run(run, embedders=("mel",), bootstrap=0)
    return runs


def test_scores_go_stale_when_a_reference_clip_is_edited_under_the_same_manifest(tmp_path, rng, monkeypatch):
    from benchbox.audio import write_wav
    from benchbox.freshness import stale_reason

    run = _scored_runs(tmp_path, rng, monkeypatch, ("one",))[0]
    assert stale_reason(run) is None
    write_wav(tmp_path / "data" / "clips" / "val_000.wav", step(rng), RATE_HZ)
    assert stale_reason(run) == f"1 clip(s) of the reference dataset {tmp_path / 'data'} are missing or hold other audio than its manifest.csv records"


def test_stale_scores_are_left_out_with_a_clear_line(tmp_path, rng, monkeypatch):
    """After generate replaced clips, the leaderboard listed the old scores (n=4 while 128 clips were on disk)."""
    import shutil

    import soundfile as sf

    from benchbox.freshness import stale_reason
    from benchbox.score import SCORER_VERSION

    run = _scored_runs(tmp_path, rng, monkeypatch, ("kept", "regenerated"))[-1]
    assert stale_reason(run) is None
    info_path = run / "scores" / "scores.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "scorer_version": SCORER_VERSION - 1}))  # scored before the verdict changed
    assert stale_reason(run) == f"scored by scorer version {SCORER_VERSION - 1}, this benchbox scores with version {SCORER_VERSION}"
    info_path.write_text(json.dumps({**info, "scorer_version": str(SCORER_VERSION)}))  # a string that says the same
    assert stale_reason(run) is None
    info_path.write_text(json.dumps({**info, "scorer_version": None}))
    assert stale_reason(run) == "scores.json has no readable scorer_version (None)"
    info_path.write_text(json.dumps({**info, "scorer_version": SCORER_VERSION + 1}))
    assert "newer benchbox" in stale_reason(run) and "do not re-score" in stale_reason(run)
    from benchbox.leaderboard import load_scored

    _, notes = load_scored(tmp_path / "results", tmp_path / "board")
    assert notes == [f"regenerated: scores left out, they are stale ({stale_reason(run)})"]  # no advice to re-score
    info_path.write_text(json.dumps(info))
    assert stale_reason(run) is None
    clip = run / "samples" / "best" / "prime0" / "clip_0000.wav"
    wave, rate = sf.read(clip, dtype="float32")
    sf.write(clip, wave * 0.5, rate, subtype="PCM_16")  # same path, other audio
    assert stale_reason(run) == "1 of 8 scored clips hold other audio now"
    kept = run.parent / "kept" / "samples" / "best" / "prime0" / "clip_0001.wav"
    moved = kept.with_suffix(".bak")
    kept.rename(moved)  # a fresh checkout: the manifest lists the clip, the (gitignored) audio is absent
    assert stale_reason(run.parent / "kept").startswith("1 of 8 scored clips are missing")
    moved.rename(kept)
    extra = run / "samples" / "best" / "prime0" / "clip_0099.wav"
    shutil.copy(clip, extra)
    pd.read_csv(run / "samples" / "manifest.csv").pipe(lambda m: pd.concat([m, m.tail(1).assign(path="samples/best/prime0/clip_0099.wav")])).to_csv(run / "samples" / "manifest.csv", index=False)
    assert stale_reason(run) == "9 clips to score now, 8 when scored"

    result = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board"), "--json"])
    assert result.exit_code == 0, result.output
    assert "warning: regenerated: scores left out, they are stale (9 clips to score now, 8 when scored)" in result.output
    assert f"re-run `benchbox score {run} --reference " in result.output  # the reference its scores.json records: the command works as printed
    plain = CliRunner().invoke(app, ["leaderboard", str(tmp_path / "results"), "--out", str(tmp_path / "board")])
    assert plain.exit_code == 0 and "warning: regenerated: scores left out" in plain.stderr  # also without --json
    table = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    assert set(table[table["kind"] == "generated"]["run"]) == {"kept"}
    assert "regenerated: scores left out" in (tmp_path / "board" / "leaderboard.md").read_text()


def test_reference_rows_follow_the_content_of_the_synth_corpus(results, tmp_path, monkeypatch):
    """Cached synth clips were keyed by the reference path alone: a new synth corpus kept the old copies."""
    import shutil

    import soundfile as sf

    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    synth = tmp_path / "synth"
    shutil.copytree(results / "synth", synth)
    build_leaderboard(results, out=tmp_path / "board", synth=synth)
    first = sorted((tmp_path / "board" / "references").glob("*"))
    test_clip = synth / pd.read_csv(synth / "manifest.csv").query("split == 'test'")["path"].iloc[0]
    wave, rate = sf.read(test_clip, dtype="float32")
    sf.write(test_clip, -wave, rate, subtype="PCM_16")
    manifest = pd.read_csv(synth / "manifest.csv", dtype={"sha256": str})
    manifest.loc[manifest["path"] == test_clip.relative_to(synth).as_posix(), "sha256"] = "regenerated"
    manifest.to_csv(synth / "manifest.csv", index=False)
    build_leaderboard(results, out=tmp_path / "board", synth=synth)
    second = sorted(set((tmp_path / "board" / "references").glob("*")) - set(first))
    assert len(second) == 1  # a new cache folder for the new content
    copies = sorted((second[0] / "synth").glob("clip_*.wav"))
    assert any(np.array_equal(sf.read(c, dtype="float32")[0], -wave) for c in copies)


def test_piped_leaderboard_is_the_markdown_unwrapped(results, tmp_path):
    result = CliRunner().invoke(app, ["leaderboard", str(results), "--out", str(tmp_path / "board")])  # stdout is not a terminal
    assert result.exit_code == 0, result.output
    md = (tmp_path / "board" / "leaderboard.md").read_text()
    assert result.stdout == md and max(len(line) for line in md.splitlines()) > 120  # long rows stay one line


def test_unknown_embedder_fails_before_embedding_anything(results, tmp_path):
    result = CliRunner().invoke(app, ["leaderboard", str(results), "--out", str(tmp_path / "board"), "--embedder", "foo"])
    assert result.exit_code == 1 and "error: no scored run has scores in the 'foo' embedding space" in result.output
    assert not (tmp_path / "board" / "references").exists()


def test_leaderboard_page_fits_1366_px(results, tmp_path):
    from tests.browser import CHROMIUM, chromium_page, overflow_px

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    out = build_leaderboard(results, out=tmp_path / "board")
    with chromium_page() as page:
        page.goto((out / "leaderboard.html").as_uri())
        assert overflow_px(page) <= 0
        assert page.locator("td audio").count() == 2 * len(pd.read_csv(out / "leaderboard.csv"))
        assert "fixed colour scale" in page.inner_text("body") and page.errors == []


def test_committed_two_embedder_board_keeps_media_in_a_1366_px_window(tmp_path):
    """The widest committed table (two embedders): players and thumbnails stay inside the window."""
    from benchbox.audio import write_wav
    from benchbox.leaderboard import render_html
    from benchbox.progress import no_progress
    from tests.browser import CHROMIUM, chromium_page, overflow_px

    board = Path(__file__).resolve().parents[1] / "results" / "footsteps-cpu" / "leaderboard.csv"
    if not CHROMIUM.exists() or not board.is_file():
        pytest.skip("needs /usr/bin/chromium and the committed footsteps-cpu leaderboard")
    wav = tmp_path / "clip.wav"
    write_wav(wav, np.zeros(512, np.float32), 16000)
    table = pd.read_csv(board, keep_default_na=False, na_values=[""]).head(6)
    table["_media"] = [[str(wav), str(wav)]] * len(table)
    (tmp_path / "board.html").write_text(render_html(table, "aisfx", [], {}, no_progress))
    with chromium_page() as page:
        page.goto((tmp_path / "board.html").as_uri())
        right = page.evaluate("() => Math.max(...[...document.querySelectorAll('td audio, td img')].map(e => e.getBoundingClientRect().right))")
        assert overflow_px(page) <= 0 and right <= 1366


def test_scores_without_audio_stand_as_scores_of_record(tmp_path, rng, monkeypatch):
    """A fresh clone holds scores but no audio: they were all left out as stale."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", rng)
    for name in ("kept", "cloned"):
        score_run(make_run(tmp_path / "results" / name, data, rng), embedders=("mel",), bootstrap=0)
    for wav in (tmp_path / "results" / "cloned" / "samples").rglob("*.wav"):
        wav.unlink()
    warned = []
    out = build_leaderboard(tmp_path / "results", out=tmp_path / "board", warn=warned.append)
    table = pd.read_csv(out / "leaderboard.csv")
    assert {"kept", "cloned (scores of record)"} <= set(table["run"]) and not warned
    assert "scores of record (their audio is not on disk" in (out / "leaderboard.md").read_text()


def test_reference_whose_audio_is_missing_is_one_warning_and_a_skipped_row(results, tmp_path):
    """`benchbox leaderboard /some/dir` crashed: FileNotFoundError on a synth dataset's clips not in git."""
    synth = tmp_path / "synth"
    make_dataset(synth, np.random.default_rng(1), counts={"train": 2, "val": 2, "test": 4}, kind="synth")
    for wav in (synth / "clips").glob("test_*.wav"):
        wav.unlink()
    r = CliRunner().invoke(app, ["leaderboard", str(results), "--synth", str(synth), "--out", str(tmp_path / "board"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and r.stderr.count("warning:") == 1 and "4 of 4 test clips" in r.stderr
    assert "synth" not in set(pd.read_csv(tmp_path / "board" / "leaderboard.csv")["kind"])


def test_committed_quickstart_serves_as_baseline_rows_beside_my_runs(tmp_path, rng, monkeypatch):
    """`benchbox leaderboard results/quickstart MYRUNS` from a fresh clone: every run was stale."""
    monkeypatch.setenv("BENCHBOX_CACHE", str(tmp_path / "cache"))
    from benchbox.data.synth import synth_corpus

    committed = Path(__file__).resolve().parents[1] / "results" / "quickstart"
    data = synth_corpus(tmp_path / "data", n=256, seed=0)  # the quickstart's reference, rebuilt bit for bit (one board, one reference)
    score_run(make_run(tmp_path / "mine" / "run", data, rng), embedders=("mel",), bootstrap=0)
    r = CliRunner().invoke(app, ["leaderboard", str(committed), str(tmp_path / "mine"), "--embedder", "mel", "--out", str(tmp_path / "board"), "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    runs = {row["run"] for row in json.loads(r.stdout)["rows"]}
    assert "mine/run" in runs and any(run.startswith("quickstart/runs/sashimi-tiny") for run in runs)
    assert not any("references/" in run for run in runs)  # another leaderboard's cached reference rows are not runs


def test_flags_are_the_continuations_where_the_row_has_them():
    """A primed row's flags are its continuation's (beside its continuation useful/quality columns), not the whole
    clip's, whose real prime the generator did not make; an unprimed row without cont/ rates keeps the whole clip's."""
    from benchbox.leaderboard_render import _flags

    primed = {"dc/flag_rate": 0.5, "click/flag_rate": 0.0, "cont/dc/flag_rate": 0.25, "cont/click/flag_rate": 0.125}
    assert _flags(primed) == "dc 25% click 12%"
    assert _flags({"dc/flag_rate": 0.5, "cont/dc/flag_rate": float("nan")}) == "dc 50%"
    assert _flags({"dc/flag_rate": 0.0}) == "none"
    # the floor row's rates on every real clip (real/<d>/flag_rate, scorer version 11) are not the row's own flags
    floor = {"transient/flag_rate": 0.05, "real/periodicity/flag_rate": 0.0097, "real/nan/flag_rate": 0.004}
    assert _flags(floor) == "transient 5%"


def test_a_primed_row_is_compared_with_the_floor_on_its_own_span():
    """The floor on a 20 ms continuation (real val vs real test from the same sample, the span's kernel) decides a
    20 ms row's mark; an unprimed row, or a span the scores lack, keeps the whole-clip floor."""
    from benchbox.leaderboard import floor_intervals
    from benchbox.score_verdict import floor_span_key

    key = floor_span_key(20, "kad", "aisfx")
    assert key == "floor@20ms/kad/aisfx"
    table = pd.DataFrame([
        {"kind": "floor", "prime_ms": np.nan, "rank/kad/aisfx/lo": 0.0, "rank/kad/aisfx/hi": 0.1, key + "/lo": 0.2, key + "/hi": 0.3},
        {"kind": "generated", "prime_ms": 20.0}, {"kind": "generated", "prime_ms": 0.0}, {"kind": "generated", "prime_ms": 40.0},
    ])
    got = floor_intervals(table, "kad", "aisfx", "rank/kad/aisfx/lo", "rank/kad/aisfx/hi")
    assert got == [(0.0, 0.1), (0.2, 0.3), (0.0, 0.1), (0.0, 0.1)]


def test_stale_scores_whose_clips_are_gone_say_to_regenerate_not_to_re_score(tmp_path, rng, monkeypatch):
    """A committed study keeps scores, not audio: 'benchbox score RUN' cannot re-score clips that are not on disk."""
    import shutil

    from benchbox.score import SCORER_VERSION
    from benchbox.scored_runs import clips_on_disk, load_scored

    run = _scored_runs(tmp_path, rng, monkeypatch, ("kept", "committed"))[-1]
    info_path = run / "scores" / "scores.json"
    info_path.write_text(json.dumps({**json.loads(info_path.read_text()), "scorer_version": SCORER_VERSION - 1}))
    assert clips_on_disk(run)
    _, notes = load_scored(tmp_path / "results", tmp_path / "board")
    assert "re-run `benchbox score" in notes[0]
    last = sorted((run / "samples").rglob("*.wav"))[-1]
    last.unlink()  # one clip of eight, not the first: re-scoring would silently score seven
    assert not clips_on_disk(run)
    shutil.rmtree(run / "samples" / "best")
    assert not clips_on_disk(run)
    _, notes = load_scored(tmp_path / "results", tmp_path / "board")
    assert "its clips are not on disk" in notes[0] and "re-run `benchbox score" not in notes[0]



def test_span_floors_are_merged_from_every_run_scored_against_the_reference(results, tmp_path):
    """The floor row came from the first run alone, so a 40 ms row of a second run (the first had only 20 ms cells)
    was compared with the whole-clip floor; every run's floor@ columns for the same reference now fill the row."""
    from benchbox.leaderboard import collect_rows
    from benchbox.scored_runs import load_scored

    scored, _ = load_scored(results, tmp_path / "board")
    assert len(scored) >= 2
    first, second = scored[0], scored[1]
    first.groups.loc[first.groups["kind"] == "floor", "floor@20ms/kad/mel"] = 0.5
    second.groups.loc[second.groups["kind"] == "floor", "floor@40ms/kad/mel"] = 0.25
    from benchbox.progress import no_progress

    rows, _, _ = collect_rows(results, out=tmp_path / "board", synth=None, progress=no_progress, loaded=(scored, []))
    floor = rows[rows["kind"] == "floor"].iloc[0]
    assert floor["floor@20ms/kad/mel"] == 0.5 and floor["floor@40ms/kad/mel"] == 0.25


def test_the_rescore_hint_keeps_a_custom_category_model(tmp_path):
    """Following the hint must re-score with the model the scores were scored with, not the shipped one."""
    from benchbox.scored_runs import Scored, rescore_command

    dev = tmp_path / "data" / "dev"
    dev.mkdir(parents=True)
    (dev / "manifest.csv").write_text("id\n")
    model = tmp_path / "models" / "my steps.json"
    model.parent.mkdir()
    model.write_text("{}")
    info = {"reference": str(dev), "settings": {"verdict": {"category_model": str(model)}}}
    assert rescore_command(Scored(tmp_path, "r", pd.DataFrame(), info)) == f"benchbox score {tmp_path} --reference {dev} --category-model '{model}'"
    model.unlink()  # a model that is gone is not suggested either
    assert rescore_command(Scored(tmp_path, "r", pd.DataFrame(), info)) == f"benchbox score {tmp_path} --reference {dev} --category-model MODEL_FILE"
    shipped = {"reference": str(dev), "settings": {"verdict": {"category_model": ""}}}
    assert rescore_command(Scored(tmp_path, "r", pd.DataFrame(), shipped)) == f"benchbox score {tmp_path} --reference {dev}"
    gone = {"reference": "/no/such/dataset", "settings": {"verdict": {"category_model": ""}}}  # a dead path is not suggested
    assert rescore_command(Scored(tmp_path, "r", pd.DataFrame(), gone)) == f"benchbox score {tmp_path} --reference DATA_DIR"


def test_runs_scored_with_different_category_models_get_a_note_on_the_reference_rows(results, tmp_path):
    """One set of noise/silence/synth rows per reference is scored with the first run's category model; runs of
    that reference scored with another model must be told, not silently compared with it."""
    from benchbox.leaderboard import collect_rows
    from benchbox.progress import no_progress
    from benchbox.scored_runs import load_scored

    scored, _ = load_scored(results, tmp_path / "board")
    assert len(scored) >= 2
    _, _, same = collect_rows(results, out=tmp_path / "board", synth=None, progress=no_progress, loaded=(scored, []))
    assert not any("category models" in n for n in same)
    other = scored[1]
    other.info["settings"] = {**(other.info.get("settings") or {}), "verdict": {"category_model": "/models/other.json"}}
    warned = []
    _, _, notes = collect_rows(results, out=tmp_path / "board", synth=None, progress=no_progress, loaded=(scored, []), warn=warned.append)
    note = next(n for n in notes if "category models" in n)
    assert "/models/other.json: " + other.name in note and "the shipped model" in note and warned == [note]
