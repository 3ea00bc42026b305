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


def test_optuna_is_told_pruned_complete_and_penalised(tmp_path):
    db = tmp_path / "optuna.db"
    searcher = ResumableOptunaSearch(
        space=optuna_space("default"), metric="objective", mode="min",
        sampler=optuna.samplers.TPESampler(seed=0), study_name="t",
        storage=optuna.storages.RDBStorage(f"sqlite:///{db}"), max_epochs=3)
    for trial_id, epochs, status in (("cut", 2, "ok"), ("done", 3, "ok"), ("nan", 1, "diverged")):
        searcher.suggest(trial_id)
        for epoch in range(1, epochs + 1):
            result = {"objective": 10.0 * epoch if status == "ok" else 1e9, "epoch": epoch,
                      "training_iteration": epoch, "status": status}
            if epoch < epochs:  # Tune passes the result that stops a trial to on_trial_complete
                searcher.on_trial_result(trial_id, result)
        searcher.on_trial_complete(trial_id, result)
    trials = optuna.load_study(study_name="t", storage=f"sqlite:///{db}").trials
    assert [t.state.name for t in trials] == ["PRUNED", "COMPLETE", "COMPLETE"]
    assert trials[0].intermediate_values == {1: 10.0, 2: 20.0} and trials[0].value == 20.0
    assert trials[1].value == 30.0 and trials[2].value == 1e9
