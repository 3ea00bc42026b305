"""The race in sentences: the pick's held-out estimate beside its search draw, gan.py's
defaults beside the pick, how the race ended, and how far one seed can be trusted."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from analysis.race import tables as race
from analysis.stats.intervals import verdict_rate_text
from gan.census import census, failures
from gan.records.best_config import BestConfig
from gan.records.race_record import RaceRecord
from gan.records.history import contender_name


def _interval(low: float, high: float) -> str:
    return f"95% CI {low:.4g}–{high:.4g}" if math.isfinite(low) else "no interval below 2 runs"


def scored_text(best: BestConfig) -> str:
    """``4 scored of 4 held-out seeds``: the mean leaves unscored runs out, and says so."""
    scored = best.n_scored if best.n_scored >= 0 else sum(
        math.isfinite(float(r.get("objective", math.nan))) for r in best.per_seed)
    return f"{scored} scored of {best.n_seeds} held-out seeds"


def estimate_failures(best: BestConfig) -> str:
    """The held-out runs' failure share on those with a verdict, with what it leaves out."""
    verdicts = [r.get("failed") for r in best.per_seed]
    failed = sum(bool(v) for v in verdicts if v is not None)
    excluded = {cls: sum(r.get("failure") == cls for r in best.per_seed)
                for cls in failures.NO_VERDICT}
    return verdict_rate_text(failed, sum(v is not None for v in verdicts), excluded)


def race_findings(record: RaceRecord, best: BestConfig | None, objective: str) -> list[str]:
    """The pick's held-out estimate (n, interval, failure share), its search draw apart, and
    how the race ended."""
    names = {c["key"]: contender_name(c) for c in record.contenders}
    out = []
    if best is not None and best.estimated:
        draw = best.search_draw or {}
        drawn = (f"; its search draw, the run that selected it, read {draw['objective']:.4g} and "
                 "counts in no estimate" if draw else "")
        raced = [r["objective"] for r in best.race_runs if math.isfinite(r["objective"])]
        race_text = (f"; over its {len(raced)} race seeds (which chose it) {np.mean(raced):.4g}"
                     if raced else "")
        out.append(f"The pick, {names[record.winner]}: {objective} "
                   f"{best.objective_mean:.4g} "
                   f"({_interval(best.objective_ci_low, best.objective_ci_high)}) over "
                   f"{scored_text(best)}; failed: {estimate_failures(best)}{drawn}"
                   f"{race_text}.")
    tied = [names[k] for k in record.survivors if k != record.winner]
    dropped = [f"{names[k]} (round {d['round']}, p {d['p']:.2g})"
               for k, d in record.dropped.items()]
    out.append(f"The race ran {len(record.rounds)} round(s) and {record.runs_used} runs "
               f"({record.reason}); dropped: {', '.join(dropped) or 'none'}; the winner could "
               f"not be told from: {', '.join(tied) or 'none'}.")
    factor = record.rule.get("hidden_factor")
    if factor and not record.dropped and record.rounds:
        seeds = min(record.rounds[0]["n"].values())
        out.append(f"No contender was dropped: with {seeds} seeds a contender, the leader's "
                   f"runs may hide a collapse (x{factor:g}), so only a contender more than "
                   f"{factor ** (1 / seeds):.1f}x worse than the leader could be, and the pick is "
                   "the best mean of the race runs, as a test-free argmin would pick.")
    return out


def defaults_beside(record: RaceRecord, runs: pd.DataFrame, objective: str) -> list[str]:
    """gan.py's defaults on their fresh race seeds, to set the pick against."""
    reference = record.reference
    if reference is None or runs.empty:
        return []
    mine = runs[(runs["contender"] == contender_name(reference))
                & (runs["kind"] == race.RACE)]
    scores = mine["score"].astype(float)
    if not len(mine):
        return []
    classes = mine["failure"].value_counts()
    named = ", ".join(f"{int(k)} {failures.class_label(c)}" for c, k in classes.items() if c)
    judged = census.with_verdict(mine)
    share = verdict_rate_text(int(judged["failure"].isin(failures.FAILURES).sum()), len(judged),
                              census.no_verdict_counts(mine))
    return [f"{contender_name(reference)}, on {len(mine)} fresh seeds: {objective} "
            f"{scores.mean():.4g} (runs {', '.join(f'{v:.4g}' for v in scores)}); "
            f"{named or 'no class'}; failed: {share}."]


def noise_findings(noise: dict[str, float], ranks: dict[str, Any]) -> list[str]:
    """How far one seed can be trusted: the seed-noise share of the spread among the raced
    search configs, and how well each ranking signal predicted the fresh-seed means."""
    if math.isfinite(noise["noise_share"]):
        share = (f"Seed noise is {noise['noise_share']:.0%} of the spread among the top search "
                 f"configs' fresh runs ({noise['configs']} configs, {noise['runs']} runs; "
                 f"within-config variance {noise['within']:.2g} against between-config "
                 f"{noise['between']:.2g} on the "
                 f"{'log scale' if noise.get('scale', 'log') == 'log' else 'scores themselves'})")
    else:
        share = (f"Too few raced configs with 2+ fresh runs ({noise['configs']}) to split the "
                 "spread into seed noise and config differences")
    if ranks["n"] >= 3:
        rank = (f"; the search draw's rank predicted the fresh-seed means with Spearman rho "
                f"{ranks['window']:.2f} for the mean of the last {ranks['window_size']} "
                f"evaluations and {ranks['final']:.2f} for the final epoch ({ranks['n']} configs)")
    else:
        rank = f"; {ranks['n']} raced configs are too few for a rank correlation"
    return [share + rank + "."]
