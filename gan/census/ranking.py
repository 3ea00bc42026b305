"""The ranking signal: a trial's score averaged over its last evaluations.

A GAN's sample quality swings from epoch to epoch, so ranking a trial on its final epoch ranks
it on one lucky or unlucky epoch (docs/study.md shows a trial's last five). The study ranks
trials (and tells Optuna and ASHA) on the mean of the last ``RANK_WINDOW`` evaluations instead;
docs/history.md ("The race and the ranking signal") compares both signals on fresh seeds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

RANK_WINDOW = 5  # evaluations averaged: the last five epochs at the default eval_interval 1


def trailing_mean(values: Iterable[float], window: int = RANK_WINDOW) -> float:
    """Mean of the last ``window`` finite values; NaN when there is none.

    Before ``window`` evaluations exist (ASHA's first cut at epoch 3), it is the mean of
    those there are: a running mean that becomes the final-window mean at the end.

    Args:
        values: a metric's per-evaluation values, oldest first (NaN: not evaluated).
        window: how many of the newest finite values to average (>= 1).

    Returns:
        The mean, or NaN.

    Raises:
        ValueError: when ``window`` < 1.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    tail = finite[-window:]
    return sum(tail) / len(tail) if tail else math.nan


def rank_trials(rows: pd.DataFrame, mode: str, column: str = "objective") -> pd.DataFrame:
    """Trials best first by ``column`` in the objective's direction: ascending for ``min``,
    descending for ``max``; rows without a value are left out. The one ranking the history's
    summary, the race's contenders and the report's examples all use.

    Raises:
        ValueError: for a mode other than ``min`` or ``max``.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return rows.dropna(subset=[column]).sort_values(column, ascending=(mode == "min"),
                                                    kind="stable")
