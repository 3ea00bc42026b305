"""The Ray Tune function trainable: gan.train with callbacks that record and report to Tune.

A trial's record is built once: the loop's epoch record, tagged with the search
objective and node by :class:`RecordTags`, is written to ``metrics.csv`` (the study's
history is built from these files) and reported whole to Tune.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import ray
import torch
from ray import tune

from gan.records.atomic import write_text
from gan.train.checkpoint import load_checkpoint
from gan.config import EXECUTION_SETTINGS, GANConfig
from gan.metrics.classifier import DigitClassifier
from gan.data import DataSplit, load_data
from gan.metrics.quality import QualityEvaluator
from gan.census.ranking import trailing_mean
from gan.train.runtime import resolve_device
from gan.records.layout import CHECKPOINT_FILE, PHASE_SEARCH, TRIAL_FILE, trial_checkpoints, trial_dirname
from gan.train.state import STATUS_OK, Callback, TrainState
from gan.train.loop import train
from gan.train.callbacks import GeneratorSnapshots, MetricsWriter, SampleGrids
from study.space import split_trial_params, trial_config
from study.storage import is_uri, mirror, uri_join
from study.trial_checkpoints import TrialCheckpoints

log = logging.getLogger(__name__)

OBJECTIVE_KEY = "objective"
RUN_KEY = "run"  # race and control runs arrive as {"run": {params...}} (a grid over configs)
# What a diverged trial (or one with no finite score yet) reports as the search objective.
# It is the worst possible value in the search's direction, kept out of the real metric
# columns, which stay NaN with status "diverged".
PENALTY = {"min": 1e9, "max": -1e9}


def objective_value(record: dict[str, Any], objective: str, mode: str,
                    earlier: list[dict[str, Any]] = ()) -> tuple[float, bool]:
    """(finite objective for the searcher, whether it was penalised).

    The objective is the ranking signal (:func:`gan.census.ranking.trailing_mean`): the mean of the
    objective metric over this record and the ones before it, up to ``RANK_WINDOW``
    evaluations. ``earlier``: the run's previous epoch records, oldest first.
    """
    value = record.get(objective, math.nan)
    ok = record.get("status") == STATUS_OK and isinstance(value, (int, float)) \
        and math.isfinite(value)
    if not ok:
        return PENALTY[mode], True
    return trailing_mean([r.get(objective, math.nan) for r in earlier] + [value]), False


class RecordTags(Callback):
    """Adds ``objective`` (the ranking signal), ``objective_penalized`` and the Ray
    ``node_id`` to each epoch record (runs first, so the file and Tune get the same record)."""

    def __init__(self, objective: str, mode: str) -> None:
        self.objective, self.mode = objective, mode
        self.node_id = ray.get_runtime_context().get_node_id()

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        # The loop appends the record to the history before the callbacks run.
        earlier = state.history[:-1] if state.history and state.history[-1] is record \
            else state.history
        record[OBJECTIVE_KEY], record["objective_penalized"] = objective_value(
            record, self.objective, self.mode, earlier)
        record["node_id"] = self.node_id


def tune_metrics(record: dict[str, Any]) -> dict[str, Any]:
    """The epoch record as Tune metrics: every key, ints where the value is a count."""
    metrics = dict(record)
    for key in ("epoch", "step", "modes"):
        value = metrics.get(key)
        if isinstance(value, float) and math.isfinite(value):
            metrics[key] = int(value)
    return metrics


class TuneReporter(Callback):
    """Reports every epoch to Tune, with the checkpoint ``checkpoints`` wrote at that epoch
    end, if any (study.trial_checkpoints decides when)."""

    def __init__(self, checkpoints: TrialCheckpoints) -> None:
        self.checkpoints = checkpoints

    def on_train_start(self, state: TrainState) -> None:
        # Resumed from a checkpoint the trial wrote at its very end (study.trainable's
        # resume_point can find one newer than Tune's saved state): the loop trains nothing,
        # so report that last epoch again, or Tune and Optuna would end the trial at an older
        # result (as if stopped early).
        if state.finished and state.history:
            self.checkpoints.write(state)
            self.on_epoch_end(state, state.history[-1])

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        metrics, folder = tune_metrics(record), self.checkpoints.take()
        if folder is None:
            tune.report(metrics)
        else:
            started = time.monotonic()
            try:
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(folder)))
            finally:
                self.checkpoints.done(time.monotonic() - started)
        if state.status != STATUS_OK:
            state.request_stop()  # a diverged trial ends here, cleanly, with a finite objective


@dataclass(frozen=True)
class TrialInputs:
    """What the driver ships to every trial once, through Ray's object store: the dataset and
    the evaluator classifier, so that trials on every node train on the same tensors and are
    scored by the same network (each record carries its ``classifier_id``)."""

    data: DataSplit
    classifier: DigitClassifier


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of a study shares besides its proposed parameters."""

    base: GANConfig
    study_seed: int
    objective: str
    mode: str
    checkpoint_epochs: frozenset[int]
    threads: int
    # The Tune experiment: a folder, trial folders trial_<id> in it; or a --storage URI, where
    # each trial writes into its own working directory and Tune uploads it there.
    experiment: str
    verbose: bool = False  # -v: keep Ray's per-checkpoint log lines
    phase: str = PHASE_SEARCH  # what the design's own trials are (gan.records.layout.DESIGN_PHASES)
    paired: bool = False  # a paired atlas: every loss at a point shares its seed


