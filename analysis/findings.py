"""Findings computed from the data: sentences whose every number comes from the trials.

Every count names its population, every rate carries its n and a 95% Wilson
interval, and a comparison between groups is stated only when the intervals
separate; otherwise the sentence says that the data cannot tell.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from analysis.sections import survey
from analysis.stats.intervals import count_cell, rate_text, rates_differ
from gan import failures, layout

MIN_GROUP = 3  # a group rate is quoted only for groups of at least this many trials
LR_BINS = 3  # learning-rate terciles for the failure-rate comparison


def design_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The design's own trials (search or atlas), not the race and control runs."""
    if "phase" not in trials:
        return trials
    return trials[trials["phase"].isin(layout.DESIGN_PHASES.values())]


def proposal_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Every trial the study's sampler proposed: the design's own and the survey's."""
    if "phase" not in trials:
        return trials
    return trials[trials["phase"].isin(layout.PROPOSAL_PHASES)]


def census(trials: pd.DataFrame, max_epochs: int, design: str = "search") -> list[str]:
    """Who ran how long, and the class counts of each population, with intervals."""
    search = design_trials(trials)
    n = len(search)
    if n == 0:
        return [f"The study holds no {design} trials."]
    full = search[search["epochs"] >= max_epochs]
    early = search[search["stopped_early"]]
    for_failure = search[search["stopped_for_failure"]] if "stopped_for_failure" in search \
        else search.iloc[:0]
    # An atlas runs FIFO: it has no scheduler that stops trials, so it says nothing of one.
    scheduler = "" if design == "atlas" and not len(early) else (
        f", {len(early)} were stopped early by the scheduler"
        + (f" (after {int(early['epochs'].min())} to {int(early['epochs'].max())} epochs)"
           if len(early) else ""))
    out = [f"{design.capitalize()}: {n} trials; {len(full)} ran all {max_epochs} epochs"
           + scheduler
           + (f", {len(for_failure)} were stopped for a conclusive failure"
              if len(for_failure) else "")
           + f", {int((search['failure'] == failures.DIVERGED).sum())} diverged."]
    if len(full):
        counts = full["failure"].value_counts()
        parts = [f"{failures.class_label(c)} {rate_text(int(counts[c]), len(full))}" for c in failures.CLASSES
                 if counts.get(c, 0)]
        out.append(f"Of the {len(full)} {design} trials that ran all {max_epochs} epochs: "
                   + "; ".join(parts) + ".")
    if len(for_failure):
        out.append(stopped_for_failure(for_failure, max_epochs))
    if len(early):
        counts = early["failure"].value_counts()
        undetermined = int(counts.get(failures.UNDETERMINED, 0))
        conclusive = [f"{int(counts[c])} {failures.class_label(c)}" for c in failures.FAILURES
                      if counts.get(c, 0)]
        out.append(f"Of the {len(early)} trials stopped early by the scheduler, {undetermined} "
                   "are undetermined (cut before any failure was conclusive; an early stop is "
                   "not a failure)" + (f"; conclusive: {', '.join(conclusive)}" if conclusive
                                      else "") + ".")
    return out


def stopped_for_failure(group: pd.DataFrame, max_epochs: int) -> str:
    """The trials failure-aware stopping ended: their classes, stop epochs and epochs saved."""
    counts = group["failure_stop"].value_counts()
    classes = ", ".join(f"{int(k)} {failures.class_label(c)}" for c, k in counts.items())
    saved = int((max_epochs - group["epochs"]).sum())
    return (f"{len(group)} trials were stopped for a conclusive failure ({classes}), at epochs "
            f"{int(group['epochs'].min())}–{int(group['epochs'].max())} (median "
            f"{group['epochs'].median():.0f}): {saved} epochs not trained. Each is counted as "
            "the failure it was stopped for, never as undetermined.")


def judged(trials: pd.DataFrame, column: str = "failure") -> pd.DataFrame:
    """The design's trials with a verdict: full budget or stopped with a conclusive failure,
    and not still improving at the end (gan.failures.NO_VERDICT). ``column``: the census class
    (``failure``) or the samples' outcome (``outcome``)."""
    own = design_trials(trials)
    return own[~own[column].isin(failures.NO_VERDICT)]


def landscape_population(trials: pd.DataFrame, design: str) -> tuple[pd.DataFrame, str]:
    """(judged trials, their name) the landscape's rates stand on: a search's survey points
    when it has them (an unbiased sample of the space), else the design's own trials."""
    points = survey.judged(survey.survey_trials(trials)) if design == "search" \
        else trials.iloc[:0]
    if len(points):
        return points, "survey"
    return judged(trials), design


