"""A study's records read from its trial folders: the one builder of its history.

The study calls :func:`history_from_trials` to write ``history.parquet`` and to decide its
race while it runs; ``analysis.load`` calls it when that file is missing (an interrupted
study). It lives in ``gan`` so that both may read it without ``study`` importing the
analysis layer.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from gan.records import layout
from gan.census.census import STOP_COLUMN

log = logging.getLogger(__name__)

# Columns renamed since older studies were written: old name -> current name.
RENAMED_COLUMNS = {"js_estimate": "js_lower_bound"}
STATUS_NO_REPORT = "no_report"  # a trial folder without a single epoch record


def current_names(history: pd.DataFrame, design: str = "search") -> pd.DataFrame:
    """A history with the names older studies wrote brought up to date: renamed columns and
    phases (the race's runs were phase ``confirm``; an atlas's own trials, written before they
    were named so, ``search``: they were never a search). The one place that knows them."""
    history = history.rename(columns=RENAMED_COLUMNS)
    if "phase" in history:
        renamed = dict(layout.LEGACY_PHASES)
        design_phase = layout.DESIGN_PHASES.get(design, layout.PHASE_SEARCH)
        if design_phase != layout.PHASE_SEARCH:
            renamed[layout.PHASE_SEARCH] = design_phase
        history = history.assign(phase=history["phase"].replace(renamed))
    return history


class StudyLoadError(ValueError):
    """The folder is not a readable study."""


def read_record(path: Path, build: Callable[[dict[str, Any]], Any]) -> Any:
    """``build`` of the JSON at ``path``, or None when there is no file: how the typed records
    a study may lack are read (race, best config, timing). The run record, which a study
    cannot lack, and the failure-stop record, whose damage the study explains in its own
    words, read their files themselves.

    Raises:
        StudyLoadError: when the file is there but unreadable (naming the file).
    """
    if not path.is_file():
        return None
    try:
        return build(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise StudyLoadError(f"{str(path)!r} is corrupt ({type(err).__name__}: {err})") from err


def plain(value: Any) -> Any:
    """A pandas/NumPy cell as a plain Python value; NaN becomes None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def final_rows(history: pd.DataFrame) -> pd.DataFrame:
    """The last reported row of each trial (a trial with no epoch keeps its one row)."""
    if history.empty:
        return history
    ordered = history.sort_values(["trial_id", "epoch"], kind="stable", na_position="first")
    return ordered.groupby("trial_id", sort=False).tail(1).reset_index(drop=True)


def _trial_columns(meta: dict[str, Any]) -> dict[str, Any]:
    """What a trial was: id, phase, replicate, seeds and every search parameter's value as
    trained (from its config; ``d_lr_ratio`` from its two learning rates)."""
    config = meta.get("config", {})
    lr, d_lr = config.get("lr"), config.get("d_lr")
    columns = {"trial_id": str(meta["trial_id"]), "phase": meta.get("phase", layout.PHASE_SEARCH),
               "replicate": int(meta.get("replicate", 0)), "seed": config.get("seed"),
               "race_round": int(meta.get("race_round", 0)), "stage": str(meta.get("stage", "")),
               "eval_seed": config.get("eval_seed")}
    # Ended by failure-aware stopping (study.failure_stop): the class and epoch; "" otherwise.
    stop = meta.get(STOP_COLUMN) or {}
    columns[STOP_COLUMN] = str(stop.get("failure", ""))
    columns[f"{STOP_COLUMN}_epoch"] = stop.get("epoch", math.nan)
    for name in layout.SEARCH_PARAMS:
        if name == "d_lr_ratio":
            columns[name] = (d_lr / lr) if (d_lr is not None and lr) else 1.0
        else:
            columns[name] = meta.get("params", {}).get(name, config.get(name))
    return columns


def trial_record(trial_dir: Path) -> dict[str, Any]:
    """A trial folder's ``trial.json``: its phase, parameters and the exact config it trained.

    Raises:
        OSError, ValueError: when it is missing or not JSON.
    """
    return json.loads((Path(trial_dir) / layout.TRIAL_FILE).read_text())


def history_from_trials(study_dir: str | Path) -> pd.DataFrame:
    """One row per trial and epoch: each trial folder's ``trial.json`` beside its
    ``metrics.csv``. A trial with no epoch yet gets one row with status ``no_report``
    and no epoch; unreadable trial files are warned about and skipped."""
    frames = []
    for trial_dir in layout.trial_dirs(Path(study_dir)).values():
        try:
            meta = trial_record(trial_dir)
            columns = _trial_columns(meta)
            metrics_path = trial_dir / layout.METRICS_FILE
            rows = pd.read_csv(metrics_path) if metrics_path.is_file() else pd.DataFrame()
        except (OSError, ValueError, KeyError, pd.errors.ParserError) as err:
            log.warning("skipping trial folder %s: %s", trial_dir.name, err)
            continue
        if rows.empty:
            rows = pd.DataFrame([{"status": STATUS_NO_REPORT, "epoch": math.nan}])
        frames.append(rows.assign(**columns))
    if not frames:
        return pd.DataFrame(columns=["trial_id", "phase", "epoch", "status"])
    history = current_names(pd.concat(frames, ignore_index=True))
    first = ["trial_id", "phase", "replicate", "epoch"]
    return history[first + [c for c in history.columns if c not in first]]


def contender_name(contender: dict[str, Any]) -> str:
    """``#2 lr 0.0011 b1 0.1 b2 0.96 latent 32``, or gan.py's defaults by name: a race
    contender as the study's log and the report both name it."""
    p = contender["params"]
    text = (f"lr {p['lr']:.3g} b1 {p['b1']:.2g} b2 {p['b2']:.4g} latent {p['latent_dim']}"
            if {"lr", "b1", "b2", "latent_dim"} <= set(p) else json.dumps(p))
    if contender.get("label"):  # the reference: gan.py's own settings
        return f"{layout.DEFAULTS_LABEL}: {text}"
    return f"#{contender['search_rank']} {text}"
