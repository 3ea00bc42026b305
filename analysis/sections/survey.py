"""The report's failure survey: where in the search space the vanilla GAN fails, and how
often, from the survey's Sobol points (study.survey), the one unbiased sample of the space a
search design holds. Its numbers, its sentences and its chart live here.

Every survey point ran the full budget unless failure-aware stopping ended a conclusive
failure, so each has a class; a point still climbing at the budget's end ("not diverse yet")
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
from analysis.stats.intervals import rate_bounds, verdict_rate_text, wilson_interval
from gan.census import census, failures
from gan.records import layout
from gan.config import LR_RANGE

TITLE = "Failure survey: where the vanilla GAN fails"
LR_BANDS = 3  # the space's lr range in this many log-equal bands (16 points: about 5 each)


def survey_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """The survey's points (phase ``survey``)."""
    if "phase" not in trials:
        return trials.iloc[:0]
    return trials[trials["phase"] == layout.PHASE_SURVEY]


def class_rates(survey: pd.DataFrame) -> pd.DataFrame:
    """One row per failure class and one for any failure: k, n (judged points), share and its
    95% Wilson interval, the points left out without a verdict (``left_out``) and the rate's
    bounds over every point had none or all of them failed (``bound_low``, ``bound_high``)."""
    verdict = census.with_verdict(survey)
    n, left_out = len(verdict), len(survey) - len(verdict)
    rows = []
    for cls in (*failures.FAILURES, "any failure"):
        k = int(verdict["failure"].isin(failures.FAILURES).sum()) if cls == "any failure" \
            else int((verdict["failure"] == cls).sum())
        low, high = wilson_interval(k, n) if n else (math.nan, math.nan)
        bound_low, bound_high = rate_bounds(k, n, left_out)
        rows.append({"class": cls, "k": k, "n": n, "share": k / n if n else math.nan,
                     "low": low, "high": high, "left_out": left_out,
                     "bound_low": bound_low, "bound_high": bound_high})
    return pd.DataFrame(rows)


def lr_bands(survey: pd.DataFrame) -> list[dict]:
    """Failure rate per log-equal band of the search space's whole lr range
    (:data:`gan.config.LR_RANGE`), each with its points, the judged ones, the failed ones and
    the no-verdict ones by class: no point falls outside every band."""
    low, high = (math.log10(v) for v in LR_RANGE)
    lr = np.log10(survey["lr"].astype(float).to_numpy())
    edges = np.linspace(low, high, LR_BANDS + 1)
    index = np.clip(np.searchsorted(edges, lr, side="right") - 1, 0, LR_BANDS - 1)
    bands = []
    for b in range(LR_BANDS):
        inside = survey[index == b]
        judged = census.with_verdict(inside)
        bands.append({"low": 10 ** edges[b], "high": 10 ** edges[b + 1], "points": len(inside),
                      "failed": int(judged["failure"].isin(failures.FAILURES).sum()),
                      "judged": len(judged), "excluded": census.no_verdict_counts(inside)})
    return bands


def _lr_bands_text(survey: pd.DataFrame) -> str:
    parts = []
    for band in lr_bands(survey):
        head = f"lr {band['low']:.0e}–{band['high']:.0e}"
        if not band["points"]:
            parts.append(f"{head}: no point")
            continue
        parts.append(f"{head}: "
                     + verdict_rate_text(band["failed"], band["judged"], band["excluded"]))
    return "; ".join(parts)


def survey_findings(trials: pd.DataFrame, max_epochs: int) -> list[str]:
    """The survey's failure rates (each with n, a 95% interval, the points without a verdict
    and the bounds they leave), which classes, where in lr."""
    survey = survey_trials(trials)
    if survey.empty:
        return []
    verdict = census.with_verdict(survey)
    stopped = int(survey.get("stopped_for_failure", pd.Series(False)).astype(bool).sum())
    head = (f"Survey: {len(survey)} Sobol points of the search space with gan.py's loss, each "
            f"trained up to all {max_epochs} epochs and never cut by the scheduler"
            + (f" ({stopped} stopped for a conclusive failure)" if stopped else "") + ".")
    rates = class_rates(survey).set_index("class")
    seen = [f"{failures.class_label(c)} {int(rates.loc[c, 'k'])}" for c in failures.FAILURES
            if rates.loc[c, "k"]]
    failed = int(rates.loc["any failure", "k"])
    out = [head + " Failed: "
           + verdict_rate_text(failed, len(verdict), census.no_verdict_counts(survey))
           + (f" ({', '.join(seen)})" if seen else "")
           + ". No verdict: a run still climbing at the budget's end (not diverse yet) or "
             "one the budget could not judge (undetermined); neither counts as failed or as "
             "healthy."]
    if len(survey) >= LR_BANDS:
        out.append(f"Survey failure rate by learning rate, over the search space's range: "
                   f"{_lr_bands_text(survey)}.")
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
    left_out = int(rates["left_out"].max())
    if left_out:  # what the rate leaves out, drawn as its own row: every point, none or all
        low, high = rates["bound_low"].iloc[-1], rates["bound_high"].iloc[-1]
        ax.barh([f"any failure, all {n + left_out}"], [high - low], left=[low], color="0.85",
                edgecolor="0.3", hatch="//")
        ax.text(max(low - 0.02, 0.02), len(rates), f"{left_out} without a verdict: none to "
                "all failed", va="center", ha="right" if low > 0.4 else "left", fontsize=7)
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
