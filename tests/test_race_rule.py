"""The race's rule on simulated contenders whose truth is known: no GAN is trained.

Each contender's runs are lognormal around its true median with the seed noise measured in
the default studies (log-scale sd SEED_SD), and a run fails with its failure rate, scoring
FAIL_FACTOR times worse: the bimodal spread that GAN seeds show (a half-collapsed run doubles
or triples its fcd). The true best is the contender with the lowest expected log score
(failures included). The figures these tests measure are quoted in docs/metrics.md.
"""

import math

import numpy as np
import pytest
from scipy import stats

from study.race.rule import (ALPHA, BUDGET_SPENT, SELECTION_MARGIN, STANDS_APART, RacePlan,
                             decide, drop_p, pooled_variance, run_summary, simulate)

# Within-config variance of log fcd among the top configs' fresh runs: 0.016 and 0.018 in the
# two default studies that measured it (docs/findings.md, runs K and L): sd 0.13.
SEED_SD, FAIL_FACTOR, REPS = 0.13, 3.0, 1500
REPS_ESTIMATE = 600
FIRST, BUDGET = 2, 14  # the default study: 5 contenders x 2 seeds, then one seed per survivor
# Fresh-seed medians like those of the default study's contenders on the embedded digits (fcd
# of the top search configs on new seeds, and gan.py's defaults at about 630).
DEFAULT_LIKE = [110.0, 125.0, 150.0, 210.0, 630.0]
DEFAULTS_SD = 0.02  # gan.py's defaults barely move between seeds (637 and 646 in run L)


def _drawer(medians, fail, rng, sds=None, factor=FAIL_FACTOR):
    keys = tuple(f"c{i}" for i in range(len(medians)))
    sds = sds or [SEED_SD] * len(medians)

    def draw(key, n):
        i = keys.index(key)
        x = medians[i] * np.exp(rng.normal(0.0, sds[i], n))
        return np.where(rng.random(n) < fail[i], factor * x, x)

    return keys, draw


def _races(medians, fail, reps=REPS, seed=0, sds=None, factor=FAIL_FACTOR, **sizes):
    rng = np.random.default_rng(seed)
    keys, draw = _drawer(medians, fail, rng, sds, factor)
    plan = RacePlan(keys, "min", sizes.get("first", FIRST), 1, sizes.get("budget", BUDGET))
    return plan, [simulate(plan, draw) for _ in range(reps)]


def _true_best(medians, fail, factor=FAIL_FACTOR) -> str:
    expected = [math.log(m) + f * math.log(factor) for m, f in zip(medians, fail)]
    return f"c{int(np.argmin(expected))}"


def _upper(rate, reps):
    """The rate plus three of its simulation standard errors (at the claimed level)."""
    return rate + 3 * math.sqrt(rate * (1 - rate) / reps)


def test_the_floor_test_by_hand_and_degenerate_evidence_gives_none():
    a, b = np.log([100.0, 120.0, 90.0]), np.log([200.0, 240.0, 180.0])
    # Pooled over two groups of equal spread, neither own variance above it: the classic
    # pooled t-test.
    want = stats.ttest_ind(b, a, equal_var=True, alternative="greater").pvalue
    assert drop_p(np.exp(a), np.exp(b), "min", positive=True) == pytest.approx(want, rel=1e-9)
    b = np.log([200.0, 180.0, 260.0, 150.0])
    # A pooled variance from the whole round, with its degrees of freedom.
    spread = (0.01, 8)
    va, vb = max(0.01, a.var(ddof=1)) / 3, max(0.01, b.var(ddof=1)) / 4
    want = stats.t.sf((b.mean() - a.mean()) / math.sqrt(va + vb), 8)
    assert drop_p(np.exp(a), np.exp(b), "min", True, spread) == pytest.approx(want, rel=1e-9)
    # The floor: a bimodal group keeps its own, larger variance.
    wide = np.log([100.0, 300.0])
    assert drop_p(np.exp(a), np.exp(wide), "min", True, (0.001, 8)) > \
        stats.t.sf((wide.mean() - a.mean()) / math.sqrt(0.001 / 3 + 0.001 / 2), 8)
    assert math.isnan(drop_p([100.0], [300.0], "min", True))  # no degrees of freedom
    assert math.isnan(drop_p([100.0, 100.0], [300.0, 300.0], "min", True))  # no spread
    assert pooled_variance([np.array([1.0, 3.0]), np.array([5.0])]) == (2.0, 1)


