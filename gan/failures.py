"""Failure classes of a trial's per-epoch history, and the epoch each failure begins.

Every rule holds over the final window (the last FINAL_WINDOW epochs a trial
reported), never on one epoch alone. A trial the scheduler stopped before the
full budget is ``undetermined`` unless its failure is already conclusive:
diverged, vanishing gradients, discriminator wins, training frozen (no gradient
at all in either network), or a collapse after it had learned (its diversity had
first reached COLLAPSE_PEAK). Mode collapse never has an onset before that
learned peak.

Collapse and non-convergence are told apart by Naeem et al.'s density/coverage
split: samples that look real (high density) but cover little of the data
(low coverage) are collapse; samples that neither look real nor cover the data
are non-convergence. Thresholds are named constants that the report quotes.

Rules that read a loss's own scale apply only where that scale means the same:
D(G(z)) near 0 (vanishing) only for the probability losses (for the logit losses
G's gradient norm alone decides), d_loss near 0 (D wins) only for losses floored
at 0, and the g_loss swing (oscillation) only for one-sidedly bounded g_loss.
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
CLASSES = (HEALTHY, MODE_COLLAPSE, VANISHING, D_WINS, FROZEN, OSCILLATION, DIVERGED, UNDETERMINED)
FAILURES = (MODE_COLLAPSE, VANISHING, D_WINS, FROZEN, OSCILLATION, DIVERGED)
# Outcomes read from the samples alone (and a NaN), defined the same way for every loss: what
# a comparison across losses counts. The classes above read losses' own scales, and some exist
# only for some losses (D wins needs a loss floored at 0, oscillation a one-sided g_loss).
COLLAPSED, NOT_LEARNED = "collapsed", "not_learned"
OUTCOMES = (HEALTHY, COLLAPSED, NOT_LEARNED, DIVERGED, UNDETERMINED)
FAILED_OUTCOMES = (COLLAPSED, NOT_LEARNED, DIVERGED)

FINAL_WINDOW = 3  # epochs at the end of a trial over which every rule must hold
VANISHING_GRAD_NORM = 1e-2  # G's total gradient norm below this is "vanished" (healthy: 0.1-10)
VANISHING_D_FAKE = 0.05  # ... while D(G(z)) stays near 0: D rejects every fake
D_WINS_LOSS = 0.05  # d_loss below this: D separates real from fake almost perfectly
# Training frozen: G's and D's gradient norms both exactly 0 over an epoch (their epoch means
# are 0, so every step's were). Not "small": Adam divides by the gradient's own running size,
# so a gradient of 1e-10 still moves a weight by about lr; only an exact 0 moves nothing.
# Seen when the seed's Sigmoid saturates in float32 on every input (D(x) = D(G(z)) = 1 once
# the logit passes ~17) and BCELoss's clamp of log(0) at -100 leaves no gradient anywhere.
FROZEN_GRAD_NORM = 0.0
COLLAPSE_PEAK = 0.2  # diversity a trial must have reached before it can collapse
COLLAPSE_COVERAGE = 0.25  # coverage below this is narrow (real digits ~0.97, one class <0.1)
COLLAPSE_MODES = 5  # fewer than 5 of 10 classes get 5% of the samples: narrow too
COLLAPSE_DROP = 0.5  # diversity below half its peak: narrow too (learned, then lost variety)
COLLAPSE_MIN_DENSITY = 0.3  # density at least this: samples look real (real digits ~1)
NONCONVERGED_DIVERSITY = 0.1  # still below this at the end: never learned (real digits ~0.98)
OSCILLATION_CV = 0.5  # detrended spread of g_loss over the window, relative to its mean size
OSCILLATION_SMOOTH = 5  # grad-log rows averaged before detrending (per-batch noise is not a swing)
# Failure-aware stopping (study.failure_stop, replayed by analysis.stopping) stops a trial once
# one of the conclusive rules has held for this many consecutive epochs: the same rules and
# thresholds as the census, over windows chosen by replaying them on two 100-trial atlases
# (docs/findings.md). Vanishing and D wins never stopped a trial that ended healthy at 3
# epochs (53 stops over both). No trial in the atlases or the default studies that held the
# frozen rule for 3 epochs ever had a gradient again. A collapse after a learned peak is no
# verdict within 30 epochs: of the trials it stopped, 16 of 17 recovered at window 3 and 2 of 3
# at window 6, which saved 0.4% of the epochs; so it stops no trial live (no window), and the
# replay keeps measuring it.
# Never shorter than FINAL_WINDOW, so a stopped trial's census class is the class it was
# stopped for. A divergence (a NaN) is final at once.
STOP_WINDOWS = {VANISHING: 3, D_WINS: 3, FROZEN: 3}
THRESHOLDS = ("FINAL_WINDOW", "STOP_WINDOWS", "VANISHING_GRAD_NORM", "VANISHING_D_FAKE", "D_WINS_LOSS",
              "FROZEN_GRAD_NORM",
              "COLLAPSE_PEAK", "COLLAPSE_COVERAGE", "COLLAPSE_MODES", "COLLAPSE_DROP",
              "COLLAPSE_MIN_DENSITY", "NONCONVERGED_DIVERSITY", "OSCILLATION_CV",
              "OSCILLATION_SMOOTH")  # quoted by the report


def class_label(cls: str) -> str:
    """A class as prose: ``mode_collapse`` -> ``mode collapse``."""
    return cls.replace("_", " ")


def _column(trial: pd.DataFrame, name: str, fill: float) -> np.ndarray:
    if name not in trial:
        return np.full(len(trial), fill)
    return trial[name].to_numpy(dtype=float)


def _holds_at_end(mask: np.ndarray) -> bool:
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
    """The trial's GAN loss (the seed's ``ns`` for histories written before losses varied;
    a recipe arm's loss for the arm)."""
    if "loss" not in trial or trial["loss"].isna().all():
        return "ns"
    return arm_loss(str(trial["loss"].dropna().iloc[0]))


