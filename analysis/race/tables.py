"""The race after the search, read from ``race.json``: its contenders, rounds and drops, the
winner's held-out estimate beside its search draw, and how noisy one seed is.

Nothing here re-decides the race: the study recorded every round as it ran it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.stats.intervals import verdict_cell
from gan.records import layout
from gan.census import census
from gan.census.failures import NO_VERDICT
from gan.census.ranking import RANK_WINDOW, trailing_mean
from gan.records.race_record import RaceRecord
from gan.records.history import contender_name

RACE = "race"
ESTIMATE = "estimate"
SEARCH_DRAW = "search draw"


def runs_frame(record: RaceRecord, trials: pd.DataFrame) -> pd.DataFrame:
    """One row per fresh run (race and estimate) and per search draw: contender, kind
    (race, estimate, search draw), score (the ranking signal), final value and census class."""
    by_id = trials.set_index("trial_id") if len(trials) else pd.DataFrame()
    rows = []
    for c in record.contenders:
        name = contender_name(c)
        draw = c.get("search_draw")
        if draw:
            rows.append({"contender": name, "kind": SEARCH_DRAW, "trial_id": draw["trial_id"],
                         "score": draw["objective"], "final": draw.get("final", math.nan),
                         "failure": _failure(by_id, draw["trial_id"])})
        for run in c.get("runs", []):
            rows.append({"contender": name, "kind": run["stage"], "trial_id": run["trial_id"],
                         "round": run["round"], "score": run["score"],
                         "final": _final(by_id, run["trial_id"]),
                         "failure": _failure(by_id, run["trial_id"])})
    return pd.DataFrame(rows)


def _failure(by_id: pd.DataFrame, trial_id: str) -> str:
    return str(by_id.loc[trial_id, "failure"]) if trial_id in by_id.index else ""


def _final(by_id: pd.DataFrame, trial_id: str) -> float:
    if trial_id in by_id.index and "fcd" in by_id:
        return float(by_id.loc[trial_id, "fcd"])
    return math.nan


def contender_table(record: RaceRecord, runs: pd.DataFrame,
                    failures: tuple[str, ...]) -> pd.DataFrame:
    """One row per contender: its search draw apart, its fresh race runs (n, mean, sd,
    failures), the winner's held-out estimate, and how the race ended for it."""
    dropped, survivors = record.dropped, record.survivors
    rows = []
    for c in record.contenders:
        mine = runs[runs["contender"] == contender_name(c)] if len(runs) else runs
        race = mine[mine["kind"] == RACE] if len(mine) else mine
        draw = c.get("search_draw") or {}
        if c["key"] == record.winner:
            verdict = f"winner ({record.reason})"
        elif c["key"] in dropped:
            d = dropped[c["key"]]
            verdict = f"dropped in round {d['round']} (p {d['p']:.2g})"
        elif c["key"] in survivors:
            verdict = "could not be told from the winner"
        else:
            verdict = ""
        scores = race["score"].astype(float) if len(race) else pd.Series(dtype=float)
        judged = census.with_verdict(race) if len(race) else race
        failed = int(judged["failure"].isin(failures).sum()) if len(judged) else 0
        excluded = census.no_verdict_counts(race) if len(race) \
            else dict.fromkeys(NO_VERDICT, 0)
        rows.append({"contender": contender_name(c),
                     "search draw": draw.get("objective", math.nan),
                     "race n": len(race), "race mean": scores.mean(),
                     "race sd": scores.std(ddof=1) if len(scores) > 1 else math.nan,
                     "race failed (of those with a verdict)": verdict_cell(failed, len(judged),
                                                                           excluded),
                     "verdict": verdict})
    return pd.DataFrame(rows)


