"""Failure classes of a trial's per-epoch history, and the epoch each failure begins.

Every rule holds over the final window (the last FINAL_WINDOW epochs a trial reported),
never on one epoch alone, and a trial shorter than the window has no class. A trial stopped
before its budget is ``undetermined`` unless its failure is already conclusive (diverged,
vanishing gradients, discriminator wins, training frozen, or a collapse after it had learned
variety, never with an onset before that learned peak); gan.census.census says what it looked like at
the cut, a state never counted as a failure. The rules name a class in PRECEDENCE order;
gan.census.census names every other rule that also holds as secondary.

Each class is named by the signals that define it:

- vanishing gradients (Arjovsky & Bottou): D separates, accepting real digits
  (D(x) >= VANISHING_D_REAL) and rejecting every fake (D(G(z)) < VANISHING_D_FAKE), and G's
  gradient is small (logit losses: G's gradient small while D's still moves);
- training frozen: both networks' gradients exactly 0; for the probability losses D is
  saturated on every input, on either side, so that BCELoss's clamp at -100 passes nothing;
- not diverse yet: narrow or not diverse at the budget's end, but the run never learned
  variety and its coverage was still climbing through the latter half of its epochs
  (gan.census.climbing): a slow run, and no verdict.

Collapse and non-convergence are told apart by Naeem et al.'s density/coverage split:
realistic (high density) but narrow (low coverage) samples are collapse; samples that neither
look real nor cover the data are non-convergence. A missing score is never a failure: a trial
whose samples were not scored over the final window has no verdict. Rules that read a loss's
own scale apply only where it means the same: D(x) and D(G(z)) for the probability losses,
d_loss near 0 (D wins, at a threshold per loss) for losses floored at 0, and the g_loss swing
(gan.census.oscillation) for one-sidedly bounded g_loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from gan.census.climbing import climb_evidence, is_climbing
from gan.census.oscillation import swings
from gan.train.losses import D_LOSS_FLOORED, G_LOSS_ONE_SIDED, PROBABILITY_LOSSES, arm_loss
from gan.train.state import STATUS_DIVERGED

HEALTHY = "healthy"
MODE_COLLAPSE = "mode_collapse"
VANISHING = "vanishing_gradients"
D_WINS = "discriminator_wins"
FROZEN = "training_frozen"
OSCILLATION = "oscillation_nonconvergence"
DIVERGED = STATUS_DIVERGED
UNDETERMINED = "undetermined"  # stopped early, before its failure (if any) was conclusive
# Full budget, samples not diverse yet but their coverage still rising: too slow for the
# budget to judge, never a failure (like an early stop, it has no verdict).
NOT_DIVERSE_YET = "not_diverse_yet"
CLASSES = (HEALTHY, MODE_COLLAPSE, VANISHING, D_WINS, FROZEN, OSCILLATION, DIVERGED,
           NOT_DIVERSE_YET, UNDETERMINED)
FAILURES = (MODE_COLLAPSE, VANISHING, D_WINS, FROZEN, OSCILLATION, DIVERGED)
NO_VERDICT = (NOT_DIVERSE_YET, UNDETERMINED)  # classes a failure rate leaves out
FINAL_WINDOW = 3  # epochs at the end of a trial over which every rule must hold
VANISHING_GRAD_NORM = 1e-2  # G's total gradient norm below this is "vanished" (healthy: 0.1-10)
VANISHING_D_FAKE = 0.05  # ... while D(G(z)) stays near 0: D rejects every fake
VANISHING_D_REAL = 0.5  # ... and D(x) at least this: D accepts real digits (it separates)
# D wins: d_loss below the value a D that scores 0.95 on every real digit and 0.05 on every
# fake would reach, on each loss's own scale. BCE (ns, minimax): (-log 0.95 - log 0.95) / 2 =
# 0.051; lsgan: (0.05^2 + 0.05^2) / 2 = 0.0025 (0.05 there would let D be off by 0.22 on
# every input). hinge's d_loss is the mean margin violation, 0 for a D beyond its margin (a
# logit of 1, a probability of 0.73) on every input: below 0.05, D is past it on nearly all.
D_WINS_LOSS = 0.05  # ns, minimax and hinge
D_WINS_LOSS_LSGAN = 0.0025
# Training frozen: G's and D's gradient norms both exactly 0 over an epoch (their epoch means
# are 0, so every step's were), while D does not separate. Not "small": Adam divides by the
# gradient's own running size, so a gradient of 1e-10 still moves a weight by about lr; only
# an exact 0 moves nothing. It happens when gan.py's Sigmoid saturates in float32 on every
# input, at 1 (the logit past ~17) or at 0, and BCELoss's clamp of log(0) at -100 leaves no
# gradient anywhere.
FROZEN_GRAD_NORM = 0.0
COLLAPSE_PEAK = 0.2  # diversity a trial must have reached before it can collapse
COLLAPSE_COVERAGE = 0.25  # coverage below this is narrow (real digits ~0.97, one class <0.1)
COLLAPSE_MODES = 5  # fewer than 5 of 10 classes get 5% of the samples: narrow too
COLLAPSE_DROP = 0.5  # diversity below half its peak: narrow too (learned, then lost variety)
COLLAPSE_MIN_DENSITY = 0.3  # density at least this: samples look real (real digits ~1)
NONCONVERGED_DIVERSITY = 0.1  # still below this at the end: never learned (real digits ~0.98)
THRESHOLDS = ("FINAL_WINDOW", "VANISHING_GRAD_NORM", "VANISHING_D_FAKE", "VANISHING_D_REAL",
              "D_WINS_LOSS", "D_WINS_LOSS_LSGAN", "FROZEN_GRAD_NORM",
              "COLLAPSE_PEAK", "COLLAPSE_COVERAGE", "COLLAPSE_MODES", "COLLAPSE_DROP",
              "COLLAPSE_MIN_DENSITY", "NONCONVERGED_DIVERSITY")  # quoted by the report
# The order in which the rules name a trial's class (its primary); every other failure rule
# that also holds at the end is named beside it as secondary (gan.census.census). A NaN first (it
# ends training); then the mechanisms, from the one that starves G alone to the one that
# starves both; a collapse after learned variety; then, at the full budget only, the
# end-of-budget rules.
PRECEDENCE = (DIVERGED, VANISHING, D_WINS, FROZEN, MODE_COLLAPSE, OSCILLATION)


def d_wins_threshold(loss: str) -> float:
    """The d_loss below which D wins, on ``loss``'s own scale; NaN for a loss whose d_loss has
    no floor (wgan-gp), where the rule does not apply."""
    loss = arm_loss(loss)
    if loss not in D_LOSS_FLOORED:
        return math.nan
    return D_WINS_LOSS_LSGAN if loss == "lsgan" else D_WINS_LOSS


def class_label(cls: str) -> str:
    """A class as prose: ``mode_collapse`` -> ``mode collapse``."""
    return cls.replace("_", " ")


def _column(trial: pd.DataFrame, name: str, fill: float) -> np.ndarray:
    if name not in trial:
        return np.full(len(trial), fill)
    return trial[name].to_numpy(dtype=float)


def holds_at_end(mask: np.ndarray) -> bool:
    """The rule holds on every epoch of the final window; a trial shorter than the window
    holds no rule (one epoch is never a verdict)."""
    return len(mask) >= FINAL_WINDOW and bool(mask[-FINAL_WINDOW:].all())


def _holds_over(mask: np.ndarray, window: int) -> bool:
    """The rule holds on each of the last ``window`` epochs, and the trial has that many."""
    return len(mask) >= window and bool(mask[-window:].all())


def _onset(mask: np.ndarray, epochs: np.ndarray) -> float:
    """First epoch from which ``mask`` holds to the end; NaN if it does not hold at the end."""
    if len(mask) == 0 or not mask[-1]:
        return math.nan
    start = len(mask) - 1
    while start > 0 and mask[start - 1]:
        start -= 1
    return float(epochs[start])


def learned(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch: diversity had reached COLLAPSE_PEAK at an earlier epoch."""
    div = np.nan_to_num(_column(trial, "diversity", math.nan), nan=0.0)
    before = np.r_[0.0, np.fmax.accumulate(div)[:-1]] if len(div) else div
    return before >= COLLAPSE_PEAK


