"""A study folder's files checked before they are used: a damaged one is named in one line.

Nodes die mid-write, quotas fill, files get truncated. Before ``--resume`` or a
report reads a study, :func:`check_study_files` opens each file the run cannot
do without and raises :class:`~gan.records.history.StudyLoadError` naming the first
damaged one and what to do. Nothing is written, moved or deleted. Files a study
can go on without are not refused here: a damaged ``history.parquet`` is rebuilt
from the trial folders (``gan.records.history``), a damaged newest checkpoint gives way
to the one before it (``study.trainable.resume_point``).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd

from gan.records.history import StudyLoadError
from gan.records import layout

MOVE_TRIAL = "restore it from a backup, or move its trial folder out of the study to go on " \
             "without that trial"


def _damaged(path: Path, why: str, fix: str) -> StudyLoadError:
    return StudyLoadError(f"{str(path)!r} is damaged ({why}); {fix}; it was left as it is")


def _check_json(path: Path, fix: str) -> None:
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise _damaged(path, f"{type(err).__name__}: {err}", fix) from err
    if not isinstance(value, dict):
        raise _damaged(path, "not a JSON object", fix)


def _check_metrics(path: Path) -> None:
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise _damaged(path, f"{type(err).__name__}: {err}", MOVE_TRIAL) from err
    epochs = pd.to_numeric(frame.get("epoch", pd.Series(dtype=float)), errors="coerce")
    if "epoch" not in frame or epochs.isna().any() or \
            list(epochs) != list(range(1, len(epochs) + 1)):
        raise _damaged(path, "its epoch column is not 1, 2, ... n", MOVE_TRIAL)


def check_optuna_db(path: Path) -> None:
    """Raise StudyLoadError unless ``path`` is a readable SQLite database with Optuna's tables."""
    fix = ("restore it from a backup; without it the search cannot resume (a new --name "
           "starts a fresh study)")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as err:
        raise _damaged(path, f"{type(err).__name__}: {err}", fix) from err
    if check != "ok" or "studies" not in tables:
        raise _damaged(path, f"integrity check: {check}; Optuna tables present: "
                       f"{'studies' in tables}", fix)


def check_study_files(study_dir: Path, resume: bool = False) -> None:
    """Raise StudyLoadError naming the first damaged file the study cannot go on without.

    Args:
        study_dir: the study folder.
        resume: also require what ``--resume`` reads (``run_config.json``, ``optuna.db``).
    """
    study_dir = Path(study_dir)
    run_config = study_dir / layout.RUN_CONFIG
    if run_config.exists() or resume:
        _check_json(run_config, "restore it from a backup: it holds the study's settings")
    if resume and (study_dir / layout.OPTUNA_DB).exists():
        check_optuna_db(study_dir / layout.OPTUNA_DB)
    for trial_dir in layout.trial_dirs(study_dir).values():
        if (trial_dir / layout.TRIAL_FILE).exists():
            _check_json(trial_dir / layout.TRIAL_FILE, MOVE_TRIAL)
        if (trial_dir / layout.METRICS_FILE).exists():
            _check_metrics(trial_dir / layout.METRICS_FILE)
