"""What the race's runs are in a study's history: their stage, their config and their score
(read by the race as it runs, and by best_config.json after it)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


from gan.records.history import final_rows, trial_record
from gan.records import layout
from gan.train.state import STATUS_OK
from study.space import TRIAL_META_KEYS

STAGE_RACE, STAGE_ESTIMATE = "race", "estimate"


def config_key(params: dict[str, Any]) -> str:
    """A contender's name in the race: its search parameters as canonical JSON."""
    return json.dumps({k: v for k, v in params.items() if k not in TRIAL_META_KEYS},
                      sort_keys=True, default=str)


def race_runs(history, stage: str):
    """The final row of every race (or estimate) run in the history."""
    if "stage" not in history:
        return history.iloc[0:0]
    runs = history[(history["phase"] == layout.PHASE_RACE) & (history["stage"] == stage)]
    return final_rows(runs.dropna(subset=["epoch"])) if len(runs) else runs


def run_score(row, max_epochs: int) -> float:
    """A race run's score: its final objective when it trained every epoch and stayed
    finite, else NaN (study.race.rule ranks such a run last)."""
    ok = row["epoch"] >= max_epochs and row["status"] == STATUS_OK \
        and not bool(row.get("objective_penalized", False))
    return float(row["objective"]) if ok else math.nan


def run_params(study_dir: Path, trial_id: str) -> dict[str, Any]:
    """A run's search parameters, as its ``trial.json`` gives them."""
    return trial_record(layout.trial_dirs(study_dir)[trial_id])["params"]

