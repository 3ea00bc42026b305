"""The claims table errs at its stated 5%: each rule checked on simulated data where the
truth is known (the figures in docs/metrics.md come from the same simulations)."""

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from analysis.claims import table as claims
from analysis.claims import rule as claims_rule
from analysis.stats import paired
from analysis.stats.noninferiority import noninferiority_p
from analysis.stats.intervals import wilson_interval
from test_claims import _separation_probe, _study

TABLES = 1000  # simulated tables per check: the standard error of a 5% rate is 0.7%
POINTS = 20  # the paired atlas's points


def _tolerance(rate: float = 0.05, n: int = TABLES) -> float:
    return rate + 2 * np.sqrt(rate * (1 - rate) / n)  # two standard errors of the simulation


def _family() -> list[claims.Prediction]:
    """The table's predictions that carry a p-value, as the claims code builds them."""
    trials, history = _study()
    inputs = claims.claim_inputs(trials, history, _separation_probe(0.69), True)
    return [p for p in claims.predictions(inputs) if p.test is not None]


def _null_test(pred: claims.Prediction, rng: np.random.Generator, kind: str) -> paired.PairedTest:
    """A test of ``pred``'s kind on data with no effect: both arms drawn alike."""
    if pred.expect == "not_less" or kind == "binary":
        rate = rng.uniform(0.1, 0.6)
        a, b = rng.random(POINTS) < rate, rng.random(POINTS) < rate
        margin = claims_rule.MARGIN if pred.expect == "not_less" else None
        return paired.rate_test(a, b, margin=margin, interval=False)
    return paired.shift_test(rng.normal(size=POINTS), rng.normal(size=POINTS), interval=False)


def _wrong(verdicts: list[claims.Prediction]) -> bool:
    """Any verdict the null makes wrong: every verdict but 'cannot tell', except a 'no less'
    prediction's support (with equal rates 'no less by the margin' is true)."""
    return any(p.verdict != claims_rule.CANNOT_TELL and not (p.expect == "not_less" and
                                                        p.verdict == claims_rule.SUPPORTED)
               for p in verdicts)


def _family_error(kind: str, decide=claims.decide, seed: int = 0) -> float:
    rng, family = np.random.default_rng(seed), _family()
    wrong = 0
    for _ in range(TABLES):
        wrong += _wrong(decide([replace(p, test=_null_test(p, rng, kind)) for p in family]))
    return wrong / TABLES


def _one_sided_holm(preds: list[claims.Prediction]) -> list[claims.Prediction]:
    """The rule the table must not use: the smaller one-sided p, Holm-adjusted, either
    direction accepted (two one-sided tests at 5% are one two-sided test at 10%)."""
    halved = [replace(p, test=replace(p.test, p_greater=p.test.p_greater / 2,
                                      p_less=p.test.p_less / 2)) for p in preds]
    return claims.decide(halved)


@pytest.mark.parametrize("kind", ["continuous", "binary"])
def test_the_table_errs_at_most_at_its_stated_level_under_the_null(kind):
    error = _family_error(kind)
    assert error <= _tolerance(), f"{kind}: family-wise error {error:.3f}"


def test_the_simulation_sees_a_doubled_level():
    """The same simulation catches the one-sided rule's doubled error on continuous
    outcomes, where Wilcoxon is near its nominal level (exact McNemar would hide it)."""
    assert _family_error("continuous", _one_sided_holm) > _tolerance()


@pytest.mark.parametrize("n", [20, 40])
@pytest.mark.parametrize("rate_b", [0.1, 0.25, 0.4])
def test_no_less_is_supported_at_most_5_percent_at_the_margin(n, rate_b):
    """A true deficit of exactly MARGIN: A's rate rate_b - 0.10 against B's rate_b."""
    rng = np.random.default_rng(n)
    counts = rng.multinomial(n, [rate_b - claims_rule.MARGIN, rate_b, 1 - 2 * rate_b + claims_rule.MARGIN],
                             size=TABLES)
    supported = np.mean([noninferiority_p(int(x), int(y), n, claims_rule.MARGIN) < claims_rule.ALPHA
                         for x, y, _ in counts])
    assert supported <= _tolerance()


def test_the_share_rule_errs_at_most_2_5_percent_at_one_half():
    rng = np.random.default_rng(3)
    for n in (20, 40, 80):
        k = rng.binomial(n, 0.5, size=TABLES)
        wrong = np.mean([wilson_interval(int(x), n)[0] > 0.5 for x in k])
        assert wrong <= _tolerance(0.025), (n, wrong)


def test_power_at_20_points_for_effects_the_claims_expect():
    """Power of the table's tests alone (Holm over the table costs more): a 40-point rate
    difference (50% vs 10%) by McNemar, a shift of one noise SD by Wilcoxon, and non-
    inferiority when both rates are 20% at 40 points."""
    rng = np.random.default_rng(4)
    mcnemar = np.mean([paired.two_sided(paired.rate_test(rng.random(POINTS) < 0.5,
                                                         rng.random(POINTS) < 0.1,
                                                         interval=False)) < 0.05
                       for _ in range(300)])
    wilcoxon = np.mean([stats.wilcoxon(rng.normal(1, 1, POINTS), rng.normal(0, 1, POINTS))
                        .pvalue < 0.05 for _ in range(300)])
    assert mcnemar >= 0.6 and wilcoxon >= 0.75, (mcnemar, wilcoxon)
