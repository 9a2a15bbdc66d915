"""Typed errors. The library raises these; only the CLI prints them.

Every error carries a one-line message that names the offending file or key and,
where there is one, a hint that says how to fix it.
"""

from __future__ import annotations


class BenchboxError(Exception):
    """Base class. ``message`` says what went wrong, ``hint`` how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"


class ConfigError(BenchboxError):
    """A bad TOML file, an unknown key or a value of the wrong type."""


class AudioError(BenchboxError):
    """An audio file that cannot be read, is empty, or holds NaN/inf."""


class DataError(BenchboxError):
    """A dataset folder that is missing, empty or malformed."""


class CheckpointError(BenchboxError):
    """A missing, corrupt or unknown-format checkpoint."""


class GeneratorError(BenchboxError):
    """A generator that cannot be built or used as asked."""


class MetricError(BenchboxError):
    """A metric that cannot be computed from its inputs."""


class ReviewError(BenchboxError):
    """A listening-review request or store that is invalid."""


class ProtocolError(BenchboxError):
    """A benchmark protocol that cannot be run as written."""


class StorageError(BenchboxError, OSError):
    """A write the file system refused: a full disk (ENOSPC), a quota, a read-only mount, permissions.

    Also an OSError (``errno`` kept), so code that tolerates a refused write (a cache in a
    read-only folder) keeps catching it as before.
    """

    def __init__(self, message: str, hint: str | None = None, errno: int | None = None):
        super().__init__(message, hint)
        self.errno = errno
