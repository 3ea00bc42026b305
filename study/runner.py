"""Orchestration of one study: Ray start-up, the Tuner, and the outputs after it."""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import ray
import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import ConcurrencyLimiter

from analysis.confirmations import best_by_mean, seed_robust_table
from analysis.load import history_from_trials
from gan import layout
from gan.cli_common import write_run_record
from gan.config import GANConfig
from gan.data import DataSplit
from study.history import summarize
from study.search import ResumableOptunaSearch
from study.space import optuna_space, seed_point
from study.trainable import OBJECTIVE_KEY, TrialSettings, make_trainable, trial_dirname_creator

log = logging.getLogger(__name__)

CHECKPOINTS_KEPT = 2  # the newest (resume, last generator) and the one before it


@dataclass(frozen=True)
class StudySettings:
    """Everything the study needs besides the per-trial GAN config."""

    study_dir: Path
    num_samples: int
    objective: str
    mode: str
    space: str
    scheduler: str
    grace_period: int
    reduction_factor: float
    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent: int
    seed: int
    checkpoint_interval: int
    address: str | None
    confirm_top: int = 0
    confirm_seeds: int = 0
    controls: bool = False


def start_ray(address: str | None) -> Any:
    """Join ``address`` / RAY_ADDRESS, or start a local Ray with its dashboard."""
    if ray.is_initialized():
        return None
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        context = ray.init(address=address, log_to_driver=True)
    else:
        context = ray.init(num_cpus=os.cpu_count() or 1,
                           num_gpus=torch.cuda.device_count(), include_dashboard=True,
                           dashboard_host="127.0.0.1")
    url = getattr(context, "dashboard_url", None)
    if url:
        token_note = ("" if os.environ.get("RAY_AUTH_MODE", "token").lower() == "disabled"
                      else "  (token auth: `ray get-auth-token` prints the token it asks for)")
        log.info("Ray dashboard: http://%s%s", url, token_note)
    else:
        log.info("Ray dashboard not available (install ray[default])")
    return context


def _optuna_search(settings: StudySettings, study_name: str) -> Any:
    storage = optuna.storages.RDBStorage(
        f"sqlite:///{(settings.study_dir / layout.OPTUNA_DB).resolve()}")
    return ResumableOptunaSearch(
        space=optuna_space(settings.space), metric=OBJECTIVE_KEY, mode=settings.mode,
        points_to_evaluate=[seed_point(settings.space)],
        # A sampler passed in ignores OptunaSearch's seed: seed the sampler itself.
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        study_name=study_name, storage=storage)


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
    return ASHAScheduler(time_attr="training_iteration", max_t=max_epochs,
                         grace_period=settings.grace_period,
                         reduction_factor=settings.reduction_factor)


def build_trainable(base: GANConfig, settings: StudySettings, data: DataSplit) -> Any:
    trial = TrialSettings(base=base, study_seed=settings.seed, objective=settings.objective,
                          mode=settings.mode,
                          checkpoint_epochs=checkpoint_epochs(settings, base.n_epochs),
                          threads=max(1, int(settings.cpus_per_trial)))
    # with_parameters puts the data in Ray's object store once: every trial, on every node,
    # trains on the same tensors without loading them again.
    fn = tune.with_parameters(make_trainable(trial), data=data.to("cpu"))
    return tune.with_resources(fn, {"cpu": settings.cpus_per_trial,
                                    "gpu": settings.gpus_per_trial})


def run_config(settings: StudySettings, experiment: str) -> Any:
    return tune.RunConfig(
        name=experiment, storage_path=str(settings.study_dir.resolve()),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=CHECKPOINTS_KEPT),
        failure_config=tune.FailureConfig(max_failures=1), verbose=1)


def new_tuner(base: GANConfig, settings: StudySettings, data: DataSplit) -> Any:
    search = _optuna_search(settings, study_name=settings.study_dir.name)
    if settings.max_concurrent > 0:
        search = ConcurrencyLimiter(search, max_concurrent=settings.max_concurrent)
    return tune.Tuner(
        build_trainable(base, settings, data),
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE_KEY, mode=settings.mode, search_alg=search,
            scheduler=_scheduler(settings, base.n_epochs), num_samples=settings.num_samples,
            trial_dirname_creator=trial_dirname_creator),
        run_config=run_config(settings, layout.RAY_DIR),
    )


def restored_tuner(base: GANConfig, settings: StudySettings, data: DataSplit,
                   experiment: str = layout.RAY_DIR) -> Any:
    path = str((settings.study_dir / experiment).resolve())
    return tune.Tuner.restore(path, trainable=build_trainable(base, settings, data),
                              resume_unfinished=True, resume_errored=True)


