import io
import sys

import pytest

from benchbox.errors import ReviewError
from benchbox.review.session import open_session
from benchbox.review.terminal import SystemPlayer, TerminalReview, normalise_key, read_key


def test_normalise_key():
    assert normalise_key(" ") == "space"
    assert normalise_key("\x7f") == "backspace" and normalise_key("\x08") == "backspace"
    assert normalise_key("\x1b[D") == "left" and normalise_key("\x1b[C") == "right"
    assert normalise_key("S") == "s" and normalise_key("1") == "1"
    assert normalise_key("\x03") == "quit" and normalise_key("q") == "quit"
    assert normalise_key("\x1b[Z") == "unknown"


def test_keys_drive_the_review(fake_run):
    session = open_session(fake_run, rater="alice", seed=2)
    plays = []
    ui = TerminalReview(session, lambda cid: plays.append(cid) or "playing", autoplay=False)
    first, second = session.ids[0], session.ids[1]

    assert ui.press("space") == "play" and plays == [first]
    assert ui.press("space") == "play" and plays == [first, first]  # every play restarts the clip
    assert ui.press("right") == "blocked" and ui.position == 0  # no moving on without a decision
    assert ui.press("4") == "reason" and ui.press("6") == "reason" and ui.press("6") == "reason"
    assert ui.press("n") == "note"
    ui.set_note("  hiss under the step ")
    assert ui.press("2") == "not_useful" and ui.position == 1
    assert ui.press("s") == "skip" and ui.press("1") == "useful" and ui.position == 3
    assert ui.press("backspace") == "back" and ui.view()["tag"] == "useful"
    assert ui.press("right") == "next" and ui.view()["tagged"] == 3
    assert ui.press("x") == "ignored"

    current = session.store.current("alice")
    by_id = {session.store.opaque_id(sha): row for sha, row in current.items()}
    assert by_id[first]["tag"] == "not_useful" and by_id[first]["reasons"] == ["noise"]
    assert by_id[first]["note"] == "hiss under the step" and by_id[second]["tag"] == "skip"
    # a new session resumes at the first untagged clip
    again = TerminalReview(open_session(fake_run, rater="alice", seed=2), lambda cid: "", autoplay=False)
    assert again.position == 3
    assert again.press("quit") == "quit" and again.quit


def test_autoplay_and_done(fake_run):
    session = open_session(fake_run, rater="bob")
    plays = []
    ui = TerminalReview(session, lambda cid: plays.append(cid) or "playing")
    for _ in range(session.total):
        ui.press("1")
    assert ui.done and ui.view()["useful"] == session.total
    assert plays == session.ids[1:]  # each new clip starts playing on arrival
    assert ui.press("1") == "ignored" and ui.press("space") == "ignored"
    assert ui.press("backspace") == "back" and not ui.done


def test_system_player_without_a_player_names_an_opaque_file(fake_run):
    session = open_session(fake_run, rater="alice")
    player = SystemPlayer(session, command=[])
    try:
        message = player.play(session.ids[0])
        assert "no audio player found" in message and f"{session.ids[0]}.wav" in message
        assert "sashimi" not in message and "samples" not in message
    finally:
        player.close()
    assert not player.folder.exists()


def test_system_player_restarts(fake_run):
    session = open_session(fake_run, rater="alice")
    stand_in = [sys.executable, "-c", "import time; time.sleep(30)"]  # like aplay: runs until stopped; ignores the path
    player = SystemPlayer(session, command=stand_in)
    try:
        assert player.play(session.ids[0]) == "playing"
        first = player._proc
        assert player.play(session.ids[0]) == "playing"
        assert first.poll() is not None and player._proc.poll() is None  # the old one was stopped
    finally:
        player.close()


def test_read_key_needs_a_tty():
    with pytest.raises(ReviewError, match="needs an interactive terminal"):
        read_key(io.StringIO("1"))
