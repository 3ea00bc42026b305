"""Seed-robust results: each confirmed config's objective and diversity over its seeds."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analysis.load import final_rows, plain
from gan import layout
from gan.config import GANConfig
from gan.state import STATUS_OK

SEED_DEFAULTS = "seed defaults"


def config_key(row: pd.Series) -> tuple:
    """The search parameters that define a config: its runs differ only in the seed."""
    return tuple(plain(row.get(p)) for p in layout.SEARCH_PARAMS)


def is_seed_default(row: pd.Series) -> bool:
    """Whether a trial trained the seed script's own settings (GANConfig's defaults)."""
    seed = GANConfig()
    same = all(plain(row.get(p)) == getattr(seed, p)
               for p in ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps"))
    return same and plain(row.get("d_lr_ratio", 1.0)) in (1.0, None)


def full_budget_runs(history: pd.DataFrame, max_epochs: int) -> pd.DataFrame:
    """The final row of each search or confirmation run that trained all ``max_epochs``
    epochs and stayed finite (controls are left out)."""
    last = final_rows(history.dropna(subset=["epoch"]))
    keep = (last["epoch"] >= max_epochs) & (last["status"] == STATUS_OK)
    if "phase" in last:
        keep &= last["phase"].isin([*layout.DESIGN_PHASES.values(), layout.PHASE_CONFIRM])
    return last[keep].copy()


def seed_robust_table(history: pd.DataFrame, max_epochs: int) -> pd.DataFrame:
    """One row per confirmed config: n seeds, mean/sd/min/max of objective and diversity.

    Only configs with at least one confirmation run appear; each run counts once,
    the original search trial included when it trained the full budget.
    """
    if "phase" not in history or not (history["phase"] == layout.PHASE_CONFIRM).any():
        return pd.DataFrame()
    runs = full_budget_runs(history, max_epochs)
    runs["config"] = runs.apply(config_key, axis=1)
    confirmed = set(runs.loc[runs["phase"] == layout.PHASE_CONFIRM, "config"])
    rows = []
    for key, group in runs[runs["config"].isin(confirmed)].groupby("config", sort=False):
        first = group.iloc[0]
        row: dict[str, Any] = {p: plain(first[p]) for p in layout.SEARCH_PARAMS}
        row["label"] = SEED_DEFAULTS if is_seed_default(first) else ""
        row["n_seeds"] = len(group)
        for metric in ("objective", "diversity"):
            values = group[metric].astype(float) if metric in group else pd.Series(dtype=float)
            row.update({f"{metric}_mean": values.mean(), f"{metric}_sd": values.std(ddof=1),
                        f"{metric}_min": values.min(), f"{metric}_max": values.max()})
        row["trial_ids"] = list(group["trial_id"])
        row["seeds"] = [plain(s) for s in group.get("seed", pd.Series([None] * len(group)))]
        row["objectives"] = [float(v) for v in group["objective"]]
        row["diversities"] = [plain(v) for v in group.get("diversity", group["objective"] * 0)]
        rows.append(row)
    return pd.DataFrame(rows)


def best_by_mean(table: pd.DataFrame, mode: str) -> pd.Series | None:
    """The confirmed config with the best mean objective (seed defaults included)."""
    if table.empty:
        return None
    return table.sort_values("objective_mean", ascending=(mode == "min")).iloc[0]
