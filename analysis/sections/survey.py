"""The report's failure survey: where in the search space the vanilla GAN fails, and how
often, from the survey's Sobol points (study.survey), the one unbiased sample of the space a
search design holds. Its numbers, its sentences and its chart live here.

Every survey point ran the full budget unless failure-aware stopping ended a conclusive
failure, so each has a class; a point still improving at the budget's end ("not diverse yet")
has no verdict and is left out of the rates, and says so. The search's own trials are drawn
apart: TPE chose where they lie, and ASHA cut most of them before any failure was
conclusive; a cut trial shows its state at the cut, which is never a failure.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from analysis.plots import CUT_PALETTE, PALETTE, empty_panel
from analysis.stats.intervals import rate_text, wilson_interval
from gan import census, failures, layout

TITLE = "Failure survey: where the vanilla GAN fails"
LR_BANDS = 3  # the survey's lr range in this many log-equal bands (16 points: about 5 each)


def survey_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The survey's points (phase ``survey``)."""
    if "phase" not in trials:
        return trials.iloc[:0]
    return trials[trials["phase"] == layout.PHASE_SURVEY]


def class_rates(survey: pd.DataFrame) -> pd.DataFrame:
    """One row per failure class and one for any failure: k, n (judged points), share and its
    95% Wilson interval."""
    verdict = census.with_verdict(survey)
    n = len(verdict)
    rows = []
    for cls in (*failures.FAILURES, "any failure"):
        k = int(verdict["failure"].isin(failures.FAILURES).sum()) if cls == "any failure" \
            else int((verdict["failure"] == cls).sum())
        low, high = wilson_interval(k, n) if n else (math.nan, math.nan)
        rows.append({"class": cls, "k": k, "n": n, "share": k / n if n else math.nan,
                     "low": low, "high": high})
    return pd.DataFrame(rows)


def _lr_bands(verdict: pd.DataFrame) -> str:
    """Failure rate per log-equal lr band of the judged points."""
    lr = np.log10(verdict["lr"].astype(float))
    edges = np.linspace(lr.min(), lr.max(), LR_BANDS + 1)
    index = np.clip(np.searchsorted(edges, lr, side="right") - 1, 0, LR_BANDS - 1)
    failed = verdict["failure"].isin(failures.FAILURES).to_numpy()
    parts = []
    for b in range(LR_BANDS):
        inside = index == b
        if inside.any():
            parts.append(f"lr {10 ** edges[b]:.1e}–{10 ** edges[b + 1]:.1e}: "
                         f"{rate_text(int(failed[inside].sum()), int(inside.sum()))}")
    return "; ".join(parts)


def survey_findings(trials: pd.DataFrame, max_epochs: int) -> list[str]:
    """The survey's failure rates (each with n and a 95% interval), which classes, where in
    lr, and the points without a verdict."""
    survey = survey_trials(trials)
    if survey.empty:
        return []
    verdict = census.with_verdict(survey)
    stopped = int(survey.get("stopped_for_failure", pd.Series(False)).astype(bool).sum())
    head = (f"Survey: {len(survey)} Sobol points of the search space with gan.py's loss, each "
            f"trained up to all {max_epochs} epochs and never cut by the scheduler"
            + (f" ({stopped} stopped for a conclusive failure)" if stopped else "") + ".")
    if verdict.empty:
        return [head + " None has a verdict yet."]
    rates = class_rates(survey).set_index("class")
    seen = [f"{failures.class_label(c)} {int(rates.loc[c, 'k'])}" for c in failures.FAILURES
            if rates.loc[c, "k"]]
    slow = survey[survey["failure"] == failures.NOT_DIVERSE_YET]
    out = [head + f" Failed: {rate_text(int(rates.loc['any failure', 'k']), len(verdict))} of "
           "the points with a verdict" + (f" ({', '.join(seen)})" if seen else "")
           + (f"; {len(slow)} more ended not diverse yet (narrow, but their coverage had grown "
              f"and held by epoch {max_epochs}): no verdict, left out of the rates"
              if len(slow) else "") + "."]
    if verdict["lr"].nunique() >= LR_BANDS:
        out.append(f"Survey failure rate by learning rate: {_lr_bands(verdict)}.")
    return out


