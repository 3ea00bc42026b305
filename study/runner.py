"""Orchestration of one study: the Tuner (new or restored), and the outputs after it.

Starting or joining Ray is :mod:`study.cluster`'s job."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from ray import tune
from ray.tune.schedulers import FIFOScheduler
from ray.tune.search import ConcurrencyLimiter

from gan.census.census import STOP_COLUMN
from gan.census.stop_rules import stop_windows
from gan.records.history import final_rows
from gan.records import layout
from gan.config import GANConfig
from gan.records.history import StudyLoadError
from gan.records.run_record import RunRecord, StudySettings
from gan.train.state import STATUS_OK
from study import cluster, footprint, outputs, storage
from study.progress import TrialLines
from study.failure_stop import FailureStopper, stamp_trials
from study.faults import StorageFaultCallback, TuneStateBackup, repair_tune_state
from study.search import BalancedSobolSampler, ResumableOptunaSearch
from study.survey import SurveyAwareASHA, survey_points
from study.space import (BALANCED_PARAM, atlas_space, optuna_space,
                         gan_py_point)
from study.trainable import (OBJECTIVE_KEY, TrialInputs, TrialSettings, make_trainable,
                             trial_dirname_creator)

log = logging.getLogger(__name__)

CHECKPOINTS_KEPT = 2  # the newest (resume, last generator) and the one before it
# Trial workers are reused: Python, torch, the shipped data and classifier load once per
# worker, not once per trial (docs/performance.md measures what that saves). Safe
# because the trainable names its folder from gan.records.layout and the trial id: in Ray 2.60 a
# reused actor's tune.get_context().get_trial_dir() still names a scratch folder of the
# previous trial, which once made a second trial overwrite the first one's files.
REUSE_ACTORS = True


def storage_url(settings: StudySettings) -> str:
    return f"sqlite:///{(settings.study_dir / layout.OPTUNA_DB).resolve()}"


def tune_storage(settings: StudySettings) -> str:
    """Where Tune keeps the study's experiments (each is ``<this>/<experiment>``)."""
    if settings.storage:
        return storage.uri_join(settings.storage, settings.study_dir.name)
    return str(settings.study_dir.resolve())


def experiment_location(settings: StudySettings, experiment: str) -> str:
    """One experiment's folder or URI: what Tune restores from."""
    if settings.storage:
        return storage.uri_join(tune_storage(settings), experiment)
    return str((settings.study_dir / experiment).resolve())


def mirror_trials(settings: StudySettings, experiment: str) -> None:
    """With a --storage URI, copy the experiment's trial folders (no checkpoints) into the
    local study folder, where the history and the report read them."""
    if settings.storage:
        storage.mirror(experiment_location(settings, experiment),
                       settings.study_dir / experiment)


def _optuna_search(settings: StudySettings, study_name: str, max_epochs: int) -> Any:
    storage = optuna.storages.RDBStorage(storage_url(settings))
    # A sampler passed in ignores OptunaSearch's seed: seed the sampler itself.
    if settings.design == "atlas":
        space = atlas_space(settings.space, settings.losses)
        sampler: Any = BalancedSobolSampler(space, BALANCED_PARAM, seed=settings.seed,
                                            paired=settings.paired)
        points = None
    else:
        space = optuna_space(settings.space)
        # The survey's points come first after gan.py's defaults: with 10 or more of them,
        # they are all of TPE's startup trials.
        sampler, points = optuna.samplers.TPESampler(seed=settings.seed), \
            [gan_py_point(settings.space)]
    survey = survey_points(space, settings.survey_points, settings.seed) \
        if settings.design == "search" else []
    return ResumableOptunaSearch(
        space=space, metric=OBJECTIVE_KEY, mode=settings.mode, points_to_evaluate=points,
        survey=survey,
        sampler=sampler, study_name=study_name, storage=storage, max_epochs=max_epochs,
        failure_stops=settings.study_dir / layout.FAILURE_STOPS if settings.failure_stop
        else None)


def asha_milestones(settings: StudySettings, max_epochs: int) -> list[int]:
    """The epochs at which ASHA compares trials (and may stop them), as Ray computes them."""
    if settings.scheduler != "asha" or settings.grace_period >= max_epochs:
        return []
    rungs = int(math.log(max_epochs / settings.grace_period)
                / math.log(settings.reduction_factor) + 1)
    return sorted({math.ceil(settings.grace_period * settings.reduction_factor ** k)
                   for k in range(rungs)})


