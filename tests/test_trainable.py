"""study.trainable.resume_point: a trial resumes from its newest complete checkpoint."""

import dataclasses

from ray import tune

from conftest import tiny_config
from gan.train.state import Callback
from gan.train.loop import train
from gan.train.checkpoint import save_checkpoint
from study.trainable import resume_point
from study.trial_checkpoints import TrialCheckpoints


def test_resume_point_prefers_the_newest_complete_checkpoint_on_disk(tmp_path, synthetic):
    config = tiny_config(n_epochs=3)
    trial = tmp_path / "trial_x"

    class EveryEpoch(Callback):  # what the trial's TuneReporter leaves in its folder
        def on_epoch_end(self, state, record):
            if state.epoch < 3:
                save_checkpoint(state, trial / f"checkpoint_00000{state.epoch}" / "checkpoint.pt")

    train(config, [EveryEpoch()], data=synthetic)
    (trial / "checkpoint_000003").mkdir()
    (trial / "checkpoint_000003" / "checkpoint.pt").write_bytes(b"cut short by a kill")
    # Tune's saved state (older than the folder) names checkpoint 1:
    tune_ckpt = tune.Checkpoint.from_directory(str(trial / "checkpoint_000001"))
    ckpt = resume_point(trial, tune_ckpt, config)
    assert ckpt["epoch"] == 2 and len(ckpt["history"]) == 2
    # A checkpoint of another config (another trial's folder, say) is never taken.
    other = dataclasses.replace(config, lr=1e-3)
    assert resume_point(trial, tune_ckpt, other)["epoch"] == 1
    assert resume_point(trial, None, other) is None
    assert resume_point(tmp_path / "empty", None, config) is None


def test_checkpoint_gaps_get_placeholders_that_never_load(tmp_path, synthetic):
    from gan.records import layout
    from study.runner import fill_checkpoint_gaps

    config = tiny_config(n_epochs=1)
    trial = tmp_path / layout.RAY_DIR / "trial_abc"
    state = train(config, data=synthetic)
    for index in (3, 4):  # Tune rotated 0, 1 and 2 away; its stale state may still name them
        save_checkpoint(state, trial / f"checkpoint_00000{index}" / "checkpoint.pt")
    assert fill_checkpoint_gaps(tmp_path) == 3
    assert sorted(p.name for p in trial.glob("checkpoint_*")) == \
        [f"checkpoint_00000{i}" for i in range(5)]
    assert [p.parent.name for p in layout.trial_checkpoints(trial)] == \
        ["checkpoint_000003", "checkpoint_000004"]
    assert fill_checkpoint_gaps(tmp_path) == 0
    # Tune restoring from a placeholder: the trial takes its newest real checkpoint instead.
    placeholder = tune.Checkpoint.from_directory(str(trial / "checkpoint_000001"))
    assert resume_point(trial, placeholder, config)["epoch"] == 1


def test_a_trial_resumed_at_its_end_reports_its_last_epoch_again(synthetic, monkeypatch):
    """Resumed from its final checkpoint, the loop trains nothing: without this report Tune
    and Optuna would end the trial at an older result, as if the scheduler had stopped it."""
    import study.trainable as trainable
    from gan.train.checkpoint import checkpoint_dict

    reports = []
    monkeypatch.setattr(trainable.tune, "report",
                        lambda metrics, checkpoint=None: reports.append((metrics, checkpoint)))
    config = tiny_config(n_epochs=2)
    done = checkpoint_dict(train(config, data=synthetic))
    checkpoints = TrialCheckpoints(frozenset())
    train(config, [checkpoints, trainable.TuneReporter(checkpoints)], data=synthetic,
          checkpoint=done)
    assert len(reports) == 1
    metrics, checkpoint = reports[0]
    assert metrics["epoch"] == 2 and checkpoint is not None
    reports.clear()
    checkpoints = TrialCheckpoints(frozenset())
    train(config, [checkpoints, trainable.TuneReporter(checkpoints)], data=synthetic)  # fresh
    assert [m["epoch"] for m, _ in reports] == [1, 2]
    assert [c is not None for _, c in reports] == [False, True]  # short epochs: at the end
    assert all(m["checkpoint_seconds"] >= 0 for m, _ in reports)


def test_worker_exit_during_garbage_collection_is_not_reported(monkeypatch, capsys):
    """Ray's SIGTERM handler raises SystemExit; inside a finalizer it is 'unraisable'. It is
    not reported; any other unraisable exception still is."""
    import gc
    import sys

    from study.trainable import quiet_worker_exit

    class Raises:
        def __init__(self, exc):
            self.exc = exc

        def __del__(self):
            raise self.exc

    monkeypatch.setattr(sys, "unraisablehook", quiet_worker_exit)
    Raises(SystemExit(1))
    gc.collect()
    assert "SystemExit" not in capsys.readouterr().err
    Raises(ValueError("a real problem"))
    gc.collect()
    assert "a real problem" in capsys.readouterr().err
