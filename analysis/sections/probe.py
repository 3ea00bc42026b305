"""The gradient probe's section (Arjovsky & Bottou 2017, Fig. 2): a fresh D trained against
the best config's frozen G at several stages, and how far each cost's gradient falls; its
numbers, sentences, chart and section. The probe itself is :mod:`analysis.gradient_probe`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import gradient_probe
from analysis.load import StudyData
from analysis import plots
from analysis.sections import samples
from gan.records import layout
from gan.config import GANConfig
from gan.data import load_data
from gan.records.history import trial_record
from gan.train.callbacks import stages_for

log = logging.getLogger("analysis.report")
PROBE_SEEDS = 2
PROBE_WHY = ("The probe's fresh D trains on its logits (the same objective as gan.py's "
             "Sigmoid + BCELoss, computed stably): through the sigmoid a confident D saturates "
             "to p = 0 exactly and stops learning, so it would never approach the optimal D the "
             "probe is about. G's gradients are measured both through gan.py's numerics and "
             "exactly on the logits.")

def orders(probe: pd.DataFrame, cost: str) -> pd.Series:
    """Orders of magnitude ``cost``'s gradient norm fell over each probe (indexed by stage
    and D seed): log10(first / last); positive: it shrank."""
    ends = probe.groupby(["stage_epoch", "probe_seed"])[cost].agg(["first", "last"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(ends["first"] / ends["last"])


def findings(probe: pd.DataFrame) -> list[str]:
    """Orders of magnitude each cost's gradient fell as the fresh D trained, per stage
    (log10 of first / last norm: positive means the gradient shrank)."""
    out = []
    costs = ("minimax", "ns", "minimax_logits", "ns_logits")
    fell = {cost: orders(probe, cost) for cost in costs}
    for stage, frame in probe.groupby("stage_epoch"):
        parts = []
        for cost in costs:
            fall = fell[cost].loc[stage]
            parts.append(f"{cost.replace('_logits', ' (logits)')} {fall.median():+.1f} "
                         f"[{fall.min():+.1f}, {fall.max():+.1f}]")
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


def _snapshot_source(data: StudyData, best: str, stages: list[int]
                     ) -> tuple[str, dict[int, Path]] | None:
    """A run of ``best``'s config that kept G at every stage (study.race.rounds asks the best
    config's first race run to), as (trial id, snapshots by epoch)."""
    params = trial_record(data.trial_dirs[best])["params"]
    for trial_id, folder in data.trial_dirs.items():
        snapshots = layout.generator_snapshots(folder)
        if set(stages) <= set(snapshots) and trial_record(folder)["params"] == params:
            return trial_id, snapshots
    return None


def section(rep, data: StudyData, trials: pd.DataFrame, iterations: int
            ) -> pd.DataFrame | None:
    """The probe's section; returns the probe's rows (None when it is skipped)."""
    picks = samples.example_trials(trials, data.mode)
    best = next((t for t, label in picks.items() if label == "best"), None)
    if best is None or iterations <= 0 or best not in data.trial_dirs:
        return None
    stages = stages_for(data.max_epochs or int(data.history["epoch"].max()))
    source = _snapshot_source(data, best, stages)
    run, snapshots = source if source else (best, None)
    saved = trial_record(data.trial_dirs[run])["config"]
    config = GANConfig.from_dict({**saved, "device": "cpu"})
    log.info("gradient probe: trial %s's G after epochs %s, %d D iterations", run, stages,
             iterations)
    started = time.monotonic()
    # The stages, and G as initialised: the separation premise of claim 3 is about a fresh G.
    probe = gradient_probe.stage_probe(config, load_data(config),
                                       [gradient_probe.INIT_STAGE, *stages], PROBE_SEEDS,
                                       iterations,
                        every=max(1, iterations // 20), snapshots=snapshots)
    log.info("gradient probe: %d probes in %.0f s (--probe-iterations 0 skips them)",
             (len(stages) + 1) * PROBE_SEEDS, time.monotonic() - started)
    probe.to_csv(rep.out / "gradient_probe.csv", index=False)
    facts = findings(probe)
    rep.facts += facts
    design = data.design
    origin = (f"Best {design} trial {best}'s config, G as saved during its race run "
              f"{run}." if source else f"Best {design} trial {best}, retrained with its seed.")
    rep.sections.append(("Gradient probe (Arjovsky & Bottou 2017, Fig. 2)",
                         [rep.save(plots.gradient_probe(probe), "gradient_probe")],
                         [origin, PROBE_WHY]))
    return probe
