"""An exact non-inferiority test of two paired rates.

H0: rate(A) - rate(B) <= -margin, against H1: rate(A) - rate(B) > -margin, from paired
yes/no outcomes. The pairs fall in four cells; only the discordant ones (A only: b, B only:
c) carry the difference, ``(b - c) / n``. Under H0 the chance of a difference as large as
the one observed depends on the discordant rate, a nuisance parameter, so the p-value is
the largest such chance over every rate H0 allows (Berger & Boos's unconditional test,
maximised over a fine grid): the test's error at the margin is at most its level whatever
the nuisance, at any number of pairs.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import gammaln, xlogy

NUISANCE_GRID = 501  # values of B's discordant rate over which the p-value is maximised


def _score(b: np.ndarray, c: np.ndarray, n: int, margin: float) -> np.ndarray:
    """Tango's score statistic for H0 rate(A) - rate(B) = -margin: the observed difference
    over its standard error at the restricted maximum-likelihood rates (Tango 1998)."""
    rest = n - b - c
    lin = (b + c) * (1 - margin) - 2 * margin * (b + rest)
    q_a = (lin + np.sqrt(lin ** 2 + 8 * n * b * margin * (1 - margin))) / (4 * n)
    var = (2 * q_a + margin - margin ** 2) / n
    return ((b - c) / n + margin) / np.sqrt(var)


def _cells(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (b, c) with b + c <= n, the rest, and log n! / (b! c! (n - b - c)!)."""
    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = b + c <= n
    b, c = b[keep], c[keep]
    rest = n - b - c
    coef = gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(rest + 1)
    return b, c, rest, coef


@lru_cache(maxsize=4096)  # a simulation asks for the same few counts again and again
def noninferiority_p(only_a: int, only_b: int, n: int, margin: float) -> float:
    """Exact p-value of H0: rate(A) - rate(B) <= -``margin`` from ``n`` pairs of which
    ``only_a`` had the outcome under A alone and ``only_b`` under B alone.

    Outcomes are ordered by Tango's score statistic; the p-value is the largest chance,
    over every discordant rate on H0's boundary, of a score at least the observed one.

    Raises:
        ValueError: for counts that do not fit in ``n`` pairs, or a margin outside (0, 1).
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    if min(only_a, only_b) < 0 or only_a + only_b > n:
        raise ValueError(f"discordant counts {only_a} and {only_b} do not fit in {n} pairs")
    if n == 0:
        return 1.0
    b, c, rest, coef = _cells(n)
    observed = _score(np.array([only_a]), np.array([only_b]), n, margin)[0]
    extreme = _score(b, c, n, margin) >= observed - 1e-9  # as favourable to A, or more
    b, c, rest, coef = b[extreme, None], c[extreme, None], rest[extreme, None], coef[extreme, None]
    # H0's boundary q_a = q_b - margin, with q_a >= 0 and q_a + q_b <= 1 (the tail only grows
    # as q_a - q_b does, so the largest chance under H0 lies on it).
    q_b = np.linspace(margin, (1 + margin) / 2, NUISANCE_GRID)[None]
    q_a = np.clip(q_b - margin, 0.0, None)
    q_rest = np.clip(1 - q_a - q_b, 0.0, None)
    logs = coef + xlogy(b, q_a) + xlogy(c, q_b) + xlogy(rest, q_rest)
    return float(min(1.0, np.exp(logs).sum(axis=0).max()))