# Ray logs one INFO line per persisted checkpoint from every trial; without -v they would
# drown the one line per finished trial (study.progress).
RAY_CHECKPOINT_LOGGER = "ray.train._internal.storage"


def write_trial_file(trial_dir: Path, trial_id: str, params: dict[str, Any],
                     config: GANConfig, phase: str = PHASE_SEARCH) -> None:
    """``trial.json``: what the trial is (phase, parameters, the config it trains); ``phase``
    for a trial whose parameters do not name one (the design's own trials)."""
    search, meta = split_trial_params(params)
    record = {"trial_id": trial_id, "phase": meta.get("phase", phase),
              "replicate": meta.get("replicate", 0), "race_round": meta.get("race_round", 0),
              "stage": meta.get("stage", ""), "params": search,
              "config": config.to_dict()}
    trial_dir.mkdir(parents=True, exist_ok=True)
    write_text(trial_dir / TRIAL_FILE, json.dumps(record, indent=2, sort_keys=True))




def _same_run(ckpt: dict[str, Any], config: GANConfig) -> bool:
    saved = {k: v for k, v in ckpt.get("config", {}).items() if k not in EXECUTION_SETTINGS}
    return saved == {k: v for k, v in config.to_dict().items() if k not in EXECUTION_SETTINGS}


def resume_point(trial_dir: Path, tune_ckpt: Any, config: GANConfig) -> dict[str, Any] | None:
    """The newest complete checkpoint of this trial: the newest in its folder, else Tune's.

    Tune persists its checkpoints into the trial folder, so the folder's newest one is never
    older than Tune's; after a hard kill of the driver it is often newer, since Tune's saved
    experiment state can lag the folder. The trial resumes from the newest one that loads and
    belongs to this config (a folder cut short by the kill does not load and is skipped, an
    empty placeholder from runner.fill_checkpoint_gaps holds no file), so finished epochs
    are not trained again. Tune's checkpoint is loaded only when the folder has none.
    """
    for path in reversed(trial_checkpoints(trial_dir)):
        try:
            ckpt = load_checkpoint(path)
        except ValueError:
            log.warning("skipping incomplete checkpoint %s", path)
            continue
        if _same_run(ckpt, config):
            log.info("resuming from %s (epoch %d)", path, ckpt["epoch"])
            return ckpt
        break
    if tune_ckpt is None:
        return None
    try:
        with tune_ckpt.as_directory() as ckpt_dir:
            return load_checkpoint(Path(ckpt_dir) / CHECKPOINT_FILE)
    except (OSError, ValueError) as err:  # a placeholder (runner.fill_checkpoint_gaps)
        log.warning("Tune's checkpoint does not load (%s); starting the trial afresh", err)
        return None