def _scatter(ax, frame: pd.DataFrame, column: str, palette: dict[str, str], marker: str,
             filled: bool) -> None:
    label = census.cut_label if column == "cut_state" else failures.class_label
    for value, group in frame.groupby(column, sort=False):
        color = palette.get(value, "0.5")
        ax.scatter(group["lr"].astype(float), group["b1"].astype(float), s=70, marker=marker,
                   label=f"{label(value)} ({len(group)})",
                   facecolors=color if filled else "none", edgecolors=color, linewidths=1.5)


def failure_map(trials: pd.DataFrame) -> Figure:
    """lr x b1: the survey's points by class (left), and the search's trials apart (right):
    judged ones by class (filled), cut ones by their state at the cut (hollow)."""
    fig = Figure(figsize=(12, 4.8))
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    survey = survey_trials(trials)
    search = trials[trials.get("phase", pd.Series("", index=trials.index))
                    == layout.PHASE_SEARCH]
    if survey.empty:
        empty_panel(axes[0], "no survey points")
    else:
        _scatter(axes[0], survey, "failure", PALETTE, "o", True)
        axes[0].set_title(f"Survey: {len(survey)} Sobol points at the full budget", fontsize=10)
    cut = search["failure"] == failures.UNDETERMINED
    if search.empty:
        empty_panel(axes[1], "no search trials")
    else:
        _scatter(axes[1], search[~cut], "failure", PALETTE, "o", True)
        _scatter(axes[1], search[cut], "cut_state", CUT_PALETTE, "s", False)
        axes[1].set_title(f"Search (TPE): {len(search)} trials; hollow squares: cut by ASHA, "
                          "their state at the cut", fontsize=10)
    for ax in axes:
        if ax.axison:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("learning rate")
            ax.legend(fontsize=7, loc="best")
    axes[0].set_ylabel("b1")
    fig.tight_layout()
    return fig


def rates_chart(rates: pd.DataFrame) -> Figure:
    """Each failure class's share of the judged survey points, with 95% Wilson intervals."""
    fig = Figure(figsize=(7, 3.6))
    ax = fig.subplots()
    n = int(rates["n"].max()) if len(rates) else 0
    if not n:
        empty_panel(ax, "no survey point with a verdict")
        return fig
    labels = [c.replace("_", " ") for c in rates["class"]]
    colors = [PALETTE.get(c, "0.3") for c in rates["class"]]
    errors = np.array([(rates["share"] - rates["low"]).clip(lower=0),
                       (rates["high"] - rates["share"]).clip(lower=0)])
    ax.barh(labels, rates["share"], xerr=errors, color=colors, capsize=3)
    for y, (k, share) in enumerate(zip(rates["k"], rates["share"])):
        ax.text(min(share + 0.02, 0.9), y, f"{int(k)}/{n}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(f"share of the {n} survey points with a verdict (95% CI)")
    fig.tight_layout()
    return fig


def cut_states_text(trials: pd.DataFrame) -> str:
    """How the search's cut trials looked at the cut, as counts; "" when none was cut."""
    cut = trials[(trials.get("phase", pd.Series("", index=trials.index)) == layout.PHASE_SEARCH)
                 & (trials["failure"] == failures.UNDETERMINED)]
    if cut.empty or "cut_state" not in cut:
        return ""
    counts = cut["cut_state"].value_counts()
    parts = [f"{int(counts[s])} {census.cut_label(s)}" for s in census.CUT_STATES
             if counts.get(s, 0)]
    return (f"The {len(cut)} search trials ASHA cut before any failure was conclusive stay "
            f"undetermined; at the cut they were: {', '.join(parts)} (states, not failures).")


def survey_section(rep, trials: pd.DataFrame, max_epochs: int) -> None:
    """The survey's map and rates first in the summary, and its findings."""
    survey = survey_trials(trials)
    if survey.empty:
        return
    lines = survey_findings(trials, max_epochs)
    cut = cut_states_text(trials)
    rep.summarize([rep.save(failure_map(trials), "failure_map"),
                   rep.save(rates_chart(class_rates(survey)), "survey_rates")],
                  lines[:1] + ([cut] if cut else []))
    rep.facts += lines + ([cut] if cut else [])
