"""When failure-aware stopping ends a trial: the census's conclusive rules (gan.census.failures),
each held over its stop window.

The live stopper (study.failure_stop) asks :func:`gan.census.failures.conclusive_failure` with
:data:`STOP_WINDOWS` after every epoch; the offline replay (analysis.stopping) scans a whole
history once with :func:`first_stop_in`. Both give the same epoch (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan.census.failures import (CONCLUSIVE, D_WINS, DIVERGED, FROZEN, VANISHING, Windows,
                          class_label, conclusive_masks, holds_for_stop)

# Epochs a conclusive rule must hold before a trial is stopped for it, chosen by replaying the
# rules on two 100-trial atlases (docs/history.md, "Failure-aware stopping, replayed on the atlas"). Collapse after a
# learned peak has no window: within 30 epochs most trials it would stop recover. Never shorter
# than FINAL_WINDOW, so a stopped trial's census class is the class it was stopped for. A
# divergence (a NaN) is final at once.
STOP_WINDOWS = {VANISHING: 3, D_WINS: 3, FROZEN: 3}
# The networks these windows were validated on. Elsewhere D wins stops nothing: Ray Tune's
# DCGAN's D wins in its first epochs and its G still learns (replayed on run W, the D-wins stop
# ended 2 of the 10 trials it stopped falsely at every window from 3 to 8 epochs), and an
# unvalidated network's D may too. The gradient rules (vanishing, frozen) read exact or
# near-zero gradients, which no network recovers from within a run.
VALIDATED_MODELS = ("mlp",)
GRADIENT_STOP_WINDOWS = {rule: w for rule, w in STOP_WINDOWS.items() if rule != D_WINS}


def stop_windows(model: str = "mlp") -> dict[str, int]:
    """The stop windows of ``model``'s trials (gan.py's MLP: :data:`STOP_WINDOWS`; any other
    network: the gradient rules' only)."""
    return dict(STOP_WINDOWS if model in VALIDATED_MODELS else GRADIENT_STOP_WINDOWS)


def windows_text(windows: Windows | None = None) -> str:
    """The stop windows as prose: ``vanishing gradients 3, ..., mode collapse: never``
    (None: gan.py's MLP's, :data:`STOP_WINDOWS`)."""
    windows = STOP_WINDOWS if windows is None else windows
    if isinstance(windows, int):
        return f"{windows} epochs for every rule"
    return ", ".join(f"{class_label(c)} {windows[c]}" if c in windows
                     else f"{class_label(c)}: never" for c in CONCLUSIVE[1:])


def trial_masks(trial: pd.DataFrame) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(conclusive masks, epochs) of a trial, in epoch order: what :func:`first_stop_in` reads."""
    trial = trial.sort_values("epoch")
    return conclusive_masks(trial), trial["epoch"].to_numpy()


def first_stop_in(masks: dict[str, np.ndarray], epochs: np.ndarray,
                  window: Windows = STOP_WINDOWS, rules: tuple[str, ...] = CONCLUSIVE
                  ) -> tuple[str, int] | None:
    """:func:`first_stop` from a trial's :func:`trial_masks`, which a replay of many windows
    and rules computes once per trial."""
    for k in range(1, len(epochs) + 1):
        if DIVERGED in rules and masks[DIVERGED][:k].any():
            return DIVERGED, int(epochs[k - 1])
        for cls in CONCLUSIVE[1:]:
            if cls in rules and holds_for_stop(masks[cls][:k], window, cls):
                return cls, int(epochs[k - 1])
    return None


def first_stop(trial: pd.DataFrame, window: Windows = STOP_WINDOWS,
               rules: tuple[str, ...] = CONCLUSIVE) -> tuple[str, int] | None:
    """(class, epoch) at which failure-aware stopping would end this trial, or None: the first
    epoch k at which :func:`gan.census.failures.conclusive_failure` of the epochs up to k finds a
    failure.

    Computed from one set of masks (they are causal), so it equals calling
    ``conclusive_failure(trial[:k], window, rules)`` for k = 1, 2, ... (tested).
    """
    return first_stop_in(*trial_masks(trial), window, rules)
