"""The report's samples: the final 5x5 grids (each drawn from its run's fixed noise batch, as
gan.py draws every grid of a run) of the pick beside gan.py's defaults, which open the
summary, and of the best, a median and a collapsed trial, with their loss curves. A run too
short for a grid (fewer steps than its sample interval) has its final grid drawn from the
generator of its newest checkpoint, on the same fixed noise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import torch
from matplotlib import image as plt_image
from matplotlib.figure import Figure

from analysis import findings, plots
from analysis.load import StudyData
from gan.census import failures
from gan.records import layout
from gan.train.checkpoint import load_checkpoint, load_generator
from gan.train.callbacks import save_grid
from gan.config import GANConfig
from gan.census.ranking import rank_trials
from gan.records.history import plain

CAPTION = ("Final 5x5 grids, each from its run's fixed noise batch; each grid's trial, class "
           "and final fcd above it.")


def example_trials(trials: pd.DataFrame, mode: str = "min") -> dict[str, str]:
    """Best, median and (if any) a collapsed trial of the study's proposals (search, survey or
    atlas) by the ranking signal (gan.census.ranking; final fcd in histories without it), in the
    objective's direction ``mode``. Best and median come from the trials that ran the full
    budget when any did: a score after 3 epochs does not rank against one after 30."""
    own = findings.proposal_trials(trials)
    signal = "objective" if "objective" in own and own["objective"].notna().any() else "fcd"
    scored = own.dropna(subset=["fcd"]) if "fcd" in own else own.iloc[:0]
    if "stopped_early" in scored and (~scored["stopped_early"].astype(bool)).any():
        scored = scored[~scored["stopped_early"].astype(bool)]
    ranked = rank_trials(scored, mode if signal == "objective" else "min", signal)
    picks: dict[str, str] = {}
    if len(ranked):
        picks[ranked.iloc[0]["trial_id"]] = "best"
        picks.setdefault(ranked.iloc[len(ranked) // 2]["trial_id"], "median")
    collapsed = own[own["failure"] == failures.MODE_COLLAPSE]
    if len(collapsed):
        picks.setdefault(collapsed.iloc[0]["trial_id"], "collapsed")
    return picks


def is_gan_py_default(row: pd.Series) -> bool:
    """Whether a trial trained gan.py's own settings (GANConfig's defaults)."""
    ours = GANConfig()
    same = all(plain(row.get(p)) == getattr(ours, p)
               for p in ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps"))
    return same and plain(row.get("d_lr_ratio", 1.0)) in (1.0, None)


def defaults_trial(trials: pd.DataFrame) -> str | None:
    """A full-budget run of gan.py's own settings (a race run or the search's first trial)."""
    runs = trials[trials.apply(is_gan_py_default, axis=1)] if len(trials) else trials
    runs = runs[runs["epochs"] >= int(trials["epochs"].max())] if len(runs) else runs
    return str(runs.iloc[0]["trial_id"]) if len(runs) else None


def final_grid(run_dir: Path, trial_id: str, scratch: Path | None) -> Path | None:
    """The run's last sample grid; without one, a grid drawn from the generator of its newest
    checkpoint on its fixed noise, written into ``scratch`` (None: not drawn)."""
    grids = layout.image_grids(run_dir)
    if grids:
        return grids[-1]
    checkpoints = layout.trial_checkpoints(run_dir)
    if scratch is None or not checkpoints:
        return None
    ckpt = load_checkpoint(checkpoints[-1])
    generator, _ = load_generator(ckpt)
    with torch.no_grad():
        images = generator(ckpt["fixed_noise"].cpu())
    path = scratch / f"final_grid_{re.sub(r'[^A-Za-z0-9_]+', '_', trial_id)}.png"
    save_grid(images, path)
    return path


def grids_figure(data: StudyData, trials: pd.DataFrame, shown: dict[str, str],
                 out: Path | None = None, scratch: Path | None = None) -> Figure | None:
    """The final grids of ``shown`` (trial id -> label) side by side, each titled with its
    trial, class and final fcd; None when no trial has a grid. ``out``: a folder to copy each
    grid into as ``samples_<label>.png``; ``scratch``: where a grid drawn from a checkpoint
    goes (:func:`final_grid`)."""
    by_id = trials.set_index("trial_id")
    grids = {}
    for trial_id, label in shown.items():
        grid = final_grid(data.trial_dirs[trial_id], trial_id, scratch or out) \
            if trial_id in data.trial_dirs else None
        if grid is None or trial_id not in by_id.index:
            continue
        if out is not None:
            shutil.copyfile(grid, out / f"samples_{re.sub(r'[^a-z0-9]+', '_', label)}.png")
        row = by_id.loc[trial_id]
        fcd = f", fcd {row['fcd']:.0f}" if pd.notna(row.get("fcd")) else ""
        grids[f"{label}: {trial_id} ({failures.class_label(row['failure'])}{fcd})"] = \
            plt_image.imread(grid)
    return plots.sample_grids(grids) if grids else None


def samples_section(rep, data: StudyData, trials: pd.DataFrame, mode: str) -> None:
    """The Samples section: loss curves and final grids of the example trials and gan.py's
    defaults."""
    picks = example_trials(trials, mode)
    images = []
    if picks:
        images.append(rep.save(plots.loss_curves(data.history, {
            t: f"{label}: {t}" for t, label in picks.items()}), "loss_curves"))
    defaults = defaults_trial(trials)
    shown = {**picks, **({defaults: layout.DEFAULTS_LABEL} if defaults and defaults not in picks
                         else {})}
    figure = grids_figure(data, trials, shown, rep.out)
    if figure is not None:
        images.append(rep.save(figure, "samples", svg=False))
    rep.sections.append(("Samples", images, [CAPTION]))
