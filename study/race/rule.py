"""The race's rule: which contenders a round of fresh seeds drops, and when the race ends.

A racing design in the manner of F-Race (Birattari et al. 2002) and irace (López-Ibáñez et
al. 2016): every contender gets ``first_seeds`` fresh training seeds, then each survivor
``later_seeds`` more per round; after every round each contender is tested against the
leader, and dropped once the test says it is worse. The race ends when one contender stands
apart or the next round would overspend the seed budget.

The test is a one-sided t-test of each contender against the round's leader on the runs'
scores (on the log scale when every score is positive: fcd's seed noise grows with its mean),
with a variance shared across contenders: the round's pooled within-contender variance, with
runs minus contenders degrees of freedom. Each of the two compared contenders' own variance
replaces it where it is larger (the pooled variance is a floor, never a ceiling). With 2 seeds
a contender, Welch's test has about 1 degree of freedom and no power; the pooled floor has runs
minus contenders.

A few seeds hide a config's failures: a config that collapses on 30% of seeds shows two good
runs 49% of the time, and then leads with a tiny variance of its own. So each mean is charged
the collapse its runs may hide, at the worst realistic size (HIDDEN_FACTOR, about a one-class
collapse's x8-x10 on fcd), as if one run in n had gone the other way: a leader with a run that
did not fail is charged log(HIDDEN_FACTOR) / n on the log scale, and a tested contender every
one of whose runs failed (by the census) is credited as much. A contender is dropped only when
it is worse than the leader after both; a smaller charge, log(HIDDEN_FACTOR) / (n + 1) (a rule
of succession), still let a contender that collapses on half its seeds fool the race 8% of the
time. The level is Bonferroni over every test the race could ever make, ``alpha``
/ ``((contenders - 1) * max_rounds)``. Chosen and checked by simulation on contenders with
the default studies' seed noise, bimodal and collapse-prone ones among them, tuning on some
scenarios and validating on others (tests/test_race_rule.py; docs/metrics.md has the table).
Degenerate evidence drops nothing: a round whose runs have no spread at all, or fewer runs
than contenders plus one, gives no p-value.

A run that produced no finite score (it diverged) counts as the worst finite score of the
whole race: it ranks last without inventing a number of its own. It is never reported as a
score; the failure share reports it.

Pure: no Ray, no files. ``study.race.rounds`` runs the rounds under Tune and records them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
# The worst realistic collapse, as a factor on the score: a one-class collapse multiplies fcd
# by about 8 (docs/metrics.md, "The race"); the charge for a hidden collapse is log(10) / n.
HIDDEN_FACTOR = 10.0
RACE_TEST = ("one-sided t-test against the round's leader, each contender's variance floored "
             "at the round's pooled variance (runs minus contenders degrees of freedom); the "
             "leader charged, and an all-failed contender credited, the collapse its runs may "
             "hide (log 10 / n)")
STANDS_APART, BUDGET_SPENT, ALONE = "stands apart", "seed budget spent", "the only contender"


@dataclass(frozen=True)
class RacePlan:
    """The race's sizes: contenders (search rank order, best first), seeds, budget."""

    contenders: tuple[str, ...]
    mode: str  # "min" or "max": which direction of the score is better
    first_seeds: int
    later_seeds: int
    budget: int  # race runs in all, every round included
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        if len(self.contenders) < 1 or len(set(self.contenders)) != len(self.contenders):
            raise ValueError(f"contenders must be distinct and at least one, got "
                             f"{list(self.contenders)}")
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if self.first_seeds < 1 or self.later_seeds < 1:
            raise ValueError(f"seeds per round must be >= 1, got {self.first_seeds} and "
                             f"{self.later_seeds}")
        if self.budget < len(self.contenders) * self.first_seeds:
            raise ValueError(f"a seed budget of {self.budget} runs cannot give "
                             f"{len(self.contenders)} contenders {self.first_seeds} seeds each")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")

    @property
    def max_rounds(self) -> int:
        """The most rounds the budget allows: every round after the first has 2+ survivors."""
        return 1 + (self.budget - len(self.contenders) * self.first_seeds) \
            // (2 * self.later_seeds)

    @property
    def test_level(self) -> float:
        """The level of each drop test: Bonferroni over every test the race could make."""
        return self.alpha / max(1, (len(self.contenders) - 1) * self.max_rounds)


@dataclass
class RaceState:
    """Where a race stands after the rounds it has run."""

    survivors: list[str]
    dropped: dict[str, dict] = field(default_factory=dict)  # contender: round, p, leader
    rounds: list[dict] = field(default_factory=list)  # one entry per round: tests and leader
    runs_used: int = 0
    finished: bool = False
    reason: str = ""
    next_seeds: int = 0  # seeds per survivor in the next round (0 once finished)

    @property
    def winner(self) -> str | None:
        return self.rounds[-1]["leader"] if self.rounds else None


def _scale(values: np.ndarray, positive: bool) -> np.ndarray:
    return np.log(values) if positive else values