def round_table(record: RaceRecord) -> pd.DataFrame:
    """One row per round and test: the leader, the contender tested, n, p, the level and
    whether it was dropped."""
    names = {c["key"]: contender_name(c) for c in record.contenders}
    rows = []
    for r in record.rounds:
        for key, p in r["p"].items():
            rows.append({"round": r["round"], "leader": names[r["leader"]],
                         "tested": names[key], "n (leader, tested)":
                         f"{r['n'][r['leader']]}, {r['n'][key]}",
                         "p": p, "level": r["level"], "dropped": key in r["dropped"]})
    return pd.DataFrame(rows)


def noise_split(runs: pd.DataFrame) -> dict[str, float]:
    """How much of the spread among the raced search configs' fresh runs is seed noise.

    A one-way random-effects split on the log scores (fcd's noise grows with its mean; on the
    scores themselves when one is 0 or below, as a maximised diversity can be):
    within-config variance (one config, many seeds) against the between-config component,
    from the fresh runs of every search contender with 2+ scored runs. gan.py's defaults
    are left out: they are no top search trial.

    Returns:
        ``configs``, ``runs``, ``within``, ``between`` (variance components),
        ``noise_share`` = within / (within + between) (NaN below 2 configs) and ``scale``
        (``log`` or ``raw``).
    """
    fresh = runs[runs["kind"].isin([RACE, ESTIMATE]) & ~runs["contender"].str.startswith(
        layout.DEFAULTS_LABEL)] if len(runs) else runs
    fresh = fresh[np.isfinite(fresh["score"].astype(float))] if len(fresh) else fresh
    groups = [g["score"].astype(float).to_numpy()
              for _, g in fresh.groupby("contender") if len(g) >= 2] if len(fresh) else []
    # The race's own scale: log when every score is positive (fcd), else the scores as they
    # are (a maximised diversity can be 0, whose log is -inf).
    log_scale = bool(groups) and all((g > 0).all() for g in groups)
    groups = [np.log(g) for g in groups] if log_scale else groups
    out = {"configs": len(groups), "runs": int(sum(len(g) for g in groups)),
           "within": math.nan, "between": math.nan, "noise_share": math.nan,
           "scale": "log" if log_scale else "raw"}
    if len(groups) < 2:
        return out
    n = np.array([len(g) for g in groups], float)
    grand = np.concatenate(groups).mean()
    msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (n.sum() - len(groups))
    msb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (len(groups) - 1)
    n0 = (n.sum() - (n ** 2).sum() / n.sum()) / (len(groups) - 1)
    between = max(0.0, (msb - msw) / n0)
    out.update(within=float(msw), between=float(between),
               noise_share=float(msw / (msw + between)) if msw + between > 0 else math.nan)
    return out


def rank_agreement(runs: pd.DataFrame, history: pd.DataFrame) -> dict[str, Any]:
    """How well each ranking signal of the search draw predicts a config's fresh-seed mean:
    Spearman's rho over the raced search configs, for the final-epoch value and for the mean
    over the last RANK_WINDOW evaluations (the study's signal), with n."""
    draws = runs[runs["kind"] == SEARCH_DRAW] if len(runs) else runs
    fresh = runs[runs["kind"].isin([RACE, ESTIMATE])] if len(runs) else runs
    means = fresh.groupby("contender")["score"].mean() if len(fresh) else pd.Series(dtype=float)
    rows = []
    for _, d in draws.iterrows():
        trial = history[history["trial_id"] == d["trial_id"]].sort_values("epoch")
        if d["contender"] in means and len(trial) and "fcd" in trial:
            rows.append({"final": float(trial["fcd"].iloc[-1]),
                         "window": trailing_mean(trial["fcd"].tolist(), RANK_WINDOW),
                         "fresh": float(means[d["contender"]])})
    table = pd.DataFrame(rows)
    out: dict[str, Any] = {"n": len(table), "window_size": RANK_WINDOW}
    for signal in ("final", "window"):
        out[signal] = (float(stats.spearmanr(table[signal], table["fresh"]).statistic)
                       if len(table) >= 3 else math.nan)
    return out
