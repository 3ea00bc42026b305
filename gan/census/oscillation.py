"""Oscillation: how much G's loss swings around its trend at the end of a trial.

A rule of the census (gan.census.failures names the class, for losses whose g_loss is bounded on one
side); measured on the logged steps where they exist, else on the epochs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

OSCILLATION_CV = 0.5  # detrended spread of g_loss over the window, relative to its mean size
OSCILLATION_SMOOTH = 5  # grad-log rows averaged before detrending (per-batch noise is not a swing)
THRESHOLDS = ("OSCILLATION_CV", "OSCILLATION_SMOOTH")  # quoted by the report


def oscillation_score(values: np.ndarray) -> float:
    """Spread of ``values`` around their linear trend, relative to their mean magnitude.

    A steady trend (1, 2, 4) scores low; alternation (0.2, 3, 0.2, 3) scores high;
    the sign of the values does not matter (the minimax g_loss is negative).
    """
    values = values[np.isfinite(values)]
    if len(values) < 3:
        return math.nan
    x = np.arange(len(values), dtype=float)
    residual = values - np.polyval(np.polyfit(x, values, 1), x)
    return float(residual.std() / (np.abs(values).mean() + 1e-8))


def _window_g_loss(trial: pd.DataFrame, steps: pd.DataFrame | None, final_window: int
                   ) -> np.ndarray:
    """g_loss over the final window: smoothed grad-log rows where they exist, else epochs."""
    if steps is not None and len(steps) and "g_loss" in steps and "epoch" in steps:
        first = trial["epoch"].to_numpy()[-final_window:][0]
        rows = steps[steps["epoch"] >= first].sort_values("step")["g_loss"]
        if len(rows) >= 3 * OSCILLATION_SMOOTH:
            return rows.rolling(OSCILLATION_SMOOTH).mean().dropna().to_numpy(dtype=float)
    if "g_loss" not in trial:
        return np.array([])
    return trial["g_loss"].to_numpy(dtype=float)[-final_window:]


def swings(trial: pd.DataFrame, steps: pd.DataFrame | None, final_window: int) -> bool:
    """G's loss over the final window swings: its :func:`oscillation_score` exceeds
    OSCILLATION_CV.

    Args:
        trial: per-epoch rows, in epoch order.
        steps: the trial's grad-log rows (per logged step), or None.
        final_window: the census's final window, in epochs.
    """
    return oscillation_score(_window_g_loss(trial, steps, final_window)) > OSCILLATION_CV
