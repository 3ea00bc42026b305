"""What a trial's samples show, by the same rule for every loss, and which definition of a
class each loss is judged by: what a comparison across losses counts.

The census's classes (gan.census.failures) read each loss's own scales, and some exist only for some
losses (D wins needs a loss floored at 0, oscillation a one-sided g_loss); the samples'
outcome is read from the samples alone (and a NaN).
"""

from __future__ import annotations

import pandas as pd

from gan.census.failures import (D_WINS, DIVERGED, FINAL_WINDOW, HEALTHY, MODE_COLLAPSE,
                          NOT_DIVERSE_YET, OSCILLATION, UNDETERMINED, VANISHING, diverged,
                          holds_at_end, narrow_and_real, never_diverse, scored_at_end,
                          still_climbing)
from gan.train.losses import D_LOSS_FLOORED, G_LOSS_ONE_SIDED, PROBABILITY_LOSSES, arm_loss

COLLAPSED, NOT_LEARNED = "collapsed", "not_learned"
OUTCOMES = (HEALTHY, COLLAPSED, NOT_LEARNED, DIVERGED, NOT_DIVERSE_YET, UNDETERMINED)
FAILED_OUTCOMES = (COLLAPSED, NOT_LEARNED, DIVERGED)


def samples_failed(outcomes: pd.Series) -> pd.Series:
    """Per trial: its samples failed (collapsed, not learned or diverged), the one verdict a
    comparison across losses counts."""
    return outcomes.isin(FAILED_OUTCOMES)


def sample_outcome(trial: pd.DataFrame, full_budget: bool = True) -> str:
    """What a trial's final samples show, by the same rule for every loss: diverged (a NaN),
    collapsed (realistic but narrow over the final window), not learned (diversity below
    NONCONVERGED_DIVERSITY over it), else healthy; ``not_diverse_yet`` for narrow or
    not-diverse samples of a trial still climbing (gan.census.failures.still_climbing), and
    ``undetermined`` for a trial stopped before its budget whose samples had not failed, one
    shorter than the final window, or one whose samples were not scored over it."""
    trial = trial.sort_values("epoch")
    if diverged(trial).any():
        return DIVERGED
    if len(trial) < FINAL_WINDOW or not scored_at_end(trial):
        return UNDETERMINED
    narrow, never = holds_at_end(narrow_and_real(trial)), never_diverse(trial)
    if (narrow or never) and full_budget and still_climbing(trial):
        return NOT_DIVERSE_YET
    if narrow:
        return COLLAPSED
    if never:
        return NOT_LEARNED
    return HEALTHY if full_budget else UNDETERMINED


def rule_family(cls: str, loss: str) -> str | None:
    """The definition of ``cls`` a loss's trials are judged by; two losses compare on a class
    only when they share one. None: the class does not exist for the loss."""
    loss = arm_loss(loss)
    if cls == VANISHING:
        return "G's gradient, D(x) and D(G(z))" if loss in PROBABILITY_LOSSES \
            else "G's gradient"
    if cls == D_WINS:
        return "d_loss" if loss in D_LOSS_FLOORED else None
    if cls == OSCILLATION:
        return "g_loss swing or never diverse" if loss in G_LOSS_ONE_SIDED else "never diverse"
    if cls == NOT_DIVERSE_YET:
        return "samples' coverage"
    return "samples or NaN" if cls in (MODE_COLLAPSE, DIVERGED) else "gradients"
