"""What a study leaves besides its trial folders: the history, best_config.json, and the
errors of trials that failed."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from gan.census import failures

from gan.records import layout
from gan.records.atomic import replace_with
from gan.records.best_config import RACED, SINGLE_DRAW, BestConfig
from gan.records.race_record import RaceRecord
from gan.records.history import history_from_trials, plain, trial_record
from gan.records.run_record import StudySettings
from gan.config import GANConfig
from study.race import rule as race_rule
from study.race import runs as race_runs
from study.history import summarize

log = logging.getLogger(__name__)


def trial_errors(grid: Any) -> dict[str, str]:
    """The first line of each errored trial's error, by trial id."""
    errors = {}
    for result in grid:
        trial_id = layout.trial_id_of(Path(result.path)) if result.path else None
        if result.error and trial_id:
            errors[trial_id] = str(result.error).splitlines()[0]
    return errors


def _config_of(study_dir: Path, trial_id: str) -> dict[str, Any]:
    """The exact GAN config a trial trained, from its ``trial.json``."""
    return trial_record(layout.trial_dirs(study_dir)[trial_id])["config"]


def fresh_runs(history: pd.DataFrame, trial_ids: list[str], max_epochs: int,
               objective: str) -> list[dict[str, Any]]:
    """One entry per run of ``trial_ids``: its seed, final ranking signal (``objective``),
    final metric, diversity and census class (the census's own rules, gan.census.failures)."""
    out = []
    for trial_id in trial_ids:
        trial = history[history["trial_id"] == trial_id].dropna(subset=["epoch"])
        if trial.empty:
            continue
        last = trial.sort_values("epoch").iloc[-1]
        cls, _ = failures.classify_trial(trial, full_budget=last["epoch"] >= max_epochs)
        score = race_runs.run_score(last, max_epochs)
        out.append({"trial_id": trial_id, "seed": plain(last.get("seed")), "objective": score,
                    objective: plain(last.get(objective)), "diversity": plain(last.get("diversity")),
                    "failure": cls,
                    "failed": None if cls in failures.NO_VERDICT else cls in failures.FAILURES})
    return out


def best_config(history: pd.DataFrame, search_best: dict[str, Any], settings: StudySettings,
                max_epochs: int) -> BestConfig:
    """best_config.json: the race's winner, estimated on held-out seeds only (its search
    draw and race runs beside the estimate, never in it); the single best search trial when
    nothing was raced."""
    record = RaceRecord.load(settings.study_dir)
    estimate_ids: list[str] = []
    if record is not None and record.winner is not None:
        winner = record.contender(record.winner)
        estimate_ids = [r["trial_id"] for r in winner["runs"]
                        if r["stage"] == race_runs.STAGE_ESTIMATE]
    if not estimate_ids:
        return BestConfig(
            selected_by=SINGLE_DRAW, objective=settings.objective, mode=settings.mode,
            params=search_best.get("params", {}), search_best=search_best,
            gan_config=_config_of(settings.study_dir, search_best["trial_id"])
            if "trial_id" in search_best else {})
    per_seed = fresh_runs(history, estimate_ids, max_epochs, settings.objective)
    raced = fresh_runs(history, [r["trial_id"] for r in winner["runs"]
                                 if r["stage"] == race_runs.STAGE_RACE], max_epochs,
                       settings.objective)
    summary = race_rule.run_summary([r["objective"] for r in per_seed],
                                    [r["failed"] for r in per_seed])
    tied = [record.contender(k)["params"] for k in record.survivors if k != winner["key"]]
    return BestConfig(
        selected_by=RACED, objective=settings.objective, mode=settings.mode,
        params=winner["params"], label=winner["label"], objective_mean=summary["mean"],
        objective_sd=summary["sd"], objective_ci_low=summary["ci_low"],
        objective_ci_high=summary["ci_high"], n_seeds=summary["n"],
        n_scored=summary["n_scored"], n_no_verdict=summary["no_verdict"],
        failure_share=summary["failure_share"], failure_low=summary["failure_low"],
        failure_high=summary["failure_high"], failure_bound_low=summary["failure_bound_low"],
        failure_bound_high=summary["failure_bound_high"], per_seed=per_seed,
        search_draw=winner["search_draw"], race_runs=raced,
        race={"reason": record.reason, "rounds": len(record.rounds), "runs": record.runs_used,
              "could_not_tell_from": tied},
        gan_config=_config_of(settings.study_dir, estimate_ids[0]), search_best=search_best)


def all_errored_line(history: pd.DataFrame | None, settings: StudySettings) -> str:
    """One line when every trial of the design errored (where the errors are, and the first),
    else ""."""
    if history is None or "trial_error" not in history or history.empty:
        return ""
    trials = history.groupby("trial_id").first()
    own = trials[trials["phase"].isin(layout.PROPOSAL_PHASES)]
    if own.empty or (own["trial_error"].fillna("") == "").any():
        return ""
    return (f"all {len(own)} trials errored, the first with: {own['trial_error'].iloc[0]}; "
            f"each trial's traceback is in {settings.study_dir / layout.RAY_DIR}/trial_*/error.txt")


def write_outputs(settings: StudySettings, base: GANConfig, errors: dict[str, str] | None = None,
                  partial: bool = False) -> pd.DataFrame:
    """history.parquet/.csv from the trial folders, and best_config.json (``partial`` marks an
    interrupted study in both); the history."""
    out = settings.study_dir
    history = history_from_trials(out)
    history["trial_error"] = history["trial_id"].map(errors or {}).fillna("")
    history["partial"] = partial
    replace_with(out / layout.HISTORY_PARQUET, lambda tmp: history.to_parquet(tmp, index=False))
    replace_with(out / layout.HISTORY_CSV, lambda tmp: history.to_csv(tmp, index=False))
    summary = summarize(history, settings.mode)
    best = dataclasses.replace(best_config(history, summary["best"], settings, base.n_epochs),
                               partial=partial)
    best.save(out)
    log.info("trials per status: %s", summary["status_counts"])
    if summary["table"] is not None:
        log.info("best search trials by %s (%s), one seed each:\n%s", settings.objective,
                 settings.mode,
                 summary["table"].to_string(index=False))
    if best.estimated:
        draw = best.search_draw or {}
        log.info("the pick: %s; %s %.4g (95%% CI %.4g–%.4g) over %d scored of %d held-out "
                 "seeds; %d of the %d with a verdict failed, %d without one; its search draw %s "
                 "(not in the estimate)", best.params, settings.objective,
                 best.objective_mean, best.objective_ci_low, best.objective_ci_high,
                 best.n_scored, best.n_seeds, sum(bool(r["failed"]) for r in best.per_seed),
                 best.n_seeds - best.n_no_verdict, best.n_no_verdict,
                 f"{draw['objective']:.4g}" if draw else "none (gan.py's defaults)")
    return history