# The failures an early stop may already read: each is final once its rule has held (a
# diverged run never recovers; the others over a window). Checked in this order.
# Frozen comes after vanishing and D wins: a D that rejects every input also leaves zero
# gradients, and is named for why G gets none; frozen is what remains (D accepts everything).
CONCLUSIVE = (DIVERGED, VANISHING, D_WINS, FROZEN, MODE_COLLAPSE)
# The per-epoch columns conclusive_masks reads (besides the loss): the live stopper keeps
# exactly these from each result, so a new rule's column reaches it from here.
RULE_COLUMNS = ("epoch", "status", "d_loss", "d_fake", "g_grad_norm", "d_grad_norm", "diversity",
                "coverage", "modes", "density")


def diverged(trial: pd.DataFrame) -> np.ndarray:
    """Per epoch (in the trial's row order): the run reported a NaN (status or d_loss)."""
    return (trial["status"].astype(str).to_numpy() == DIVERGED) \
        | ~np.isfinite(_column(trial, "d_loss", math.nan))


def never_diverse(trial: pd.DataFrame) -> bool:
    """Diversity stayed below NONCONVERGED_DIVERSITY over the final window (NaN: not diverse)."""
    diversity = _column(trial, "diversity", math.nan)[-FINAL_WINDOW:]
    return bool(len(diversity)) and np.nanmax(np.append(diversity, -1.0)) < NONCONVERGED_DIVERSITY


