"""Walk a source folder: the audio files to import, and everything walked past, with a reason.

Nothing under the folder is dropped in silence: a symbolic link to a folder (not
followed: links can loop or pull a folder in twice), a broken link, a folder that
cannot be read, a hidden file or folder (name starting with ".") and anything that
is not a regular file end up in ``skipped``, which the import writes to
``rejected.csv`` and counts. Files without an audio suffix are counted as ``ignored``.

Names are kept as the operating system gives them (a name that is not valid UTF-8
carries surrogate escapes and still opens); :func:`display_name` is the form written
to text files and shown to people, with such bytes escaped (``caf\\xe9.wav``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from benchbox.audio import AUDIO_SUFFIXES


@dataclass
class Walk:
    files: list[Path] = field(default_factory=list)  # audio files to import, sorted
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (display name relative to the root, reason)
    ignored: int = 0  # regular files without an audio suffix (COPYRIGHT, csv, ...)


def display_name(path: str | os.PathLike) -> str:
    """``path`` as text that any file or terminal takes: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def walk_sources(root: str | os.PathLike) -> Walk:
    """Every audio file under ``root`` (links to files followed, links to folders not), sorted."""
    root = Path(root)
    walk = Walk()

    def unreadable(error: OSError) -> None:
        where = Path(error.filename) if error.filename else root
        walk.skipped.append((_relative(where, root), f"folder not readable ({error.strerror or type(error).__name__}): nothing under it was imported"))

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(folder)
        for name in sorted(dirs):
            path = here / name
            if path.is_symlink():
                walk.skipped.append((_relative(path, root), "symbolic link to a folder: not followed"))
            elif name.startswith("."):
                walk.skipped.append((_relative(path, root), "hidden folder (name starts with '.'): not imported"))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (here / d).is_symlink())
        for name in sorted(names):
            _file(here / name, root, walk)
    walk.files.sort()
    return walk


def _file(path: Path, root: Path, walk: Walk) -> None:
    is_audio = path.suffix.lower() in AUDIO_SUFFIXES
    if path.is_symlink() and not path.exists():
        walk.skipped.append((_relative(path, root), "broken symbolic link"))
    elif not path.is_file():
        walk.skipped.append((_relative(path, root), "not a regular file (a pipe, socket or device): not read"))
    elif is_audio and path.name.startswith("."):
        walk.skipped.append((_relative(path, root), "hidden file (name starts with '.'): not imported"))
    elif is_audio:
        walk.files.append(path)
    else:
        walk.ignored += 1


def _relative(path: Path, root: Path) -> str:
    try:
        return display_name(path.relative_to(root).as_posix())
    except ValueError:
        return display_name(path)
