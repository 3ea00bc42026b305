"""Where a study's core-seconds went: training, evaluation, and everything else."""

from __future__ import annotations

import pandas as pd


def time_breakdown(history: pd.DataFrame, wall_seconds: float, total_cpus: float,
                   cpus_per_trial: float) -> dict[str, float]:
    """Shares of ``wall_seconds x total_cpus`` core-seconds.

    Training and evaluation come from each epoch's own timers (``epoch_seconds``,
    ``eval_seconds``), counted at ``cpus_per_trial`` cores each; the rest is start-up,
    data and classifier loading, checkpoints, Ray, the report, and idle cores.

    Raises:
        ValueError: for a non-positive wall time or core count.
    """
    if wall_seconds <= 0 or total_cpus <= 0 or cpus_per_trial <= 0:
        raise ValueError(f"wall_seconds, total_cpus and cpus_per_trial must be > 0, got "
                         f"{wall_seconds}, {total_cpus}, {cpus_per_trial}")
    budget = wall_seconds * total_cpus

    def used(column: str) -> float:
        return float(history[column].fillna(0).sum()) * cpus_per_trial if column in history \
            else 0.0

    training, evaluation = used("epoch_seconds") / budget, used("eval_seconds") / budget
    return {"wall_seconds": wall_seconds, "cpus": total_cpus, "training": training,
            "evaluation": evaluation, "other": max(0.0, 1.0 - training - evaluation)}


def breakdown_text(parts: dict[str, float]) -> str:
    minutes, seconds = divmod(int(round(parts["wall_seconds"])), 60)
    return (f"training {parts['training']:.0%} of {parts['cpus']:g} cores × {minutes} m "
            f"{seconds:02d} s; evaluation {parts['evaluation']:.0%}; start-up, checkpoints, Ray, "
            f"report and idle {parts['other']:.0%}")
