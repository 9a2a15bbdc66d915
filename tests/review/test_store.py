import sqlite3
import threading

import pytest

from benchbox.errors import ReviewError
from benchbox.review.clips import ReviewClip
from benchbox.review.store import MAX_NOTE_CHARS, TagStore, check_decision, export_tags, resume_position


def _clips(n: int, real: int = 0) -> list[ReviewClip]:
    groups = {"generator": "sashimi", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best", "prime_ms": 0}
    return [ReviewClip(f"{i:064x}", None, f"samples/c{i}.wav", i >= n - real, groups) for i in range(n)]


@pytest.fixture
def store(tmp_path):
    s = TagStore(tmp_path / "tags.sqlite")
    s.add_clips(_clips(6, real=1))
    return s


def test_wal_mode_and_schema(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "clips", "orders", "tags", "tag_history"} <= tables
    assert store.counts()["clips"] == 6


def test_opaque_ids_are_stable_salted_and_not_the_hash(store, tmp_path):
    sha = _clips(1)[0].sha256
    again = TagStore(store.path)
    other = TagStore(tmp_path / "other" / "tags.sqlite")
    assert store.opaque_id(sha) == again.opaque_id(sha)
    assert store.opaque_id(sha) != other.opaque_id(sha)
    assert store.opaque_id(sha) not in sha


def test_order_is_seeded_per_rater_and_kept_on_reopen(store):
    shas = [c.sha256 for c in _clips(6)]
    alice = store.rater_order("alice", shas, seed=0)
    assert sorted(alice) == sorted(shas)
    assert TagStore(store.path).rater_order("alice", list(reversed(shas)), seed=99) == alice  # stored order wins
    assert store.rater_order("bob", shas, seed=0) != alice
    # new clips are shuffled in among the clips alice has not tagged yet (appended as a block, their
    # position at the end would tell her they are the regenerated cell or the real clips added later);
    # what she tagged keeps its order at the front; a clip that left the review set is dropped
    store.record("alice", alice[0], "useful")
    store.record("alice", alice[1], "not_useful")
    new = [c * 64 for c in "abcd"]
    store.add_clips([ReviewClip(sha, None, f"{sha[0]}.wav", False, {}) for sha in new])
    kept = [s for s in shas if s != alice[5]]
    grown = store.rater_order("alice", kept + new, seed=0)
    assert grown[:2] == alice[:2] and sorted(grown) == sorted(kept + new)
    assert grown[-len(new):] != new and set(grown[-len(new):]) != set(new)  # not a block at the end
    assert TagStore(store.path).rater_order("alice", kept + new, seed=0) == grown  # and stored


def test_record_keeps_history_and_one_current_row(store):
    sha = _clips(1)[0].sha256
    first = store.record("alice", sha, "not_useful", ["noise", "click", "noise"], " hiss ", position=0)
    assert first["version"] == 1 and first["reasons"] == ["noise", "click"] and first["note"] == "hiss"
    second = store.record("alice", sha, "useful", [], "", position=0)
    assert second["version"] == 2
    assert store.current("alice")[sha]["tag"] == "useful"
    history = store.tags_frame(history=True)
    assert history["tag"].tolist() == ["not_useful", "useful"]
    assert len(store.tags_frame()) == 1


def test_bad_decisions_are_refused(store):
    sha = _clips(1)[0].sha256
    with pytest.raises(ReviewError, match="unknown tag 'great'"):
        store.record("alice", sha, "great")
    with pytest.raises(ReviewError, match="unknown reason 'ugly'"):
        store.record("alice", sha, "useful", ["ugly"])
    with pytest.raises(ReviewError, match="note must be text"):
        store.record("alice", sha, "useful", [], "x" * (MAX_NOTE_CHARS + 1))
    with pytest.raises(ReviewError, match="unknown clip"):
        store.record("alice", "0" * 63 + "x", "useful")
    with pytest.raises(ReviewError, match="bad rater name"):
        store.record("  ", sha, "useful")
    with pytest.raises(ReviewError, match="reasons must be a list"):
        check_decision("useful", "silent")
    assert store.counts()["tag_history"] == 0


def test_resume_position():
    assert resume_position(["a", "b", "c"], {"a": {}, "c": {}}) == 1
    assert resume_position(["a", "b"], {"a": {}, "b": {}}) == 2


def test_concurrent_raters_lose_nothing(store):
    shas = [c.sha256 for c in _clips(6)]
    errors = []

    def tag_all(rater):
        try:
            s = TagStore(store.path)  # own store object, own connections
            for i, sha in enumerate(shas):
                s.record(rater, sha, "useful" if i % 2 else "not_useful", position=i)
        except Exception as e:  # collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=tag_all, args=(r,)) for r in ("alice", "bob", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counts()["tags"] == 18 and store.counts()["tag_history"] == 18


def test_unknown_format_and_corrupt_file(tmp_path):
    s = TagStore(tmp_path / "tags.sqlite")
    conn = sqlite3.connect(s.path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'format'")
    conn.commit()
    conn.close()
    with pytest.raises(ReviewError, match="unknown tag store format '99'"):
        TagStore(s.path)
    bad = tmp_path / "bad" / "tags.sqlite"
    bad.parent.mkdir()
    bad.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(ReviewError, match="tag store error"):
        TagStore(bad)
    with pytest.raises(ReviewError, match="no tags yet"):
        TagStore(tmp_path / "none" / "tags.sqlite", create=False)


def test_export_formats(store, tmp_path):
    import json

    import pandas as pd

    shas = [c.sha256 for c in _clips(6)]
    store.record("alice", shas[0], "useful", ["click"], "nice")
    store.record("alice", shas[1], "skip")
    csv = pd.read_csv(export_tags(tmp_path, "csv"))
    assert csv["useful/human"].tolist()[:1] == [1] and csv["useful/human"].isna().sum() == 1
    assert csv.loc[csv["tag"] == "useful", "reasons"].item() == "click"
    records = json.loads(export_tags(tmp_path, "json", tmp_path / "out.json").read_text())
    assert {r["tag"]: r["useful/human"] for r in records} == {"useful": 1, "skip": None}
    assert records[0]["reasons"] in (["click"], [])
    with pytest.raises(ReviewError, match="unknown export format 'xml'"):
        export_tags(tmp_path, "xml")


def test_a_read_only_copy_is_read_and_nothing_is_written_beside_it(store, tmp_path):
    import shutil

    shas = [c.sha256 for c in _clips(6)]
    store.record("alice", shas[0], "useful")
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy2(store.path, copy / "tags.sqlite")
    before = (copy / "tags.sqlite").read_bytes()
    ro = TagStore(copy / "tags.sqlite", create=False)
    assert ro.tags_frame()["tag"].tolist() == ["useful"] and ro.counts()["tags"] == 1
    # a read-only folder cannot take the -wal/-shm files a read-write open creates ("attempt to write a readonly database")
    assert [p.name for p in copy.iterdir()] == ["tags.sqlite"] and (copy / "tags.sqlite").read_bytes() == before


def test_no_hint_suggests_discarding_a_store(tmp_path):
    bad = tmp_path / "tags.sqlite"
    bad.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(ReviewError) as info:
        TagStore(bad, create=False)
    assert "aside" not in info.value.hint and "keep a copy" in info.value.hint
    assert "aside" not in TagStore(tmp_path / "ok.sqlite")._hint(sqlite3.OperationalError("attempt to write a readonly database"))


def test_tag_stats_on_a_read_only_mount_of_a_tagged_run(store, tmp_path):
    """A real read-only file system (a bind mount in a private mount namespace, where the system allows one)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    store.record("alice", _clips(6)[0].sha256, "useful")
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy2(store.path, copy / "tags.sqlite")
    repo = Path(__file__).resolve().parents[2]
    probe = "from benchbox.review.stats import review_stats; import sys; s = review_stats(sys.argv[1]); print(s['tags']['total'] + s['tags']['stale'])"
    script = f"mount --bind {copy} {copy} && mount -o remount,ro,bind {copy} && touch {copy}/x 2>/dev/null && exit 3; exec {sys.executable} -c \"{probe}\" {copy}"
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to make a read-only mount")
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(repo)}, cwd=repo, timeout=120)
    if done.returncode != 0 and "mount" in done.stderr and "benchbox" not in done.stderr:
        pytest.skip(f"cannot make a read-only mount here: {done.stderr.strip()[:80]}")
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr  # was: "unable to open database file", move tags.sqlite aside


def test_cells_that_differ_only_in_a_sampling_setting_are_separate_groups(tmp_path):
    from benchbox.review.stats import rates_of
    from benchbox.score import GROUP_COLUMNS as SCORE_GROUP_COLUMNS
    from benchbox.review.clips import GROUP_COLUMNS

    assert GROUP_COLUMNS == SCORE_GROUP_COLUMNS  # the store keys groups as the scores and the leaderboard do
    store = TagStore(tmp_path / "tags.sqlite")
    base = {"generator": "sashimi", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best", "prime_ms": 0, "temperature": 1.0}
    clips = [ReviewClip(f"{i:064x}", None, f"samples/c{i}.wav", False, {**base, "top_p": 1.0 if i < 2 else 0.95}) for i in range(4)]
    store.add_clips(clips)
    for c, tag in zip(clips, ("useful", "useful", "not_useful", "not_useful")):
        store.record("alice", c.sha256, tag)
    rates = rates_of(store.tags_frame()).sort_values("top_p")
    assert rates["top_p"].tolist() == [0.95, 1.0] and rates["useful/human_rate"].tolist() == [0.0, 1.0]
    assert set(store.copies_frame()["top_p"]) == {1.0, 0.95}


def _old_store(path):
    """A store as written before the sampling settings were recorded: five group columns."""
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE clips (sha256 TEXT PRIMARY KEY, clip_id TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
            is_real INTEGER NOT NULL, generator, quantisation, dropout, checkpoint, prime_ms, added_at TEXT NOT NULL);
        CREATE TABLE orders (rater TEXT NOT NULL, position INTEGER NOT NULL, sha256 TEXT NOT NULL,
            PRIMARY KEY (rater, position), UNIQUE (rater, sha256));
        CREATE TABLE tags (sha256 TEXT NOT NULL, rater TEXT NOT NULL, tag TEXT NOT NULL, reasons TEXT NOT NULL,
            note TEXT NOT NULL, position INTEGER, version INTEGER NOT NULL, tagged_at TEXT NOT NULL, PRIMARY KEY (sha256, rater));
        CREATE TABLE tag_history (id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL, rater TEXT NOT NULL,
            tag TEXT NOT NULL, reasons TEXT NOT NULL, note TEXT NOT NULL, position INTEGER, version INTEGER NOT NULL, tagged_at TEXT NOT NULL);
        CREATE TABLE clip_copies (sha256 TEXT NOT NULL, source TEXT NOT NULL, generator, quantisation, dropout, checkpoint, prime_ms,
            PRIMARY KEY (sha256, source));
        INSERT INTO meta VALUES ('format', '1'), ('salt', 'abc');
        INSERT INTO clips VALUES ('aa', 'id-aa', 'samples/best/prime0/clip_0000.wav', 0, 'sashimi', 'mulaw', 0.0, 'best', 0, 't');
        INSERT INTO clip_copies VALUES ('aa', 'samples/best/prime0/clip_0000.wav', 'sashimi', 'mulaw', 0.0, 'best', 0);
        INSERT INTO tags VALUES ('aa', 'alice', 'useful', '[]', '', 0, 1, 't');
    """)
    conn.commit()
    conn.close()


def test_a_store_written_before_the_sampling_columns_is_read_and_upgraded(tmp_path):
    path = tmp_path / "tags.sqlite"
    _old_store(path)
    frame = TagStore(path, create=False).tags_frame()  # read-only: nothing is changed, the settings read empty
    assert frame["tag"].tolist() == ["useful"] and frame[["temperature", "top_p", "sampling_steps"]].isna().all(axis=None)
    assert TagStore(path, create=False).copies_frame()["top_p"].isna().all()
    assert "top_p" not in {r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(clips)")}
    store = TagStore(path)  # opened for tagging: the columns are added, the old rows keep their tags
    store.add_clips([ReviewClip("bb", None, "samples/best/prime0_topp0.95/clip_0000.wav", False,
                                {"generator": "sashimi", "quantisation": "mulaw", "dropout": 0.0, "checkpoint": "best", "prime_ms": 0, "top_p": 0.95})])
    store.record("alice", "bb", "not_useful")
    frame = store.tags_frame().set_index("sha256")
    assert frame.loc["aa", "tag"] == "useful" and frame["top_p"].isna().loc["aa"] and frame.loc["bb", "top_p"] == pytest.approx(0.95)
    assert set(store.copies_frame()["sha256"]) == {"aa", "bb"}


def test_export_never_replaces_the_tag_store_or_the_runs_own_files(store, tmp_path):
    """`tag export --out DIR/tags.sqlite` replaced every rating with a CSV; `--out DIR/samples/manifest.csv` made
    score read the tags as the run's clips. An existing file elsewhere needs overwrite."""
    from benchbox.errors import ReviewError

    (tmp_path / "samples").mkdir()
    manifest = tmp_path / "samples" / "manifest.csv"
    manifest.write_text("path\n")
    before = (tmp_path / "tags.sqlite").read_bytes()
    for target in (tmp_path / "tags.sqlite", manifest, tmp_path / "config.toml"):
        with pytest.raises(ReviewError, match="refusing to write tags over"):
            export_tags(tmp_path, "csv", target, overwrite=True)
    assert (tmp_path / "tags.sqlite").read_bytes() == before and manifest.read_text() == "path\n"
    other = tmp_path / "mine.csv"
    other.write_text("keep me")
    with pytest.raises(ReviewError, match="already exists"):
        export_tags(tmp_path, "csv", other)
    assert other.read_text() == "keep me"
    assert "tag" in __import__("pandas").read_csv(export_tags(tmp_path, "csv", other, overwrite=True)).columns
    export_tags(tmp_path, "csv")
    export_tags(tmp_path, "csv")  # the default file is rewritten freely