def can_resume(study_dir: Path) -> bool:
    path = study_dir / layout.RAY_DIR
    return path.is_dir() and tune.Tuner.can_restore(str(path.resolve()))


def save_run_record(base: GANConfig, settings: StudySettings, argv: list[str] | None) -> None:
    """``run_config.json`` (what --resume reads back) and ``run_command.txt``."""
    study = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    write_run_record(settings.study_dir, {"gan": base.to_dict(), "study": study}, argv,
                     module="study.run", name="run")


def load_run_record(study_dir: Path) -> tuple[GANConfig, StudySettings]:
    path = study_dir / layout.RUN_CONFIG
    try:
        saved = json.loads(path.read_text())
        study = {**saved["study"], "study_dir": study_dir}
        return GANConfig.from_dict(saved["gan"]), StudySettings(**study)
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{str(path)!r} is missing or corrupt ({type(err).__name__}: {err}); "
                         "cannot resume") from err


def finished_trials(grid: Any) -> int:
    """Trials that ended (completed, stopped by the scheduler, or errored), from the public
    ResultGrid counts; unfinished ones resume."""
    return grid.num_terminated + grid.num_errors


def trial_errors(grid: Any) -> dict[str, str]:
    """The first line of each errored trial's error, by trial id."""
    errors = {}
    for result in grid:
        trial_id = layout.trial_id_of(Path(result.path)) if result.path else None
        if result.error and trial_id:
            errors[trial_id] = str(result.error).splitlines()[0]
    return errors


def trial_record(study_dir: Path, trial_id: str) -> dict[str, Any]:
    """A trial's ``trial.json``: its phase, parameters and the exact config it trained."""
    return json.loads((layout.trial_dirs(study_dir)[trial_id] / layout.TRIAL_FILE).read_text())


def best_config(history: pd.DataFrame, search_best: dict[str, Any], settings: StudySettings,
                max_epochs: int) -> dict[str, Any]:
    """best_config.json: the confirmed config with the best mean objective over its seeds,
    with every seed's result; the single best search trial when nothing was confirmed."""
    table = seed_robust_table(history, max_epochs)
    top = best_by_mean(table, settings.mode)
    if top is None:
        best = dict(search_best, selected_by="single search trial (not confirmed over seeds)")
        if "trial_id" in best:
            best["gan_config"] = trial_record(settings.study_dir, best["trial_id"])["config"]
        return best
    per_seed = [{"trial_id": t, "seed": s, "objective": o, "diversity": d} for t, s, o, d in
                zip(top["trial_ids"], top["seeds"], top["objectives"], top["diversities"])]
    return {"selected_by": "mean objective over seeds", "objective": settings.objective,
            "mode": settings.mode, "params": {p: top[p] for p in layout.SEARCH_PARAMS},
            **{k: top[k] for k in table.columns if k.startswith(("objective_", "diversity_"))},
            "n_seeds": int(top["n_seeds"]), "per_seed": per_seed,
            "gan_config": trial_record(settings.study_dir, top["trial_ids"][0])["config"],
            "search_best": search_best}


def write_outputs(settings: StudySettings, base: GANConfig,
                  errors: dict[str, str] | None = None) -> pd.DataFrame:
    """history.parquet/.csv from the trial folders, and best_config.json; the history."""
    out = settings.study_dir
    history = history_from_trials(out)
    history["trial_error"] = history["trial_id"].map(errors or {}).fillna("")
    history.to_parquet(out / layout.HISTORY_PARQUET, index=False)
    history.to_csv(out / layout.HISTORY_CSV, index=False)
    summary = summarize(history, settings.mode)
    best = best_config(history, summary["best"], settings, base.n_epochs)
    (out / layout.BEST_CONFIG).write_text(json.dumps(best, indent=2, sort_keys=True,
                                                     default=str))
    log.info("trials per status: %s", summary["status_counts"])
    if summary["table"] is not None:
        log.info("best trials by %s (%s):\n%s", settings.objective, settings.mode,
                 summary["table"].to_string(index=False))
    return history


def run_search(base: GANConfig, settings: StudySettings, data: DataSplit,
               resume: bool) -> tuple[int, dict[str, str]]:
    """Run (or resume) the search; (finished trials, errors by trial id)."""
    tuner = restored_tuner(base, settings, data) if resume else new_tuner(base, settings, data)
    grid = tuner.fit()
    return finished_trials(grid), trial_errors(grid)
