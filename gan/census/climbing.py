"""Not diverse yet: whether a run that never learned variety is still climbing.

A run whose samples are narrow or not diverse at the end of its budget gets no verdict only
when its coverage was still rising through the latter half of its epochs, by more than its
own evaluation noise. A run that narrowed and then plateaued is a collapse (or never
converged), whichever epoch it narrowed at: epoch 1's near-zero coverage is never the
reference a rise is measured from, so a run that reached its plateau by epoch 2 or 3 and
stayed flat shows no climb.

The test, on the coverage of the latter half of the evaluated epochs (from the midpoint of the
run to its end):

- a Theil-Sen slope whose rise across that half is at least CLIMB_GAIN and at least
  CLIMB_NOISE times the half's own noise (the robust spread of its residuals around the
  line: the evaluation noise as this run shows it);
- the Mann-Kendall trend test, one-sided, below CLIMB_ALPHA: the rise is a trend, not a few
  lucky evaluations. Training jitter is autocorrelated (a run wanders), which makes the plain
  test call a wandering plateau a trend far more often than its level; the variance of
  Kendall's S is inflated by the effective sample size of the residuals' lag-1
  autocorrelation (Yue & Wang 2004);
- the coverage held: the final window's mean is at least CLIMB_KEEP of the best 3-epoch mean.

Reading the latter half, not the final window alone, matters: a slow run's last ten epochs
can look flat under noise while the half shows the trend (tests/test_climbing.py has both
real shapes and the simulated error rates; docs/metrics.md quotes them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

CLIMB_GAIN = 0.02  # coverage the latter half must rise by, at least (real digits ~0.97)
CLIMB_NOISE = 2.0  # ... and at least this many times the half's own residual noise
CLIMB_ALPHA = 0.05  # one-sided Kendall trend test level
CLIMB_KEEP = 0.8  # final-window coverage at least this share of its best 3-epoch mean
CLIMB_MIN_POINTS = 6  # fewer evaluations in the latter half: no climb can be shown
MAD_TO_SD = 1.4826  # a normal's sd from its median absolute deviation


def _evaluated(trial: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, coverage) of the epochs whose coverage was scored, in epoch order."""
    if "coverage" not in trial:
        return np.array([]), np.array([])
    trial = trial.sort_values("epoch")
    cover = trial["coverage"].to_numpy(dtype=float)
    epochs = trial["epoch"].to_numpy(dtype=float)
    keep = np.isfinite(cover)
    return epochs[keep], cover[keep]


def climb_evidence(trial: pd.DataFrame, final_window: int = 3) -> dict[str, float]:
    """The climb test's numbers for one trial: ``rise`` (Theil-Sen slope times the latter
    half's span), ``noise`` (robust sd of the residuals), ``p`` (Kendall, one-sided), ``held``
    (final-window mean over the best 3-epoch mean) and ``points`` (evaluations in the half).
    NaN where there are too few evaluations to measure.

    Args:
        trial: per-epoch rows with ``epoch`` and ``coverage``.
        final_window: epochs of the final window (gan.census.failures.FINAL_WINDOW).
    """
    epochs, cover = _evaluated(trial)
    out = {"rise": math.nan, "noise": math.nan, "p": math.nan, "held": math.nan,
           "points": 0.0}
    if not len(cover):
        return out
    half = epochs > epochs[-1] / 2
    x, y = epochs[half], cover[half]
    out["points"] = float(len(y))
    best = float(pd.Series(cover).rolling(3, min_periods=1).mean().max())
    out["held"] = float(cover[-final_window:].mean() / best) if best > 0 else math.nan
    if len(y) < 3 or np.ptp(x) == 0:
        return out
    slope, intercept, _, _ = stats.theilslopes(y, x)
    residual = y - (intercept + slope * x)
    out["rise"] = float(slope * np.ptp(x))
    out["noise"] = float(MAD_TO_SD * np.median(np.abs(residual - np.median(residual))))
    out["p"] = mann_kendall_p(y, residual)
    return out


def mann_kendall_p(values: np.ndarray, residual: np.ndarray) -> float:
    """One-sided p-value that ``values`` (in time order) trend upwards: the Mann-Kendall S with
    its variance inflated by n / n*, where n* = n (1 - r1) / (1 + r1) is the effective sample
    size of the residuals' lag-1 autocorrelation r1 (only a positive r1 inflates).

    Args:
        values: the series, at least 3 long.
        residual: the series around its trend (for r1), the same length.

    Raises:
        ValueError: for fewer than 3 values or mismatched lengths.
    """
    n = len(values)
    if n < 3 or len(residual) != n:
        raise ValueError(f"need 3 or more values and as many residuals, got {n} and "
                         f"{len(residual)}")
    diff = np.sign(values[None, :] - values[:, None])
    s = float(np.triu(diff, 1).sum())
    variance = n * (n - 1) * (2 * n + 5) / 18.0
    centred = residual - residual.mean()
    denom = float((centred ** 2).sum())
    r1 = float((centred[:-1] * centred[1:]).sum() / denom) if denom > 0 else 0.0
    if r1 > 0:
        variance *= (1 + r1) / (1 - r1)
    z = (s - 1.0) / math.sqrt(variance) if s > 0 else 0.0
    return float(stats.norm.sf(z))


def is_climbing(evidence: dict[str, float]) -> bool:
    """Whether :func:`climb_evidence`'s numbers show a climb (every condition of the module's
    test; NaN evidence shows none)."""
    if evidence["points"] < CLIMB_MIN_POINTS or not math.isfinite(evidence["rise"]):
        return False
    return (evidence["rise"] >= max(CLIMB_GAIN, CLIMB_NOISE * evidence["noise"])
            and evidence["p"] < CLIMB_ALPHA and evidence["held"] >= CLIMB_KEEP)


THRESHOLDS = ("CLIMB_GAIN", "CLIMB_NOISE", "CLIMB_ALPHA", "CLIMB_KEEP",
              "CLIMB_MIN_POINTS")  # quoted by the report
