"""Paired comparisons of two losses at the same atlas points.

A paired atlas (``--design atlas --paired``) trains every Sobol point under each
loss from one seed, so the trial seed names the point: two trials with the same
seed differ in their loss alone. A loss comparison is then made within each
point, which removes the spread between points (lr, b1, latent size, eps) from
it. Rates are compared with McNemar's exact test (the binomial test on the
discordant pairs), values with the Wilcoxon signed-rank test; each effect comes
with a seeded bootstrap 95% interval over the points.

Each test states the least evidence that can decide anything: below it the test reports
why (``PairedTest.short``) and the claims table says the data cannot tell. An exact
two-sided test at 5% needs at least six informative pairs (2 x 0.5^6 = 0.031; five give
0.0625 at best): discordant pairs for McNemar, non-zero differences for Wilcoxon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.noninferiority import noninferiority_p
from gan.train.losses import RECIPE_ARMS, arm_loss, in_arm_order

POINT_KEY = "seed"  # a paired atlas's trial seed leaves the loss out (study.space.trial_config)
# What a point is: the parameters every arm at it shares (b2 is not one: the wgan-gp recipe
# arm keeps its paper's b2 where the space does not search it).
POINT_PARAMS = ("lr", "b1", "latent_dim", "bn_eps")
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
MIN_INFORMATIVE = 6  # informative pairs an exact two-sided test at 5% needs to decide at all


class PairingError(ValueError):
    """The trials do not form pairs: two losses at one seed disagree on the point."""


@dataclass(frozen=True)
class PairedTest:
    """One paired comparison of A against B.

    ``effect``: A - B (a rate difference, or the median paired difference), with its 95%
    bootstrap interval; ``p_greater`` and ``p_less``: one-sided p-values for A > B and A < B.
    NaN throughout when there are no pairs.
    """

    n: int
    effect: float
    low: float
    high: float
    p_greater: float
    p_less: float
    test: str  # the test's name, as the report quotes it
    detail: str = ""  # e.g. the discordant counts
    short: str = ""  # why the evidence is below what the test needs to decide; "" when enough
    p_noninferior: float = math.nan  # rates only: p of H0 A - B <= -margin (see noninferiority)


def pairs(trials: pd.DataFrame, column: str, a: str, b: str) -> pd.DataFrame:
    """Columns ``a`` and ``b``: ``column`` of loss ``a``'s and loss ``b``'s trial at each point
    (index: the point's seed). Points lacking either loss, or a value, are left out.

    Raises:
        PairingError: when two trials at one seed disagree on :data:`POINT_PARAMS`.
        KeyError: when ``trials`` lacks ``column``, ``loss`` or the seed.
    """
    for name in (column, "loss", POINT_KEY):
        if name not in trials:
            raise KeyError(f"trials have no {name!r} column")
    check_points(trials)
    chosen = trials[trials["loss"].isin((a, b))]
    table = chosen.pivot_table(index=POINT_KEY, columns="loss", values=column,
                               aggfunc="first", dropna=False)
    for loss in (a, b):
        if loss not in table:
            table[loss] = np.nan
    return table[[a, b]].dropna()


def check_points(trials: pd.DataFrame) -> None:
    """Raise PairingError unless every seed's trials share one point and differ in loss."""
    params = [p for p in POINT_PARAMS if p in trials]
    for seed, group in trials.groupby(POINT_KEY):
        if group["loss"].duplicated().any():
            raise PairingError(f"seed {seed} has two {group['loss'][group['loss'].duplicated()].iloc[0]} "
                               "trials: not a paired atlas")
        for param in params:
            if group[param].astype(str).nunique() > 1:
                raise PairingError(f"the trials of seed {seed} disagree on {param}: "
                                   "not a paired atlas")


def _bootstrap(diffs: np.ndarray, statistic) -> tuple[float, float]:
    """Percentile 95% interval of ``statistic`` over the points, resampled with a fixed seed;
    NaN with fewer than two points or no spread, where every resample is alike and the
    zero-width interval would claim a certainty the points do not give."""
    if len(diffs) < 2 or np.ptp(diffs) == 0:
        return math.nan, math.nan
    res = stats.bootstrap((diffs,), statistic, n_resamples=BOOTSTRAP_RESAMPLES,
                          method="percentile", rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _empty(test: str) -> PairedTest:
    return PairedTest(0, math.nan, math.nan, math.nan, math.nan, math.nan, test,
                      short="no pairs")


def _short(informative: int, what: str) -> str:
    return "" if informative >= MIN_INFORMATIVE else \
        f"{informative} {what}; the test needs {MIN_INFORMATIVE} to decide"


def rate_test(a: np.ndarray, b: np.ndarray, margin: float | None = None,
              interval: bool = True) -> PairedTest:
    """McNemar's exact test of paired yes/no outcomes (A's rate against B's).

    Args:
        a, b: booleans, one per point, equal length.
        margin: also test non-inferiority, H0 rate(A) - rate(B) <= -margin
            (:func:`analysis.stats.noninferiority.noninferiority_p`).
        interval: compute the bootstrap interval (a simulation of the p-values skips it).

    Returns:
        effect = rate(A) - rate(B) with its bootstrap interval; p-values from the exact
        binomial test on the discordant pairs (A only against B only).
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.shape} vs {b.shape}")
    if not len(a):
        return _empty("McNemar exact")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    discordant = only_a + only_b
    if discordant:
        p_greater = stats.binomtest(only_a, discordant, 0.5, alternative="greater").pvalue
        p_less = stats.binomtest(only_a, discordant, 0.5, alternative="less").pvalue
    else:
        p_greater = p_less = 1.0
    low, high = _bootstrap(a.astype(float) - b.astype(float), np.mean) if interval else \
        (math.nan, math.nan)
    p_ni = math.nan if margin is None else noninferiority_p(only_a, only_b, len(a), margin)
    return PairedTest(len(a), float(a.mean() - b.mean()), low, high, float(p_greater),
                      float(p_less), "McNemar exact", f"{only_a} vs {only_b} discordant",
                      _short(discordant, "discordant pairs"), p_ni)


def shift_test(a: np.ndarray, b: np.ndarray, interval: bool = True) -> PairedTest:
    """Wilcoxon signed-rank test of paired values (A against B).

    Returns:
        effect = median of A - B with its bootstrap interval; one-sided p-values. With no
        non-zero difference both p-values are 1.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length: {a.shape} vs {b.shape}")
    if not np.isfinite(a).all() or not np.isfinite(b).all():
        raise ValueError("paired values must be finite (leave out diverged trials first)")
    if not len(a):
        return _empty("Wilcoxon signed-rank")
    diffs = a - b
    if not np.any(diffs):
        p_greater = p_less = 1.0
    else:
        p_greater = stats.wilcoxon(a, b, alternative="greater").pvalue
        p_less = stats.wilcoxon(a, b, alternative="less").pvalue
    low, high = _bootstrap(diffs, np.median) if interval else (math.nan, math.nan)
    return PairedTest(len(a), float(np.median(diffs)), low, high, float(p_greater),
                      float(p_less), "Wilcoxon signed-rank",
                      short=_short(int(np.count_nonzero(diffs)), "non-zero differences"))


def two_sided(test: PairedTest) -> float:
    """The two-sided p-value of a test: twice the smaller one-sided p, at most 1."""
    return min(1.0, 2 * min(test.p_greater, test.p_less))


def cell(test: PairedTest, fmt: str = "+.2f") -> str:
    """``effect (95% CI low to high), p`` for a table; ``–`` without pairs."""
    if not test.n:
        return "–"
    interval = "no interval: no spread" if math.isnan(test.low) else \
        f"{test.low:{fmt}} to {test.high:{fmt}}"
    return f"{test.effect:{fmt}} ({interval}), p {two_sided(test):.2g}, n {test.n}"


COMPARED = ("fcd", "density", "coverage")


def loss_comparison(trials: pd.DataFrame, failed: pd.Series, reference: str = "ns"
                    ) -> pd.DataFrame:
    """Each loss against ``reference`` at the same points (the loss effect), and each recipe
    arm against its own loss (the recipe effect): the failure rate (McNemar), the final fcd,
    density and coverage (Wilcoxon, trials that did not diverge), and the onset epoch of the
    pairs that both failed. Effects are the arm minus the one it is compared with.

    Args:
        trials: one row per trial with ``loss`` (the arm), the point's seed, :data:`COMPARED`
            columns and ``onset_epoch``.
        failed: per row of ``trials``, whether it failed (judged trials only), by an outcome
            defined the same way for every loss.
    """
    trials = trials.assign(failed=failed.astype(float))
    arms = in_arm_order(trials["loss"])
    compared = [(arm, reference) for arm in arms if arm != reference and arm not in RECIPE_ARMS]
    compared += [(arm, arm_loss(arm)) for arm in arms if arm in RECIPE_ARMS and arm_loss(arm) in arms]
    rows = []
    for loss, against in compared:
        rate = pairs(trials, "failed", loss, against)
        row = {"loss": loss, "against": against, "points": len(rate),
               "failure rate": cell(rate_test(rate[loss].astype(bool),
                                              rate[against].astype(bool)))}
        for column in COMPARED + ("onset_epoch",):
            values = pairs(trials, column, loss, against) if column in trials else \
                pd.DataFrame(columns=[loss, against])
            row[column.replace("_", " ")] = cell(shift_test(values[loss].to_numpy(float),
                                                            values[against].to_numpy(float)),
                                                 "+.3g")
        rows.append(row)
    return pd.DataFrame(rows)
