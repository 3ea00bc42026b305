"""OptunaSearch that tells Optuna the truth and is safe to resume after a hard kill.

The truth: a trial the scheduler (or failure-aware stopping, whose class becomes the
user attribute ``failure_stop``) stopped before the full budget ends PRUNED at
its last reported epoch (its per-epoch objective is already in Optuna as
intermediate values), not COMPLETE as if its early value were final; TPE then
weighs it as the partial result it is. A finished trial ends COMPLETE; a diverged
one COMPLETE with the documented penalty; an errored one FAIL.

Resume: Tune saves the searcher (a pickle) and the Optuna study (SQLite) at
different moments. After a SIGKILL or power loss the pickle can be older than the
database: a trial it believes is running may already be finished there, and a
trial the database shows running may be unknown to it. Unpatched, the first
crashes the resumed study (UpdateFinishedTrialError) and the second leaves an
Optuna trial RUNNING forever.

Private members of Ray's OptunaSearch are used here and nowhere else: ``_ot_trials``
(the Tune-to-Optuna trial map, which no public API exposes), ``_ot_study`` and
``_completed_trials``. Both tests in tests/test_search.py go through every one of
them, so a Ray upgrade that renames one fails CI instead of breaking silently.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
from ray.tune.search.optuna import OptunaSearch

from gan.failures import ended_before_budget
from gan.state import STATUS_OK
from study.failure_stop import read_stops

log = logging.getLogger(__name__)


class ResumableOptunaSearch(OptunaSearch):
    def __init__(self, *args: Any, max_epochs: int | None = None,
                 failure_stops: Path | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_epochs = max_epochs
        # study.failure_stop's record: a trial it ended is PRUNED with its failure class.
        self.failure_stops = failure_stops

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        # Optuna's step is the trial's epoch, not Tune's iteration count, which lags after a
        # resume from a checkpoint newer than Tune's saved state (study.trainable.resume_point).
        result = {**result, "training_iteration": result.get("epoch",
                                                             result.get("training_iteration"))}
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("Optuna trial of %s already finished before the restart; not "
                        "reporting to it again", trial_id)

    def _stopped_early(self, result: dict[str, Any] | None, error: bool) -> bool:
        if error or not result or self.max_epochs is None:
            return False
        return ended_before_budget(int(result.get("epoch", self.max_epochs)), self.max_epochs,
                                   str(result.get("status", STATUS_OK)))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        if trial_id in self._completed_trials or not self._stopped_early(result, error):
            try:
                super().on_trial_complete(trial_id, result, error)
            except optuna.exceptions.UpdateFinishedTrialError:
                log.warning("Optuna trial of %s already finished before the restart", trial_id)
            return
        ot_trial = self._ot_trials[trial_id]
        try:
            # Tune hands the result that made the scheduler stop the trial to on_trial_complete
            # only: record it as the last intermediate value, the one PRUNED ends at.
            step = int(result.get("epoch", result.get("training_iteration")))
            with warnings.catch_warnings():  # Optuna ignores (and warns of) a repeated step
                warnings.simplefilter("ignore")
                ot_trial.report(result[self.metric], step)
            stop = read_stops(self.failure_stops).get(trial_id) if self.failure_stops else None
            if stop:  # shown by optuna-dashboard beside the PRUNED state
                ot_trial.set_user_attr("failure_stop", stop["failure"])
                ot_trial.set_user_attr("failure_stop_epoch", stop["epoch"])
            self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.PRUNED)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("Optuna trial of %s already finished before the restart", trial_id)
        self._completed_trials.add(trial_id)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        known = {t.number for t in self._ot_trials.values()}
        for trial in self._ot_study.get_trials(deepcopy=False,
                                               states=(optuna.trial.TrialState.RUNNING,)):
            if trial.number not in known:
                # Suggested after the searcher was last saved; Tune will never run it.
                self._ot_study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
                log.warning("marked orphaned Optuna trial #%d as failed", trial.number)


class BalancedSobolSampler(optuna.samplers.QMCSampler):
    """Optuna's scrambled, seeded Sobol sampler over every parameter but one, which it cycles
    through by trial number, so each of its values gets the same share of trials.

    ``paired``: each Sobol point is run under every value in turn. Trial ``k`` takes value
    ``k % len(values)`` at point ``k // len(values)``; the first trial of a point draws it,
    and the others copy that trial's parameters, so the value is all that differs.

    The Sobol space is fixed up front (QMCSampler would otherwise sample its first trial at
    random and infer the space from it). Only public sampler methods are overridden.
    """

    def __init__(self, space: dict[str, Any], balanced: str, seed: int,
                 paired: bool = False) -> None:
        with warnings.catch_warnings():  # QMCSampler is marked experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            super().__init__(qmc_type="sobol", scramble=True, seed=seed,
                             warn_independent_sampling=False)
        self.balanced = balanced
        self.choices = list(space[balanced].choices)
        self.sobol_space = {k: v for k, v in space.items() if k != balanced}
        self.paired = paired

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return dict(self.sobol_space)

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]
                        ) -> dict[str, Any]:
        first = trial.number - trial.number % len(self.choices)
        if not self.paired or first == trial.number:
            return super().sample_relative(study, trial, search_space)
        leader = next((t for t in study.get_trials(deepcopy=False) if t.number == first), None)
        if leader is None or not set(search_space) <= set(leader.params):
            # Never seen in a normal run: the point's first trial holds no parameters.
            log.warning("paired atlas: trial #%d of point %d has no parameters; drawing a new "
                        "point for trial #%d", first, first // len(self.choices), trial.number)
            return super().sample_relative(study, trial, search_space)
        return {name: leader.params[name] for name in search_space}

    def sample_independent(self, study: Any, trial: Any, param_name: str,
                           param_distribution: Any) -> Any:
        if param_name == self.balanced:
            return self.choices[trial.number % len(self.choices)]
        return super().sample_independent(study, trial, param_name, param_distribution)
