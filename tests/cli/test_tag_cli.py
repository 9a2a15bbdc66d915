import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from benchbox.cli.main import app
from benchbox.review.session import open_session
from tests.review.fakes import make_dataset, make_run

runner = CliRunner()


@pytest.fixture
def tagged_run(tmp_path):
    rng = np.random.default_rng(11)
    run = make_run(tmp_path / "run", make_dataset(tmp_path / "data", rng), rng)
    for rater, pick in (("alice", "useful"), ("bob", "not_useful")):
        session = open_session(run, rater=rater, include_real=2)
        for i, cid in enumerate(session.ids):
            session.tag(cid, pick if i else "useful", ["click"] if pick == "not_useful" else [])
    return run


def _fails(result, text):
    assert result.exit_code == 1, result.output
    assert f"error: {text}" in result.output
    assert "Traceback" not in result.output


def test_help_lists_the_subcommands():
    r = runner.invoke(app, ["tag", "--help"])
    assert r.exit_code == 0
    assert all(word in r.output for word in ("review", "export", "stats"))
    r = runner.invoke(app, ["tag", "review", "--help"])
    assert r.exit_code == 0 and "--include-real" in r.output and "--terminal" in r.output


def test_stats_table_and_json(tagged_run):
    r = runner.invoke(app, ["tag", "stats", str(tagged_run)])
    assert r.exit_code == 0, r.output
    assert "useful/human_rate" in r.output and "cohen's kappa" in r.output and "auto useful" in r.output
    r = runner.invoke(app, ["tag", "stats", str(tagged_run), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["raters"] == ["alice", "bob"] and data["tags"]["total"] == 20 and data["tags"]["real"] == 4
    assert data["agreement"]["method"] == "cohen" and data["agreement"]["n_clips"] == 8
    assert {g["generator"] for g in data["groups"]} == {"sashimi", "wavenet"}
    assert sum(g["n_human"] for g in data["groups"]) == 16
    assert data["auto"]["available"] and data["auto"]["n"] == 16
    assert {r["rater"]: r["n_real"] for r in data["real"]} == {"alice": 2, "bob": 2}


def test_export_csv_and_json(tagged_run, tmp_path):
    r = runner.invoke(app, ["tag", "export", str(tagged_run), "--format", "csv"])
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(tagged_run / "tags.csv")
    assert len(frame) == 20 and {"clip_id", "sha256", "rater", "tag", "useful/human", "real", "generator", "prime_ms"} <= set(frame.columns)
    out = tmp_path / "t.json"
    r = runner.invoke(app, ["tag", "export", str(tagged_run), "--format", "json", "--out", str(out)])
    assert r.exit_code == 0 and str(out) in r.output
    records = json.loads(out.read_text())
    assert len(records) == 20 and all(isinstance(x["reasons"], list) for x in records)
    r = runner.invoke(app, ["tag", "export", str(tagged_run), "--history", "--format", "json"])
    assert r.exit_code == 0 and len(json.loads((tagged_run / "tags_history.json").read_text())) == 20


def test_errors_are_one_line(tagged_run, tmp_path):
    _fails(runner.invoke(app, ["tag", "export", str(tagged_run), "--format", "xml"]), "unknown export format 'xml'")
    _fails(runner.invoke(app, ["tag", "stats", str(tmp_path / "nope")]), "review folder not found")
    (tmp_path / "untagged").mkdir()
    _fails(runner.invoke(app, ["tag", "stats", str(tmp_path / "untagged")]), "no tags yet")
    # the default command: `benchbox tag DIR --rater NAME`
    _fails(runner.invoke(app, ["tag", str(tmp_path / "nope"), "--rater", "alice"]), "review folder not found")
    _fails(runner.invoke(app, ["tag", str(tagged_run), "--rater", " "]), "bad rater name")
    _fails(runner.invoke(app, ["tag", str(tagged_run), "--rater", "a", "--include-real", "99", "-q"]), "asked for 99 real clips")
    _fails(runner.invoke(app, ["tag", str(tagged_run), "--rater", "a", "--terminal", "-q"]), "--terminal needs an interactive terminal")
    r = runner.invoke(app, ["tag", str(tagged_run)])
    assert r.exit_code == 2 and "--rater" in r.output


def test_stats_says_how_many_stale_tags_were_set_aside(tagged_run):
    import soundfile as sf

    rel = pd.read_csv(tagged_run / "samples" / "manifest.csv")["path"].iloc[0]
    wave, rate = sf.read(tagged_run / rel, dtype="float32")
    sf.write(tagged_run / rel, -wave, rate, subtype="PCM_16")  # regenerated: same path, other audio
    r = runner.invoke(app, ["tag", "stats", str(tagged_run)])
    assert r.exit_code == 0, r.output
    assert "18 tags by 2 rater(s)" in r.output and "set aside 2 stale tag(s)" in r.output
    data = json.loads(runner.invoke(app, ["tag", "stats", str(tagged_run), "--json"]).output)
    assert data["tags"]["stale"] == 2 and sum(g["n_human"] for g in data["groups"]) == 14


def test_sigterm_stops_the_review_server_with_exit_143(tagged_run, monkeypatch):
    import benchbox.review.server as review_server
    from benchbox.cli.common import Terminated

    stopped = []

    class Thread:
        def is_alive(self):
            return True

        def join(self, timeout=None):
            raise Terminated()

    class Server:
        url, errors, thread = "http://127.0.0.1:1/?t=x", [], Thread()

        def stop(self):
            stopped.append(True)

    monkeypatch.setattr(review_server, "serve", lambda session, host, port: Server())
    r = runner.invoke(app, ["tag", "review", str(tagged_run), "--rater", "carol", "--no-browser"])
    assert r.exit_code == 143, r.output
    assert r.output.count("interrupted:") == 1 and "tags.sqlite" in r.output and stopped == [True]


def test_export_marks_tags_whose_clip_changed_as_stale(tagged_run, tmp_path):
    """`tag stats` set aside tags of regenerated clips; `tag export` wrote them as if they judged the file's audio."""
    import shutil

    import numpy as np
    import soundfile as sf

    run = tmp_path / "tagged-copy"
    shutil.copytree(tagged_run, run)
    assert runner.invoke(app, ["tag", "export", str(run)]).exit_code == 0
    frame = pd.read_csv(run / "tags.csv")
    assert (frame["stale"] == 0).all()
    generated = frame[~frame["real"].astype(bool)]["path"].iloc[0]
    wave, rate = sf.read(run / generated, dtype="float32")
    sf.write(run / generated, np.clip(wave * 0.5 + 0.01, -1, 1), rate, subtype="PCM_16")  # regenerated: other audio
    assert runner.invoke(app, ["tag", "export", str(run)]).exit_code == 0
    frame = pd.read_csv(run / "tags.csv")
    assert set(frame.loc[frame["path"] == generated, "stale"]) == {1} and (frame.loc[frame["path"] != generated, "stale"] == 0).all()


def test_an_undecodable_file_is_skipped_with_a_warning_and_stats_print_blanks(tmp_path, monkeypatch):
    import soundfile as sf

    import benchbox.cli.tag as tag_cli

    folder = tmp_path / "theirs"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):
        sf.write(folder / f"take_{i}.wav", 0.1 * rng.standard_normal(4096).astype(np.float32), 16_000)
    (folder / "empty.wav").write_bytes(b"")  # benchbox score skips it with a record; so must tag
    monkeypatch.setattr(tag_cli, "_review_in_browser", lambda session, **kw: [session.tag(cid, "useful") for cid in session.ids])
    r = runner.invoke(app, ["tag", "review", str(folder), "--rater", "alice", "--no-browser", "--quiet"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "warning: skipped empty.wav: " in said and "empty file" in said and "2/2 tagged" in said, said
    r = runner.invoke(app, ["tag", "stats", str(folder)])
    assert r.exit_code == 0, r.output
    assert "None" not in r.output and "theirs" in r.output


def test_stats_table_shows_the_sampling_setting_that_separates_groups():
    """Two groups differing only in temperature printed as identical rows with opposite rates; primes printed 40.0."""
    from benchbox.cli.tag import _groups_table

    base = {"generator": "sashimi", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best", "prime_ms": 40.0,
            "useful/human_rate": 0.0, "useful/human_lo": 0.0, "useful/human_hi": 0.5, "n_human": 2}
    table = _groups_table([{**base, "temperature": 1.0}, {**base, "temperature": 0.5, "useful/human_rate": 1.0}])
    headers = [c.header for c in table.columns]
    assert "temperature" in headers and "top_p" not in headers
    cells = [list(c._cells) for c in table.columns]
    assert cells[headers.index("temperature")] == ["1", "0.5"] and cells[headers.index("prime_ms")] == ["40", "40"]


def test_review_warns_when_the_primes_leave_too_few_real_clips(tmp_path):
    rng = np.random.default_rng(11)
    run = make_run(tmp_path / "run", make_dataset(tmp_path / "data", rng), rng)
    manifest = pd.read_csv(run / "samples" / "manifest.csv")
    manifest["prime_source"] = ["r0", "r1", "r2", "r0"] * 2  # 3 of the 4 test clips primed a clip
    manifest.to_csv(run / "samples" / "manifest.csv", index=False)
    r = runner.invoke(app, ["tag", str(run), "--rater", "a", "--include-real", "2", "--terminal", "-q"])  # stops at the terminal check
    assert "warning: asked for 2 real clips but mixed in 1" in " ".join(r.output.split())


def test_a_clip_file_given_as_the_folder_says_it_is_a_file_and_names_the_folder(tagged_run):
    """`tag RUN/samples/.../clip.wav` said "review folder not found" of a file that exists."""
    clip = next((tagged_run / "samples").rglob("clip_0000.wav"))
    for args in (["tag", str(clip), "--rater", "bob"], ["tag", "stats", str(clip)], ["tag", "export", str(clip)]):
        r = runner.invoke(app, args)
        _fails(r, f"{clip} is a file, not a folder")
        assert f"hint: pass the folder that holds it: {tagged_run}" in " ".join(r.output.split()), r.output
