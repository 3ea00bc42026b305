"""A Tune searcher over Optuna's ask-and-tell interface that tells Optuna the truth and is
safe to resume after a hard kill.

The truth: a trial the scheduler (or failure-aware stopping, whose class becomes the
user attribute ``failure_stop``) stopped before the full budget ends PRUNED at
its last reported epoch (its per-epoch objective is already in Optuna as
intermediate values), not COMPLETE as if its early value were final; TPE then
weighs it as the partial result it is. A finished trial ends COMPLETE; a diverged
one COMPLETE with the documented penalty; an errored one FAIL.

Resume: Tune saves the searcher (a pickle) and the Optuna study (SQLite) at
different moments. After a SIGKILL or power loss the pickle can be older than the
database: a trial it believes is running may already be finished there (its
report and tell are skipped, ``skip_if_finished``), and a trial the database
shows running may be unknown to it (marked FAIL on restore: Tune will never run
it).

Only public interfaces are used: Tune's ``Searcher`` and Optuna's ``Study.ask``,
``Study.tell``, ``Trial.report`` and ``Trial.set_user_attr``. The searcher owns the
map from Tune trial to Optuna trial.
"""

from __future__ import annotations

import logging
import pickle
import warnings
from pathlib import Path
from typing import Any

import optuna
from ray.tune.search import Searcher

from gan.census.census import ended_before_budget
from gan.records.layout import PHASE_SURVEY
from gan.train.state import STATUS_OK
from study.failure_stop import FailureStops
from study.space import to_optuna_params, to_trial_params

log = logging.getLogger(__name__)
FINISHED_ERRORS = (optuna.exceptions.UpdateFinishedTrialError,)


class ResumableOptunaSearch(Searcher):
    """Tune asks for configs (:meth:`suggest`) and reports results; Optuna's study, in its
    RDB storage, holds every trial.

    Args:
        space: Optuna distributions by parameter name.
        metric, mode: the objective Tune reports and its direction (``min`` or ``max``).
        sampler: Optuna's sampler (TPE for a search, Sobol for an atlas).
        study_name, storage: the Optuna study, created or loaded.
        points_to_evaluate: configs to try first (queued once, in a new study only).
        survey: the survey's points (study.survey), queued after ``points_to_evaluate``; each
            trial of one carries ``phase: survey`` in its config.
        max_epochs: the full budget, which tells a stopped trial from a finished one.
        failure_stops: study.failure_stop's record: a trial it ended is PRUNED with its class.
    """

    def __init__(self, space: dict[str, Any], metric: str, mode: str,
                 sampler: optuna.samplers.BaseSampler, study_name: str,
                 storage: optuna.storages.BaseStorage | str,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 survey: list[dict[str, Any]] | None = None, max_epochs: int | None = None,
                 failure_stops: Path | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.space = dict(space)
        self.max_epochs, self.failure_stops = max_epochs, failure_stops
        self.study = optuna.create_study(
            study_name=study_name, storage=storage, sampler=sampler,
            pruner=optuna.pruners.NopPruner(), load_if_exists=True,
            direction="minimize" if mode == "min" else "maximize")
        if (points_to_evaluate or survey) and not self.study.get_trials(deepcopy=False):
            # Points arrive as trials train them (b2) or as Optuna samples them (b2_gap).
            for point in points_to_evaluate or ():
                self.study.enqueue_trial(to_optuna_params(point))
            for point in survey or ():
                self.study.enqueue_trial(to_optuna_params(point),
                                         user_attrs={"phase": PHASE_SURVEY})
        self.trials: dict[str, optuna.trial.Trial] = {}  # Tune trial id -> Optuna trial
        self.finished: set[str] = set()

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict,
                              **spec: Any) -> bool:
        # The space, metric and mode are set at construction; Tune's must agree.
        return (metric in (None, self.metric)) and (mode in (None, self.mode))

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if trial_id not in self.trials:
            self.trials[trial_id] = self.study.ask(fixed_distributions=self.space)
        trial = self.trials[trial_id]
        phase = trial.user_attrs.get("phase")
        return {**to_trial_params(trial.params), **({"phase": phase} if phase else {})}

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id in self.finished or trial_id not in self.trials:
            return
        # Optuna's step is the trial's epoch, not Tune's iteration count, which lags after a
        # resume from a checkpoint newer than Tune's saved state (study.trainable.resume_point).
        self._report(trial_id, result)

    def _report(self, trial_id: str, result: dict[str, Any]) -> None:
        step = int(result.get("epoch", result.get("training_iteration")))
        try:
            with warnings.catch_warnings():  # Optuna ignores (and warns of) a repeated step
                warnings.simplefilter("ignore")
                self.trials[trial_id].report(float(result[self.metric]), step)
        except FINISHED_ERRORS:
            log.warning("Optuna trial of %s already finished before the restart; not "
                        "reporting to it again", trial_id)

    def _stopped_early(self, result: dict[str, Any] | None, error: bool) -> bool:
        if error or not result or self.max_epochs is None:
            return False
        return ended_before_budget(int(result.get("epoch", self.max_epochs)), self.max_epochs,
                                   str(result.get("status", STATUS_OK)))

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        if trial_id in self.finished or trial_id not in self.trials:
            return
        self.finished.add(trial_id)
        trial, state = self.trials[trial_id], optuna.trial.TrialState.COMPLETE
        value = None if error or not result else result.get(self.metric)
        if self._stopped_early(result, error):
            # Tune hands the result that made the scheduler stop the trial to on_trial_complete
            # only: record it as the last intermediate value, the one PRUNED ends at.
            self._report(trial_id, result)
            self._stamp_stop(trial_id, trial)
            state, value = optuna.trial.TrialState.PRUNED, None
        elif value is None:
            state = optuna.trial.TrialState.FAIL if error else optuna.trial.TrialState.PRUNED
        try:
            self.study.tell(trial, value, state=state, skip_if_finished=True)
        except ValueError as err:  # e.g. a NaN objective: Optuna refuses it
            log.warning("Optuna refused the result of %s: %s", trial_id, err)

    def _stamp_stop(self, trial_id: str, trial: optuna.trial.Trial) -> None:
        stop = FailureStops.load(self.failure_stops).stops.get(trial_id) \
            if self.failure_stops else None
        if not stop:
            return
        try:  # shown by optuna-dashboard beside the PRUNED state
            trial.set_user_attr("failure_stop", stop["failure"])
            trial.set_user_attr("failure_stop_epoch", stop["epoch"])
        except FINISHED_ERRORS:
            log.warning("Optuna trial of %s already finished before the restart", trial_id)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as out:
            pickle.dump({"trials": self.trials, "finished": self.finished}, out)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as saved:
            state = pickle.load(saved)
        self.trials, self.finished = state["trials"], state["finished"]
        known = {t.number for t in self.trials.values()}
        for trial in self.study.get_trials(deepcopy=False,
                                           states=(optuna.trial.TrialState.RUNNING,)):
            if trial.number not in known:
                # Suggested after the searcher was last saved; Tune will never run it.
                self.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
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
