"""The search space, the seed's defaults as the first point, and per-trial configs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from gan.config import GANConfig

SPACES = ("default", "extended")
LATENT_DIMS = (2, 8, 16, 32, 64, 100, 128, 256)
# Objectives: the metric name and whether lower is better.
OBJECTIVES = {"fcd": "min", "diversity": "max", "inception_score": "max", "coverage": "max",
              "density": "max", "class_kl": "min"}

SEED_POINT = {"lr": 2e-4, "b1": 0.5, "b2": 0.999, "latent_dim": 100}
EXTENDED_SEED_POINT = {"loss": "ns", "bn_eps": 0.8, "d_lr_ratio": 1.0}


def optuna_space(space: str) -> dict[str, Any]:
    """Optuna distributions for ``space`` (Lucic et al. 2018's wide lr range)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}; expected one of {SPACES}")
    dists: dict[str, Any] = {
        "lr": FloatDistribution(1e-5, 1e-2, log=True),
        "b1": FloatDistribution(0.0, 0.99),
        "b2": FloatDistribution(0.9, 0.9999),
        "latent_dim": CategoricalDistribution(list(LATENT_DIMS)),
    }
    if space == "extended":
        dists["loss"] = CategoricalDistribution(["ns", "minimax"])
        dists["bn_eps"] = CategoricalDistribution([0.8, 1e-5])
        dists["d_lr_ratio"] = FloatDistribution(0.25, 4.0, log=True)
    return dists


def seed_point(space: str) -> dict[str, Any]:
    """The seed script's own settings: the study evaluates them first."""
    return {**SEED_POINT, **(EXTENDED_SEED_POINT if space == "extended" else {})}


def trial_seed(study_seed: int, params: dict[str, Any]) -> int:
    """A trial's seed from the study seed and its parameters: the same proposal trains the same."""
    blob = json.dumps({"seed": study_seed, **params}, sort_keys=True, default=str)
    return int(hashlib.sha256(blob.encode()).hexdigest()[:8], 16)


def trial_config(base: GANConfig, params: dict[str, Any], study_seed: int) -> GANConfig:
    """``base`` with a trial's proposed parameters applied.

    Raises:
        ValueError: for a parameter that is not part of any space.
    """
    params = dict(params)
    ratio = params.pop("d_lr_ratio", None)
    known = {"lr", "b1", "b2", "latent_dim", "loss", "bn_eps"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown search parameter(s): {', '.join(unknown)}")
    if "latent_dim" in params:
        params["latent_dim"] = int(params["latent_dim"])
    changes = {**params, "seed": trial_seed(study_seed, {**params, "d_lr_ratio": ratio})}
    if ratio is not None:
        changes["d_lr"] = float(ratio) * float(params.get("lr", base.lr))
    return dataclasses.replace(base, **changes)
