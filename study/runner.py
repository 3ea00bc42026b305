"""Orchestration of one study: Ray start-up, the Tuner, and the outputs after it."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from gan.cli_common import write_run_record
from gan.config import GANConfig
from study.history import summarize, tidy_history
from study.space import optuna_space, seed_point, trial_config
from study.trainable import OBJECTIVE_KEY, make_trainable

log = logging.getLogger(__name__)

RAY_DIR, OPTUNA_DB = "ray", "optuna.db"
HISTORY_PARQUET, HISTORY_CSV, BEST_CONFIG = "history.parquet", "history.csv", "best_config.json"


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


def start_ray(address: str | None) -> Any:
    """Join ``address`` / RAY_ADDRESS, or start a local Ray with its dashboard."""
    import ray

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
    import optuna

    from study.search import ResumableOptunaSearch

    storage = optuna.storages.RDBStorage(
        f"sqlite:///{(settings.study_dir / OPTUNA_DB).resolve()}")
    return ResumableOptunaSearch(
        space=optuna_space(settings.space), metric=OBJECTIVE_KEY, mode=settings.mode,
        points_to_evaluate=[seed_point(settings.space)],
        # A sampler passed in ignores OptunaSearch's seed: seed the sampler itself.
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        study_name=study_name, storage=storage)


def _scheduler(settings: StudySettings, max_epochs: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if settings.scheduler == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(time_attr="training_iteration", max_t=max_epochs,
                         grace_period=settings.grace_period,
                         reduction_factor=settings.reduction_factor)


def build_trainable(base: GANConfig, settings: StudySettings) -> Any:
    from ray import tune

    threads = max(1, int(settings.cpus_per_trial))
    fn = make_trainable(base, study_seed=settings.seed, objective=settings.objective,
                        mode=settings.mode, checkpoint_every=settings.checkpoint_interval,
                        threads=threads)
    return tune.with_resources(fn, {"cpu": settings.cpus_per_trial,
                                    "gpu": settings.gpus_per_trial})


def new_tuner(base: GANConfig, settings: StudySettings) -> Any:
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    search = _optuna_search(settings, study_name=settings.study_dir.name)
    if settings.max_concurrent > 0:
        search = ConcurrencyLimiter(search, max_concurrent=settings.max_concurrent)
    return tune.Tuner(
        build_trainable(base, settings),
        tune_config=tune.TuneConfig(
            metric=OBJECTIVE_KEY, mode=settings.mode, search_alg=search,
            scheduler=_scheduler(settings, base.n_epochs), num_samples=settings.num_samples),
        run_config=tune.RunConfig(
            name=RAY_DIR, storage_path=str(settings.study_dir.resolve()),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            failure_config=tune.FailureConfig(max_failures=1),
            verbose=1),
    )


def restored_tuner(base: GANConfig, settings: StudySettings) -> Any:
    from ray import tune

    path = str((settings.study_dir / RAY_DIR).resolve())
    return tune.Tuner.restore(path, trainable=build_trainable(base, settings),
                              resume_unfinished=True, resume_errored=True)


def can_resume(study_dir: Path) -> bool:
    from ray import tune

    path = study_dir / RAY_DIR
    return path.is_dir() and tune.Tuner.can_restore(str(path.resolve()))


RUN_CONFIG = "run_config.json"


def save_run_record(base: GANConfig, settings: StudySettings, argv: list[str] | None) -> None:
    """``run_config.json`` (what --resume reads back) and ``run_command.txt``."""
    study = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(settings).items()}
    write_run_record(settings.study_dir, {"gan": base.to_dict(), "study": study}, argv,
                     name="run")


def load_run_record(study_dir: Path) -> tuple[GANConfig, StudySettings]:
    path = study_dir / RUN_CONFIG
    try:
        saved = json.loads(path.read_text())
        study = {**saved["study"], "study_dir": study_dir}
        return GANConfig.from_dict(saved["gan"]), StudySettings(**study)
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} is missing or corrupt ({type(err).__name__}: {err}); "
                         "cannot resume") from err


def run_study(base: GANConfig, settings: StudySettings,
              resume: bool) -> tuple[pd.DataFrame, int]:
    """Run (or resume) the study; write history and best config.

    Returns:
        The tidy history and how many trials finished (fewer than asked when interrupted).
    """
    tuner = restored_tuner(base, settings) if resume else new_tuner(base, settings)
    grid = tuner.fit()
    history = tidy_history(grid)
    write_outputs(history, base, settings)
    return history, finished_trials(grid)


def finished_trials(grid: Any) -> int:
    """Trials that ended (completed, stopped by ASHA, or errored); unfinished ones resume."""
    # ResultGrid exposes no trial status; its ExperimentAnalysis does.
    trials = grid._experiment_analysis.trials
    return sum(1 for t in trials if t.status in ("TERMINATED", "ERROR"))


def write_outputs(history: pd.DataFrame, base: GANConfig, settings: StudySettings) -> None:
    out = settings.study_dir
    history.to_parquet(out / HISTORY_PARQUET, index=False)
    history.to_csv(out / HISTORY_CSV, index=False)
    summary = summarize(history, settings.mode)
    best = summary["best"]
    if "params" in best:
        params = {k: v for k, v in best["params"].items() if k != "seed" and v is not None}
        best["gan_config"] = trial_config(base, params, settings.seed).to_dict()
    (out / BEST_CONFIG).write_text(json.dumps(best, indent=2, sort_keys=True, default=str))
    log.info("trials per status: %s", summary["status_counts"])
    if summary["table"] is not None:
        log.info("best trials by %s (%s):\n%s", settings.objective, settings.mode,
                 summary["table"].to_string(index=False))
