"""The Ray Tune function trainable: gan.train with a callback that reports to Tune."""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from ray import tune

from gan.checkpoint import load_checkpoint, save_checkpoint
from gan.config import GANConfig
from gan.train import Callback, TrainState, train
from gan.train.loop import STATUS_OK
from gan.train.callbacks import CHECKPOINT_FILE, MetricsWriter, SampleGrids
from study.space import trial_config

log = logging.getLogger(__name__)

OBJECTIVE_KEY = "objective"
# What a diverged trial (or one with no finite score yet) reports as the search objective.
# It is the worst possible value in the search's direction, kept out of the real metric
# columns, which stay NaN with status "diverged".
PENALTY = {"min": 1e9, "max": -1e9}
REPORTED = ("d_loss", "g_loss", "d_real", "d_fake", "js_estimate", "g_grad_norm", "g_grad_fc0",
            "d_grad_norm", "diversity", "fcd", "modes", "class_kl", "inception_score", "density",
            "coverage", "epoch", "step", "epoch_seconds")


def objective_value(record: dict[str, Any], objective: str, mode: str) -> tuple[float, bool]:
    """(finite objective for the searcher, whether it was penalised)."""
    value = record.get(objective, math.nan)
    ok = record.get("status") == STATUS_OK and isinstance(value, (int, float)) and math.isfinite(value)
    return (float(value), False) if ok else (PENALTY[mode], True)


class TuneReporter(Callback):
    """Reports every epoch to Tune; checkpoints every ``every`` epochs and at the end."""

    def __init__(self, objective: str, mode: str, every: int) -> None:
        self.objective, self.mode, self.every = objective, mode, every

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        metrics: dict[str, Any] = {k: float(record[k]) for k in REPORTED if k in record}
        for key in ("epoch", "step", "modes"):
            if key in metrics and math.isfinite(metrics[key]):
                metrics[key] = int(metrics[key])
        metrics["status"] = record["status"]
        metrics["eval_status"] = record.get("eval_status", "not_run")
        metrics[OBJECTIVE_KEY], metrics["objective_penalized"] = objective_value(
            record, self.objective, self.mode)
        last = state.epoch >= state.config.n_epochs or state.status != STATUS_OK
        if last or state.epoch % self.every == 0:
            with tempfile.TemporaryDirectory() as tmp:
                save_checkpoint(state, Path(tmp) / CHECKPOINT_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(tmp))
        else:
            tune.report(metrics)
        if state.status != STATUS_OK:
            state.request_stop()  # a diverged trial ends here, cleanly, with a finite objective


def make_trainable(base: GANConfig, *, study_seed: int, objective: str, mode: str,
                   checkpoint_every: int, threads: int) -> Callable[[dict[str, Any]], None]:
    """A closure over the study settings; Tune calls it with Optuna's proposal."""

    def gan_trial(params: dict[str, Any]) -> None:
        torch.set_num_threads(max(1, threads))
        config = trial_config(base, params, study_seed)
        trial_dir = Path(tune.get_context().get_trial_dir())
        checkpoint = None
        tune_ckpt = tune.get_checkpoint()
        if tune_ckpt is not None:
            with tune_ckpt.as_directory() as ckpt_dir:
                checkpoint = load_checkpoint(Path(ckpt_dir) / CHECKPOINT_FILE)
        callbacks = [MetricsWriter(trial_dir), SampleGrids(trial_dir),
                     TuneReporter(objective, mode, checkpoint_every)]
        train(config, callbacks, checkpoint=checkpoint)

    return gan_trial