def _tercile_groups(data: pd.DataFrame) -> list[tuple[tuple[float, float], int, int]] | None:
    """((lr low, lr high), failures, n) per lr tercile of ``data``; None when too few."""
    if len(data) < LR_BINS * MIN_GROUP or data["lr"].nunique() < LR_BINS:
        return None
    lr = data["lr"].astype(float)
    failed = data["failure"] != failures.HEALTHY
    bins = pd.qcut(lr, LR_BINS, duplicates="drop")
    # Each tercile is named by the lr range of its own trials (qcut's edges overshoot).
    return [((lr[bins == iv].min(), lr[bins == iv].max()), int(failed[bins == iv].sum()),
             int((bins == iv).sum())) for iv in bins.cat.categories]


def _tercile_text(groups: list[tuple[tuple[float, float], int, int]]) -> tuple[str, bool]:
    text = "; ".join(f"lr {lo:.1e}–{hi:.1e}: {rate_text(k, m)}" for (lo, hi), k, m in groups)
    (_, k0, n0), (_, k1, n1) = groups[0], groups[-1]
    return text, rates_differ((k0, n0), (k1, n1))


def _latent_rates(data: pd.DataFrame) -> dict[int, tuple[int, int]]:
    sizes = data["latent_dim"].value_counts()
    failed = data["failure"] != failures.HEALTHY
    return {int(s): (int(failed[data["latent_dim"] == s].sum()), int(sizes[s]))
            for s in sorted(sizes.index) if sizes[s] >= MIN_GROUP}


def _latent_text(rates: dict[int, tuple[int, int]]) -> tuple[str, int, int, bool]:
    worst = max(rates, key=lambda s: rates[s][0] / rates[s][1])
    best = min(rates, key=lambda s: rates[s][0] / rates[s][1])
    text = "; ".join(f"{s}: {rate_text(*r)}" for s, r in rates.items())
    return text, worst, best, rates_differ(rates[worst], rates[best])


def landscape(trials: pd.DataFrame, design: str = "search") -> list[str]:
    """Where healthy and failed trials lie in lr, and failure rate by lr tercile and latent size.

    A search compares its trials pooled and says that TPE chose the group sizes. An atlas runs
    every loss, whose failure rates differ: there each comparison is made within each loss
    (its stratum sizes shown), never pooled across losses.
    """
    data, who = landscape_population(trials, design)
    out: list[str] = []
    healthy = data[data["failure"] == failures.HEALTHY]
    if len(healthy):
        out.append(f"The {len(healthy)} healthy trials (of {len(data)} judged {who} trials) "
                   f"had lr from {healthy['lr'].min():.2g} to {healthy['lr'].max():.2g} and "
                   f"b1 from {healthy['b1'].min():.2g} to {healthy['b1'].max():.2g}.")
    if design == "atlas" and "loss" in data and data["loss"].nunique() > 1:
        return out + _stratified_landscape(data)
    groups = _tercile_groups(data)
    if groups:
        text, differ = _tercile_text(groups)
        verdict = ("the lowest and highest terciles differ (intervals do not overlap)" if differ
                   else "the data cannot tell the lowest and highest terciles apart (intervals "
                   "overlap)")
        chose = ("The Sobol sequence spread the points over the space" if who == "survey" else
                 f"{layout.PHASE_SAMPLERS.get(who, who)} chose where the trials lie, so the "
                 "terciles hold the points it favoured")
        out.append(f"Failure rate by lr tercile of the judged {who} trials: {text}; "
                   f"{verdict}. {chose}.")
    rates = _latent_rates(data)
    if len(rates) > 1:
        text, worst, best, differ = _latent_text(rates)
        verdict = (f"latent {worst} fails more often than latent {best}" if differ else
                   "the data cannot tell latent sizes apart (intervals overlap)")
        out.append(f"Failure rate by latent size (groups of {MIN_GROUP}+ judged trials): "
                   f"{text}; {verdict}; {layout.PHASE_SAMPLERS.get(who, who)} chose which sizes got "
                   "how many trials.")
    return out


def _stratified_landscape(data: pd.DataFrame) -> list[str]:
    """The atlas's lr and latent-size comparisons, within each loss."""
    lr_parts, latent_parts = [], []
    for loss, group in data.groupby(data["loss"].astype(str), sort=False):
        groups = _tercile_groups(group)
        if groups:
            text, differ = _tercile_text(groups)
            lr_parts.append(f"{loss} (n={len(group)}): {text}; "
                            + ("lowest and highest terciles differ" if differ
                               else "cannot tell the terciles apart"))
        else:
            lr_parts.append(f"{loss} (n={len(group)}): too few trials for terciles")
        rates = _latent_rates(group)
        if len(rates) > 1:
            text, worst, best, differ = _latent_text(rates)
            latent_parts.append(f"{loss} (n={len(group)}): {text}; "
                                + (f"latent {worst} fails more often than {best}" if differ
                                   else "cannot tell the sizes apart"))
        else:
            latent_parts.append(f"{loss} (n={len(group)}): fewer than two latent sizes with "
                                f"{MIN_GROUP}+ trials")
    return [f"Failure rate by lr tercile within each loss (the Sobol sweep spreads every loss "
            f"over the same lr range; intervals are 95% Wilson): {' | '.join(lr_parts)}.",
            f"Failure rate by latent size within each loss (groups of {MIN_GROUP}+ trials): "
            f"{' | '.join(latent_parts)}."]


