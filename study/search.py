"""OptunaSearch made safe to resume after a hard kill.

Tune saves the searcher (a pickle) and the Optuna study (SQLite) at different
moments. After a SIGKILL or power loss the pickle can be older than the
database: a trial it believes is running may already be finished there, and a
trial the database shows running may be unknown to it. Unpatched, the first
crashes the resumed study (UpdateFinishedTrialError) and the second leaves an
Optuna trial RUNNING forever.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from ray.tune.search.optuna import OptunaSearch

log = logging.getLogger(__name__)


class ResumableOptunaSearch(OptunaSearch):
    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        try:
            super().on_trial_result(trial_id, result)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("Optuna trial of %s already finished before the restart; not "
                        "reporting to it again", trial_id)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        known = {t.number for t in self._ot_trials.values()}
        for trial in self._ot_study.get_trials(deepcopy=False,
                                               states=(optuna.trial.TrialState.RUNNING,)):
            if trial.number not in known:
                # Suggested after the searcher was last saved; Tune will never run it.
                self._ot_study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
                log.warning("marked orphaned Optuna trial #%d as failed", trial.number)
