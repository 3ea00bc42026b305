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
replaces it where it is larger (the pooled variance is a floor, never a ceiling), so a
contender whose seeds are bimodal (some fail) is judged by its own spread, not by the tighter
spread of the others. With 2 seeds a contender, Welch's test has about 1 degree of freedom and
no power at the race's level; the pooled floor has runs minus contenders.

The level is Bonferroni, halved: ``alpha`` divided by every test the race could ever make,
``(contenders - 1) * max_rounds``, and by SELECTION_MARGIN. The rule was chosen by simulation
on contenders calibrated to the default studies' seed noise, with bimodal ones among them
(tests/test_race_rule.py; docs/metrics.md has the table). Degenerate
evidence drops nothing: a round whose runs have no spread at all, or fewer runs than
contenders plus one, gives no p-value.

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
# The level is halved beyond Bonferroni: a bimodal contender that is lucky on its first seeds
# can lead a round while its expected score is a hair worse than the true best's, and at the
# full Bonferroni level that drops the true best more often than alpha (docs/metrics.md, "The
# race", has the simulation that set the margin).
SELECTION_MARGIN = 2
RACE_TEST = ("one-sided t-test against the round's leader, each contender's variance floored "
             "at the round's pooled variance (runs minus contenders degrees of freedom)")
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
        """The level of each drop test: Bonferroni over every test the race could make, and
        SELECTION_MARGIN below it."""
        return self.alpha / (SELECTION_MARGIN * max(1, (len(self.contenders) - 1)
                                                    * self.max_rounds))


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


def drop_p(leader: Sequence[float], other: Sequence[float], mode: str, positive: bool,
           pooled: tuple[float, int] | None = None) -> float:
    """One-sided t-test p-value that ``other`` is worse than ``leader``, each group's variance
    the larger of its own and the pooled one; NaN when the evidence is degenerate (no pooled
    degrees of freedom, or no spread at all).

    Args:
        leader, other: each group's finite scores.
        mode: "min" (lower is better) or "max".
        positive: test on the log scale (every score of the race is positive).
        pooled: (variance, degrees of freedom) pooled over the round's contenders, on the
            same scale; None pools the two groups alone.
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
    return float(stats.t.sf(diff / math.sqrt(va + vb), dof))


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


def decide(plan: RacePlan, rounds: Sequence[dict[str, Sequence[float]]]) -> RaceState:
    """Replay the race's rule over the scores of the rounds run so far.

    Args:
        plan: the race's sizes.
        rounds: for each round run, each contender's new scores (NaN: a run with no finite
            score), for the contenders that raced in it.

    Returns:
        The survivors, the drops (round, p, leader), a log of every round's tests, and what
        comes next: ``next_seeds`` for each survivor, or ``finished`` with its reason.
    """
    state = RaceState(survivors=list(plan.contenders), next_seeds=plan.first_seeds)
    pooled: dict[str, list[float]] = {k: [] for k in plan.contenders}
    for number, scores in enumerate(rounds, start=1):
        for key in state.survivors:
            pooled[key] += [float(v) for v in scores.get(key, ())]
            state.runs_used += len(scores.get(key, ()))
        state.rounds.append(_test_round(plan, pooled, state, number))
        _plan_next(plan, state)
        if state.finished:
            break
    return state


def _test_round(plan: RacePlan, pooled: dict[str, list[float]], state: RaceState,
                number: int) -> dict:
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
    for key in order[1:]:
        p = drop_p(filled[leader], filled[key], plan.mode, positive, spread) \
            if np.isfinite(worst) else math.nan
        tests[key] = p
        if p < plan.test_level:
            state.dropped[key] = {"round": number, "p": p, "leader": leader}
    state.survivors = [k for k in order if k not in state.dropped]
    return {"round": number, "leader": leader, "level": plan.test_level, "log_scale": positive,
            "pooled_sd": math.sqrt(spread[0]) if spread[0] >= 0 else math.nan,
            "pooled_df": spread[1], "p": tests,
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


def simulate(plan: RacePlan, draw: Callable[[str, int], Sequence[float]]) -> RaceState:
    """Run a whole race where ``draw(contender, n)`` returns ``n`` fresh scores (for tests on
    known ground truth; the study runs its rounds under Tune instead)."""
    rounds: list[dict[str, Sequence[float]]] = []
    state = decide(plan, rounds)
    while not state.finished:
        rounds.append({k: list(draw(k, state.next_seeds)) for k in state.survivors})
        state = decide(plan, rounds)
    return state


def run_summary(scores: Sequence[float], failed: Sequence[bool]) -> dict:
    """A config's estimate from its runs: n, mean, a 95% t-interval of the mean, and the
    share of runs that failed with its 95% Wilson interval.

    Args:
        scores: each run's score (NaN: a run with no finite score; left out of the mean).
        failed: whether each run failed (by the census's rules), one per score.

    Returns:
        ``n``, ``n_scored``, ``mean``, ``sd``, ``ci_low``, ``ci_high`` (NaN below 2 scored
        runs), ``failed``, ``failure_share``, ``failure_low``, ``failure_high``.

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
    k = int(sum(bool(f) for f in failed))
    share = {"failure_share": math.nan, "failure_low": math.nan, "failure_high": math.nan}
    if len(failed):
        ci = stats.binomtest(k, len(failed)).proportion_ci(method="wilson")
        share = {"failure_share": k / len(failed), "failure_low": float(ci.low),
                 "failure_high": float(ci.high)}
    return {"n": len(scores), "n_scored": n, "mean": mean, "sd": sd, "ci_low": mean - half,
            "ci_high": mean + half, "failed": k, **share}
