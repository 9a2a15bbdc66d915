"""One rater's review session: the review set, the store and the rater's blinded order.

Both front ends (the web page and the terminal UI) drive a :class:`ReviewSession`; they
only ever see opaque clip ids, never paths, generators, checkpoints or realness.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchbox.errors import ReviewError
from benchbox.progress import Progress
from benchbox.review.clips import ReviewClip, ReviewSet, build_review_set, changed_on_disk, check_unchanged
from benchbox.review.store import DECISIONS, REASONS, TAGS, TagStore, check_rater, resume_position


@dataclass
class ReviewSession:
    review_set: ReviewSet
    store: TagStore
    rater: str
    order: list[str]  # clip hashes in the rater's order
    seed: int
    rebuild: Callable[[], ReviewSet] | None = None  # hashes the target again (open_session sets it)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        by_sha = {c.sha256: c for c in self.review_set.clips}
        self.ids = [self.store.opaque_id(sha) for sha in self.order]
        self._clips = {cid: by_sha[sha] for cid, sha in zip(self.ids, self.order)}
        self._positions = {cid: i for i, cid in enumerate(self.ids)}

    @property
    def total(self) -> int:
        return len(self.order)

    def clip(self, clip_id: str) -> ReviewClip:
        """The clip behind an opaque id; unknown ids are an error (the server answers 404)."""
        try:
            return self._clips[clip_id]
        except (KeyError, TypeError):
            raise ReviewError(f"unknown clip id {str(clip_id)[:40]!r}", hint="use the ids the review page lists") from None

    def position(self, clip_id: str) -> int:
        self.clip(clip_id)
        return self._positions[clip_id]

    def tag(self, clip_id: str, tag: str, reasons=(), note: str = "") -> dict:
        """Commit the rater's decision on ``clip_id``; returns the stored decision and the resume position."""
        clip = self.clip(clip_id)
        check_unchanged(clip)  # a decision about audio that is no longer there would be stale at birth
        row = self.store.record(self.rater, clip.sha256, tag, reasons, note, position=self.position(clip_id))
        return {"id": clip_id, "tag": row["tag"], "reasons": row["reasons"], "note": row["note"], "version": row["version"]}

    def refresh(self) -> bool:
        """Hash the target again when any clip file changed on disk; True when the set was rebuilt.

        So the page and its media always describe the clips as they are now: a regenerated
        clip becomes a new clip (new id), one that is gone leaves the set.
        """
        with self._lock:
            if self.rebuild is None or not changed_on_disk(self.review_set.clips):
                return False
            review_set = self.rebuild()
            self.store.add_clips(review_set.clips)
            self.review_set = review_set
            self.order = self.store.rater_order(self.rater, [c.sha256 for c in review_set.clips], self.seed)
            self.__post_init__()
            return True

    def state(self) -> dict:
        """What a front end needs: the blinded order with current decisions and where to resume."""
        self.refresh()
        current = self.store.current(self.rater)
        clips = []
        for cid, sha in zip(self.ids, self.order):
            done = current.get(sha)
            clips.append({"id": cid, "tag": done["tag"] if done else None,
                          "reasons": done["reasons"] if done else [], "note": done["note"] if done else ""})
        return {
            "rater": self.rater,
            "total": self.total,
            "resume": resume_position(self.order, current),
            "clips": clips,
            "tags": list(TAGS),
            "decisions": list(DECISIONS),
            "reasons": [{"key": k, "label": v} for k, v in REASONS.items()],
        }

    def summary(self) -> dict:
        """Counts of this rater's current decisions over the session's clips."""
        current = self.store.current(self.rater)
        counts = {t: 0 for t in TAGS}
        for sha in self.order:
            if sha in current:
                counts[current[sha]["tag"]] += 1
        return {"rater": self.rater, "total": self.total, "tagged": sum(counts.values()), **counts, "db": str(self.store.path)}


def open_session(
    target: str | Path,
    *,
    rater: str,
    include_real: int = 0,
    real_dir: str | Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> ReviewSession:
    """Build the review set of ``target``, record it in ``tags.sqlite`` and load the rater's order."""
    rater = check_rater(rater)
    review_set = build_review_set(target, include_real=include_real, real_dir=real_dir, seed=seed, progress=progress)
    store = TagStore(review_set.db_path)
    store.add_clips(review_set.clips)
    order = store.rater_order(rater, [c.sha256 for c in review_set.clips], seed)

    def rebuild() -> ReviewSet:
        return build_review_set(target, include_real=include_real, real_dir=real_dir, seed=seed)

    return ReviewSession(review_set, store, rater, order, seed, rebuild)