def pooled_variance(groups: Sequence[np.ndarray]) -> tuple[float, int]:
    """(pooled within-group variance, its degrees of freedom: runs minus groups) over the
    groups with at least one run."""
    groups = [g for g in groups if len(g)]
    df = sum(len(g) for g in groups) - len(groups)
    if df < 1:
        return math.nan, 0
    return float(sum(((g - g.mean()) ** 2).sum() for g in groups) / df), df


def hidden_charge(n: int, failed: int, delta: float, leader: bool) -> float:
    """How much worse (leader) or better (tested contender) a contender's mean may truly be
    than its runs show, through a collapse they hide: ``delta / n`` (as if one run in n had
    gone the other way) for a leader with a run that did not fail, and for a tested contender
    all of whose runs failed; else 0."""
    if n < 1:
        return 0.0
    hides = failed < n if leader else failed == n
    return delta / n if hides else 0.0


def drop_p(leader: Sequence[float], other: Sequence[float], mode: str, positive: bool,
           pooled: tuple[float, int] | None = None, charge: float = 0.0) -> float:
    """One-sided t-test p-value that ``other`` is worse than ``leader``, each group's variance
    the larger of its own and the pooled one; NaN when the evidence is degenerate (no pooled
    degrees of freedom, or no spread at all).

    Args:
        leader, other: each group's finite scores.
        mode: "min" (lower is better) or "max".
        positive: test on the log scale (every score of the race is positive).
        pooled: (variance, degrees of freedom) pooled over the round's contenders, on the
            same scale; None pools the two groups alone.
        charge: how much of the gap, on the same scale, the runs may hide (the leader's
            hidden collapse and the contender's hidden success, :func:`hidden_charge`).
    """
    a, b = _scale(np.asarray(leader, float), positive), _scale(np.asarray(other, float), positive)
    if not len(a) or not len(b):
        return math.nan
    variance, dof = pooled if pooled is not None else pooled_variance([a, b])
    if dof < 1 or not variance > 0:
        return math.nan
    # The floor: a group's own variance counts where it is larger than the pooled one.
    va = max(variance, a.var(ddof=1) if len(a) > 1 else 0.0) / len(a)
    vb = max(variance, b.var(ddof=1) if len(b) > 1 else 0.0) / len(b)
    diff = (b.mean() - a.mean()) if mode == "min" else (a.mean() - b.mean())
    return float(stats.t.sf((diff - charge) / math.sqrt(va + vb), dof))


def _filled(scores: dict[str, list[float]]) -> tuple[dict[str, np.ndarray], bool]:
    """Scores with every non-finite run set to the race's worst finite score; whether every
    finite score is positive."""
    finite = np.array([v for vs in scores.values() for v in vs if math.isfinite(v)], float)
    positive = bool(len(finite) and (finite > 0).all())
    return {k: np.array(vs, float) for k, vs in scores.items()}, positive


def _impute(values: np.ndarray, worst: float) -> np.ndarray:
    return np.where(np.isfinite(values), values, worst)


def _mean(values: np.ndarray, positive: bool) -> float:
    return float(np.mean(_scale(values, positive))) if len(values) else math.nan


def decide(plan: RacePlan, rounds: Sequence[dict[str, Sequence[float]]],
           failed: Sequence[dict[str, Sequence[bool]]] | None = None) -> RaceState:
    """Replay the race's rule over the scores of the rounds run so far.

    Args:
        plan: the race's sizes.
        rounds: for each round run, each contender's new scores (NaN: a run with no finite
            score), for the contenders that raced in it.
        failed: the same shape: whether each run failed by the census (a run without a
            verdict has not failed); None: no run failed.

    Returns:
        The survivors, the drops (round, p, leader), a log of every round's tests, and what
        comes next: ``next_seeds`` for each survivor, or ``finished`` with its reason.
    """
    state = RaceState(survivors=list(plan.contenders), next_seeds=plan.first_seeds)
    pooled: dict[str, list[float]] = {k: [] for k in plan.contenders}
    fails: dict[str, int] = {k: 0 for k in plan.contenders}
    for number, scores in enumerate(rounds, start=1):
        flags = failed[number - 1] if failed is not None else {}
        for key in state.survivors:
            pooled[key] += [float(v) for v in scores.get(key, ())]
            fails[key] += sum(bool(f) for f in flags.get(key, ()))
            state.runs_used += len(scores.get(key, ()))
        state.rounds.append(_test_round(plan, pooled, fails, state, number))
        _plan_next(plan, state)
        if state.finished:
            break
    return state


def _delta(finite: np.ndarray, positive: bool) -> float:
    """A hidden collapse's size on the test's scale: log(HIDDEN_FACTOR) on the log scale, else
    the spread of the race's finite scores (a failure moves a run across it)."""
    if positive:
        return math.log(HIDDEN_FACTOR)
    return float(np.ptp(finite)) if len(finite) else 0.0


