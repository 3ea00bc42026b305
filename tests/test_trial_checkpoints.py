"""When a study trial checkpoints: a kill loses at most CHECKPOINT_SECONDS of its training or
its last unfinished epoch, whichever is more; each checkpoint's time lands in the records."""

import math

import numpy as np
import pytest

from study.trial_checkpoints import TrialCheckpoints


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _State:
    def __init__(self):
        self.epoch, self.finished = 0, False


def _run(epoch_seconds, milestones=frozenset(), seconds=60.0, write_seconds=0.0):
    """Epoch ends at which the trial checkpointed, and the most work a kill could lose."""
    clock, state = _Clock(), _State()
    checkpoints = TrialCheckpoints(milestones, seconds, clock)
    saved, at_risk, last_saved = [], 0.0, 0.0
    checkpoints.write = lambda s: (clock.__setattr__("now", clock.now + write_seconds),
                                   checkpoints.__setattr__("saved_at", clock.now),
                                   write_seconds)[-1]
    checkpoints.on_train_start(state)
    for k, seconds_k in enumerate(epoch_seconds, start=1):
        clock.now += seconds_k
        at_risk = max(at_risk, clock.now - last_saved)  # a kill just before this epoch end
        state.epoch, state.finished = k, k == len(epoch_seconds)
        record = {}
        checkpoints.on_epoch_end(state, record)
        if checkpoints.saved_at == clock.now:
            saved.append(k)
            last_saved = clock.now
        assert record["checkpoint_seconds"] == (write_seconds if saved[-1:] == [k] else 0.0)
    return saved, at_risk


@pytest.mark.parametrize("epoch", [2.0, 7.0, 25.0, 59.0, 61.0, 150.0])
def test_a_kill_loses_at_most_60_s_or_one_epoch(epoch):
    saved, at_risk = _run([epoch] * 40)
    assert at_risk <= max(60.0, epoch) + 1e-9
    assert saved[-1] == 40  # and the end
    # as few as that allows: one per whole number of epochs that fits in 60 s
    assert len(saved) <= math.ceil(40 / max(1, 60 // epoch)) + 1


def test_jittered_epochs_and_milestones():
    rng = np.random.default_rng(0)
    epochs = rng.uniform(4.5, 5.5, 200)
    saved, at_risk = _run(epochs, milestones=frozenset({3, 9, 27}))
    assert {3, 9, 27} <= set(saved) and at_risk <= 60.0 + 1.0  # within one epoch's jitter
    with pytest.raises(ValueError, match="checkpoint seconds"):
        TrialCheckpoints(frozenset(), 0)


def test_a_real_checkpoint_is_written_timed_and_removed_after_tune_copies_it(tmp_path):
    from conftest import tiny_config
    from gan.train.loop import train
    from gan.train.checkpoint import load_checkpoint
    from gan.records.layout import CHECKPOINT_FILE

    state = train(tiny_config(n_epochs=1))
    checkpoints = TrialCheckpoints(frozenset({1}))
    record = {}
    checkpoints.on_epoch_end(state, record)
    folder = checkpoints.take()
    assert record["checkpoint_seconds"] > 0
    assert load_checkpoint(folder / CHECKPOINT_FILE)["epoch"] == 1
    checkpoints.done(0.25)  # Tune's copy took 0.25 s: it goes into the next record
    assert not folder.exists() and checkpoints.take() is None
    later = _State()
    later.epoch = 2
    nxt = {}
    checkpoints.on_epoch_end(later, nxt)
    assert nxt["checkpoint_seconds"] == pytest.approx(0.25)
