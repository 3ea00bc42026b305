"""A study folder read into pandas; bad trial files are warned about and skipped."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

TRIAL_DIR_ID = re.compile(r"^gan_trial_([0-9a-f]+)_")


class StudyLoadError(ValueError):
    """The folder is not a readable study."""


@dataclass
class StudyData:
    study_dir: Path
    history: pd.DataFrame  # one row per trial and epoch
    trial_dirs: dict[str, Path] = field(default_factory=dict)
    grad_logs: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def trial_ids(self) -> list[str]:
        return list(dict.fromkeys(self.history["trial_id"]))


def load_study(study_dir: str | Path) -> StudyData:
    """Read ``history.parquet`` (or ``history.csv``) and every trial's gradient log.

    Raises:
        StudyLoadError: when the folder or its history is missing or unreadable.
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise StudyLoadError(f"no study folder at {str(study_dir)!r}")
    history = _read_history(study_dir)
    data = StudyData(study_dir, history)
    for trial_dir in sorted((study_dir / "ray").glob("gan_trial_*")):
        match = TRIAL_DIR_ID.match(trial_dir.name)
        if not match or match.group(1) not in set(history["trial_id"]):
            continue
        trial_id = match.group(1)
        data.trial_dirs[trial_id] = trial_dir
        grad_log = trial_dir / "grad_log.csv"
        if grad_log.is_file():
            try:
                frame = pd.read_csv(grad_log)
                if "step" not in frame or "g_grad_norm" not in frame:
                    raise ValueError("missing step/g_grad_norm columns")
                data.grad_logs[trial_id] = frame
            except Exception as err:  # one bad trial file must not sink the analysis
                log.warning("skipping unreadable %s: %s", grad_log, err)
    return data


def _read_history(study_dir: Path) -> pd.DataFrame:
    errors = []
    for name, reader in (("history.parquet", pd.read_parquet), ("history.csv", pd.read_csv)):
        path = study_dir / name
        if not path.is_file():
            continue
        try:
            history = reader(path)
        except Exception as err:
            log.warning("unreadable %s: %s", path, err)
            errors.append(f"{name}: {err}")
            continue
        missing = {"trial_id", "epoch", "status"} - set(history.columns)
        if missing:
            errors.append(f"{name} lacks columns {sorted(missing)}")
            continue
        history = history.dropna(subset=["epoch"]).copy()
        history["trial_id"] = history["trial_id"].astype(str)
        history["epoch"] = history["epoch"].astype(int)
        return history.sort_values(["trial_id", "epoch"], kind="stable").reset_index(drop=True)
    rebuilt = _history_from_trials(study_dir)
    if rebuilt is not None:
        log.warning("rebuilt the history of %s from its trial folders", study_dir)
        return rebuilt.sort_values(["trial_id", "epoch"], kind="stable").reset_index(drop=True)
    detail = "; ".join(errors) if errors else "no history.parquet or history.csv"
    raise StudyLoadError(f"{str(study_dir)!r} is not a readable study ({detail})")


def _history_from_trials(study_dir: Path) -> pd.DataFrame | None:
    """The history from each Ray trial's ``params.json`` and ``result.json`` (an interrupted
    study has these before it writes ``history.parquet``); bad files are skipped."""
    frames = []
    for trial_dir in sorted((study_dir / "ray").glob("gan_trial_*")):
        match = TRIAL_DIR_ID.match(trial_dir.name)
        try:
            params = json.loads((trial_dir / "params.json").read_text())
            rows = [json.loads(line) for line in
                    (trial_dir / "result.json").read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as err:
            log.warning("skipping trial folder %s: %s", trial_dir.name, err)
            continue
        rows = [r for r in rows if "epoch" in r and "status" in r]
        if not match or not rows:
            continue
        frame = pd.DataFrame(rows).assign(**params)
        frame["trial_id"] = match.group(1)
        frames.append(frame)
    if not frames:
        return None
    history = pd.concat(frames, ignore_index=True)
    history["epoch"] = history["epoch"].astype(int)
    return history