def _test_round(plan: RacePlan, pooled: dict[str, list[float]], fails: dict[str, int],
                state: RaceState, number: int) -> dict:
    every, positive = _filled(pooled)  # the scale is the whole race's, dropped runs too
    arrays = {k: every[k] for k in state.survivors}
    finite = np.concatenate([a[np.isfinite(a)] for a in every.values()] or [np.array([])])
    worst = (finite.max() if plan.mode == "min" else finite.min()) if len(finite) else math.nan
    filled = {k: _impute(a, worst) for k, a in arrays.items()}
    sign = 1.0 if plan.mode == "min" else -1.0
    # Best mean first; ties go to the better search rank (the contenders' order).
    order = sorted(state.survivors, key=lambda k: (
        sign * _mean(filled[k], positive) if np.isfinite(filled[k]).any() else math.inf,
        plan.contenders.index(k)))
    leader = order[0]
    spread = pooled_variance([_scale(filled[k], positive) for k in order]) \
        if np.isfinite(worst) else (math.nan, 0)
    tests = {}
    delta = _delta(finite, positive)
    for key in order[1:]:
        charge = hidden_charge(len(filled[leader]), fails[leader], delta, leader=True) \
            + hidden_charge(len(filled[key]), fails[key], delta, leader=False)
        p = drop_p(filled[leader], filled[key], plan.mode, positive, spread, charge) \
            if np.isfinite(worst) else math.nan
        tests[key] = p
        if p < plan.test_level:
            state.dropped[key] = {"round": number, "p": p, "leader": leader}
    state.survivors = [k for k in order if k not in state.dropped]
    return {"round": number, "leader": leader, "level": plan.test_level, "log_scale": positive,
            "pooled_sd": math.sqrt(spread[0]) if spread[0] >= 0 else math.nan,
            "pooled_df": spread[1], "p": tests,
            "failed": {k: fails[k] for k in order},
            "dropped": [k for k, v in state.dropped.items() if v["round"] == number],
            "n": {k: len(pooled[k]) for k in order}}


def _plan_next(plan: RacePlan, state: RaceState) -> None:
    cost = len(state.survivors) * plan.later_seeds
    if len(plan.contenders) == 1:
        state.finished, state.reason = True, ALONE
    elif len(state.survivors) == 1:
        state.finished, state.reason = True, STANDS_APART
    elif state.runs_used + cost > plan.budget or len(state.rounds) >= plan.max_rounds:
        state.finished, state.reason = True, BUDGET_SPENT
    state.next_seeds = 0 if state.finished else plan.later_seeds


def simulate(plan: RacePlan, draw: Callable[[str, int], tuple[Sequence[float], Sequence[bool]]]
             ) -> RaceState:
    """Run a whole race where ``draw(contender, n)`` returns ``n`` fresh scores and whether
    each run failed (for tests on known ground truth; the study runs its rounds under Tune)."""
    rounds: list[dict[str, Sequence[float]]] = []
    failed: list[dict[str, Sequence[bool]]] = []
    state = decide(plan, rounds, failed)
    while not state.finished:
        drawn = {k: draw(k, state.next_seeds) for k in state.survivors}
        rounds.append({k: list(v[0]) for k, v in drawn.items()})
        failed.append({k: list(v[1]) for k, v in drawn.items()})
        state = decide(plan, rounds, failed)
    return state


def run_summary(scores: Sequence[float], failed: Sequence[bool | None]) -> dict:
    """A config's estimate from its runs: n, the runs it scored, mean, a 95% t-interval of the
    mean, and the share of runs with a verdict that failed, with its 95% Wilson interval, the
    runs without a verdict and the share's bounds over every run had none or all of them
    failed.

    Args:
        scores: each run's score (NaN: a run with no finite score; left out of the mean).
        failed: whether each run failed (by the census's rules), one per score; None for a
            run without a verdict (not diverse yet, undetermined).

    Returns:
        ``n``, ``n_scored``, ``mean``, ``sd``, ``ci_low``, ``ci_high`` (NaN below 2 scored
        runs), ``failed``, ``judged``, ``no_verdict``, ``failure_share``, ``failure_low``,
        ``failure_high`` (NaN without a judged run), ``failure_bound_low``,
        ``failure_bound_high``.

    Raises:
        ValueError: when ``scores`` and ``failed`` differ in length.
    """
    if len(scores) != len(failed):
        raise ValueError(f"{len(scores)} scores but {len(failed)} failure flags")
    values = np.array([v for v in scores if math.isfinite(v)], float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)) if n > 1 else math.nan
    judged = [bool(f) for f in failed if f is not None]
    k, left_out = sum(judged), len(failed) - len(judged)
    share = {"failure_share": math.nan, "failure_low": math.nan, "failure_high": math.nan}
    if judged:
        ci = stats.binomtest(k, len(judged)).proportion_ci(method="wilson")
        share = {"failure_share": k / len(judged), "failure_low": float(ci.low),
                 "failure_high": float(ci.high)}
    total = len(failed)
    bounds = {"failure_bound_low": k / total if total else math.nan,
              "failure_bound_high": (k + left_out) / total if total else math.nan}
    return {"n": len(scores), "n_scored": n, "mean": mean, "sd": sd, "ci_low": mean - half,
            "ci_high": mean + half, "failed": k, "judged": len(judged), "no_verdict": left_out,
            **share, **bounds}
