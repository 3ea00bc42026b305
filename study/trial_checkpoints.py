"""When a study trial checkpoints, and what it costs.

A trial checkpoints at every scheduler milestone (so that a trial the scheduler
stops leaves its last generator), every ``checkpoint_interval`` epochs, at its end,
and whenever waiting for the next epoch end would leave more than
:data:`CHECKPOINT_SECONDS` of its work unsaved. A kill at any moment then loses at
most that much of a trial's training, or its last unfinished epoch when an epoch
takes longer (judged by the epoch just ended: epochs of one trial take about the same
time).

The time each checkpoint takes is measured and goes into the trial's epoch records as
``checkpoint_seconds``: the local write in the record of the epoch it follows, Tune's
copy into the trial folder in the next one (the copy after a trial's last epoch is
the one not counted). ``gan.records.timing`` sums it into ``timing.json``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gan.train.checkpoint import save_checkpoint
from gan.records.layout import CHECKPOINT_FILE
from gan.train.state import Callback, TrainState

CHECKPOINT_SECONDS = 60.0  # the most training a kill may cost a trial (or one epoch)


class TrialCheckpoints(Callback):
    """Decides at each epoch end whether to checkpoint, writes it to a temporary folder for
    the reporter to hand to Tune (:meth:`take`), and times it.

    Runs before the metrics writer, so that the record it times is the one written.
    """

    def __init__(self, epochs: frozenset[int], seconds: float = CHECKPOINT_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if seconds <= 0:
            raise ValueError(f"checkpoint seconds must be > 0, got {seconds}")
        self.epochs, self.seconds, self.clock = epochs, seconds, clock
        self.saved_at = self.epoch_started = clock()
        self.ready: Path | None = None
        self.pending = 0.0  # checkpoint time not yet in a record (Tune's copy)

    def on_train_start(self, state: TrainState) -> None:
        self.saved_at = self.epoch_started = self.clock()

    def due(self, state: TrainState, now: float) -> bool:
        """A milestone, the end, or the next epoch would leave too much unsaved."""
        epoch = now - self.epoch_started
        return state.finished or state.epoch in self.epochs \
            or (now - self.saved_at) + epoch > self.seconds

    def write(self, state: TrainState) -> float:
        """Write a checkpoint for the reporter; the seconds it took."""
        started = self.clock()
        self.ready = Path(tempfile.mkdtemp(prefix="gan-checkpoint-"))
        save_checkpoint(state, self.ready / CHECKPOINT_FILE)
        self.saved_at = self.clock()
        return self.saved_at - started

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        spent, self.pending = self.pending, 0.0
        if self.due(state, self.clock()):
            spent += self.write(state)
        record["checkpoint_seconds"] = spent
        self.epoch_started = self.clock()

    def take(self) -> Path | None:
        """The checkpoint folder written at this epoch end (None if none); the caller hands
        it to Tune and then :meth:`done` removes it."""
        return self.ready

    def done(self, seconds: float) -> None:
        """Tune has copied the checkpoint (in ``seconds``): remove the temporary folder."""
        if self.ready is not None:
            shutil.rmtree(self.ready, ignore_errors=True)
        self.ready, self.pending = None, self.pending + seconds
