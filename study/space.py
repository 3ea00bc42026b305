"""The search and atlas spaces, gan.py's defaults as the first point, and per-trial configs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution

from gan.config import B2_GAP_RANGE, LR_RANGE, GANConfig, arm_settings
from gan.records.run_record import CONTROL_LR
from gan.records.layout import SEARCH_PARAMS
from gan.train.losses import ARMS

SPACES = ("default", "extended")
# search: TPE proposes, ASHA stops early (find the best config);
# atlas: a seeded Sobol sweep at the full budget, balanced across losses (map the failures);
# a paired atlas (StudySettings.paired) runs every Sobol point under every loss.
DESIGNS = ("search", "atlas")
BALANCED_PARAM = "loss"  # the atlas gives each of its values the same number of trials
BN_EPS_VALUES = (0.8, 1e-5)  # gan.py's quirk, and PyTorch's default
# What a trial is besides its search parameters: phase, replicate of a race or control run (it picks the
# run's seed), the race's round and stage (study.race.rounds: "race" or "estimate"), and the epochs
# after which it keeps G's weights for the report's gradient probe.
TRIAL_META_KEYS = ("phase", "replicate", "race_round", "stage", "snapshot_epochs")
LATENT_DIMS = (2, 8, 16, 32, 64, 100, 128, 256)
# Objectives: the metric name and whether lower is better.
# density is not offered: it rewards samples piled onto dense regions, i.e. collapse.
OBJECTIVES = {"fcd": "min", "diversity": "max", "inception_score": "max", "coverage": "max",
              "class_kl": "min"}

_GAN_PY = GANConfig()  # gan.py's settings are GANConfig's defaults: one place for them
GAN_PY_POINT = {"lr": _GAN_PY.lr, "b1": _GAN_PY.b1, "b2": _GAN_PY.b2,
                "latent_dim": _GAN_PY.latent_dim}
# The minimax control: gan.py's settings with the saturating cost at ten times its lr, aimed at
# the vanishing gradients that the notes on gan.py describe (what it does on the embedded
# digits: docs/history.md; a higher --control-lr vanishes for good).
CONTROL_POINT = {**GAN_PY_POINT, "lr": CONTROL_LR, "loss": "minimax"}

B2_GAP = "b2_gap"  # Optuna's name for 1 - b2, the scale b2 is sampled on


def to_trial_params(params: dict[str, Any]) -> dict[str, Any]:
    """Optuna's parameters as a trial trains them: ``b2_gap`` becomes ``b2 = 1 - b2_gap``."""
    out = dict(params)
    if B2_GAP in out:
        out["b2"] = 1.0 - float(out.pop(B2_GAP))
    return out


def to_optuna_params(point: dict[str, Any]) -> dict[str, Any]:
    """A point as Optuna samples it: ``b2`` becomes ``b2_gap = 1 - b2``."""
    out = dict(point)
    if "b2" in out:
        out[B2_GAP] = 1.0 - float(out.pop("b2"))
    return out


EXTENDED_GAN_PY_POINT = {"loss": _GAN_PY.loss, "bn_eps": _GAN_PY.bn_eps, "d_lr_ratio": 1.0}


def optuna_space(space: str) -> dict[str, Any]:
    """Optuna distributions for ``space`` (Lucic et al. 2018's wide lr range). b2 is searched
    as :data:`B2_GAP`, 1 - b2 on a log scale; :func:`to_trial_params` turns it back."""
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; expected one of {SPACES}")
    dists: dict[str, Any] = {
        "lr": FloatDistribution(*LR_RANGE, log=True),
        "b1": FloatDistribution(0.0, 0.99),
        B2_GAP: FloatDistribution(*B2_GAP_RANGE, log=True),
        "latent_dim": CategoricalDistribution(list(LATENT_DIMS)),
    }
    if space == "extended":
        dists["loss"] = CategoricalDistribution(["ns", "minimax"])
        dists["bn_eps"] = CategoricalDistribution(list(BN_EPS_VALUES))
        dists["d_lr_ratio"] = FloatDistribution(0.25, 4.0, log=True)
    return dists


