"""Rates with their uncertainty: Wilson score intervals, and when two rates really differ;
and the range of a set of values, as a report quotes it."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE
                    ) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927), as scipy computes it
    (``binomtest(...).proportion_ci(method="wilson")``).

    Args:
        successes: k, with 0 <= k <= n.
        n: trials, > 0.
        confidence: the interval's level (0.95).

    Returns:
        (low, high) in [0, 1].

    Raises:
        ValueError: for n <= 0 or k outside [0, n].
    """
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}], got {successes}")
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence,
                                                     method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def rate_text(successes: int, n: int) -> str:
    """``k of n (p%, 95% CI lo–hi%)``: a rate never travels without its n and interval."""
    low, high = wilson_interval(successes, n)
    return f"{successes} of {n} ({successes / n:.0%}, 95% CI {100 * low:.0f}–{high:.0%})"


def excluded_text(excluded: Mapping[str, int]) -> str:
    """``8 not diverse yet, 1 undetermined``: the no-verdict runs a rate leaves out, by class
    (classes with none are not named)."""
    return ", ".join(f"{k} {name.replace('_', ' ')}" for name, k in excluded.items() if k)


def rate_bounds(failed: int, judged: int, left_out: int) -> tuple[float, float]:
    """(low, high): the failure rate over all ``judged + left_out`` runs had none, or all, of
    the left-out runs failed. NaN when there are no runs at all."""
    total = judged + left_out
    if total == 0:
        return math.nan, math.nan
    return failed / total, (failed + left_out) / total


def verdict_rate_text(failed: int, judged: int, excluded: Mapping[str, int]) -> str:
    """A failure rate on the runs with a verdict, and what it leaves out beside it:
    ``5 of 8 with a verdict (62%, 95% CI 31–86%); 8 without (8 not diverse yet): 5–13 of 16
    (31–81%) had none or all of them failed``."""
    left_out = sum(excluded.values())
    head = rate_text(failed, judged) + " with a verdict" if judged else "no run with a verdict"
    if not left_out:
        return head
    low, high = rate_bounds(failed, judged, left_out)
    total = judged + left_out
    return (f"{head}; {left_out} without ({excluded_text(excluded)}): "
            f"{failed}–{failed + left_out} of {total} ({100 * low:.0f}–{high:.0%}) had none or all "
            "of them failed")


def verdict_cell(failed: int, judged: int, excluded: Mapping[str, int]) -> str:
    """A table cell: ``5 (31–86%) of 8; +8 no verdict: 31–81%``."""
    left_out = sum(excluded.values())
    head = f"{count_cell(failed, judged)} of {judged}" if judged else "no verdict"
    if not left_out:
        return head
    low, high = rate_bounds(failed, judged, left_out)
    return f"{head}; +{left_out} no verdict: {100 * low:.0f}–{100 * high:.0f}%"


def count_cell(successes: int, n: int) -> str:
    """``k (lo–hi%)``: a table cell, the count with its 95% Wilson interval."""
    low, high = wilson_interval(successes, n)
    return f"{successes} ({100 * low:.0f}–{100 * high:.0f}%)"


def rates_differ(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when the 95% Wilson intervals of two rates (k, n) do not overlap.

    Conservative: non-overlap implies a difference at well below the 5% level.
    """
    lo_a, hi_a = wilson_interval(*a)
    lo_b, hi_b = wilson_interval(*b)
    return hi_a < lo_b or hi_b < lo_a


def span_text(values: pd.Series, fmt: str) -> str:
    """``low–high`` of ``values`` (NaN left out) in format ``fmt``; one value when both read
    the same."""
    low, high = format(values.min(), fmt), format(values.max(), fmt)
    return low if low == high else f"{low}–{high}"
