"""A study folder read into pandas; bad trial files are warned about and skipped.

:func:`history_from_trials` is the one builder of a study's history: the study
calls it to write ``history.parquet``, and :func:`load_study` calls it when that
file is missing (an interrupted study).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from gan.records import layout
from gan.records.history import StudyLoadError, current_names, history_from_trials
from gan.records.run_record import RunRecord

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = {"trial_id", "epoch", "status"}


@dataclass
class StudyData:
    study_dir: Path
    history: pd.DataFrame  # one row per trial and epoch
    trial_dirs: dict[str, Path] = field(default_factory=dict)
    grad_logs: dict[str, pd.DataFrame] = field(default_factory=dict)
    run: RunRecord | None = None  # run_config.json; None where it is missing or unreadable

    @property
    def trial_ids(self) -> list[str]:
        return list(dict.fromkeys(self.history["trial_id"]))

    @property
    def max_epochs(self) -> int | None:
        """Epochs a trial could run, from run_config.json when it is there."""
        return self.run.max_epochs if self.run else None

    @property
    def design(self) -> str:
        """``search`` or ``atlas``; ``search`` for a study without its record."""
        return self.run.study.design if self.run else "search"

    @property
    def model(self) -> str:
        """The networks the study trained (gan.models.registry); gan.py's MLP without a record."""
        return self.run.gan.model if self.run else "mlp"

    @property
    def mode(self) -> str:
        """The objective's direction (``min`` or ``max``); ``min`` without a record."""
        return self.run.study.mode if self.run else "min"

    @property
    def objective(self) -> str:
        return self.run.study.objective if self.run else "objective"

    @property
    def paired(self) -> bool:
        """A paired atlas: every Sobol point under each loss, from one seed."""
        return bool(self.run and self.run.study.paired)


def load_study(study_dir: str | Path) -> StudyData:
    """Read the history (``history.parquet``, ``history.csv``, else the trial folders) and
    every trial's gradient log.

    Raises:
        StudyLoadError: when the folder or its history is missing or unreadable.
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise StudyLoadError(f"no study folder at {str(study_dir)!r}")
    run = _read_run(study_dir)
    history = current_names(_read_history(study_dir), run.study.design if run else "search")
    data = StudyData(study_dir, history, run=run)
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


def _read_run(study_dir: Path) -> RunRecord | None:
    try:
        return RunRecord.load(study_dir)
    except StudyLoadError as err:
        if (study_dir / layout.RUN_CONFIG).exists():
            log.warning("%s; the report names no design", err)
        return None


def _tidy(history: pd.DataFrame) -> pd.DataFrame:
    history = current_names(history).dropna(subset=["epoch"]).copy()
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
        missing = REQUIRED_COLUMNS - set(current_names(history).columns)
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