def narrow_and_real(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch: samples look real (density) but cover little (coverage, modes, or diversity
    fallen below half its peak)."""
    div = _column(trial, "diversity", math.nan)
    peak = np.fmax.accumulate(np.nan_to_num(div, nan=0.0)) if len(div) else div
    with np.errstate(invalid="ignore"):
        narrow = (_column(trial, "coverage", math.inf) < COLLAPSE_COVERAGE) \
            | (_column(trial, "modes", math.inf) < COLLAPSE_MODES) \
            | ((peak >= COLLAPSE_PEAK) & (div < COLLAPSE_DROP * peak))
        return narrow & (_column(trial, "density", math.inf) >= COLLAPSE_MIN_DENSITY)


def is_collapsed(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch: narrow but realistic samples, after the trial had learned variety."""
    return narrow_and_real(trial) & learned(trial)


def _loss_of(trial: pd.DataFrame) -> str:
    """The trial's GAN loss (gan.py's ``ns`` for histories written before losses varied;
    a recipe arm's loss for the arm)."""
    if "loss" not in trial or trial["loss"].isna().all():
        return "ns"
    return arm_loss(str(trial["loss"].dropna().iloc[0]))


# The failures an early stop may already read: each is final once its rule has held (a
# diverged run never recovers; the others over a window). Checked in this order; vanishing
# and frozen exclude each other (one needs D to separate, the other forbids it).
CONCLUSIVE = (DIVERGED, VANISHING, D_WINS, FROZEN, MODE_COLLAPSE)
# The per-epoch columns conclusive_masks reads (besides the loss): the live stopper keeps
# exactly these from each result, so a new rule's column reaches it from here.
RULE_COLUMNS = ("epoch", "status", "d_loss", "d_real", "d_fake", "g_grad_norm", "d_grad_norm",
                "diversity", "coverage", "modes", "density")


def diverged(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch (in the trial's row order): the run reported a NaN. The loop's status says so
    where a history has it (a NaN d_loss beside status ``ok`` is a missing value, not a
    divergence); a history without a status column falls back on d_loss being non-finite.

    Raises:
        ValueError: when the history has neither column, so that no divergence can be told.
    """
    if "status" in trial:
        return trial["status"].astype(str).to_numpy() == DIVERGED
    if "d_loss" in trial:
        return ~np.isfinite(trial["d_loss"].to_numpy(dtype=float))
    raise ValueError(f"a history needs a status or a d_loss column to tell a divergence; it "
                     f"has {sorted(map(str, trial.columns))}")


def never_diverse(trial: pd.DataFrame) -> bool:
    """Diversity stayed below NONCONVERGED_DIVERSITY over the final window's scored epochs
    (False when none was scored: a missing score is no evidence)."""
    diversity = _column(trial, "diversity", math.nan)[-FINAL_WINDOW:]
    diversity = diversity[np.isfinite(diversity)]
    return bool(len(diversity)) and float(diversity.max()) < NONCONVERGED_DIVERSITY


def separates(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch: D accepts real digits (D(x) >= VANISHING_D_REAL) and rejects every fake
    (D(G(z)) < VANISHING_D_FAKE). Probabilities only: False where they are NaN (logit
    losses, or histories that predate D(x))."""
    with np.errstate(invalid="ignore"):
        return (_column(trial, "d_real", math.nan) >= VANISHING_D_REAL) \
            & (_column(trial, "d_fake", math.nan) < VANISHING_D_FAKE)


def still_climbing(trial: pd.DataFrame) -> bool:
    """The trial never learned variety (diversity below COLLAPSE_PEAK throughout) and its
    coverage was still rising through the latter half of its epochs, by more than its own
    noise (:mod:`gan.census.climbing`): a slow run, not a collapsed one."""
    if np.nanmax(np.append(_column(trial, "diversity", 0.0), 0.0)) >= COLLAPSE_PEAK:
        return False
    return is_climbing(climb_evidence(trial, FINAL_WINDOW))


def scored_at_end(trial: pd.DataFrame) -> bool:
    """Some epoch of the final window has its samples scored (a finite diversity or
    coverage). Without one, the sample rules have nothing to read: no verdict, never a
    failure."""
    window = trial.sort_values("epoch").iloc[-FINAL_WINDOW:]
    return any(np.isfinite(_column(window, name, math.nan)).any()
               for name in ("diversity", "coverage"))


def conclusive_masks(trial: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per epoch (in epoch order), whether each conclusive failure's rule holds there.

    Every mask at epoch k reads only epochs up to k (the collapse rule's learned peak is a
    running maximum), so a prefix of a history gives the prefix of its masks: the live stopper
    and the offline replay see the same rules.
    """
    trial = trial.sort_values("epoch")
    loss = _loss_of(trial)
    d_loss = _column(trial, "d_loss", math.nan)
    probability = loss in PROBABILITY_LOSSES
    vanished = _column(trial, "g_grad_norm", math.inf) < VANISHING_GRAD_NORM
    gone = (_column(trial, "g_grad_norm", math.inf) <= FROZEN_GRAD_NORM) \
        & (_column(trial, "d_grad_norm", math.inf) <= FROZEN_GRAD_NORM)
    if probability:
        # A D that separates starves G (vanishing); one saturated on every input, whichever
        # side, starves both networks (frozen).
        vanished &= separates(trial)
        gone &= ~separates(trial)
    else:
        # Without probabilities only the gradients speak: both exactly 0 is frozen, for every
        # loss, and vanishing is G's gradient small while D's still moves.
        vanished &= ~gone
    return {
        DIVERGED: diverged(trial),
        VANISHING: vanished,
        D_WINS: d_loss < d_wins_threshold(loss),
        FROZEN: gone,
        MODE_COLLAPSE: is_collapsed(trial),
    }


Windows = int | Mapping[str, int]  # one stop window for every rule, or one per rule


def rule_window(windows: Windows, cls: str) -> int | None:
    """A rule's stop window; None: the rule stops no trial (per-rule windows without it)."""
    return windows if isinstance(windows, int) else windows.get(cls)


def holds_for_stop(mask: np.ndarray, windows: Windows, cls: str) -> bool:
    """The rule ``cls`` has held over its stop window at the mask's last epoch."""
    window = rule_window(windows, cls)
    return window is not None and _holds_over(mask, window)


def conclusive_failure(trial: pd.DataFrame, window: Windows | None = None,
                       rules: tuple[str, ...] = CONCLUSIVE) -> tuple[str, float] | None:
    """(class, onset epoch) of the first conclusive failure that holds at the trial's last
    epoch, or None.

    Args:
        trial: its per-epoch rows so far.
        window: epochs a rule must have held (one for all, or per rule), the trial having
            at least that many; None: the census's FINAL_WINDOW (a shorter trial: all of it).
        rules: which of CONCLUSIVE to apply (the replay measures each alone).
    """
    trial = trial.sort_values("epoch")
    masks, epochs = conclusive_masks(trial), trial["epoch"].to_numpy()
    if DIVERGED in rules and masks[DIVERGED].any():
        return DIVERGED, float(epochs[int(np.argmax(masks[DIVERGED]))])
    for cls in CONCLUSIVE[1:]:
        holds = holds_at_end(masks[cls]) if window is None \
            else holds_for_stop(masks[cls], window, cls)
        if cls in rules and holds:
            return cls, _onset(masks[cls], epochs)
    return None


def _oscillates(trial: pd.DataFrame, steps: pd.DataFrame | None) -> bool:
    return _loss_of(trial) in G_LOSS_ONE_SIDED and swings(trial, steps, FINAL_WINDOW)


def failure_signals(trial: pd.DataFrame, steps: pd.DataFrame | None = None) -> list[str]:
    """Every failure rule that holds at the trial's end, in :data:`PRECEDENCE` order: the
    conclusive ones over the final window, a narrow end (mode collapse, when the run is not
    still climbing), and an oscillating or never-diverse end (non-convergence). The census
    names the first as the class and the rest as secondary."""
    trial = trial.sort_values("epoch")
    masks = conclusive_masks(trial)
    found = [cls for cls in CONCLUSIVE if holds_at_end(masks[cls])
             or (cls == DIVERGED and masks[cls].any())]
    if len(trial) >= FINAL_WINDOW and scored_at_end(trial):
        narrow, never = holds_at_end(narrow_and_real(trial)), never_diverse(trial)
        if (narrow or never) and still_climbing(trial):
            narrow = never = False  # a slow run: its narrow end is no failure signal
        if narrow:
            found.append(MODE_COLLAPSE)
        if never or _oscillates(trial, steps):
            found.append(OSCILLATION)
    return [cls for cls in PRECEDENCE if cls in found]


def classify_trial(trial: pd.DataFrame, full_budget: bool = True,
                   steps: pd.DataFrame | None = None) -> tuple[str, float]:
    """(failure class, onset epoch or NaN) of one trial's history, the rules applied in
    :data:`PRECEDENCE` order.

    No verdict (``undetermined``) for a trial with fewer epochs than FINAL_WINDOW, for one
    stopped before its budget whose failure was not yet conclusive, and for one whose samples
    were never scored over the final window; ``not_diverse_yet`` for a narrow end of a run
    still climbing (:func:`still_climbing`). A divergence is a fact at any epoch.

    Args:
        trial: its per-epoch rows (with a ``loss`` column when not gan.py's ``ns``).
        full_budget: False when the scheduler stopped it before the last epoch.
        steps: its grad-log rows (per logged step), for the oscillation rule.
    """
    trial = trial.sort_values("epoch")
    found = conclusive_failure(trial)
    if found is not None:
        return found
    if not full_budget or len(trial) < FINAL_WINDOW or not scored_at_end(trial):
        return UNDETERMINED, math.nan
    narrow, never = holds_at_end(narrow_and_real(trial)), never_diverse(trial)
    if (narrow or never) and still_climbing(trial):
        return NOT_DIVERSE_YET, math.nan  # slow, not collapsed: coverage still climbing
    if narrow:
        return MODE_COLLAPSE, math.nan  # realistic but narrow: it narrowed and stayed so
    if _oscillates(trial, steps) or never:
        return OSCILLATION, math.nan  # g_loss swings, or samples never became diverse
    return HEALTHY, math.nan