def _trial_dir(settings: TrialSettings, trial_id: str) -> Path:
    """Where the trial writes its files. Never context.get_trial_dir(): in Ray 2.60 a reused
    actor's context can name a folder of the previous trial, not this trial's."""
    name = trial_dirname(trial_id)
    if not is_uri(settings.experiment):
        return Path(settings.experiment) / name
    # Under a storage URI, Tune moves each trial into its own working directory (named by
    # our trial_dirname_creator) and uploads what is written there.
    if Path.cwd().name != name:
        raise RuntimeError(f"trial {trial_id} runs in {str(Path.cwd())!r}, not its working "
                           f"directory {name!r}; is RAY_CHDIR_TO_TRIAL_DIR=0 set?")
    return Path.cwd()


def quiet_worker_exit(unraisable: Any) -> None:
    """``sys.unraisablehook`` of a trial worker: Ray ends a worker with SIGTERM, whose handler
    raises SystemExit; raised inside a garbage-collection callback, Python reports it as an
    'Exception ignored' traceback. That is the worker's ordinary end, not an error; every
    other unraisable exception is reported as usual."""
    if isinstance(unraisable.exc_value, SystemExit):
        return
    sys.__unraisablehook__(unraisable)


def make_trainable(settings: TrialSettings) -> Callable[..., None]:
    """A function trainable; Tune calls it with Optuna's proposal (or a race run's)."""

    def gan_trial(params: dict[str, Any], data: DataSplit | None = None,
                  classifier: DigitClassifier | None = None) -> None:
        torch.set_num_threads(max(1, settings.threads))
        sys.unraisablehook = quiet_worker_exit
        if not settings.verbose:
            logging.getLogger(RAY_CHECKPOINT_LOGGER).setLevel(logging.WARNING)
        params = params.get(RUN_KEY, params)
        config = trial_config(settings.base, params, settings.study_seed, settings.paired)
        context = tune.get_context()
        trial_dir = _trial_dir(settings, context.get_trial_id())
        tune_ckpt = tune.get_checkpoint()
        if tune_ckpt is not None and is_uri(settings.experiment):
            # Resumed, maybe on another node, in an empty working directory: fetch what the
            # trial wrote before (step log, grids, snapshots), or the upload would replace it.
            mirror(uri_join(settings.experiment, trial_dir.name), trial_dir)
        write_trial_file(trial_dir, context.get_trial_id(), params, config, settings.phase)
        checkpoint = resume_point(trial_dir, tune_ckpt, config)
        snapshots = frozenset(split_trial_params(params)[1].get("snapshot_epochs", ()))
        checkpoints = TrialCheckpoints(settings.checkpoint_epochs)
        callbacks = [RecordTags(settings.objective, settings.mode), checkpoints,
                     MetricsWriter(trial_dir), SampleGrids(trial_dir),
                     GeneratorSnapshots(trial_dir, snapshots),
                     TuneReporter(checkpoints)]  # last: it may end the trial
        data = data if data is not None else load_data(config)
        evaluator = QualityEvaluator.for_data(data, config, resolve_device(config.device),
                                              classifier) if config.eval_interval > 0 else None
        train(config, callbacks, data=data, checkpoint=checkpoint, evaluator=evaluator)

    return gan_trial


def trial_dirname_creator(trial: Any) -> str:
    """Tune's hook: name trial folders through gan.records.layout, never by Ray's default."""
    return trial_dirname(trial.trial_id)


__all__ = ["OBJECTIVE_KEY", "TrialInputs", "TrialSettings", "make_trainable",
           "objective_value", "trial_dirname_creator"]
