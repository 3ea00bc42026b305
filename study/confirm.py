"""After the search: re-run the top configs and the seed's defaults with more seeds, and run
a fixed minimax control. These runs go through Tune like every trial (FIFO, full budget) in
their own experiment folder, and are never told to the search."""

from __future__ import annotations

import json
import logging
from typing import Any

from ray import tune
from ray.tune.search.basic_variant import BasicVariantGenerator

from gan import layout
from gan.config import GANConfig
from study import outputs, runner
from analysis.gradient_probe import stages_for
from analysis.load import final_rows, history_from_trials
from study.failure_stop import stamp_trials
from study.history import scored_rows
from study.space import TRIAL_META_KEYS, seed_point
from study.trainable import OBJECTIVE_KEY, RUN_KEY, TrialInputs, trial_dirname_creator

log = logging.getLogger(__name__)

# Aimed at the failure the seed's notes describe: the saturating cost at a high lr drives
# D(G(z)) to ~1e-4 and G's gradient norm down by three orders of magnitude within two epochs.
# On the embedded digits one seed never gets there and the other does at epoch 2, recovers,
# and freezes at epoch 7 (docs/findings.md); a higher --control-lr vanishes for good.
CONTROL_POINT = {"lr": 2e-3, "b1": 0.5, "b2": 0.999, "latent_dim": 100, "loss": "minimax"}


def confirmation_points(history, settings: Any, max_epochs: int) -> list[dict[str, Any]]:
    """The Tune configs of the confirmation and control runs.

    The top ``confirm_top`` search trials that ran all ``max_epochs`` epochs (ranked
    by their final objective) and the seed's defaults, each with ``confirm_seeds``
    new seeds; plus the minimax control with as many seeds (at least one). The first run
    of the best config also keeps G's weights at the gradient probe's stages.
    """
    points: list[dict[str, Any]] = []
    if settings.confirm_top > 0 and settings.confirm_seeds > 0 and not history.empty:
        search = history[history["phase"] == layout.PHASE_SEARCH]
        last = scored_rows(final_rows(search))
        full = last[last["epoch"] >= max_epochs].sort_values(
            "objective", ascending=(settings.mode == "min"))
        configs = [outputs.trial_record(settings.study_dir, t)["params"]
                   for t in full["trial_id"].head(settings.confirm_top)]
        defaults = seed_point(settings.space)
        if defaults not in configs:
            configs.append(defaults)
        points += [{**params, "phase": layout.PHASE_CONFIRM, "replicate": r}
                   for params in configs for r in range(1, settings.confirm_seeds + 1)]
        if len(full):
            # The best config's first replicate keeps G at the probe's stages: the report's
            # gradient probe then freezes those instead of training the config again.
            points[0]["snapshot_epochs"] = stages_for(max_epochs)
    if settings.controls:
        control = {**CONTROL_POINT, "lr": settings.control_lr}
        points += [{**control, "phase": layout.PHASE_CONTROL, "replicate": r}
                   for r in range(1, max(1, settings.confirm_seeds) + 1)]
    return points


def run_confirmations(base: GANConfig, settings: Any, inputs: TrialInputs,
                      resume: bool) -> tuple[bool, dict[str, str]]:
    """Run (or resume) the confirmation and control runs; (all finished, errors by trial)."""
    if resume and runner.experiment_restorable(settings, layout.CONFIRM_RAY_DIR):
        tuner = runner.restored_tuner(base, settings, inputs, layout.CONFIRM_RAY_DIR)
        expected = None
    else:
        points = confirmation_points(history_from_trials(settings.study_dir), settings,
                                     base.n_epochs)
        if not points:
            return True, {}
        configs = {json.dumps({k: v for k, v in p.items() if k not in TRIAL_META_KEYS},
                              sort_keys=True, default=str) for p in points}
        log.info("confirmation: %d runs of %d configs (control included) at the full %d "
                 "epochs", len(points), len(configs), base.n_epochs)
        expected = len(points)
        tuner = tune.Tuner(
            runner.build_trainable(base, settings, inputs, layout.CONFIRM_RAY_DIR),
            tune_config=tune.TuneConfig(
                metric=OBJECTIVE_KEY, mode=settings.mode,
                search_alg=BasicVariantGenerator(max_concurrent=settings.max_concurrent),
                trial_dirname_creator=trial_dirname_creator, reuse_actors=runner.REUSE_ACTORS),
            # One trial per point: a grid over whole configs, unwrapped by the trainable.
            param_space={RUN_KEY: tune.grid_search(points)},
            run_config=runner.run_config(settings, layout.CONFIRM_RAY_DIR, len(points),
                                         base.loss))
    grid = tuner.fit()
    runner.mirror_trials(settings, layout.CONFIRM_RAY_DIR)
    stamp_trials(settings.study_dir)
    phases = (layout.PHASE_CONFIRM, layout.PHASE_CONTROL)
    finished = runner.runs_finished(history_from_trials(settings.study_dir), base.n_epochs,
                                    phases) + grid.num_errors
    return finished >= (expected if expected is not None else len(grid)), \
        outputs.trial_errors(grid)
