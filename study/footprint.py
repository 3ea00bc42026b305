"""What a trial keeps once its experiment has ended: its record and its last generator.

A running trial keeps Tune's two newest full checkpoints (G, D, both optimizers, RNG), about
23 MB each, so that a kill never leaves it without one that loads. Once its experiment has
ended, nothing resumes the trial, and the report reads its metrics, step log, sample grids
and probe snapshots, not its checkpoints. So its newest checkpoint is rewritten without D,
the optimizers or the RNG (about 6 MB: what ``gan.metrics.evaluate`` and the probe's retraining
need), and the older ones are emptied (their folders stay, for Tune's bookkeeping). A trial
that errored keeps everything: ``--resume`` retries it from its checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from gan.records import layout
from gan.records.atomic import replace_with
from gan.train.checkpoint import SLIM_KEYS, load_checkpoint

log = logging.getLogger(__name__)


def slim_trial(trial_dir: Path) -> int:
    """Slim one ended trial's checkpoints; the bytes freed."""
    checkpoints = layout.trial_checkpoints(trial_dir)
    freed = 0
    for older in checkpoints[:-1]:
        freed += older.stat().st_size
        older.unlink()
    if checkpoints:
        newest = checkpoints[-1]
        try:
            ckpt = load_checkpoint(newest)
        except ValueError as err:  # cut short by a kill: nothing to keep of it
            log.warning("not slimming %s: %s", newest, err)
            return freed
        if not ckpt.get("slim"):
            before = newest.stat().st_size
            slim = {**{k: ckpt[k] for k in SLIM_KEYS if k in ckpt}, "slim": True}
            replace_with(newest, lambda tmp: torch.save(slim, tmp))
            freed += before - newest.stat().st_size
    return freed


def slim_experiment(study_dir: Path, experiment: str, errored: set[str]) -> int:
    """Slim every trial of an ended experiment but the errored ones; the bytes freed."""
    root = Path(study_dir) / experiment
    freed = 0
    for trial_id, folder in layout.trial_dirs(study_dir).items():
        if folder.parent == root and trial_id not in errored:
            freed += slim_trial(folder)
    if freed:
        log.info("%s ended: its trials keep their record and last generator (%.0f MB freed)",
                 experiment, freed / 2**20)
    return freed
