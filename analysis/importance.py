"""Optuna parameter importances for the objective and for failure."""

from __future__ import annotations

import logging
import math

import pandas as pd

from study.space import optuna_space

log = logging.getLogger(__name__)
MIN_TRIALS = 4  # fANOVA on fewer trials is noise


def param_importances(trials: pd.DataFrame, target: str) -> dict[str, float]:
    """``optuna.importance.get_param_importances`` over ``trials[target]``.

    The trials are re-entered into an in-memory Optuna study, so that any
    column (fcd, or 1.0 for a failed trial) can be the target. Returns {} when
    there are too few finite trials; never raises for data reasons.
    """
    import optuna

    space = optuna_space("extended")
    params = [p for p in space if p in trials and trials[p].nunique(dropna=True) > 1]
    rows = trials.dropna(subset=[target, *params])
    rows = rows[rows[target].map(lambda v: math.isfinite(float(v)))]
    if len(rows) < MIN_TRIALS or not params or rows[target].nunique() < 2:
        return {}
    study = optuna.create_study(direction="minimize")
    for _, row in rows.iterrows():
        values = {p: _native(row[p], p) for p in params}
        study.add_trial(optuna.trial.create_trial(
            params=values, distributions={p: space[p] for p in params}, value=float(row[target])))
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except Exception as err:  # importance is a nicety: report why it is missing
        log.warning("importance for %s unavailable: %s", target, err)
        return {}


def _native(value, param: str):
    """A pandas cell as the Python value Optuna's distribution expects (latent_dim is an int)."""
    if hasattr(value, "item"):
        value = value.item()
    return int(value) if param == "latent_dim" else value
