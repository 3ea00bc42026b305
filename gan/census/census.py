"""The census of a study: one row per trial with its failure class, its samples' outcome,
how it ended (full budget, stopped early by the scheduler, stopped for a conclusive failure)
and, for a trial cut before any failure was conclusive, what it looked like at the cut.

The rules themselves are :mod:`gan.census.failures`; the live searcher and stopper read the same
helpers from here (:func:`ended_before_budget`, :data:`STOP_COLUMN`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from gan.census.climbing import CLIMB_GAIN
from gan.census.failures import (DIVERGED, FROZEN, NO_VERDICT, NONCONVERGED_DIVERSITY, UNDETERMINED,
                          VANISHING, classify_trial, conclusive_masks, failure_signals,
                          narrow_and_real)
from gan.census.outcomes import sample_outcome
from gan.train.state import STATUS_DIVERGED

# What an undetermined trial looked like when the scheduler cut it (never a failure).
CUT_FROZEN = "d_saturated_so_far"  # both gradients exactly 0, D saturated on every input
CUT_VANISHING = "vanishing_so_far"  # D separates and G's gradient is small
CUT_NARROW = "narrow_so_far"  # realistic but narrow samples, coverage not growing
CUT_LEARNING = "learning"  # diverse, or coverage rising
CUT_NOT_LEARNING = "not_learning_yet"  # neither diverse nor rising
CUT_STATES = (CUT_FROZEN, CUT_VANISHING, CUT_LEARNING, CUT_NARROW, CUT_NOT_LEARNING)


def cut_label(state: str) -> str:
    """A state at the cut as prose: ``d_saturated_so_far`` -> ``D saturated so far``."""
    text = state.replace("_", " ")
    return "D" + text[1:] if text.startswith("d ") else text


def cut_state(trial: pd.DataFrame) -> str:
    """What a trial cut before its budget looked like at its last epoch, read from its own
    signals, in this order: D saturated so far (both gradients exactly 0), vanishing so far,
    learning (diversity at least NONCONVERGED_DIVERSITY, or coverage grown by CLIMB_GAIN
    since the first epoch), narrow so far (realistic but narrow samples), else not learning
    yet. A state at the cut, never a failure: the trial may have recovered."""
    trial = trial.sort_values("epoch")
    if trial.empty:
        return CUT_NOT_LEARNING
    masks = conclusive_masks(trial)
    if masks[FROZEN][-1]:
        return CUT_FROZEN
    if masks[VANISHING][-1]:
        return CUT_VANISHING
    last = trial.iloc[-1]
    cover = trial["coverage"].dropna().to_numpy(dtype=float) if "coverage" in trial \
        else np.array([])
    grown = len(cover) >= 2 and cover[-1] - cover[0] >= CLIMB_GAIN
    if last.get("diversity", math.nan) >= NONCONVERGED_DIVERSITY or grown:
        return CUT_LEARNING
    return CUT_NARROW if narrow_and_real(trial)[-1] else CUT_NOT_LEARNING


def with_verdict(trials: pd.DataFrame, column: str = "failure") -> pd.DataFrame:
    """The trials a failure rate stands on: those whose ``column`` (the census class, or the
    samples' ``outcome``) carries a verdict. Not diverse yet and undetermined carry none
    (:data:`gan.census.failures.NO_VERDICT`), and no rate counts them."""
    return trials[~trials[column].isin(NO_VERDICT)]


def no_verdict_counts(trials: pd.DataFrame, column: str = "failure") -> dict[str, int]:
    """How many of ``trials`` each no-verdict class holds (not diverse yet, undetermined), by
    ``column`` (the census class, or the samples' ``outcome``): what a rate on
    :func:`with_verdict` leaves out, and must say beside it."""
    return {cls: int((trials[column] == cls).sum()) for cls in NO_VERDICT}


def ended_before_budget(epochs: float, max_epochs: int, status: str) -> bool:
    """A run that ended before its budget without diverging: stopped early, by the scheduler
    or by failure-aware stopping. The live searcher and the census both ask it."""
    return status != STATUS_DIVERGED and epochs < max_epochs


STOP_COLUMN = "failure_stop"  # history: the class failure-aware stopping ended the trial for


def stopped_for(trial: pd.DataFrame) -> str:
    """The class failure-aware stopping ended this trial for, or "" (histories without it)."""
    if STOP_COLUMN not in trial:
        return ""
    values = trial[STOP_COLUMN].dropna().astype(str)
    values = values[values != ""]
    return str(values.iloc[0]) if len(values) else ""


def secondary_signals(trial: pd.DataFrame, primary: str,
                      steps: pd.DataFrame | None = None) -> str:
    """The failure rules that hold at the trial's end besides its class (``primary``), in
    :data:`gan.census.failures.PRECEDENCE` order, comma-joined; "" when none (or when the class is
    no verdict: a signal then is no failure either)."""
    if primary in NO_VERDICT:
        return ""
    return ",".join(c for c in failure_signals(trial, steps) if c != primary)


def classify_study(history: pd.DataFrame, max_epochs: int | None = None,
                   grad_logs: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per trial: final metrics, parameters, failure class (the primary), every other
    failure rule that holds at its end (``secondary``), onset epoch, the samples'
    outcome (:func:`sample_outcome`, for comparisons across losses), the state at the cut of
    an undetermined trial (:func:`cut_state`; "" otherwise), and the two kinds of early stop,
    which are different populations: ``stopped_for_failure`` (ended by failure-aware
    stopping, its failure conclusive) and ``stopped_early`` (stopped by the scheduler before
    ``max_epochs`` for its objective; neither diverged nor stopped for failure)."""
    max_epochs = max_epochs or int(history["epoch"].max())
    grad_logs = grad_logs or {}
    rows = []
    for trial_id, trial in history.groupby("trial_id", sort=False):
        epochs = int(trial["epoch"].max())
        failure, onset = classify_trial(trial, full_budget=epochs >= max_epochs,
                                        steps=grad_logs.get(trial_id))
        last = trial.sort_values("epoch").iloc[-1].to_dict()
        for_failure = bool(stopped_for(trial)) and epochs < max_epochs
        early = ended_before_budget(epochs, max_epochs, last.get("status", "")) \
            and failure != DIVERGED
        outcome = sample_outcome(trial, full_budget=epochs >= max_epochs)
        rows.append({**last, "trial_id": trial_id, "failure": failure, "outcome": outcome,
                     "secondary": secondary_signals(trial, failure, grad_logs.get(trial_id)),
                     "onset_epoch": onset,
                     "cut_state": cut_state(trial) if failure == UNDETERMINED else "",
                     "epochs": epochs, "stopped_for_failure": for_failure,
                     "stopped_early": early and not for_failure})
    return pd.DataFrame(rows)
