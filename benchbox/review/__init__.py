"""Blinded listening review: a review set, a SQLite tag store, a local page, a terminal UI, stats.

``benchbox tag DIR --rater NAME`` opens a :class:`~benchbox.review.session.ReviewSession`
and serves it (:func:`~benchbox.review.server.serve`) or drives it from the terminal
(:class:`~benchbox.review.terminal.TerminalReview`); :mod:`benchbox.review.stats` turns
the tags into per-group useful rates, rater agreement and checks against the automatic flag.
"""

from benchbox.review.session import ReviewSession, open_session
from benchbox.review.stats import group_rates
from benchbox.review.store import TagStore, export_tags

__all__ = ["ReviewSession", "TagStore", "export_tags", "group_rates", "open_session"]
