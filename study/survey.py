"""The failure survey: a space-filling set of points over the search space, trained at the
full budget beside the search.

TPE samples where the objective is good, so the search's trials are a biased sample of the
space, and ASHA cuts most of them before any failure is conclusive. The survey's points are
a scrambled, seeded Sobol sequence (scipy's ``qmc.Sobol``) mapped through each parameter's
distribution, with gan.py's loss: an unbiased sample of the space, on which the report's
failure map and failure rates stand. The scheduler never cuts them
(:class:`SurveyAwareASHA`); failure-aware stopping still ends a conclusive failure. They are
queued in the Optuna study ahead of TPE's own proposals, so TPE builds on them as its startup
trials instead of drawing random ones of its own.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution
from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from scipy.stats import qmc

from gan.records.layout import PHASE_SURVEY
from study.space import EXTENDED_GAN_PY_POINT

# Survey points on the CPU default and with a GPU: 16 fill a 4-parameter space as a Sobol
# sequence does best (a power of 2), and on 2 cores they fit the default study's time.
DEFAULT_SURVEY_POINTS_CPU = 16
DEFAULT_SURVEY_POINTS_GPU = 32
# The parameters a survey fixes rather than spreads: gan.py's loss ("with gan.py's loss").
FIXED = {"loss": EXTENDED_GAN_PY_POINT["loss"]}


def _from_unit(u: float, dist: Any) -> Any:
    """The value of ``dist`` at quantile ``u`` in [0, 1)."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[min(int(u * len(dist.choices)), len(dist.choices) - 1)]
    if isinstance(dist, FloatDistribution):
        if dist.log:
            low, high = math.log(dist.low), math.log(dist.high)
            return float(math.exp(low + u * (high - low)))
        return float(dist.low + u * (dist.high - dist.low))
    raise TypeError(f"no survey mapping for {type(dist).__name__}")


def survey_points(space: dict[str, Any], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` scrambled Sobol points over ``space`` (Optuna distributions by name), seeded.

    Every parameter in :data:`FIXED` takes its fixed value; the others are spread. A power of
    2 keeps the Sobol sequence balanced (each latent size gets the same number of points);
    another ``n`` takes the first ``n`` points.

    Raises:
        ValueError: for ``n`` < 0.
    """
    if n < 0:
        raise ValueError(f"survey points must be >= 0, got {n}")
    if n == 0:
        return []
    spread = [name for name in space if name not in FIXED]
    sobol = qmc.Sobol(d=len(spread), scramble=True, seed=seed)
    with warnings.catch_warnings():  # scipy warns when n is not a power of 2
        warnings.simplefilter("ignore", UserWarning)
        units = sobol.random(n)
    points = []
    for row in np.asarray(units):
        point = {name: _from_unit(float(u), space[name]) for name, u in zip(spread, row)}
        points.append({**point, **{k: v for k, v in FIXED.items() if k in space}})
    return points


def is_survey(config: dict[str, Any]) -> bool:
    """Whether a Tune trial's config is one of the survey's points."""
    return config.get("phase") == PHASE_SURVEY


class SurveyAwareASHA(ASHAScheduler):
    """ASHA that leaves the survey's trials alone: they never enter its brackets, so it never
    cuts them, and the search's trials are cut among themselves, as in a study without a
    survey. (Entered into the rungs, the survey's mostly failing points let nearly every TPE
    trial through: the search then trained 1,049 epochs instead of about 600, docs/history.md.)
    Only ASHA's public scheduler hooks are overridden."""

    def on_trial_add(self, controller: Any, trial: Any) -> None:
        if not is_survey(trial.config):
            super().on_trial_add(controller, trial)

    def on_trial_result(self, controller: Any, trial: Any, result: dict) -> str:
        if is_survey(trial.config):
            return TrialScheduler.CONTINUE
        return super().on_trial_result(controller, trial, result)

    def on_trial_complete(self, controller: Any, trial: Any, result: dict) -> None:
        if not is_survey(trial.config):
            super().on_trial_complete(controller, trial, result)

    def on_trial_remove(self, controller: Any, trial: Any) -> None:
        if not is_survey(trial.config):
            super().on_trial_remove(controller, trial)
