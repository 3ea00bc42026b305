"""Networks by name: the loop, the metrics and the census take G and D from here as they come.

The contract of a pair, the one every network keeps (docs/study.md, "Your own G and D"):

- ``build(config) -> (G, D)``, two ``torch.nn.Module``; ``config`` is the run's
  :class:`gan.config.GANConfig` (latent_dim, channels, img_size, bn_eps, ...).
- ``G(z)``: z (B, latent_dim) -> images (B, channels, img_size, img_size) in [-1, 1].
- ``D(x)``: images -> (B, 1) probability of being real (ns and minimax train on it).
- ``D.logits(x)``: the (B, 1) score before the sigmoid (lsgan, hinge and wgan-gp train on it).

A user's pair is named ``package.module:build`` and must be importable where the trials run.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Callable

import torch
from torch import nn

from gan.config import MODELS, GANConfig
from gan.train.losses import PROBABILITY_LOSSES
from gan.models import dcgan, mlp

Builder = Callable[[GANConfig], "tuple[nn.Module, nn.Module]"]
# The registered networks' (G, D) classes: each builds alone where only one is needed.
NETWORKS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "mlp": (mlp.Generator, mlp.Discriminator),
    "dcgan": (dcgan.DCGANGenerator, dcgan.DCGANDiscriminator),
}
BUILDERS: dict[str, Builder] = {"mlp": mlp.build, "dcgan": dcgan.build}
# Settings a built-in network needs, applied where the command line does not set them.
MODEL_SETTINGS: dict[str, dict[str, Any]] = {"dcgan": {"img_size": dcgan.IMG_SIZE}}
# Layers whose gradient norms the loop logs, by a short stable name per kind, numbered in the
# network's own order: gan.py's MLP logs fc0..fc4 (G) and fc0..fc2 (D).
MEASURED_KINDS = ((nn.Linear, "fc"), (nn.ConvTranspose2d, "deconv"), (nn.Conv2d, "conv"),
                  (nn.ConvTranspose1d, "deconv1d"), (nn.Conv1d, "conv1d"))
MODULE_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
CHECK_BATCH = 2


class ModelError(ValueError):
    """A network that cannot be built or does not keep the pair's contract."""


def model_settings(model: str, given: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """What ``model`` needs of the config (dcgan: img_size 32), except the settings in
    ``given`` (set on the command line; a contradiction then fails in :func:`check_pair`)."""
    return {k: v for k, v in MODEL_SETTINGS.get(model, {}).items() if k not in given}


def builder(model: str) -> Builder:
    """The build function of ``model``: a registered name or ``package.module:build``.

    Raises:
        ModelError: for an unknown name, a module that fails to import or a missing build.
    """
    if model in BUILDERS:
        return BUILDERS[model]
    if not MODULE_PATH.match(model):
        raise ModelError(f"unknown model {model!r}: expected one of {', '.join(MODELS)} or "
                         "package.module:build")
    module_name, attr = model.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import-time failure of the user's module is theirs to see
        raise ModelError(f"model {model!r}: cannot import {module_name} "
                         f"({type(err).__name__}: {err})") from err
    build = getattr(module, attr, None)
    if not callable(build):
        raise ModelError(f"model {model!r}: {module_name} has no callable {attr}")
    return build


def build_pair(config: GANConfig) -> tuple[nn.Module, nn.Module]:
    """(G, D) of ``config.model``, built in that order on the CPU.

    Raises:
        ModelError: when the network cannot be built (see :func:`builder`).
    """
    try:
        pair = builder(config.model)(config)
    except ModelError:
        raise
    except Exception as err:
        raise ModelError(f"model {config.model!r}: build failed ({type(err).__name__}: "
                         f"{err})") from err
    if not (isinstance(pair, tuple) and len(pair) == 2
            and all(isinstance(m, nn.Module) for m in pair)):
        raise ModelError(f"model {config.model!r}: build must return (G, D), two "
                         f"torch.nn.Module, got {type(pair).__name__}")
    return pair


def build_generator(config: GANConfig) -> nn.Module:
    """G of ``config.model`` alone (a user's pair: built with its D, which is dropped)."""
    if config.model in NETWORKS:
        return NETWORKS[config.model][0](config)
    return build_pair(config)[0]


def build_discriminator(config: GANConfig) -> nn.Module:
    """D of ``config.model`` alone: a registered network's D draws its initial weights first
    from the seeded RNG (a user's pair: built with its G, which is dropped)."""
    if config.model in NETWORKS:
        return NETWORKS[config.model][1](config)
    return build_pair(config)[1]


def _check_output(config: GANConfig, what: str, value: Any, shape: tuple[int, ...],
                  low: float, high: float) -> None:
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ModelError(f"model {config.model!r}: {what} must be {shape}, got {got}")
    if not bool(((value >= low) & (value <= high)).all()):
        raise ModelError(f"model {config.model!r}: {what} must lie in [{low}, {high}], got "
                         f"[{value.min().item():.3g}, {value.max().item():.3g}]")


def check_pair(config: GANConfig) -> None:
    """Build ``config``'s pair and check it on a batch of two: G's images and D's outputs have
    the contract's shapes and ranges, and D has ``logits`` for a loss that needs them. Run
    before any trial starts, so a bad network stops a study with one line.

    Raises:
        ModelError: naming the model and what it broke.
    """
    G, D = build_pair(config)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(CHECK_BATCH, config.latent_dim, generator=g)
    image_shape = (CHECK_BATCH, *config.img_shape)
    try:
        with torch.no_grad():
            images = G(z)
            _check_output(config, "G(z)", images, image_shape, -1.0, 1.0)
            _check_output(config, "D(G(z))", D(images), (CHECK_BATCH, 1), 0.0, 1.0)
            if config.loss not in PROBABILITY_LOSSES:
                if not callable(getattr(D, "logits", None)):
                    raise ModelError(f"model {config.model!r}: loss {config.loss} trains on "
                                     "D.logits(x), which D lacks")
                _check_output(config, "D.logits(G(z))", D.logits(images), (CHECK_BATCH, 1),
                              -float("inf"), float("inf"))
    except ModelError:
        raise
    except Exception as err:
        raise ModelError(f"model {config.model!r}: a forward pass on {CHECK_BATCH} samples "
                         f"failed ({type(err).__name__}: {err})") from err
    if not measured_layers(G) or not measured_layers(D):
        raise ModelError(f"model {config.model!r}: G and D need a Linear or convolution layer "
                         "(their gradient norms are the study's vanishing signal)")


def measured_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The model's Linear and convolution layers by a short stable name (``fc0``, ``conv1``,
    ``deconv2``, ...), numbered per kind in the model's order."""
    out: dict[str, nn.Module] = {}
    counts: dict[str, int] = {}
    for module in model.modules():
        prefix = next((p for kind, p in MEASURED_KINDS if isinstance(module, kind)), None)
        if prefix is not None:
            out[f"{prefix}{counts.get(prefix, 0)}"] = module
            counts[prefix] = counts.get(prefix, 0) + 1
    return out


def layer_parameters(layer: nn.Module) -> list[torch.Tensor]:
    """A measured layer's weight and, where it has one, its bias."""
    return [p for p in (layer.weight, getattr(layer, "bias", None)) if p is not None]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
