"""Findings computed from the data: sentences whose every number comes from the trials."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.failures import CLASSES, HEALTHY

MIN_GROUP = 3  # a failure rate is quoted only for groups of at least this many trials


def findings(trials: pd.DataFrame, history: pd.DataFrame,
             probe: pd.DataFrame | None = None) -> list[str]:
    n = len(trials)
    out: list[str] = []
    if n == 0:
        return ["The study holds no trials."]
    counts = trials["failure"].value_counts()
    parts = [f"{counts.get(c, 0)} {c.replace('_', ' ')}" for c in CLASSES if counts.get(c, 0)]
    out.append(f"{n} trials: " + ", ".join(parts) + ".")
    if "stopped_early" in trials and trials["stopped_early"].any():
        early = trials[trials["stopped_early"]]
        out.append(f"ASHA stopped {len(early)} of {n} trials early (after "
                   f"{int(early['epochs'].min())} to {int(early['epochs'].max())} epochs); their "
                   "class describes them when they were stopped.")
    failed = trials[trials["failure"] != HEALTHY]
    healthy = trials[trials["failure"] == HEALTHY]
    for cls, group in failed.groupby("failure"):
        lr = group["lr"].astype(float)
        sentence = (f"{len(group)} of {n} trials ended in {cls.replace('_', ' ')}, with lr from "
                    f"{lr.min():.2g} to {lr.max():.2g}")
        if len(healthy):
            above = (lr > healthy["lr"].max()).sum()
            if above:
                sentence += (f"; {above} of them above the highest healthy lr "
                             f"({healthy['lr'].max():.2g})")
        onsets = group["onset_epoch"].dropna()
        if len(onsets):
            sentence += f"; onset at epoch {onsets.median():.0f} (median)"
        out.append(sentence + ".")
    if "loss" in trials and trials["loss"].nunique() > 1:
        out.append(_loss_comparison(history))
    if "fcd" in trials and trials["fcd"].notna().any():
        best = trials.loc[trials["fcd"].idxmin()]
        out.append(f"Best final fcd {best['fcd']:.4g} (trial {best['trial_id']}, epoch "
                   f"{int(best['epoch'])}): lr {best['lr']:.3g}, b1 {best['b1']:.3g}, b2 "
                   f"{best['b2']:.4g}, latent {int(best['latent_dim'])}.")
    sizes = trials["latent_dim"].value_counts() if "latent_dim" in trials else pd.Series()
    sizes = sizes[sizes >= MIN_GROUP]
    if len(sizes) > 1:
        grouped = trials[trials["latent_dim"].isin(sizes.index)].groupby("latent_dim")
        by_latent = grouped["failure"].apply(lambda f: (f != HEALTHY).mean())
        worst = by_latent.idxmax()
        out.append(f"Failure rate is highest at latent size {int(worst)} "
                   f"({by_latent.max():.0%} of {int((trials['latent_dim'] == worst).sum())} "
                   "trials).")
    if probe is not None and len(probe):
        first, last = probe.iloc[0], probe.iloc[-1]
        if not all(math.isfinite(v) for v in (first["minimax"], last["minimax"], first["ns"],
                                              last["ns"])):
            out.append("Gradient probe on the best generator produced non-finite gradient norms.")
            return out
        d_loss = probe["d_loss"].dropna()
        ratio = (f"{last['ns'] / last['minimax']:.3g} times smaller than"
                 if last["minimax"] > 0 else "exactly 0 (underflow), against")
        out.append(f"Gradient probe on the best generator: at the start both costs gave G a "
                   f"gradient norm of about {first['minimax']:.2g}; after a fresh D trained for "
                   f"{int(last['d_iteration'])} iterations (D loss "
                   f"{d_loss.iloc[-1] if len(d_loss) else math.nan:.2g}), the minimax gradient "
                   f"norm was {last['minimax']:.2g}, {ratio} the non-saturating one "
                   f"({last['ns']:.2g}).")
    return out


def _loss_comparison(history: pd.DataFrame) -> str:
    """Median change of G's gradient norm per generator loss (a trial's loss is in its rows)."""
    parts = []
    for loss, group in history.groupby("loss"):
        first = group.groupby("trial_id")["g_grad_norm"].first()
        last = group.groupby("trial_id")["g_grad_norm"].last()
        with np.errstate(divide="ignore", invalid="ignore"):
            orders = np.log10(first / last).replace([np.inf, -np.inf], np.nan).median()
        epoch = group.groupby("trial_id")["epoch"].max().median()
        parts.append(f"{loss} trials changed generator gradient by {orders:+.1f} orders of "
                     f"magnitude (median, decrease positive) by epoch {epoch:.0f}")
    return "; ".join(parts) + "."