def probe_orders(probe: pd.DataFrame, cost: str) -> pd.Series:
    """Orders of magnitude ``cost``'s gradient norm fell over each probe (indexed by stage
    and D seed): log10(first / last); positive: it shrank."""
    ends = probe.groupby(["stage_epoch", "probe_seed"])[cost].agg(["first", "last"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(ends["first"] / ends["last"])


def probe_findings(probe: pd.DataFrame) -> list[str]:
    """Orders of magnitude each cost's gradient fell as the fresh D trained, per stage
    (log10 of first / last norm: positive means the gradient shrank)."""
    out = []
    costs = ("minimax", "ns", "minimax_logits", "ns_logits")
    fell = {cost: probe_orders(probe, cost) for cost in costs}
    for stage, frame in probe.groupby("stage_epoch"):
        parts = []
        for cost in costs:
            orders = fell[cost].loc[stage]
            parts.append(f"{cost.replace('_logits', ' (logits)')} {orders.median():+.1f} "
                         f"[{orders.min():+.1f}, {orders.max():+.1f}]")
        gap = max(float(np.nanmax(np.abs(frame[c] - frame[f"{c}_logits"])
                                  / frame[f"{c}_logits"].abs().clip(lower=1e-30)))
                  for c in ("minimax", "ns"))
        numerics = (f"gan.py's Sigmoid + BCE numerics and the exact logit costs agree (largest "
                    f"relative difference {gap:.1g})" if gap < 0.01 else
                    f"gan.py's Sigmoid + BCE numerics differ from the exact logit costs by up "
                    f"to {gap:.0%} (BCELoss's backward floor)")
        parts.append(numerics)
        when = "as initialised" if stage == 0 else f"after epoch {int(stage)}"
        out.append(f"Probe, G frozen {when}, "
                   f"{int(frame['d_iteration'].max())} fresh-D iterations, "
                   f"{frame['probe_seed'].nunique()} D seeds: G's gradient norm fell by "
                   f"(orders of magnitude, median [min, max]; negative: it grew) "
                   + "; ".join(parts) + ".")
    return out


def gradient_change_by_loss(history: pd.DataFrame) -> str:
    """Median change of G's gradient norm per generator loss (a trial's loss is in its rows)."""
    parts = []
    for loss, group in history.groupby("loss"):
        first = group.groupby("trial_id")["g_grad_norm"].first()
        last = group.groupby("trial_id")["g_grad_norm"].last()
        with np.errstate(divide="ignore", invalid="ignore"):
            orders = np.log10(first / last).replace([np.inf, -np.inf], np.nan).median()
        epoch = group.groupby("trial_id")["epoch"].max().median()
        parts.append(f"{loss} trials changed generator gradient by {orders:+.1f} orders of "
                     f"magnitude (median, decrease positive) by epoch {epoch:.0f}, "
                     f"n={group['trial_id'].nunique()}")
    return "; ".join(parts) + "."


def census_table(trials: pd.DataFrame, max_epochs: int, design: str = "search"
                 ) -> pd.DataFrame:
    """Class counts per population, each with its 95% Wilson interval."""
    search = design_trials(trials)
    groups = {f"{design}, all": search, f"{design}, all {max_epochs} epochs":
              search[search["epochs"] >= max_epochs],
              f"{design}, stopped early": search[search["stopped_early"]]}
    survey_points = survey.survey_trials(trials)
    if len(survey_points):
        groups = {"survey (Sobol points, full budget)": survey_points, **groups}
    if design == "atlas" and not search["stopped_early"].any():
        del groups[f"{design}, stopped early"]  # FIFO: no scheduler stops an atlas trial
    if "stopped_for_failure" in search and search["stopped_for_failure"].any():
        groups[f"{design}, stopped for failure"] = search[search["stopped_for_failure"]]
    if "phase" in trials:
        for phase in (layout.PHASE_RACE, layout.PHASE_CONTROL):
            if (trials["phase"] == phase).any():
                groups[phase] = trials[trials["phase"] == phase]
    rows = []
    for name, group in groups.items():
        row = {"population": name, "n": len(group)}
        for cls in failures.CLASSES:
            k = int((group["failure"] == cls).sum())
            row[cls] = count_cell(k, len(group)) if len(group) else "–"
        rows.append(row)
    return pd.DataFrame(rows)
