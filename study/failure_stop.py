"""Failure-aware stopping: a Tune ``Stopper`` that ends a trial once its failure is conclusive.

ASHA compares objectives; it cannot tell that a trial has failed. This stopper
reads each trial's epoch records as Tune receives them and applies the census's
own conclusive rules (``gan.census.failures.conclusive_failure``: diverged,
vanishing gradients, D wins, training frozen) over ``STOP_WINDOWS`` epochs (per
rule; a collapse after a learned peak has no window: replayed on two atlases it
was no verdict).
It runs beside the scheduler: either may stop a trial.

What it stopped, and why, is recorded once, on the driver, in the study's
``failure_stops.json`` (written as each decision is made, so an interrupted and
resumed study keeps it); :func:`stamp_trials` copies each entry into its trial's
``trial.json``, from which the history reads it. The searcher tells Optuna
PRUNED with the class as a user attribute.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ray import tune

from gan.census import census, failures, stop_rules

from gan.records import layout
from gan.records.atomic import write_text
from study.trainable import RUN_KEY

log = logging.getLogger(__name__)

# Race runs measure a config's spread over seeds: each must run its full budget.
STOPPABLE_PHASES = (*layout.PROPOSAL_PHASES, layout.PHASE_CONTROL)


FAILURE_STOPS_SCHEMA = 1


@dataclass
class FailureStops:
    """``failure_stops.json``: the trials failure-aware stopping ended, by trial id (class,
    epoch, onset and window), written as each decision is made and read back on resume, by the
    searcher (Optuna's record of the stop) and when trial folders are stamped."""

    stops: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema: int = FAILURE_STOPS_SCHEMA

    def save(self, path: Path) -> None:
        _write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> FailureStops:
        """The record at ``path`` (empty when there is none yet). An older file (schema 0)
        was the stops alone, with no schema.

        Raises:
            ValueError: when the file exists but is not a failure-stop record.
        """
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"{str(path)!r} is unreadable ({err}); move it aside to continue "
                             "without its record of failure-stopped trials") from err
        if not isinstance(data, dict):
            raise ValueError(f"{str(path)!r} is not a failure-stop record")
        if "schema" not in data:
            return cls(stops=data, schema=0)
        if not isinstance(data.get("stops"), dict):
            raise ValueError(f"{str(path)!r} is not a failure-stop record")
        return cls(stops=data["stops"], schema=int(data["schema"]))


def _write_json(path: Path, value: Any) -> None:
    """Write through a temporary file and a rename, so a kill never leaves half a record."""
    write_text(path, json.dumps(value, indent=2, sort_keys=True))


def _trial_params(result: dict[str, Any]) -> dict[str, Any]:
    config = result.get("config") or {}
    return config.get(RUN_KEY, config)


class FailureStopper(tune.Stopper):
    """Stops a search or control trial at the first epoch its failure is conclusive.

    Args:
        study_dir: the study folder (``failure_stops.json`` is written there).
        base_loss: the loss of trials whose parameters do not name one.
        window: epochs a rule must hold, one for all or per rule
            (gan.census.stop_rules.STOP_WINDOWS).
    """

    def __init__(self, study_dir: Path, base_loss: str,
                 window: failures.Windows = stop_rules.STOP_WINDOWS) -> None:
        self.path = Path(study_dir) / layout.FAILURE_STOPS
        self.base_loss, self.window = base_loss, window
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.stops = FailureStops.load(self.path).stops

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if trial_id in self.stops:
            return True
        params = _trial_params(result)
        if params.get("phase", layout.PHASE_SEARCH) not in STOPPABLE_PHASES \
                or not isinstance(result.get("epoch"), (int, float)):
            return False
        if trial_id not in self.rows:
            self.rows[trial_id] = self._earlier_rows(trial_id, result["epoch"])
        rows = self.rows[trial_id]
        # A resumed trial reports again from its checkpoint's epoch: keep one row per epoch.
        rows[:] = [r for r in rows if r["epoch"] < result["epoch"]]
        rows.append({k: result.get(k, math.nan) for k in failures.RULE_COLUMNS})
        trial = pd.DataFrame(rows).assign(loss=params.get("loss", self.base_loss))
        found = failures.conclusive_failure(trial, self.window)
        if found is None:
            return False
        cls, onset = found
        self.stops[trial_id] = {"failure": cls, "epoch": int(result["epoch"]),
                                "onset_epoch": None if math.isnan(onset) else int(onset),
                                "window": failures.rule_window(self.window, cls)
                                if cls != failures.DIVERGED else 1}
        FailureStops(self.stops).save(self.path)
        log.info("trial %s stopped for failure: %s (since epoch %s), at epoch %d", trial_id,
                 failures.class_label(cls), self.stops[trial_id]["onset_epoch"],
                 int(result["epoch"]))
        return True

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Restored with Tune's experiment (Tuner.restore unpickles the run config): the record
        # on disk, not the pickle's copy, says which trials were already stopped.
        self.__dict__.update(state)
        self.rows, self.stops = {}, FailureStops.load(self.path).stops

    def _earlier_rows(self, trial_id: str, epoch: float) -> list[dict[str, Any]]:
        """A trial first seen past epoch 1 was resumed after a restart of the driver: its
        earlier epochs (a collapse rule, in windows that include it, needs the learned peak)
        come from its own record."""
        folder = layout.trial_dirs(self.path.parent).get(trial_id)
        if epoch <= 1 or folder is None or not (folder / layout.METRICS_FILE).is_file():
            return []
        try:
            frame = pd.read_csv(folder / layout.METRICS_FILE)
        except (OSError, ValueError) as err:
            log.warning("failure stop: cannot read %s's earlier epochs (%s)", trial_id, err)
            return []
        frame = frame[frame["epoch"] < epoch].reindex(columns=list(failures.RULE_COLUMNS))
        return frame.to_dict("records")

    def stop_all(self) -> bool:
        return False


def stamp_trials(study_dir: Path) -> int:
    """Copy each failure stop into its (local) trial folder's ``trial.json`` as
    ``failure_stop``; how many trial files changed. Idempotent: runs after each experiment
    (and after its mirror from a --storage URI)."""
    stops = FailureStops.load(Path(study_dir) / layout.FAILURE_STOPS).stops
    folders = layout.trial_dirs(Path(study_dir))
    changed = 0
    for trial_id, stop in stops.items():
        path = folders[trial_id] / layout.TRIAL_FILE if trial_id in folders else None
        if path is None or not path.is_file():
            continue
        record = json.loads(path.read_text())
        if record.get(census.STOP_COLUMN) != stop:
            _write_json(path, {**record, census.STOP_COLUMN: stop})
            changed += 1
    return changed
