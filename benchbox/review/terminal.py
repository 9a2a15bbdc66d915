"""The terminal front end: the page's keys, a system audio player, no browser.

:class:`TerminalReview` holds the key handling and is driven one key at a time by
:meth:`TerminalReview.press`, so tests run it without a tty. :func:`read_key` reads one
raw key from the terminal, and :class:`SystemPlayer` plays a clip through whatever
command-line player exists (aplay, paplay, afplay, ffplay), restarting it on every play.
The CLI draws :meth:`TerminalReview.view` with Rich; nothing here prints.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchbox.errors import ReviewError
from benchbox.review.clips import check_unchanged, wav_bytes
from benchbox.review.session import ReviewSession
from benchbox.review.store import REASONS
from benchbox.runs import atomic_write_bytes

PLAYERS = (
    ("aplay", ["aplay", "-q"]),
    ("paplay", ["paplay"]),
    ("afplay", ["afplay"]),
    ("ffplay", ["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"]),
)
REASON_KEYS = ("3", "4", "5", "6", "7", "8")
ESCAPE_WAIT_SECONDS = 0.03
_NAMED_KEYS = {
    " ": "space", "\x7f": "backspace", "\x08": "backspace", "\r": "enter", "\n": "enter",
    "\x03": "quit", "\x04": "quit", "q": "quit", "\x1b": "escape",
    "\x1b[D": "left", "\x1b[C": "right", "\x1bOD": "left", "\x1bOC": "right",
}


def normalise_key(raw: str) -> str:
    """A raw key or escape sequence -> a key name (``space``, ``backspace``, ``left``, ``1``, ``s``...)."""
    if raw in _NAMED_KEYS:
        return _NAMED_KEYS[raw]
    return raw.lower() if len(raw) == 1 else "unknown"


def read_key(stream=None) -> str:
    """Read one key from the terminal in raw mode and return its :func:`normalise_key` name."""
    import termios
    import tty

    stream = stream or sys.stdin
    if not stream.isatty():
        raise ReviewError("--terminal needs an interactive terminal", hint="run it in a terminal, or use the web page without --terminal")
    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        raw = os.read(fd, 1)
        while raw[:1] == b"\x1b" and select.select([fd], [], [], ESCAPE_WAIT_SECONDS)[0] and len(raw) < 3:
            raw += os.read(fd, 1)
        while raw and raw[0] >= 0xC0 and len(raw) < 4 and select.select([fd], [], [], ESCAPE_WAIT_SECONDS)[0]:
            try:
                raw.decode("utf-8")
                break
            except UnicodeDecodeError:
                raw += os.read(fd, 1)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return normalise_key(raw.decode("utf-8", errors="replace"))


class SystemPlayer:
    """Play clips by opaque id through a command-line player; restart on every play.

    Clips are written to a private temporary folder under their opaque id, so neither
    the player nor the screen shows the real file name.
    """

    def __init__(self, session: ReviewSession, command: list[str] | None = None):
        self.session = session
        self.command = command if command is not None else find_player()
        self.folder = Path(tempfile.mkdtemp(prefix="benchbox-review-"))
        self._proc: subprocess.Popen | None = None

    def file_for(self, clip_id: str) -> Path:
        clip = self.session.clip(clip_id)
        source = check_unchanged(clip)  # a copy on disk still holds the audio (ReviewError when none does)
        path = self.folder / f"{clip_id}.wav"  # the id names the content, so the file never goes stale
        if not path.is_file():
            atomic_write_bytes(path, wav_bytes(source, clip.sha256))
        return path

    def play(self, clip_id: str) -> str:
        """Start playing (stopping any clip still playing); returns a status line for the UI."""
        path = self.file_for(clip_id)
        self.stop()
        if not self.command:
            return f"no audio player found (aplay, paplay, afplay, ffplay); the clip is at {path}"
        self._proc = subprocess.Popen([*self.command, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return "playing"

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def find_player() -> list[str] | None:
    for name, command in PLAYERS:
        if shutil.which(name):
            return list(command)
    return None


class TerminalReview:
    """The review state machine behind ``--terminal``: one key in, one action out."""

    def __init__(self, session: ReviewSession, play: Callable[[str], str], *, autoplay: bool = True):
        self.session = session
        self.play = play
        self.autoplay = autoplay
        self.clips = session.state()["clips"]  # [{id, tag, reasons, note}] in the rater's order
        self.position = session.state()["resume"]
        self.message = ""
        self.quit = False
        self._load()

    @property
    def done(self) -> bool:
        return self.position >= len(self.clips)

    def _load(self) -> None:
        clip = None if self.done else self.clips[self.position]
        self.reasons = set(clip["reasons"]) if clip else set()
        self.note = clip["note"] if clip else ""

    def press(self, key: str) -> str:
        """Apply one key name (see :func:`normalise_key`); return the action taken.

        ``"note"`` asks the caller to read a line of text and pass it to :meth:`set_note`.
        """
        handlers = {
            "space": self._play, "1": lambda: self._decide("useful"), "2": lambda: self._decide("not_useful"),
            "s": lambda: self._decide("skip"), "backspace": self._back, "left": self._back, "right": self._next,
            "quit": self._quit, "a": self._toggle_autoplay, "n": lambda: "ignored" if self.done else "note",
        }
        if key in REASON_KEYS and not self.done:
            reason = list(REASONS)[REASON_KEYS.index(key)]
            self.reasons.symmetric_difference_update({reason})
            return "reason"
        return handlers.get(key, lambda: "ignored")()

    def set_note(self, text: str) -> None:
        self.note = text.strip()

    def view(self) -> dict:
        """Everything the screen shows: position, counts, the current decision and the last message."""
        clip = None if self.done else self.clips[self.position]
        tags = [c["tag"] for c in self.clips]
        return {
            "rater": self.session.rater, "position": self.position, "total": len(self.clips), "done": self.done,
            "tagged": sum(t is not None for t in tags), "useful": tags.count("useful"),
            "not_useful": tags.count("not_useful"), "skip": tags.count("skip"),
            "tag": clip["tag"] if clip else None, "reasons": [r for r in REASONS if r in self.reasons],
            "note": self.note, "message": self.message, "autoplay": self.autoplay,
        }

    def _play(self) -> str:
        if self.done:
            return "ignored"
        self.message = self.play(self.clips[self.position]["id"])
        return "play"

    def _decide(self, tag: str) -> str:
        if self.done:
            return "ignored"
        clip = self.clips[self.position]
        saved = self.session.tag(clip["id"], tag, sorted(self.reasons), self.note)
        clip.update(tag=saved["tag"], reasons=saved["reasons"], note=saved["note"])
        self.message = f"saved: {tag.replace('_', ' ')}"
        self._move(1)
        return tag

    def _back(self) -> str:
        if self.position == 0:
            return "ignored"
        self._move(-1)
        return "back"

    def _next(self) -> str:
        if self.done or self.clips[self.position]["tag"] is None:
            self.message = "tag this clip (1 / 2) or skip it (s) first"
            return "blocked"
        self._move(1)
        return "next"

    def _move(self, step: int) -> None:
        self.position += step
        self._load()
        if self.autoplay and not self.done:
            self.message = f"{self.message} · {self.play(self.clips[self.position]['id'])}".strip(" ·")

    def _toggle_autoplay(self) -> str:
        self.autoplay = not self.autoplay
        return "autoplay"

    def _quit(self) -> str:
        self.quit = True
        return "quit"
