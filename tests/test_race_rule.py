"""The race's rule on simulated contenders whose truth is known: no GAN is trained.

Each contender's runs are lognormal around its true mean (coefficient of variation about
CV), and a run fails with its failure rate, scoring FAIL_FACTOR times worse: the bimodal,
heavy-tailed spread that GAN seeds show (a half-collapsed run doubles or triples its fcd).
The figures these tests measure are quoted in docs/metrics.md.
"""

import math

import numpy as np
import pytest
from scipy import stats

from study.race_rule import (ALPHA, BUDGET_SPENT, STANDS_APART, RacePlan, decide, drop_p,
                             run_summary, simulate)

CV, FAIL_FACTOR, REPS = 0.25, 3.0, 1500
REPS_ESTIMATE = 600
FIRST, BUDGET = 2, 14  # the default study: 5 contenders x 2 seeds, then one seed per search contender
# Fresh-seed means like those of the default study's contenders on the embedded digits (fcd of
# the top search configs on new seeds, and the seed's defaults at about 630).
DEFAULT_LIKE = [110.0, 125.0, 150.0, 210.0, 630.0]


def _drawer(means, fail, rng):
    keys = tuple(f"c{i}" for i in range(len(means)))

    def draw(key, n):
        i = keys.index(key)
        x = means[i] * np.exp(rng.normal(0.0, CV, n))
        return np.where(rng.random(n) < fail[i], FAIL_FACTOR * x, x)

    return keys, draw


def _races(means, fail, reps=REPS, seed=0, **sizes):
    rng = np.random.default_rng(seed)
    keys, draw = _drawer(means, fail, rng)
    plan = RacePlan(keys, "min", sizes.get("first", FIRST), 1, sizes.get("budget", BUDGET))
    return plan, [simulate(plan, draw) for _ in range(reps)]