def atlas_space(space: str, losses: tuple[str, ...] = ()) -> dict[str, Any]:
    """The atlas's axes: lr x b1 x latent size x arm x BatchNorm eps (``default``), plus b2
    and the D/G lr ratio (``extended``). b2 is otherwise gan.py's for every arm but a recipe
    arm (wgan-gp-recipe: its paper's). ``losses``: the arms it compares (default: all of
    :data:`gan.train.losses.ARMS`)."""
    unknown = sorted(set(losses) - set(ARMS))
    if unknown:
        raise ValueError(f"unknown loss(es) {', '.join(unknown)}; expected some of {ARMS}")
    dists = optuna_space(space)
    if space == "default":
        dists.pop(B2_GAP)
    dists["loss"] = CategoricalDistribution(list(losses or ARMS))
    dists["bn_eps"] = CategoricalDistribution(list(BN_EPS_VALUES))
    return dists


def gan_py_point(space: str) -> dict[str, Any]:
    """gan.py's own settings: the study evaluates them first."""
    return {**GAN_PY_POINT, **(EXTENDED_GAN_PY_POINT if space == "extended" else {})}


def trial_seed(study_seed: int, params: dict[str, Any]) -> int:
    """A trial's seed from the study seed and its parameters: the same proposal trains the same."""
    blob = json.dumps({"seed": study_seed, **params}, sort_keys=True, default=str)
    return int(hashlib.sha256(blob.encode()).hexdigest()[:8], 16)


def split_trial_params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(search parameters, meta keys such as phase and replicate) of a trial's Tune config.

    Raises:
        ValueError: for a key that is neither.
    """
    meta = {k: v for k, v in params.items() if k in TRIAL_META_KEYS}
    search = {k: v for k, v in params.items() if k not in TRIAL_META_KEYS}
    unknown = sorted(set(search) - set(SEARCH_PARAMS))
    if unknown:
        raise ValueError(f"unknown search parameter(s): {', '.join(unknown)}")
    return search, meta


def trial_config(base: GANConfig, params: dict[str, Any], study_seed: int,
                 paired: bool = False) -> GANConfig:
    """``base`` with a trial's proposed parameters applied.

    The training seed derives from the study seed, the parameters and (for a
    race, estimate or control run) the replicate number; the evaluation noise is the study
    seed's for every trial, so all trials are scored on identical noise. In a
    paired atlas (``paired``) the loss is left out of the seed: every loss at a
    point trains from the same seed and the same optimizer settings and D steps,
    so a comparison of two losses within the point differs in the loss alone (and
    a recipe arm against its loss in the recipe alone).

    Raises:
        ValueError: for a parameter that is not part of any space.
    """
    search, meta = split_trial_params(params)
    ratio = search.pop("d_lr_ratio", None)
    if "latent_dim" in search:
        search["latent_dim"] = int(search["latent_dim"])
    seed_key = {**search, "d_lr_ratio": ratio}
    if paired:
        seed_key.pop(BALANCED_PARAM, None)
    if meta.get("replicate"):
        seed_key["replicate"] = int(meta["replicate"])
    # An arm is its loss alone, or a recipe arm (wgan-gp-recipe: b2 0.9, 5 critic steps) with
    # its paper's settings where the point does not set them.
    arm = search.pop(BALANCED_PARAM, None)
    defaults = arm_settings(arm, set(search)) if arm is not None else {}
    changes = {**search, **defaults, "seed": trial_seed(study_seed, seed_key),
               "eval_seed": study_seed}
    if ratio is not None:
        changes["d_lr"] = float(ratio) * float(search.get("lr", base.lr))
    return dataclasses.replace(base, **changes)