def test_plan_sizes_and_level():
    plan = RacePlan(tuple("abcde"), "min", 3, 1, 20)
    assert plan.max_rounds == 3  # 15 runs in round 1, then rounds of 2+ survivors
    assert plan.test_level == pytest.approx(ALPHA / (SELECTION_MARGIN * 4 * 3))
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


# (name, medians, failure rates, log-scale sds): the default study's shape with one bimodal
# contender, near and far from the best.
CALIBRATED = [
    ("one bimodal contender (30% fail)", DEFAULT_LIKE, [0, 0.3, 0, 0, 0]),
    ("one bimodal contender (50% fail)", DEFAULT_LIKE, [0, 0, 0.5, 0, 0]),
]


def _rates(races, medians, fail):
    best = _true_best(medians, fail)
    return {"dropped": np.mean([best in r.dropped for r in races]),
            "picked": np.mean([r.winner == best for r in races]),
            "defaults_round_1": np.mean([r.dropped.get("c4", {}).get("round") == 1
                                         for r in races]),
            "second_round": np.mean([len(r.rounds) >= 2 for r in races])}


@pytest.mark.parametrize("name, medians, fail", CALIBRATED)
def test_calibrated_race_keeps_the_true_best_picks_it_and_drops_the_defaults(name, medians,
                                                                            fail):
    """At the default sizes: the true best is dropped at most alpha of the time, picked at
    least 75% of it; gan.py's defaults (6x worse, tight) are dropped in round 1 and the race
    goes on to a second round in most races."""
    plan, races = _races(medians, fail, sds=[SEED_SD] * 4 + [DEFAULTS_SD])
    rates = _rates(races, medians, fail)
    print(name, {k: round(float(v), 4) for k, v in rates.items()})
    assert rates["dropped"] <= _upper(ALPHA, REPS)
    assert rates["picked"] >= 0.75
    assert rates["defaults_round_1"] >= 0.7 and rates["second_round"] >= 0.65
    assert max(r.runs_used for r in races) <= plan.budget


def test_a_clearly_worse_contender_is_dropped_in_round_one_even_beside_a_bimodal_one():
    """One bimodal contender raises the pooled variance; the floor keeps it from hiding a
    contender six times worse."""
    _, races = _races([110.0, 125.0, 150.0, 660.0, 630.0], [0, 0.5, 0, 0, 0],
                      sds=[SEED_SD] * 3 + [DEFAULTS_SD] * 2)
    for key in ("c3", "c4"):
        assert np.mean([r.dropped.get(key, {}).get("round") == 1 for r in races]) >= 0.7


@pytest.mark.parametrize("fail, factor", [(0.0, FAIL_FACTOR), (0.4, FAIL_FACTOR), (0.5, 2.5)])
def test_null_every_contender_is_dropped_at_most_alpha(fail, factor):
    """No true best: all five alike. Each is a true best, so each may be dropped at most
    alpha of the time (continuous scores, and bimodal ones that fail 40% or 50% of seeds)."""
    _, races = _races([100.0] * 5, [fail] * 5, seed=1, factor=factor)
    for key in ("c0", "c1", "c2", "c3", "c4"):
        assert np.mean([key in r.dropped for r in races]) <= _upper(ALPHA, REPS), key


def test_four_equals_beside_a_bimodal_one_are_each_dropped_at_most_alpha():
    _, races = _races([100.0] * 5, [0, 0, 0, 0, 0.5], seed=2)
    for key in ("c0", "c1", "c2", "c3"):
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
        truth[0] = 630.0  # gan.py's defaults, always a contender
        draws = truth * np.exp(rng.normal(0.0, SEED_SD, 40))
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
    # Lognormal noise around the true median: an unbiased mean of runs sits exp(sd^2/2) - 1
    # above it.
    expected = math.exp(SEED_SD ** 2 / 2) - 1

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