def checkpoint_epochs(settings: StudySettings, max_epochs: int) -> frozenset[int]:
    """Where trials checkpoint besides their end: every scheduler milestone, so that a trial
    the scheduler stops leaves its last generator, and every ``checkpoint_interval``."""
    every = range(settings.checkpoint_interval, max_epochs + 1, settings.checkpoint_interval)
    return frozenset(asha_milestones(settings, max_epochs)) | frozenset(every)


def _scheduler(settings: StudySettings, max_epochs: int) -> Any:
    if settings.scheduler == "fifo":
        return FIFOScheduler()
    # The trial's own epoch, not Tune's iteration count: a trial resumed from a checkpoint
    # newer than Tune's saved state (study.trainable.resume_point) skips iterations.
    return SurveyAwareASHA(time_attr="epoch", max_t=max_epochs,
                         grace_period=settings.grace_period,
                         reduction_factor=settings.reduction_factor)


def build_trainable(base: GANConfig, settings: StudySettings, inputs: TrialInputs,
                    experiment: str = layout.RAY_DIR) -> Any:
    trial = TrialSettings(base=base, study_seed=settings.seed, objective=settings.objective,
                          mode=settings.mode,
                          checkpoint_epochs=checkpoint_epochs(settings, base.n_epochs),
                          threads=max(1, int(settings.cpus_per_trial)),
                          experiment=experiment_location(settings, experiment),
                          verbose=logging.getLogger().isEnabledFor(logging.DEBUG),
                          phase=layout.DESIGN_PHASES[settings.design], paired=settings.paired)
    # with_parameters puts the data and the classifier in Ray's object store once: every
    # trial, on every node, trains on the same tensors and is scored by the same network.
    fn = tune.with_parameters(make_trainable(trial), data=inputs.data.to("cpu"),
                              classifier=inputs.classifier.to("cpu"))
    return tune.with_resources(fn, {"cpu": settings.cpus_per_trial,
                                    "gpu": settings.gpus_per_trial})


def run_config(settings: StudySettings, experiment: str, total: int, base: GANConfig) -> Any:
    """Where and how Tune keeps an experiment; ``total`` trials for the progress lines."""
    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    stopper = FailureStopper(settings.study_dir, base.loss, stop_windows(base.model)) \
        if settings.failure_stop else None
    return tune.RunConfig(
        stop=stopper,
        name=experiment, storage_path=tune_storage(settings),
        sync_config=tune.SyncConfig(sync_artifacts=bool(settings.storage)),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT),
        failure_config=tune.FailureConfig(max_failures=1), verbose=1 if verbose else 0,
        callbacks=[TrialLines(settings.objective, total), StorageFaultCallback()] + (
            [] if settings.storage else [
            TuneStateBackup(settings.study_dir / experiment)]))


def search_limit(settings: StudySettings) -> int:
    """How many search trials may be live (running or proposed) at once.

    The search is always limited: with a searcher, Tune keeps as many trials pending as the
    limit (one without it). By default the limit is the trials the cluster holds at once plus
    one, so every slot starts at once, and one proposed trial waits for the next free slot,
    which then refills without waiting for Optuna's next proposal. Measured: on one GPU
    shared four ways, 10-epoch trials ran 1.3 at a time on average without the limit; on the
    2-core default, a limit of 2 (no spare) left cores idle 54 s against 33 s.
    """
    if settings.max_concurrent > 0:
        return settings.max_concurrent
    return cluster.cluster_slots(settings.cpus_per_trial, settings.gpus_per_trial) + 1


def new_tuner(base: GANConfig, settings: StudySettings, inputs: TrialInputs) -> Any:
    search = _optuna_search(settings, study_name=settings.study_dir.name,
                            max_epochs=base.n_epochs)
    search = ConcurrencyLimiter(search, max_concurrent=search_limit(settings))
    return tune.Tuner(
        build_trainable(base, settings, inputs),
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE_KEY, mode=settings.mode, search_alg=search,
            scheduler=_scheduler(settings, base.n_epochs), num_samples=settings.num_samples,
            trial_dirname_creator=trial_dirname_creator, reuse_actors=REUSE_ACTORS),
        run_config=run_config(settings, layout.RAY_DIR, settings.num_samples, base),
    )


