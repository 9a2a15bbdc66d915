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
    # a new clip is appended; a clip that left the review set is dropped
    store.add_clips([ReviewClip("f" * 64, None, "new.wav", False, {})])
    grown = store.rater_order("alice", shas[1:] + ["f" * 64], seed=0)
    assert grown == [s for s in alice if s != shas[0]] + ["f" * 64]


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