def _welch_p(leader, other, mode, positive, pooled=None):
    """The former rule, for the comparison row: Welch's t-test on the two groups alone."""
    a = np.log(np.asarray(leader, float)) if positive else np.asarray(leader, float)
    b = np.log(np.asarray(other, float)) if positive else np.asarray(other, float)
    if len(a) < 2 or len(b) < 2 or (a.var() == 0 and b.var() == 0):
        return math.nan
    p = stats.ttest_ind(b, a, equal_var=False,
                        alternative="greater" if mode == "min" else "less").pvalue
    return float(p)


# (name, medians, failure rates, failure factor, log-scale sds): the rows of the table in
# docs/metrics.md. The stress rows put a bimodal contender beside or at the top.
TABLE = [
    ("one bimodal contender (30% fail)", DEFAULT_LIKE, [0, 0.3, 0, 0, 0], 3.0),
    ("one bimodal contender (50% fail)", DEFAULT_LIKE, [0, 0, 0.5, 0, 0], 3.0),
    ("stress: the true best and one more bimodal", DEFAULT_LIKE, [0.3, 0.3, 0, 0, 0], 2.5),
    ("stress: a bimodal contender 0.05 from the best", [100.0, 125.0, 150.0, 210.0, 630.0],
     [0.3, 0, 0, 0, 0], 2.5),
    ("the former noise model: sd 0.25, all four 20% fail", DEFAULT_LIKE, [0.2] * 4 + [0], 3.0),
]


NULLS = [("continuous", 0.0, FAIL_FACTOR), ("40% fail 3x", 0.4, 3.0), ("50% fail 2.5x", 0.5, 2.5)]


def test_race_table_for_the_docs(monkeypatch):
    """Prints the table in docs/metrics.md (``pytest tests/test_race_rule.py -s -k table``)
    and checks what it claims: the floor rule keeps the true best in the calibrated rows and
    drops gan.py's defaults in round 1 far more often than the former Welch rule."""
    from study.race import rule as race_rule

    print("\n| setting | rule | true best dropped | pick = true best | defaults dropped in "
          "round 1 | races with a round 2 |\n| --- | --- | --- | --- | --- | --- |")
    rows, floor = {}, race_rule.drop_p
    for name, medians, fail, factor in TABLE:
        sd = 0.25 if "0.25" in name else SEED_SD
        for rule, test, margin in (("floor", floor, SELECTION_MARGIN),
                                   ("Welch (former)", _welch_p, 1)):
            monkeypatch.setattr(race_rule, "drop_p", test)
            monkeypatch.setattr(race_rule, "SELECTION_MARGIN", margin)
            _, races = _races(medians, fail, sds=[sd] * 4 + [DEFAULTS_SD], factor=factor,
                              seed=3)
            best = _true_best(medians, fail, factor)
            rates = {"dropped": np.mean([best in r.dropped for r in races]),
                     "picked": np.mean([r.winner == best for r in races]),
                     "r1": np.mean([r.dropped.get("c4", {}).get("round") == 1 for r in races]),
                     "two": np.mean([len(r.rounds) >= 2 for r in races])}
            rows[name, rule] = rates
            print(f"| {name} | {rule} | {rates['dropped']:.1%} | {rates['picked']:.0%} | "
                  f"{rates['r1']:.0%} | {rates['two']:.0%} |")
    monkeypatch.setattr(race_rule, "drop_p", floor)
    monkeypatch.setattr(race_rule, "SELECTION_MARGIN", SELECTION_MARGIN)
    for name, fail, factor in NULLS:
        _, races = _races([100.0] * 5, [fail] * 5, seed=4, factor=factor)
        worst = max(np.mean([k in r.dropped for r in races]) for k in races[0].rounds[0]["n"])
        print(f"| no true best: five alike, {name} | floor | each at most {worst:.1%} | — | — | "
              f"{np.mean([len(r.rounds) >= 2 for r in races]):.0%} |")
        assert worst <= _upper(ALPHA, REPS)
    for name, *_ in TABLE[:4]:
        assert rows[name, "floor"]["dropped"] <= _upper(ALPHA, REPS)
    for name, *_ in TABLE[:2]:
        assert rows[name, "floor"]["r1"] > rows[name, "Welch (former)"]["r1"] + 0.3
