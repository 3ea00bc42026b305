"""A study folder read into pandas; bad trial files are warned about and skipped.

:func:`history_from_trials` is the one builder of a study's history: the study
calls it to write ``history.parquet``, and :func:`load_study` calls it when that
file is missing (an interrupted study).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.failures import STOP_COLUMN
from gan import layout

log = logging.getLogger(__name__)

# Columns renamed since older studies were written: old name -> current name.
RENAMED_COLUMNS = {"js_estimate": "js_lower_bound"}
REQUIRED_COLUMNS = {"trial_id", "epoch", "status"}
STATUS_NO_REPORT = "no_report"  # a trial folder without a single epoch record


class StudyLoadError(ValueError):
    """The folder is not a readable study."""


@dataclass
class StudyData:
    study_dir: Path
    history: pd.DataFrame  # one row per trial and epoch
    trial_dirs: dict[str, Path] = field(default_factory=dict)
    grad_logs: dict[str, pd.DataFrame] = field(default_factory=dict)
    run_config: dict[str, Any] = field(default_factory=dict)

    @property
    def trial_ids(self) -> list[str]:
        return list(dict.fromkeys(self.history["trial_id"]))

    @property
    def max_epochs(self) -> int | None:
        """Epochs a trial could run, from run_config.json when it is there."""
        try:
            return int(self.run_config["gan"]["n_epochs"])
        except (KeyError, TypeError, ValueError):
            return None


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


def load_study(study_dir: str | Path) -> StudyData:
    """Read the history (``history.parquet``, ``history.csv``, else the trial folders) and
    every trial's gradient log.

    Raises:
        StudyLoadError: when the folder or its history is missing or unreadable.
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise StudyLoadError(f"no study folder at {str(study_dir)!r}")
    run_config = _read_run_config(study_dir)
    history = with_design_phase(_read_history(study_dir), run_config)
    data = StudyData(study_dir, history, run_config=run_config)
    known = set(history["trial_id"])
    for trial_id, trial_dir in layout.trial_dirs(study_dir).items():
        if trial_id not in known:
            continue
        data.trial_dirs[trial_id] = trial_dir
        grad_log = trial_dir / layout.GRAD_LOG_FILE
        if grad_log.is_file():
            try:
                frame = pd.read_csv(grad_log)
                if "step" not in frame or "g_grad_norm" not in frame:
                    raise ValueError("missing step/g_grad_norm columns")
                data.grad_logs[trial_id] = frame
            except Exception as err:  # one bad trial file must not sink the analysis
                log.warning("skipping unreadable %s: %s", grad_log, err)
    return data


def design_of(run_config: dict[str, Any]) -> str:
    """The study's design (``search`` or ``atlas``); ``search`` for studies that predate it."""
    return str(run_config.get("study", {}).get("design", "search"))


def is_paired(run_config: dict[str, Any]) -> bool:
    """Whether the study is a paired atlas (every point under each loss, one seed a point)."""
    return bool(run_config.get("study", {}).get("paired", False))


def with_design_phase(history: pd.DataFrame, run_config: dict[str, Any]) -> pd.DataFrame:
    """The design's own trials under its phase name: an atlas written before atlas trials were
    named so labelled them ``search``; they were never a search."""
    phase = layout.DESIGN_PHASES.get(design_of(run_config), layout.PHASE_SEARCH)
    if phase != layout.PHASE_SEARCH and "phase" in history:
        history = history.assign(phase=history["phase"].replace(layout.PHASE_SEARCH, phase))
    return history


def _read_run_config(study_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((study_dir / layout.RUN_CONFIG).read_text())
    except (OSError, ValueError):
        return {}


def _tidy(history: pd.DataFrame) -> pd.DataFrame:
    history = history.rename(columns=RENAMED_COLUMNS).dropna(subset=["epoch"]).copy()
    history["trial_id"] = history["trial_id"].astype(str)
    history["epoch"] = history["epoch"].astype(int)
    return history.sort_values(["trial_id", "epoch"], kind="stable").reset_index(drop=True)


def _read_history(study_dir: Path) -> pd.DataFrame:
    errors = []
    for name, reader in ((layout.HISTORY_PARQUET, pd.read_parquet),
                         (layout.HISTORY_CSV, pd.read_csv)):
        path = study_dir / name
        if not path.is_file():
            continue
        try:
            history = reader(path)
        except Exception as err:
            log.warning("unreadable %s: %s", path, err)
            errors.append(f"{name}: {err}")
            continue
        missing = REQUIRED_COLUMNS - set(history.rename(columns=RENAMED_COLUMNS).columns)
        if missing:
            errors.append(f"{name} lacks columns {sorted(missing)}")
            continue
        return _tidy(history)
    rebuilt = history_from_trials(study_dir)
    if not rebuilt.empty and rebuilt["epoch"].notna().any():
        log.warning("rebuilt the history of %s from its trial folders", study_dir)
        return _tidy(rebuilt)
    detail = "; ".join(errors) if errors else f"no {layout.HISTORY_PARQUET} or trial records"
    raise StudyLoadError(f"{str(study_dir)!r} is not a readable study ({detail})")


def _trial_columns(meta: dict[str, Any]) -> dict[str, Any]:
    """What a trial was: id, phase, replicate, seeds and every search parameter's value as
    trained (from its config; ``d_lr_ratio`` from its two learning rates)."""
    config = meta.get("config", {})
    lr, d_lr = config.get("lr"), config.get("d_lr")
    columns = {"trial_id": str(meta["trial_id"]), "phase": meta.get("phase", layout.PHASE_SEARCH),
               "replicate": int(meta.get("replicate", 0)), "seed": config.get("seed"),
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
    history = pd.concat(frames, ignore_index=True).rename(columns=RENAMED_COLUMNS)
    first = ["trial_id", "phase", "replicate", "epoch"]
    return history[first + [c for c in history.columns if c not in first]]
