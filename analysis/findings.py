"""The census's sentences and table, and the populations every section draws from (the
design's trials, the proposals, the judged ones): sentences whose every number comes from the
trials.

Every count names its population, every rate carries its n and a 95% Wilson interval, and a
comparison between groups is stated only when the intervals separate; otherwise the sentence
says that the data cannot tell. A section's own sentences live in its module (analysis.sections).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from analysis.sections import survey
from analysis.stats.intervals import count_cell, rate_text
from gan.census import failures
from gan.records import layout
from gan.census.census import with_verdict


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
    if "secondary" in search and (search["secondary"].fillna("") != "").any():
        out.append(secondary_text(search))
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


def secondary_text(group: pd.DataFrame) -> str:
    """The trials with a second failure signal beside their class: which pairs, how many."""
    two = group[group["secondary"].fillna("") != ""]
    pairs = (two["failure"].map(failures.class_label) + " with "
             + two["secondary"].str.replace(",", " and ").str.replace("_", " "))
    counts = ", ".join(f"{int(k)} {pair}" for pair, k in pairs.value_counts().items())
    return (f"{len(two)} of these trials show a second failure signal beside their class "
            f"(rates count the class alone): {counts}.")


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
    and not still climbing at the end (gan.census.failures.NO_VERDICT). ``column``: the census class
    (``failure``) or the samples' outcome (``outcome``)."""
    return with_verdict(design_trials(trials), column)


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