def conclusive_masks(trial: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per epoch (in epoch order), whether each conclusive failure's rule holds there.

    Every mask at epoch k reads only epochs up to k (the collapse rule's learned peak is a
    running maximum), so a prefix of a history gives the prefix of its masks: the live stopper
    and the offline replay see the same rules.
    """
    trial = trial.sort_values("epoch")
    loss = _loss_of(trial)
    d_loss = _column(trial, "d_loss", math.nan)
    vanished = _column(trial, "g_grad_norm", math.inf) < VANISHING_GRAD_NORM
    if loss in PROBABILITY_LOSSES:
        vanished &= _column(trial, "d_fake", 1.0) < VANISHING_D_FAKE
    return {
        DIVERGED: diverged(trial),
        VANISHING: vanished,
        D_WINS: (d_loss < D_WINS_LOSS) & (loss in D_LOSS_FLOORED),
        FROZEN: (_column(trial, "g_grad_norm", math.inf) <= FROZEN_GRAD_NORM)
        & (_column(trial, "d_grad_norm", math.inf) <= FROZEN_GRAD_NORM),
        MODE_COLLAPSE: is_collapsed(trial),
    }


Windows = int | Mapping[str, int]  # one stop window for every rule, or one per rule


def rule_window(windows: Windows, cls: str) -> int | None:
    """A rule's stop window; None: the rule stops no trial (per-rule windows without it)."""
    return windows if isinstance(windows, int) else windows.get(cls)


def _stops(mask: np.ndarray, windows: Windows, cls: str) -> bool:
    window = rule_window(windows, cls)
    return window is not None and _holds_over(mask, window)


def windows_text(windows: Windows = STOP_WINDOWS) -> str:
    """The stop windows as prose: ``vanishing gradients 3, ..., mode collapse: never``."""
    if isinstance(windows, int):
        return f"{windows} epochs for every rule"
    return ", ".join(f"{class_label(c)} {windows[c]}" if c in windows
                     else f"{class_label(c)}: never" for c in CONCLUSIVE[1:])


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
        holds = _holds_at_end(masks[cls]) if window is None else _stops(masks[cls], window, cls)
        if cls in rules and holds:
            return cls, _onset(masks[cls], epochs)
    return None


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
            if cls in rules and _stops(masks[cls][:k], window, cls):
                return cls, int(epochs[k - 1])
    return None


def first_stop(trial: pd.DataFrame, window: Windows = STOP_WINDOWS,
               rules: tuple[str, ...] = CONCLUSIVE) -> tuple[str, int] | None:
    """(class, epoch) at which failure-aware stopping would end this trial, or None: the first
    epoch k at which :func:`conclusive_failure` of the epochs up to k finds a failure.

    Computed from one set of masks (they are causal), so it equals calling
    ``conclusive_failure(trial[:k], window, rules)`` for k = 1, 2, ... (tested).
    """
    return first_stop_in(*trial_masks(trial), window, rules)


def classify_trial(trial: pd.DataFrame, full_budget: bool = True,
                   steps: pd.DataFrame | None = None) -> tuple[str, float]:
    """(failure class, onset epoch or NaN) of one trial's history.

    Args:
        trial: its per-epoch rows (with a ``loss`` column when not the seed's ``ns``).
        full_budget: False when the scheduler stopped it before the last epoch.
        steps: its grad-log rows (per logged step), for the oscillation rule.
    """
    trial = trial.sort_values("epoch")
    found = conclusive_failure(trial)
    if found is not None:
        return found
    if not full_budget:
        return UNDETERMINED, math.nan
    loss = _loss_of(trial)
    if _holds_at_end(narrow_and_real(trial)):
        return MODE_COLLAPSE, math.nan  # realistic but narrow throughout: never learned variety
    if loss in G_LOSS_ONE_SIDED and oscillation_score(_window_g_loss(trial, steps)) \
            > OSCILLATION_CV:
        return OSCILLATION, math.nan
    if never_diverse(trial):
        return OSCILLATION, math.nan  # non-convergence: samples never became diverse
    return HEALTHY, math.nan


def sample_outcome(trial: pd.DataFrame, full_budget: bool = True) -> str:
    """What a trial's final samples show, by the same rule for every loss: diverged (a NaN),
    collapsed (realistic but narrow over the final window), not learned (diversity below
    NONCONVERGED_DIVERSITY over it), else healthy; ``undetermined`` for a trial stopped before
    its budget whose samples had not failed."""
    trial = trial.sort_values("epoch")
    if diverged(trial).any():
        return DIVERGED
    if _holds_at_end(narrow_and_real(trial)):
        return COLLAPSED
    if never_diverse(trial):
        return NOT_LEARNED
    return HEALTHY if full_budget else UNDETERMINED


def rule_family(cls: str, loss: str) -> str | None:
    """The definition of ``cls`` a loss's trials are judged by; two losses compare on a class
    only when they share one. None: the class does not exist for the loss."""
    loss = arm_loss(loss)
    if cls == VANISHING:
        return "G's gradient and D(G(z))" if loss in PROBABILITY_LOSSES else "G's gradient"
    if cls == D_WINS:
        return "d_loss" if loss in D_LOSS_FLOORED else None
    if cls == OSCILLATION:
        return "g_loss swing or never diverse" if loss in G_LOSS_ONE_SIDED else "never diverse"
    return "samples or NaN" if cls in (MODE_COLLAPSE, DIVERGED) else "gradients"


def ended_before_budget(epochs: float, max_epochs: int, status: str) -> bool:
    """A run that ended before its budget without diverging: stopped early, by the scheduler
    or by failure-aware stopping. The live searcher and the census both ask it."""
    return status != STATUS_DIVERGED and epochs < max_epochs


STOP_COLUMN = "failure_stop"  # history: the class failure-aware stopping ended the trial for


def stopped_for(trial: pd.DataFrame) -> str:
    """The class failure-aware stopping ended this trial for, or "" (histories without it)."""
    if STOP_COLUMN not in trial:
        return ""
    values = trial[STOP_COLUMN].dropna().astype(str)
    values = values[values != ""]
    return str(values.iloc[0]) if len(values) else ""


def classify_study(history: pd.DataFrame, max_epochs: int | None = None,
                   grad_logs: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per trial: final metrics, parameters, failure class, onset epoch, the samples'
    outcome (:func:`sample_outcome`, for comparisons across losses), and the two
    kinds of early stop, which are different populations: ``stopped_for_failure`` (ended by
    failure-aware stopping, its failure conclusive) and ``stopped_early`` (stopped by the
    scheduler before ``max_epochs`` for its objective; neither diverged nor stopped for
    failure)."""
    max_epochs = max_epochs or int(history["epoch"].max())
    grad_logs = grad_logs or {}
    rows = []
    for trial_id, trial in history.groupby("trial_id", sort=False):
        epochs = int(trial["epoch"].max())
        failure, onset = classify_trial(trial, full_budget=epochs >= max_epochs,
                                        steps=grad_logs.get(trial_id))
        last = trial.sort_values("epoch").iloc[-1].to_dict()
        for_failure = bool(stopped_for(trial)) and epochs < max_epochs
        early = ended_before_budget(epochs, max_epochs, last.get("status", "")) \
            and failure != DIVERGED
        outcome = sample_outcome(trial, full_budget=epochs >= max_epochs)
        rows.append({**last, "trial_id": trial_id, "failure": failure, "outcome": outcome,
                     "onset_epoch": onset,
                     "epochs": epochs, "stopped_for_failure": for_failure,
                     "stopped_early": early and not for_failure})
    return pd.DataFrame(rows)
