"""The hyperparameter landscape: where healthy and failed trials lie in lr, b1 and latent
size, failure rates by lr and latent size, and Optuna's parameter importances; its sentences,
charts and section.

Failure rates stand on the survey when a search has one (an unbiased sample of the space),
else on the design's own judged trials.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.findings import design_trials, proposal_trials
from analysis.findings import judged as judged_trials
from analysis.importance import param_importances
from analysis.load import StudyData
from analysis.plots import PALETTE, class_strip, empty_panel, tidy_legend
from analysis.sections import survey
from analysis.stats.intervals import excluded_text, rate_text, rates_differ, wilson_interval
from gan.census import census, failures
from gan.records import layout
from gan.census.failures import FAILURES

MIN_IMPORTANCE_TRIALS = 30  # below this many trials, fANOVA importances are a rough guide only

MIN_GROUP = 3  # a group rate is quoted only for groups of at least this many trials


LR_BINS = 3  # learning-rate terciles for the failure-rate comparison


def population(trials: pd.DataFrame, design: str) -> tuple[pd.DataFrame, str]:
    """(judged trials, their name) the landscape's rates stand on: a search's survey points
    when it has them (an unbiased sample of the space), else the design's own trials."""
    points = census.with_verdict(survey.survey_trials(trials)) if design == "search" \
        else trials.iloc[:0]
    if len(points):
        return points, "survey"
    return judged_trials(trials), design


def rate_population(trials: pd.DataFrame, who: str) -> pd.DataFrame:
    """Every trial of the population the landscape's rates stand on (``who``: the survey, or
    the design's own trials), those without a verdict included, for the charts to count."""
    return survey.survey_trials(trials) if who == "survey" else design_trials(trials)


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


def findings(trials: pd.DataFrame, design: str = "search") -> list[str]:
    """Where healthy and failed trials lie in lr, and failure rate by lr tercile and latent size.

    A search compares its trials pooled and says that TPE chose the group sizes. An atlas runs
    every loss, whose failure rates differ: there each comparison is made within each loss
    (its stratum sizes shown), never pooled across losses.
    """
    data, who = population(trials, design)
    out: list[str] = []
    excluded = census.no_verdict_counts(rate_population(trials, who))
    if sum(excluded.values()):
        out.append(f"The landscape's rates stand on the {len(data)} judged {who} trials and "
                   f"leave out {sum(excluded.values())} without a verdict "
                   f"({excluded_text(excluded)}); the survey's lr bands count them.")
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


def lr_b1_landscape(trials: pd.DataFrame) -> Figure:
    """lr x b1 scatter: left coloured by final fcd, right by failure class."""
    fig = Figure(figsize=(12, 4.5))
    axes = fig.subplots(1, 2, sharey=True)
    scored = trials[np.isfinite(trials.get("fcd", pd.Series(dtype=float)))]
    if len(scored):
        points = axes[0].scatter(scored["lr"], scored["b1"], c=np.log10(scored["fcd"] + 1e-9),
                                 cmap="viridis_r", s=40)
        fig.colorbar(points, ax=axes[0], label="log10 final fcd (lower is better)")
    axes[0].set_xscale("log")
    axes[0].set_title("Final fcd")
    sns.scatterplot(data=trials, x="lr", y="b1", hue="failure", palette=PALETTE, s=50,
                    ax=axes[1])
    axes[1].set_xscale("log")
    axes[1].set_title("Failure class")
    tidy_legend(axes[1])
    for ax in axes:
        ax.set_xlabel("learning rate")
    fig.tight_layout()
    return fig


def latent_outcome(trials: pd.DataFrame) -> Figure:
    """Final fcd per latent size, points coloured by failure class."""
    data = trials.assign(latent_dim=trials["latent_dim"].astype(int).astype(str))
    order = sorted(data["latent_dim"].unique(), key=int)
    return class_strip(data, "latent_dim", "fcd", order, "Final fcd by latent size", log_y=True)


def _rate_bars(ax, data: pd.DataFrame, edges: np.ndarray, title: str) -> None:
    """Failure share per lr bin of the trials of ``data`` with a verdict, with 95% Wilson
    intervals, and what each bin leaves out: a grey bar from its rate had none of its
    no-verdict trials failed to its rate had all of them; labels from ``edges``."""
    lr = data["lr"].astype(float).to_numpy()
    index = np.clip(np.searchsorted(edges, lr, side="right") - 1, 0, len(edges) - 2)
    judged = ~data["failure"].isin(failures.NO_VERDICT).to_numpy()
    failed = data["failure"].isin(FAILURES).to_numpy()
    labels, shares, errors, bounds = [], [], [], []
    for b in range(len(edges) - 1):
        inside = index == b
        n, left = int((inside & judged).sum()), int((inside & ~judged).sum())
        if n + left == 0:
            continue
        k = int(failed[inside].sum())
        labels.append(f"{edges[b]:.0e}–{edges[b + 1]:.0e}\n(n={n}" + (f", +{left} no verdict)"
                                                                      if left else ")"))
        low, high = wilson_interval(k, n) if n else (math.nan, math.nan)
        shares.append(k / n if n else math.nan)
        # clipped: at k = 0 or k = n a bound can miss the share by a rounding error
        errors.append((max(0.0, k / n - low), max(0.0, high - k / n)) if n else (0.0, 0.0))
        bounds.append((k / (n + left), (k + left) / (n + left)))
    x = np.arange(len(labels))
    ax.bar(x, np.nan_to_num(shares), color=sns.color_palette("rocket", 1)[0],
           yerr=np.array(errors).T if errors else None, capsize=4)
    for i, (low, high) in enumerate(bounds):
        if high > low:
            ax.plot([i + 0.3, i + 0.3], [low, high], color="0.55", lw=5, alpha=0.8,
                    solid_capstyle="butt", label="had none or all of its no-verdict "
                    "trials failed" if i == next(j for j, (lo, hi) in enumerate(bounds)
                                                 if hi > lo) else None)
    if any(high > low for low, high in bounds):
        ax.legend(fontsize=7, loc="upper left")
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="x", labelsize=7)


