"""What a study leaves besides its trial folders: the history, best_config.json, and the
errors of trials that failed."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import load
from analysis.confirmations import best_by_mean, seed_robust_table
from analysis.load import history_from_trials, plain
from gan import layout
from gan.config import GANConfig
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


def trial_record(study_dir: Path, trial_id: str) -> dict[str, Any]:
    """A trial's ``trial.json``: its phase, parameters and the exact config it trained."""
    return load.trial_record(layout.trial_dirs(study_dir)[trial_id])


def best_config(history: pd.DataFrame, search_best: dict[str, Any], settings: Any,
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
            "mode": settings.mode, "params": {p: plain(top[p]) for p in layout.SEARCH_PARAMS},
            **{k: plain(top[k]) for k in table.columns
               if k.startswith(("objective_", "diversity_"))},
            "n_seeds": int(top["n_seeds"]), "per_seed": per_seed,
            "gan_config": trial_record(settings.study_dir, top["trial_ids"][0])["config"],
            "search_best": search_best}


def write_outputs(settings: Any, base: GANConfig, errors: dict[str, str] | None = None,
                  partial: bool = False) -> pd.DataFrame:
    """history.parquet/.csv from the trial folders, and best_config.json (``partial`` marks an
    interrupted study in both); the history."""
    out = settings.study_dir
    history = history_from_trials(out)
    history["trial_error"] = history["trial_id"].map(errors or {}).fillna("")
    history["partial"] = partial
    history.to_parquet(out / layout.HISTORY_PARQUET, index=False)
    history.to_csv(out / layout.HISTORY_CSV, index=False)
    summary = summarize(history, settings.mode)
    best = {**best_config(history, summary["best"], settings, base.n_epochs), "partial": partial}
    (out / layout.BEST_CONFIG).write_text(json.dumps(best, indent=2, sort_keys=True,
                                                     default=str))
    log.info("trials per status: %s", summary["status_counts"])
    if summary["table"] is not None:
        log.info("best trials by %s (%s):\n%s", settings.objective, settings.mode,
                 summary["table"].to_string(index=False))
    return history
