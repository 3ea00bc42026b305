"""Optuna parameter importances for the objective and for failure."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution

from gan.records.history import plain
from gan.records import layout

log = logging.getLogger(__name__)
MIN_TRIALS = 4  # fANOVA on fewer trials is noise
LOG_SCALED = ("lr",)  # searched on a log scale when a study records no distributions


def study_distributions(study_dir: Path | None) -> dict[str, BaseDistribution]:
    """The search distributions recorded in the study's ``optuna.db``; {} when there is none."""
    path = Path(study_dir) / layout.OPTUNA_DB if study_dir else None
    if path is None or not path.is_file():
        return {}
    storage = f"sqlite:///{path.resolve()}"
    try:
        dists: dict[str, BaseDistribution] = {}
        for name in optuna.get_all_study_names(storage):
            for trial in optuna.load_study(study_name=name, storage=storage).trials:
                dists.update(trial.distributions)
        return dists
    except Exception as err:  # a damaged database must not sink the report
        log.warning("cannot read distributions from %s: %s", path, err)
        return {}


def inferred_distribution(name: str, values: pd.Series) -> BaseDistribution:
    """A distribution holding every value seen: categorical for ints and strings, else float."""
    if values.dtype.kind in "iuOb" or name == "latent_dim":
        return CategoricalDistribution(sorted({plain(v) for v in values}, key=str))
    low, high = float(values.min()), float(values.max())
    return FloatDistribution(low, high, log=name in LOG_SCALED and low > 0)


def param_importances(trials: pd.DataFrame, target: str, study_dir: Path | None = None,
                      seed: int = 0) -> dict[str, float]:
    """``optuna.importance.get_param_importances`` (fANOVA, seeded) over ``trials[target]``.

    The trials are re-entered into an in-memory Optuna study, so that any
    column (fcd, or 1.0 for a failed trial) can be the target. Returns {} when
    there are too few finite trials; never raises for data reasons.
    """
    recorded = study_distributions(study_dir)
    params = [p for p in layout.SEARCH_PARAMS
              if p in trials and trials[p].nunique(dropna=True) > 1]
    rows = trials.dropna(subset=[target, *params])
    rows = rows[rows[target].map(lambda v: math.isfinite(float(v)))]
    if len(rows) < MIN_TRIALS or not params or rows[target].nunique() < 2:
        return {}
    dists = {p: _covering(recorded.get(p), p, rows[p]) for p in params}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a scratch study is not news
    try:
        study = optuna.create_study(direction="minimize")
    finally:
        optuna.logging.set_verbosity(verbosity)
    for _, row in rows.iterrows():
        values = {p: _native(row[p], dists[p]) for p in params}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=dists,
                                                  value=float(row[target])))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    try:
        return {k: float(v) for k, v in
                optuna.importance.get_param_importances(study, evaluator=evaluator).items()}
    except Exception as err:  # importance is a nicety: report why it is missing
        log.warning("importance for %s unavailable: %s", target, err)
        return {}


def _covering(recorded: BaseDistribution | None, name: str, values: pd.Series
              ) -> BaseDistribution:
    """The recorded distribution if it holds every value (race runs can add gan.py's
    defaults), else one inferred from the values."""
    if isinstance(recorded, CategoricalDistribution):
        holds = all(_native(v, recorded) in recorded.choices for v in values)
    elif isinstance(recorded, FloatDistribution):
        holds = bool(((values >= recorded.low) & (values <= recorded.high)).all())
    else:
        holds = False
    return recorded if holds else inferred_distribution(name, values)


def _native(value: Any, dist: BaseDistribution) -> Any:
    """A pandas cell as the Python value the distribution expects (an int latent size)."""
    value = plain(value)
    if isinstance(dist, CategoricalDistribution) and isinstance(value, float) \
            and value.is_integer() and any(isinstance(c, int) for c in dist.choices):
        return int(value)
    return value
