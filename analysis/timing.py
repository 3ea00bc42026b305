"""Where a study's core-seconds went: training, evaluation, everything else, then the report."""

from __future__ import annotations

import pandas as pd


def time_breakdown(history: pd.DataFrame, wall_seconds: float, total_cpus: float,
                   cpus_per_trial: float, report_seconds: float = 0.0) -> dict[str, float]:
    """Shares of ``wall_seconds x total_cpus`` core-seconds: the study, from start-up to its
    last trial's outputs.

    Training and evaluation come from each epoch's own timers (``epoch_seconds``,
    ``eval_seconds``), counted at ``cpus_per_trial`` cores each; the rest is start-up,
    data and classifier loading, checkpoints, Ray and idle cores. The report that follows
    (``report_seconds``, its gradient probe included) is kept apart, and
    ``training_with_report`` is the training share of both together.

    Raises:
        ValueError: for a non-positive wall time or core count, or a negative report time.
    """
    if wall_seconds <= 0 or total_cpus <= 0 or cpus_per_trial <= 0 or report_seconds < 0:
        raise ValueError(f"wall_seconds, total_cpus and cpus_per_trial must be > 0 and "
                         f"report_seconds >= 0, got {wall_seconds}, {total_cpus}, "
                         f"{cpus_per_trial}, {report_seconds}")
    budget = wall_seconds * total_cpus

    def used(column: str) -> float:
        return float(history[column].fillna(0).sum()) * cpus_per_trial if column in history \
            else 0.0

    training, evaluation = used("epoch_seconds") / budget, used("eval_seconds") / budget
    return {"wall_seconds": wall_seconds, "cpus": total_cpus, "training": training,
            "evaluation": evaluation, "other": max(0.0, 1.0 - training - evaluation),
            "report_seconds": report_seconds,
            "training_with_report": training * wall_seconds / (wall_seconds + report_seconds)}


def _minutes(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes} m {seconds:02d} s"


def breakdown_text(parts: dict[str, float]) -> str:
    text = (f"training {parts['training']:.0%} of {parts['cpus']:g} cores × "
            f"{_minutes(parts['wall_seconds'])}; evaluation {parts['evaluation']:.0%}; "
            f"start-up, checkpoints, Ray and idle {parts['other']:.0%}")
    if parts.get("report_seconds"):
        text += (f"; then the report {_minutes(parts['report_seconds'])} (training "
                 f"{parts['training_with_report']:.0%} of the whole "
                 f"{_minutes(parts['wall_seconds'] + parts['report_seconds'])})")
    return text