def failure_rate_vs_lr(trials: pd.DataFrame, bins: int = 6, by: str | None = None,
                       who: str = "judged") -> Figure:
    """Share of the trials with a verdict that failed per learning-rate bin (log-spaced over
    the lr range of every trial), with 95% Wilson intervals, and beside each bar the bounds its
    no-verdict trials leave. ``by`` (e.g. ``loss``): one panel per value, on the same bins."""
    data = trials
    groups = list(data.groupby(data[by].astype(str), sort=False)) if by else [("", data)]
    fig = Figure(figsize=(8 if not by else 3.6 * len(groups), 4))
    axes = np.atleast_1d(fig.subplots(1, max(1, len(groups)), sharey=True))
    if len(census.with_verdict(data)) < 2 or data["lr"].nunique() < 2:
        empty_panel(axes[0], "too few judged trials")
        return fig
    lr = data["lr"].astype(float)
    edges = np.logspace(math.log10(lr.min()), math.log10(lr.max()), bins + 1)
    for ax, (name, group) in zip(axes, groups):
        _rate_bars(ax, group, edges, f"{by} {name} (n={len(group)})" if by else
                   f"Failure rate against learning rate ({who} trials with a verdict)")
    axes[0].set_ylabel("failure rate (95% CI)")
    fig.tight_layout()
    return fig


def importance_caveat(counts: dict[str, int]) -> str:
    """What the importances rest on: each target's n, and a warning where it is small."""
    parts = [f"{target} from {n} trials" for target, n in counts.items()]
    few = [t for t, n in counts.items() if n < MIN_IMPORTANCE_TRIALS]
    return ("Parameter importances (fANOVA): " + ", ".join(parts) + "."
            + (f" Fewer than {MIN_IMPORTANCE_TRIALS} trials support {' and '.join(few)}: read "
               "those importances as a rough guide, not a ranking." if few else ""))


def importances(scores: dict[str, dict[str, float]],
                counts: dict[str, int] | None = None) -> Figure:
    """Optuna parameter importances, one panel per target; ``counts``: the trials behind each."""
    counts = counts or {}
    fig = Figure(figsize=(6 * max(1, len(scores)), 3.5))
    axes = fig.subplots(1, max(1, len(scores)))
    axes = np.atleast_1d(axes)
    for ax, (target, values) in zip(axes, scores.items()):
        if not values:
            empty_panel(ax, f"{target}: not enough trials")
            continue
        series = pd.Series(values).sort_values()
        ax.barh(series.index, series.values, color=sns.color_palette("crest", len(series)))
        n = counts.get(target)
        few = n is not None and n < MIN_IMPORTANCE_TRIALS
        ax.set_title(f"Importance for {target}" + (f" (n={n}" if n is not None else "")
                     + (", few: rough guide)" if few else ")" if n is not None else ""))
        ax.set_xlim(0, 1)
    fig.tight_layout()
    return fig


def section(rep, data: StudyData, trials: pd.DataFrame, design: str) -> None:
    """The landscape's section: charts, sentences and the importances' caveat."""
    # Failure rates stand on the survey when there is one (an unbiased sample of the space).
    judged, who = population(trials, design)
    judged = judged.assign(failed=judged["failure"].isin(failures.FAILURES).astype(float))
    scored = proposal_trials(trials)
    scores = {"fcd": param_importances(scored, "fcd", data.study_dir),
              "failure": param_importances(judged, "failed", data.study_dir)}
    counts = {"fcd": int(scored["fcd"].notna().sum()) if "fcd" in scored else 0,
              "failure": len(judged)}
    # An atlas runs every loss, whose failure rates differ: its lr chart is per loss.
    by_loss = design == "atlas" and "loss" in judged and judged["loss"].nunique() > 1
    rep.sections.append(("Hyperparameter landscape", [
        rep.save(lr_b1_landscape(trials), "lr_b1"),
        rep.save(latent_outcome(trials), "latent_dim"),
        rep.save(failure_rate_vs_lr(rate_population(trials, who), by="loss" if by_loss
                                    else None, who=who), "failure_rate_lr"),
        rep.save(importances(scores, counts), "importances")],
        findings(trials, design) + [importance_caveat(counts)]))
