"""Where a study's trial slots went: training, evaluation, everything else, then the report.
``timing.json`` is :class:`Timing`, one typed record with a schema version."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from gan.records import layout
from gan.records.atomic import write_text
from gan.records.history import read_record

SCHEMA = 1


@dataclass(frozen=True)
class Timing:
    """Shares of the study's slot-seconds (``wall_seconds`` x ``slots``), and the report's
    seconds apart (:func:`time_breakdown` says what each share is)."""

    wall_seconds: float
    slots: float
    slot: str
    training: float
    evaluation: float
    checkpoints: float
    checkpoint_cost: float
    other: float
    report_seconds: float
    training_with_report: float
    schema: int = SCHEMA

    def save(self, study_dir: str | Path) -> None:
        write_text(Path(study_dir) / layout.TIMING_FILE, json.dumps(asdict(self), indent=2))

    @classmethod
    def from_dict(cls, data: dict) -> Timing:
        """A record from its JSON; an older one (schema 0) may lack the checkpoints' share."""
        data = {"checkpoints": 0.0, "checkpoint_cost": math.nan, "slot": "core", "schema": 0,
                **data}
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    @classmethod
    def load(cls, study_dir: str | Path) -> Timing | None:
        """The study's timing record, or None when it has none (an unfinished study).

        Raises:
            StudyLoadError: when the file is there but unreadable.
        """
        return read_record(Path(study_dir) / layout.TIMING_FILE, cls.from_dict)


def slot_name(cpus_per_trial: float, gpus_per_trial: float = 0.0) -> str:
    """What one slot is, for the breakdown's text: "core" for the CPU default."""
    if gpus_per_trial == 0 and cpus_per_trial == 1:
        return "core"
    gpu = f" + {gpus_per_trial:g} GPU" if gpus_per_trial else ""
    return f"trial slot ({cpus_per_trial:g} CPU{gpu} each)"


def time_breakdown(history: pd.DataFrame, wall_seconds: float, slots: float,
                   report_seconds: float = 0.0, slot: str = "core") -> Timing:
    """Shares of ``wall_seconds x slots`` slot-seconds: the study, from start-up to its last
    trial's outputs, where ``slots`` is how many trials the cluster runs at once (its cores,
    on the CPU default; study.cluster.trial_slots).

    Training, evaluation and checkpoints come from each epoch's own timers
    (``epoch_seconds``, ``eval_seconds``, ``checkpoint_seconds``), one slot each; the rest is
    start-up, data and classifier loading, Ray and idle slots. ``checkpoint_cost`` is the
    checkpoints' time as a share of the training time (study.trial_checkpoints). The report
    that follows (``report_seconds``, its gradient probe included) is kept apart, and
    ``training_with_report`` is the training share of both together.

    Raises:
        ValueError: for a non-positive wall time or slot count, or a negative report time.
    """
    if wall_seconds <= 0 or slots <= 0 or report_seconds < 0:
        raise ValueError(f"wall_seconds and slots must be > 0 and report_seconds >= 0, got "
                         f"{wall_seconds}, {slots}, {report_seconds}")
    budget = wall_seconds * slots

    def used(column: str) -> float:
        return float(history[column].fillna(0).sum()) if column in history else 0.0

    training, evaluation = used("epoch_seconds") / budget, used("eval_seconds") / budget
    checkpoints = used("checkpoint_seconds") / budget
    return Timing(wall_seconds=wall_seconds, slots=slots, slot=slot, training=training,
                  evaluation=evaluation, checkpoints=checkpoints,
                  checkpoint_cost=checkpoints / training if training else math.nan,
                  other=max(0.0, 1.0 - training - evaluation - checkpoints),
                  report_seconds=report_seconds,
                  training_with_report=training * wall_seconds / (wall_seconds + report_seconds))


def _minutes(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes} m {seconds:02d} s"


def _slots_text(count: float, slot: str) -> str:
    """"2 cores", "1 core", "4 trial slots (1 CPU + 0.25 GPU each)"."""
    if count != 1:
        slot = slot.replace("slot", "slots", 1) if "slot" in slot else slot + "s"
    return f"{count:g} {slot}"


def breakdown_text(parts: Timing) -> str:
    text = (f"training {parts.training:.0%} of {_slots_text(parts.slots, parts.slot)} × "
            f"{_minutes(parts.wall_seconds)}; evaluation {parts.evaluation:.0%}; "
            f"checkpoints {parts.checkpoints:.1%} ({parts.checkpoint_cost:.1%} of training); "
            f"start-up, Ray and idle {parts.other:.0%}")
    if parts.report_seconds:
        text += (f"; then the report {_minutes(parts.report_seconds)} (training "
                 f"{parts.training_with_report:.0%} of the whole "
                 f"{_minutes(parts.wall_seconds + parts.report_seconds)})")
    return text
