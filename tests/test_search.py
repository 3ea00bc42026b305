"""Resuming from a searcher pickle older than the Optuna database (after a hard kill)."""

import optuna
import pytest

pytest.importorskip("ray.tune")

from study.search import ResumableOptunaSearch  # noqa: E402
from study.space import optuna_space  # noqa: E402


def _searcher(db):
    return ResumableOptunaSearch(
        space=optuna_space("default"), metric="objective", mode="min",
        sampler=optuna.samplers.TPESampler(seed=0), study_name="t",
        storage=optuna.storages.RDBStorage(f"sqlite:///{db}"))


def test_stale_pickle_neither_crashes_nor_leaves_running_trials(tmp_path):
    db, pickle = tmp_path / "optuna.db", tmp_path / "searcher.pkl"
    live = _searcher(db)
    live.suggest("a")
    live.save(str(pickle))  # the last state Tune saved before the kill
    live.on_trial_complete("a", {"objective": 1.0})
    live.suggest("b")  # suggested after the save: Tune will never know it

    restored = _searcher(db)
    restored.restore(str(pickle))
    # "a" is finished in the DB: reporting to it again must not crash the resumed study.
    restored.on_trial_result("a", {"objective": 2.0, "training_iteration": 1})
    restored.on_trial_complete("a", {"objective": 2.0})
    states = [t.state for t in optuna.load_study(study_name="t", storage=f"sqlite:///{db}").trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