def _upper(rate, reps):
    """The rate plus three of its simulation standard errors (at the claimed level)."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / reps)


def test_welch_p_matches_scipy_and_degenerate_evidence_gives_none():
    a, b = [100.0, 120.0, 90.0], [200.0, 180.0, 260.0, 150.0]
    want = stats.ttest_ind(np.log(b), np.log(a), equal_var=False, alternative="greater").pvalue
    assert drop_p(a, b, "min", positive=True) == pytest.approx(want, rel=1e-9)
    want = stats.ttest_ind(b, a, equal_var=False, alternative="less").pvalue
    assert drop_p(a, b, "max", positive=False) == pytest.approx(want, rel=1e-9)
    assert math.isnan(drop_p([100.0], [300.0, 310.0], "min", True))  # one run
    assert math.isnan(drop_p([100.0, 100.0], [300.0, 300.0], "min", True))  # no spread


def test_plan_sizes_and_level():
    plan = RacePlan(tuple("abcde"), "min", 3, 1, 20)
    assert plan.max_rounds == 3  # 15 runs in round 1, then rounds of 2+ survivors
    assert plan.test_level == pytest.approx(ALPHA / (4 * 3))
    with pytest.raises(ValueError, match="budget of 9"):
        RacePlan(tuple("abcde"), "min", 2, 1, 9)
    with pytest.raises(ValueError, match="distinct"):
        RacePlan(("a", "a"), "min", 2, 1, 9)


def test_race_drops_a_clearly_worse_contender_and_keeps_budget():
    state = decide(RacePlan(("a", "b"), "min", 3, 1, 6),
                   [{"a": [100.0, 105.0, 95.0], "b": [600.0, 640.0, 620.0]}])
    assert state.finished and state.reason == STANDS_APART and state.winner == "a"
    assert state.dropped["b"]["round"] == 1 and state.dropped["b"]["p"] < state.rounds[0]["level"]
    close = {"a": [100.0, 105.0, 95.0], "b": [101.0, 99.0, 103.0]}
    plan = RacePlan(("a", "b"), "min", 3, 1, 8)
    state = decide(plan, [close])
    assert not state.finished and state.next_seeds == 1 and state.survivors == ["a", "b"]
    state = decide(plan, [close, {"a": [100.0], "b": [101.0]}])
    assert state.finished and state.reason == BUDGET_SPENT and state.runs_used == 8
    assert state.rounds[-1]["n"] == {"a": 4, "b": 4}


def test_a_diverged_run_ranks_last_without_a_score_of_its_own():
    state = decide(RacePlan(("a", "b"), "min", 3, 1, 6),
                   [{"a": [100.0, 105.0, 95.0], "b": [math.nan, 300.0, 320.0]}])
    assert state.winner == "a" and "b" in state.rounds[0]["p"]


def test_true_best_is_dropped_at_most_at_the_stated_rate():
    """Default-like contenders with failures: the true best (c0) survives to the end with
    probability >= 1 - alpha; the pick rate is what the race delivers at this budget."""
    plan, races = _races(DEFAULT_LIKE, [0.2, 0.2, 0.2, 0.2, 0.0])
    dropped = np.mean(["c0" in r.dropped for r in races])
    assert dropped <= _upper(ALPHA, REPS)
    picked = np.mean([r.winner == "c0" for r in races])
    defaults_out = np.mean(["c4" in r.dropped for r in races])
    print(f"pick rate {picked:.3f}, true best dropped {dropped:.4f}, defaults dropped {defaults_out:.3f}")
    assert picked > 0.4  # the power the docs quote
    assert max(r.runs_used for r in races) <= plan.budget


@pytest.mark.parametrize("fail", [0.0, 0.4])
def test_null_every_contender_is_dropped_at_most_alpha(fail):
    """No true best: all five alike. Each is a true best, so each may be dropped at most
    alpha of the time (continuous scores, and bimodal ones with 40% failures)."""
    _, races = _races([100.0] * 5, [fail] * 5, seed=1)
    for key in ("c0", "c1", "c2", "c3", "c4"):
        assert np.mean([key in r.dropped for r in races]) <= _upper(ALPHA, REPS), key


def test_fresh_seed_estimate_is_unbiased_where_the_selecting_draws_are_not():
    """A search of 40 configs, one draw each; the top 4 (by that draw) and the defaults race;
    the winner is estimated on 3 held-out seeds. Over many repetitions the held-out estimate
    centres on the winner's true mean, while its search draw and its race runs (the draws that
    chose it) sit below it."""
    rng = np.random.default_rng(2)
    errors = {"search": [], "race": [], "fresh": []}
    for _ in range(REPS_ESTIMATE):
        truth = 100.0 * np.exp(rng.normal(0.0, 0.3, 40))
        truth[0] = 630.0  # the seed's defaults, always a contender
        draws = truth * np.exp(rng.normal(0.0, CV, 40))
        top = [int(i) for i in np.argsort(draws[1:])[:4] + 1] + [0]
        means = [truth[i] for i in top]
        keys, draw = _drawer(means, [0.0] * 5, rng)
        seen = {k: [] for k in keys}

        def recorded(key, n):
            values = draw(key, n)
            seen[key] += list(values)
            return values

        state = simulate(RacePlan(keys, "min", FIRST, 1, BUDGET), recorded)
        pick = keys.index(state.winner)
        errors["search"].append(draws[top[pick]] / means[pick] - 1)
        errors["race"].append(np.mean(seen[state.winner]) / means[pick] - 1)
        errors["fresh"].append(np.mean(draw(state.winner, 3)) / means[pick] - 1)
    # Lognormal noise around the true median: an unbiased mean of runs sits exp(CV^2/2) - 1
    # above it.
    expected = math.exp(CV ** 2 / 2) - 1

    def mean_se(name):
        values = np.array(errors[name])
        return values.mean(), values.std(ddof=1) / math.sqrt(len(values))

    fresh, fresh_se = mean_se("fresh")
    print({name: mean_se(name) for name in errors}, "unbiased:", expected)
    assert abs(fresh - expected) < 3 * fresh_se
    for selecting in ("search", "race"):
        value, se = mean_se(selecting)
        assert value < expected - 3 * se, selecting


def test_run_summary_interval_and_failure_share():
    out = run_summary([100.0, 110.0, 120.0], [False, True, False])
    half = stats.t.ppf(0.975, 2) * 10.0 / math.sqrt(3)
    assert out["mean"] == pytest.approx(110.0) and out["ci_high"] == pytest.approx(110 + half)
    assert out["failed"] == 1 and out["failure_share"] == pytest.approx(1 / 3)
    ci = stats.binomtest(1, 3).proportion_ci(method="wilson")
    assert out["failure_low"] == pytest.approx(ci.low)
    one = run_summary([100.0], [False])
    assert math.isnan(one["ci_low"]) and one["n"] == 1
    with pytest.raises(ValueError, match="2 scores but 1"):
        run_summary([1.0, 2.0], [False])
