"""The failure atlas, per loss: class rates with intervals, where in lr each class lives, its
onset, and the quality each loss reaches.

An atlas trial runs the full budget (FIFO), so none is undetermined; a trial that is not
diverse yet carries no verdict, so every failure rate stands on the trials with one. Every
rate carries its n and 95% Wilson interval, and a remedy is said to remove a failure only when
its interval separates from the baseline's.
"""

from __future__ import annotations

import math

import pandas as pd

from gan.census import census, failures
from gan.census import outcomes
from analysis.findings import design_trials
from analysis.stats.intervals import (count_cell, rate_text, rates_differ, span_text,
                                     verdict_cell, verdict_rate_text, wilson_interval)
from gan.train.losses import in_arm_order

BASELINES = ("ns", "minimax")  # gan.py's two costs; the other losses are the remedies


def losses_in(trials: pd.DataFrame) -> list[str]:
    """The study's arms (losses and recipe arms), in gan.train.losses order (unknown names last)."""
    return in_arm_order(trials["loss"])


def loss_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per loss: n, the trials with a verdict, each class as ``k (95% CI)`` of them
    ("n/a" where the class does not exist for the loss; a class without a verdict, of all n),
    failure by the samples (of the trials whose samples have a verdict), median onset per
    failure, and the best and median final fcd of the trials that did not diverge."""
    rows = []
    for loss in losses_in(trials):
        group = trials[trials["loss"].astype(str) == loss]
        n = len(group)
        row: dict[str, object] = {"loss": loss, "n": n, "with a verdict": len(verdicts(group))}
        for cls in failures.CLASSES:
            if outcomes.rule_family(cls, loss) is None:
                row[cls] = "n/a"  # the class does not exist for this loss (gan.census.failures)
            elif cls not in failures.NO_VERDICT:
                row[cls] = _cell(_hits(group, cls), len(verdicts(group)), left_out(group))
            elif (group["failure"] == cls).any():
                row[cls] = count_cell(int((group["failure"] == cls).sum()), n)
        row[ANY_FAILURE] = _cell(_hits(group, ANY_FAILURE), len(verdicts(group, ANY_FAILURE)),
                                 left_out(group, ANY_FAILURE))
        for cls in failures.FAILURES:
            onsets = group.loc[group["failure"] == cls, "onset_epoch"].dropna()
            row[f"onset {failures.class_label(cls)}"] = \
                float(onsets.median()) if len(onsets) else math.nan
        fcd = group["fcd"].dropna() if "fcd" in group else pd.Series(dtype=float)
        row["best fcd"] = float(fcd.min()) if len(fcd) else math.nan
        row["median fcd"] = float(fcd.median()) if len(fcd) else math.nan
        rows.append(row)
    # Onset columns of classes that never occurred say nothing.
    return pd.DataFrame(rows).dropna(axis=1, how="all")


def _class_sentence(group: pd.DataFrame, cls: str) -> str:
    hit = group[group["failure"] == cls]
    text = f"{failures.class_label(cls)} {rate_text(len(hit), len(verdicts(group)))}"
    if len(hit):
        text += f", at lr {span_text(hit['lr'], '.2g')}"
        onsets = hit["onset_epoch"].dropna()
        if len(onsets):
            text += f", from epoch {span_text(onsets, '.0f')} (median {onsets.median():.0f})"
    return text


def loss_findings(trials: pd.DataFrame) -> list[str]:
    """One sentence per loss: every failure class it showed (or none), and its quality."""
    out = []
    for loss in losses_in(trials):
        group = trials[trials["loss"].astype(str) == loss]
        n = len(verdicts(group))
        seen = [c for c in failures.FAILURES if (group["failure"] == c).any()]
        failed = _hits(group, ANY_FAILURE)
        if seen:
            body = "; ".join(_class_sentence(group, c) for c in seen)
        else:
            body = (f"no failure in {n} trials with a verdict (0%, 95% CI "
                    f"0–{wilson_interval(0, n)[1]:.0%})" if n else "no trial with a verdict")
        slow = len(group) - n
        if slow:
            body += f" ({slow} of {len(group)} not diverse yet, no verdict)"
        fcd = group["fcd"].dropna() if "fcd" in group else pd.Series(dtype=float)
        quality = (f"; best fcd {fcd.min():.4g}, median {fcd.median():.4g} (n={len(fcd)})"
                   if len(fcd) else "")
        judged = len(verdicts(group, ANY_FAILURE))
        out.append(f"{loss}: {body}; {ANY_FAILURE} "
                   f"{verdict_rate_text(failed, judged, left_out(group, ANY_FAILURE))}"
                   f"{quality}.")
    return out


ANY_FAILURE = "failed by its samples"  # one outcome for every loss (gan.census.outcomes.sample_outcome)


def _cell(k: int, n: int, excluded: dict[str, int]) -> str:
    return verdict_cell(k, n, excluded)


def left_out(group: pd.DataFrame, cls: str | None = None) -> dict[str, int]:
    """The trials of ``group`` a rate of ``cls`` leaves out, by no-verdict class."""
    return census.no_verdict_counts(group, "outcome" if cls == ANY_FAILURE
                                    and "outcome" in group else "failure")


def verdicts(group: pd.DataFrame, cls: str | None = None) -> pd.DataFrame:
    """The trials a failure rate stands on: those with a verdict (not diverse yet and
    undetermined carry none); for failure by the samples, those whose samples have one."""
    return census.with_verdict(group, "outcome" if cls == ANY_FAILURE and "outcome" in group
                               else "failure")


def _hits(group: pd.DataFrame, cls: str) -> int:
    if cls == ANY_FAILURE:
        if "outcome" in group:
            return int(outcomes.samples_failed(group["outcome"]).sum())
        return int(group["failure"].isin(failures.FAILURES).sum())
    return int((group["failure"] == cls).sum())


def remedy_findings(trials: pd.DataFrame) -> list[str]:
    """For each failure class a baseline cost shows (and for failure by the samples, one
    outcome for every loss), whether each other loss has it less often: stated only where the
    95% intervals separate, and for a class only among losses that share its definition
    (:func:`gan.census.outcomes.rule_family`)."""
    out = []
    losses = losses_in(trials)
    for base in [b for b in BASELINES if b in losses]:
        group = trials[trials["loss"].astype(str) == base]
        for cls in (ANY_FAILURE, *failures.FAILURES):
            k, n = _hits(group, cls), len(verdicts(group, cls))
            if k == 0:
                continue
            fewer, unclear = [], []
            family = outcomes.rule_family(cls, base) if cls != ANY_FAILURE else None
            for other in [x for x in losses if x != base and (
                    cls == ANY_FAILURE or outcomes.rule_family(cls, x) == family)]:
                rival = trials[trials["loss"].astype(str) == other]
                pair = (_hits(rival, cls), len(verdicts(rival, cls)))
                separate = pair[1] > 0 and rates_differ((k, n), pair) and pair[0] / pair[1] < k / n
                (fewer if separate else unclear).append(f"{other} {pair[0]}/{pair[1]}")
            text = f"{failures.class_label(cls)} under {base} ({k}/{n}): "
            if not fewer and not unclear:
                continue  # no loss shares this class's definition
            text += (f"less often under {', '.join(fewer)} (95% intervals separate)"
                     if fewer else "no other loss has it measurably less often")
            if unclear:
                text += f"; cannot tell for {', '.join(unclear)} (intervals overlap)"
            out.append(text + ".")
    return out or ["Neither baseline cost (ns, minimax) failed in this atlas, so no loss can "
                   "be shown to remove a failure."]


BALANCED_SHARE = 0.4  # each eps value holds at least this share of every loss's trials


def bn_eps_findings(trials: pd.DataFrame) -> list[str]:
    """Any-failure rate per BatchNorm eps within each loss (gan.py's 0.8 quirk measured), and
    the pooled rates with each stratum's size. The Sobol sweep balances the losses, not eps
    within each loss: a pooled verdict is given only when every loss splits its trials between
    both values (each at least BALANCED_SHARE); otherwise the pooled difference mixes the eps
    effect with the loss effect, and the sentence says so."""
    if "bn_eps" not in trials or trials["bn_eps"].nunique() < 2:
        return []
    values = sorted(trials["bn_eps"].astype(float).unique(), reverse=True)[:2]
    strata, balanced = [], True
    for loss in losses_in(trials):
        group = trials[trials["loss"].astype(str) == loss]
        rates = [(_hits(g, ANY_FAILURE), len(g)) for g in
                 (verdicts(group, ANY_FAILURE)[lambda t: t["bn_eps"].astype(float) == v]
                  for v in values)]
        balanced &= min(n for _, n in rates) >= BALANCED_SHARE * sum(n for _, n in rates)
        verdict = ("differ" if rates_differ(*rates) else "cannot tell") \
            if min(n for _, n in rates) else "one value only"
        strata.append(f"{loss}: {rates[0][0]}/{rates[0][1]} vs {rates[1][0]}/{rates[1][1]} "
                      f"({verdict})")
    judged = verdicts(trials, ANY_FAILURE)
    pooled = [(_hits(g, ANY_FAILURE), len(g)) for g in
              (judged[judged["bn_eps"].astype(float) == v] for v in values)]
    if not min(n for _, n in pooled):
        return []
    if not balanced:
        verdict = ("no pooled verdict: the losses split their trials unevenly between the two "
                   "values, so the pooled difference mixes the eps effect with the loss effect")
    elif rates_differ(*pooled):
        verdict = "the pooled rates differ (95% intervals separate; every loss splits evenly)"
    else:
        verdict = "the pooled rates cannot be told apart (intervals overlap)"
    return [f"Failure by the samples, by the generator's BatchNorm eps {values[0]:g} vs {values[1]:g}, "
            f"within each loss: {'; '.join(strata)}. Pooled over the losses: "
            f"{rate_text(*pooled[0])} vs {rate_text(*pooled[1])}; {verdict}."]


def atlas_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The atlas's own trials (every one at the full budget), with a ``loss`` column."""
    data = design_trials(trials).copy()
    if "loss" not in data:
        data["loss"] = "ns"
    data["loss"] = data["loss"].fillna("ns").astype(str)
    return data