def fill_checkpoint_gaps(study_dir: Path) -> int:
    """Empty placeholders for the checkpoint folders Tune already rotated away; how many.

    After a hard kill, Tune's saved experiment state can be older than the trial folders:
    its list of kept checkpoints names folders that later checkpoints already deleted.
    Restored, Tune would delete them again and log an ERROR traceback (skipping its own
    bookkeeping of the new checkpoint), or fail to restore a trial from one. A placeholder
    holds no checkpoint file, so nothing loads it (``gan.records.layout.trial_checkpoints`` and
    ``study.trainable.resume_point`` need the file), and Tune's rotation removes it.
    """
    gaps = [gap for trial_dir in layout.trial_dirs(study_dir).values()
            for gap in layout.checkpoint_gaps(trial_dir)]
    for gap in gaps:
        gap.mkdir()
    return len(gaps)


def restored_tuner(base: GANConfig, settings: StudySettings, inputs: TrialInputs,
                   experiment: str = layout.RAY_DIR) -> Any:
    path = experiment_location(settings, experiment)
    # Tune's checkpoints live in the storage under a URI; the gaps are a local folder's.
    filled = 0 if settings.storage else fill_checkpoint_gaps(settings.study_dir)
    if filled:
        log.info("made %d placeholders for checkpoint folders rotated away after Tune last "
                 "saved its state", filled)
    repaired = [] if settings.storage else repair_tune_state(settings.study_dir / experiment)
    if repaired:
        log.warning("Tune's state %s was damaged (a write that failed); restored its last "
                    "readable copy, the damaged file kept as <name>.damaged", ", ".join(repaired))
    return tune.Tuner.restore(path, trainable=build_trainable(base, settings, inputs,
                                                              experiment),
                              resume_unfinished=True, resume_errored=True)


def _restorable(location: str, local: Path | None) -> bool:
    """Whether Tune can restore the experiment at ``location``; ``local``: its folder when it
    is one (which must exist first)."""
    return (local is None or local.is_dir()) and tune.Tuner.can_restore(location)


def experiment_restorable(settings: StudySettings, experiment: str) -> bool:
    local = None if settings.storage else settings.study_dir / experiment
    return _restorable(experiment_location(settings, experiment), local)


def can_resume(study_dir: Path) -> bool:
    try:
        settings = load_run_record(study_dir)[1]
    except ValueError:  # no record, or a corrupt one: the folder decides (loading says why)
        path = study_dir / layout.RAY_DIR
        return _restorable(str(path.resolve()), path)
    return experiment_restorable(settings, layout.RAY_DIR)


def save_run_record(base: GANConfig, settings: StudySettings, argv: list[str] | None) -> None:
    """``run_config.json`` (what --resume reads back) and ``run_command.txt``."""
    RunRecord(base, settings).save(argv)


def load_run_record(study_dir: Path) -> tuple[GANConfig, StudySettings]:
    """The saved base config and settings of the study at ``study_dir``.

    Raises:
        ValueError: when the record is missing or corrupt (saying that it cannot resume).
    """
    try:
        record = RunRecord.load(study_dir)
    except StudyLoadError as err:
        raise ValueError(f"{err}; cannot resume") from err
    return record.gan, record.study


def search_finished(settings: StudySettings, grid: Any) -> int:
    """Search trials in a final state: told COMPLETE or PRUNED to Optuna, or errored.

    Tune's own clean-up after an interrupt marks unfinished trials TERMINATED, so its
    status cannot tell; the searcher tells Optuna only when a trial really ended.
    """
    study = optuna.load_study(study_name=settings.study_dir.name, storage=storage_url(settings))
    ended = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=ended)) + grid.num_errors


def runs_finished(history: pd.DataFrame, max_epochs: int, phases: tuple[str, ...]) -> int:
    """Runs of ``phases`` (FIFO, never stopped by the scheduler) that trained every epoch,
    diverged, or were stopped for a conclusive failure."""
    last = final_rows(history[history["phase"].isin(phases)].dropna(subset=["epoch"]))
    stopped = last.get(STOP_COLUMN, pd.Series("", index=last.index)).fillna("") != ""
    return int(((last["epoch"] >= max_epochs) | (last["status"] != STATUS_OK) | stopped).sum())


def run_search(base: GANConfig, settings: StudySettings, inputs: TrialInputs,
               resume: bool) -> tuple[int, dict[str, str]]:
    """Run (or resume) the search; (finished trials, errors by trial id)."""
    tuner = restored_tuner(base, settings, inputs) if resume else \
        new_tuner(base, settings, inputs)
    grid = tuner.fit()
    mirror_trials(settings, layout.RAY_DIR)
    stamp_trials(settings.study_dir)
    finished, errors = search_finished(settings, grid), outputs.trial_errors(grid)
    if finished >= settings.num_samples and not settings.storage:
        footprint.slim_experiment(settings.study_dir, layout.RAY_DIR, set(errors))
    return finished, errors
