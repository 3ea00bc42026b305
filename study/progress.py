"""A terminal people can read: one line per finished trial and a periodic status line.

Tune's own tables (every trial's config box and a results table) come back with ``-v``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from ray import tune

from gan.records.layout import SEARCH_PARAMS

log = logging.getLogger("study.progress")
STATUS_EVERY_S = 60.0


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def trial_line(trial_id: str, config: dict[str, Any], result: dict[str, Any],
               objective: str) -> str:
    """``trial 3f2a: lr 0.0014 b1 0.03 ... | 30 epochs, fcd 99.8, status ok``."""
    params = config.get("run", config)
    shown = " ".join(f"{k} {_fmt(params[k])}" for k in SEARCH_PARAMS if k in params)
    phase = params.get("phase")
    label = f"trial {trial_id}" + (f" ({phase} {params.get('replicate', '')}".rstrip() + ")"
                                   if phase else "")
    return (f"{label}: {shown} | {result.get('epoch', '?')} epochs, {objective} "
            f"{_fmt(result.get(objective, math.nan))}, status {result.get('status', '?')}")


class TrialLines(tune.Callback):
    """Logs a line as each trial ends and a status line every ``every`` seconds."""

    def __init__(self, objective: str, total: int, every: float = STATUS_EVERY_S) -> None:
        self.objective, self.total, self.every = objective, total, every
        self.ended, self.last_status = 0, time.monotonic()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended += 1
        log.info("[%d/%d] %s", self.ended, self.total,
                 trial_line(trial.trial_id, trial.config, trial.last_result or {},
                            self.objective))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.ended += 1
        log.warning("[%d/%d] trial %s failed (see its error.txt)", self.ended, self.total,
                    trial.trial_id)

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if time.monotonic() - self.last_status < self.every:
            return
        self.last_status = time.monotonic()
        running = sum(1 for t in trials if t.status == "RUNNING")
        log.info("status: %d of %d trials ended, %d running", self.ended, self.total, running)
