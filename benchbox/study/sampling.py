"""Sampling settings in a study: which clips sit at the reference setting.

A protocol may sweep ``sweep.top_p`` and ``sweep.sampling_steps`` (:mod:`benchbox.generate`);
a clip's ``top_p`` / ``sampling_steps`` column is empty (n/a) when its generator has no such
setting. The seed's findings, the family questions, the figures and the listening section are
decided on the clips at the **reference** setting: the first value of each axis (the protocol's
``[generate]`` value when the axis is not swept). A clip whose setting is n/a is at the
reference: its generator has one cell there. The sampling question
(:func:`benchbox.study.family_findings.sampling_question`) uses every clip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchbox.score import SAMPLING_COLUMNS


def reference_values(proto) -> dict[str, float]:
    """Setting -> the value of the reference cell (the first of each axis)."""
    return {k: float(v[0]) for k, v in proto.sweep.sampling_axes(proto.generate).items()}


def reference_mask(frame: pd.DataFrame, proto, skip: tuple[str, ...] = ()) -> pd.Series:
    """True for rows at the reference setting of every axis but those in ``skip`` (n/a counts as the reference)."""
    keep = pd.Series(True, index=frame.index)
    for column, ref in reference_values(proto).items():
        if column in skip or column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        keep &= values.isna() | np.isclose(values.fillna(ref), ref)
    return keep


def at_reference(frame: pd.DataFrame, proto) -> pd.DataFrame:
    """The rows of a clips or groups table at the reference sampling setting (all rows of a
    table written before the sampling columns existed)."""
    if frame.empty or not any(c in frame.columns for c in SAMPLING_COLUMNS):
        return frame
    return frame[reference_mask(frame, proto)]
