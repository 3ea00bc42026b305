"""Failure classes of a trial's per-epoch history, and the epoch each failure begins.

Thresholds are named constants so that the report can quote them; each was set
against the behaviour described in Arjovsky & Bottou 2017 and against the
histories in tests/test_failures.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

HEALTHY = "healthy"
MODE_COLLAPSE = "mode_collapse"
VANISHING = "vanishing_gradients"
D_WINS = "discriminator_wins"
OSCILLATION = "oscillation_nonconvergence"
DIVERGED = "diverged"
CLASSES = (HEALTHY, MODE_COLLAPSE, VANISHING, D_WINS, OSCILLATION, DIVERGED)

FINAL_WINDOW = 3  # epochs at the end of a trial that decide its class
VANISHING_GRAD_NORM = 1e-2  # G's total gradient norm below this is "vanished" (healthy: 0.1-10)
VANISHING_D_FAKE = 0.05  # ... while D(G(z)) stays near 0: D rejects every fake
D_WINS_LOSS = 0.05  # d_loss below this: D separates real from fake almost perfectly
COLLAPSE_MODES = 5  # fewer than 5 of 10 classes get 5% of the samples ...
COLLAPSE_MIN_DENSITY = 0.3  # ... while samples look real (Naeem density; real digits ~1)
COLLAPSE_DROP = 0.5  # or diversity fell below half its peak ...
COLLAPSE_PEAK = 0.2  # ... after that peak had passed 0.2 (it had learned, then lost, variety)
NONCONVERGED_DIVERSITY = 0.1  # still below this at the end: never learned (real digits ~0.98)
OSCILLATION_CV = 0.5  # coefficient of variation of g_loss over the final epochs
THRESHOLDS = ("FINAL_WINDOW", "VANISHING_GRAD_NORM", "VANISHING_D_FAKE", "D_WINS_LOSS",
              "COLLAPSE_MODES", "COLLAPSE_MIN_DENSITY", "COLLAPSE_DROP", "COLLAPSE_PEAK",
              "NONCONVERGED_DIVERSITY", "OSCILLATION_CV")  # quoted by the report


def _tail(trial: pd.DataFrame, column: str) -> np.ndarray:
    if column not in trial:
        return np.array([])
    return trial[column].to_numpy(dtype=float)[-FINAL_WINDOW:]


def _onset(mask: np.ndarray, epochs: np.ndarray) -> float:
    """First epoch from which ``mask`` holds to the end; NaN if it does not hold at the end."""
    if len(mask) == 0 or not mask[-1]:
        return math.nan
    start = len(mask) - 1
    while start > 0 and mask[start - 1]:
        start -= 1
    return float(epochs[start])


def is_collapsed(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch: realistic samples of too few classes, or diversity well below a peak it had
    reached. Few modes of unrealistic samples is non-convergence, not collapse."""
    div = trial["diversity"].to_numpy(dtype=float) if "diversity" in trial else np.array([])
    if len(div) == 0:
        return np.zeros(len(trial), dtype=bool)
    modes = trial["modes"].to_numpy(dtype=float) if "modes" in trial else np.full(len(div), 10.0)
    density = trial["density"].to_numpy(dtype=float) if "density" in trial \
        else np.full(len(div), np.inf)
    peak = np.fmax.accumulate(np.nan_to_num(div, nan=0.0))
    with np.errstate(invalid="ignore"):
        fell = (peak > COLLAPSE_PEAK) & (div < COLLAPSE_DROP * peak)
        return ((modes < COLLAPSE_MODES) & (density >= COLLAPSE_MIN_DENSITY)) | fell


def classify_trial(trial: pd.DataFrame) -> tuple[str, float]:
    """(failure class, onset epoch or NaN) of one trial's history, sorted by epoch."""
    trial = trial.sort_values("epoch")
    epochs = trial["epoch"].to_numpy()
    status = trial["status"].astype(str).to_numpy()
    d_loss = trial["d_loss"].to_numpy(dtype=float) if "d_loss" in trial else np.array([])
    bad = (status == DIVERGED) | ~np.isfinite(d_loss) if len(d_loss) else status == DIVERGED
    if bad.any():
        return DIVERGED, float(epochs[int(np.argmax(bad))])
    g_norm = trial["g_grad_norm"].to_numpy(dtype=float)
    d_fake = trial["d_fake"].to_numpy(dtype=float)
    vanished = (g_norm < VANISHING_GRAD_NORM) & (d_fake < VANISHING_D_FAKE)
    if vanished[-1]:
        return VANISHING, _onset(vanished, epochs)
    d_wins = d_loss < D_WINS_LOSS
    if d_wins[-1]:
        return D_WINS, _onset(d_wins, epochs)
    collapsed = is_collapsed(trial)
    if len(collapsed) and collapsed[-1]:
        return MODE_COLLAPSE, _onset(collapsed, epochs)
    g_loss = _tail(trial, "g_loss")
    if len(g_loss) >= FINAL_WINDOW and np.mean(g_loss) > 0:
        if np.std(g_loss) / np.mean(g_loss) > OSCILLATION_CV:
            return OSCILLATION, math.nan
    diversity = _tail(trial, "diversity")
    if len(diversity) and np.nanmax(np.append(diversity, -1.0)) < NONCONVERGED_DIVERSITY:
        return OSCILLATION, math.nan  # non-convergence: samples never became diverse
    return HEALTHY, math.nan


def classify_study(history: pd.DataFrame, max_epochs: int | None = None) -> pd.DataFrame:
    """One row per trial: final metrics, parameters, failure class, onset epoch, and
    ``stopped_early`` (ASHA ended a healthy-status trial before ``max_epochs``; its class
    describes it when it was stopped)."""
    max_epochs = max_epochs or int(history["epoch"].max())
    rows = []
    for trial_id, trial in history.groupby("trial_id", sort=False):
        failure, onset = classify_trial(trial)
        last = trial.sort_values("epoch").iloc[-1].to_dict()
        epochs = int(trial["epoch"].max())
        rows.append({**last, "trial_id": trial_id, "failure": failure, "onset_epoch": onset,
                     "epochs": epochs,
                     "stopped_early": failure != DIVERGED and epochs < max_epochs})
    return pd.DataFrame(rows)
