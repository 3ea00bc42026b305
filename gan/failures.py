"""Failure classes of a trial's per-epoch history, and the epoch each failure begins.

Every rule holds over the final window (the last FINAL_WINDOW epochs a trial
reported), never on one epoch alone. A trial the scheduler stopped before the
full budget is ``undetermined`` unless its failure is already conclusive:
diverged, vanishing gradients, discriminator wins, training frozen, or a collapse
after it had learned (its diversity had first reached COLLAPSE_PEAK). Mode
collapse never has an onset before that learned peak. An undetermined trial
also says what it looked like when it was cut (:func:`cut_state`), a state that is
never counted as a failure.

Each class is named by the signals that define it:

- vanishing gradients (Arjovsky & Bottou): D separates, accepting real digits
  (D(x) >= VANISHING_D_REAL) and rejecting every fake (D(G(z)) < VANISHING_D_FAKE),
  and G's gradient is small;
- training frozen: D saturated on every input, real and fake alike, on either side
  (D(x) = D(G(z)) = 1, or both 0), so that gan.py's BCELoss, whose log is clamped
  at -100, passes no gradient to either network: both are exactly 0;
- not diverse yet: at the budget's end the samples are narrow or not diverse, but the
  trial never learned variety and its coverage has grown and held: a slow run, not a
  collapsed one, and no verdict.

Collapse and non-convergence are told apart by Naeem et al.'s density/coverage
split: samples that look real (high density) but cover little of the data
(low coverage) are collapse; samples that neither look real nor cover the data
are non-convergence. Thresholds are named constants that the report quotes.

Rules that read a loss's own scale apply only where that scale means the same:
D(x) and D(G(z)) (vanishing, frozen) only for the probability losses (for the logit
losses G's gradient norm alone decides), d_loss near 0 (D wins) only for losses
floored at 0, and the g_loss swing (oscillation) only for one-sidedly bounded g_loss.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from gan.losses import D_LOSS_FLOORED, G_LOSS_ONE_SIDED, PROBABILITY_LOSSES, arm_loss
from gan.state import STATUS_DIVERGED

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
D_WINS_LOSS = 0.05  # d_loss below this: D separates real from fake almost perfectly
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
OSCILLATION_CV = 0.5  # detrended spread of g_loss over the window, relative to its mean size
OSCILLATION_SMOOTH = 5  # grad-log rows averaged before detrending (per-batch noise is not a swing)
# Still learning (not diverse yet): a trial that never learned variety whose coverage over the
# final window is still within LEARNING_KEEP of its best (3-epoch means) and above its first
# quarter's by at least LEARNING_GAIN: a run that is slow, not collapsed, grows its coverage and
# keeps it (docs/findings.md, "The budget's reach", has the 200-epoch survey that set it).
LEARNING_KEEP = 0.8
LEARNING_GAIN = 0.02
THRESHOLDS = ("FINAL_WINDOW", "VANISHING_GRAD_NORM", "VANISHING_D_FAKE", "VANISHING_D_REAL",
              "D_WINS_LOSS", "FROZEN_GRAD_NORM",
              "COLLAPSE_PEAK", "COLLAPSE_COVERAGE", "COLLAPSE_MODES", "COLLAPSE_DROP",
              "COLLAPSE_MIN_DENSITY", "NONCONVERGED_DIVERSITY", "OSCILLATION_CV",
              "OSCILLATION_SMOOTH", "LEARNING_KEEP", "LEARNING_GAIN")  # quoted by the report


def class_label(cls: str) -> str:
    """A class as prose: ``mode_collapse`` -> ``mode collapse``."""
    return cls.replace("_", " ")


def _column(trial: pd.DataFrame, name: str, fill: float) -> np.ndarray:
    if name not in trial:
        return np.full(len(trial), fill)
    return trial[name].to_numpy(dtype=float)


def holds_at_end(mask: np.ndarray) -> bool:
    """The rule holds on every epoch of the final window (every epoch of a shorter trial)."""
    return len(mask) > 0 and bool(mask[-FINAL_WINDOW:].all())


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


def oscillation_score(values: np.ndarray) -> float:
    """Spread of ``values`` around their linear trend, relative to their mean magnitude.

    A steady trend (1, 2, 4) scores low; alternation (0.2, 3, 0.2, 3) scores high;
    the sign of the values does not matter (the minimax g_loss is negative).
    """
    values = values[np.isfinite(values)]
    if len(values) < 3:
        return math.nan
    x = np.arange(len(values), dtype=float)
    residual = values - np.polyval(np.polyfit(x, values, 1), x)
    return float(residual.std() / (np.abs(values).mean() + 1e-8))


def _window_g_loss(trial: pd.DataFrame, steps: pd.DataFrame | None) -> np.ndarray:
    """g_loss over the final window: smoothed grad-log rows where they exist, else epochs."""
    if steps is not None and len(steps) and "g_loss" in steps and "epoch" in steps:
        first = trial["epoch"].to_numpy()[-FINAL_WINDOW:][0]
        rows = steps[steps["epoch"] >= first].sort_values("step")["g_loss"]
        if len(rows) >= 3 * OSCILLATION_SMOOTH:
            return rows.rolling(OSCILLATION_SMOOTH).mean().dropna().to_numpy(dtype=float)
    return _column(trial, "g_loss", math.nan)[-FINAL_WINDOW:]


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
    """Per epoch (in the trial's row order): the run reported a NaN (status or d_loss)."""
    return (trial["status"].astype(str).to_numpy() == DIVERGED) \
        | ~np.isfinite(_column(trial, "d_loss", math.nan))


def never_diverse(trial: pd.DataFrame) -> bool:
    """Diversity stayed below NONCONVERGED_DIVERSITY over the final window (NaN: not diverse)."""
    diversity = _column(trial, "diversity", math.nan)[-FINAL_WINDOW:]
    return bool(len(diversity)) and np.nanmax(np.append(diversity, -1.0)) < NONCONVERGED_DIVERSITY


def separates(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch: D accepts real digits (D(x) >= VANISHING_D_REAL) and rejects every fake
    (D(G(z)) < VANISHING_D_FAKE). Probabilities only: False where they are NaN (logit
    losses, or histories that predate D(x))."""
    with np.errstate(invalid="ignore"):
        return (_column(trial, "d_real", math.nan) >= VANISHING_D_REAL) \
            & (_column(trial, "d_fake", math.nan) < VANISHING_D_FAKE)


def still_learning(trial: pd.DataFrame) -> bool:
    """The trial never learned variety (diversity below COLLAPSE_PEAK throughout) but its
    coverage has grown and held: its final-window mean is at least LEARNING_KEEP of its best
    3-epoch mean and exceeds the mean of its first quarter of epochs by LEARNING_GAIN. A slow
    run, not a collapsed one (needs 4 epochs or more)."""
    trial = trial.sort_values("epoch")
    cover = _column(trial, "coverage", math.nan)
    cover = cover[np.isfinite(cover)]
    if len(cover) < 4 or np.nanmax(np.append(_column(trial, "diversity", 0.0), 0.0)) \
            >= COLLAPSE_PEAK:
        return False
    best = float(pd.Series(cover).rolling(3, min_periods=1).mean().max())
    final = float(cover[-FINAL_WINDOW:].mean())
    start = float(cover[:max(1, len(cover) // 4)].mean())
    return best > 0 and final >= LEARNING_KEEP * best and final - start >= LEARNING_GAIN


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
    return {
        DIVERGED: diverged(trial),
        VANISHING: vanished,
        D_WINS: (d_loss < D_WINS_LOSS) & (loss in D_LOSS_FLOORED),
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


def classify_trial(trial: pd.DataFrame, full_budget: bool = True,
                   steps: pd.DataFrame | None = None) -> tuple[str, float]:
    """(failure class, onset epoch or NaN) of one trial's history.

    Args:
        trial: its per-epoch rows (with a ``loss`` column when not gan.py's ``ns``).
        full_budget: False when the scheduler stopped it before the last epoch.
        steps: its grad-log rows (per logged step), for the oscillation rule.
    """
    trial = trial.sort_values("epoch")
    found = conclusive_failure(trial)
    if found is not None:
        return found
    if not full_budget:
        return UNDETERMINED, math.nan
    narrow, never = holds_at_end(narrow_and_real(trial)), never_diverse(trial)
    if (narrow or never) and still_learning(trial):
        return NOT_DIVERSE_YET, math.nan  # slow, not collapsed: coverage has grown and held
    if narrow:
        return MODE_COLLAPSE, math.nan  # realistic but narrow throughout: never learned variety
    if _loss_of(trial) in G_LOSS_ONE_SIDED and oscillation_score(_window_g_loss(trial, steps)) \
            > OSCILLATION_CV:
        return OSCILLATION, math.nan
    if never:
        return OSCILLATION, math.nan  # non-convergence: samples never became diverse
    return HEALTHY, math.nan
