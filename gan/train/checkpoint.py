"""Checkpoints that resume a run exactly: models, optimizers, step, config and RNG state."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import torch

from gan.records.atomic import replace_with
from gan.config import RESUMABLE_CHANGES, GANConfig
from gan.models.registry import build_generator
from gan.train.state import TrainState
from gan.version import __version__

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = 1
# What an ended study trial keeps of its newest checkpoint (study.footprint): enough for
# gan.metrics.evaluate and a look at its generator, not to resume training (marked ``slim``).
SLIM_KEYS = ("format", "package_version", "config", "epoch", "step", "status", "generator",
             "fixed_noise", "history")


def checkpoint_dict(state: TrainState) -> dict[str, Any]:
    """A plain dict of tensors and builtins, loadable with ``weights_only=True``."""
    return {
        "format": CHECKPOINT_FORMAT,
        "package_version": __version__,
        "config": state.config.to_dict(),
        "epoch": state.epoch,
        "step": state.step,
        "status": state.status,
        "generator": state.generator.state_dict(),
        "discriminator": state.discriminator.state_dict(),
        "opt_g": state.opt_g.state_dict(),
        "opt_d": state.opt_d.state_dict(),
        "rng": state.rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "fixed_noise": state.fixed_noise,
        "history": state.history,
    }


def save_checkpoint(state: TrainState, path: str | os.PathLike) -> Path:
    """Write atomically: an interrupted save never leaves a half-written checkpoint."""
    ckpt = checkpoint_dict(state)
    return replace_with(path, lambda tmp: torch.save(ckpt, tmp))


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint onto the CPU.

    Raises:
        ValueError: when the file is missing or is not a gan-study checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint file at {str(path)!r}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        # torch's own message runs to hundreds of characters; the type says enough.
        raise ValueError(f"checkpoint {str(path)!r} is unreadable ({type(err).__name__}): "
                         "not a complete torch file") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{str(path)!r} is not a gan-study checkpoint (format "
                         f"{CHECKPOINT_FORMAT})")
    return ckpt


def config_from_checkpoint(ckpt: dict[str, Any]) -> GANConfig:
    return GANConfig.from_dict(ckpt["config"])


# How an optimizer runs, not what it learned: a checkpoint written by an eager CPU run resumes
# on CUDA graphs (capturable, state on the device), and the other way round.
EXECUTION_FLAGS = ("fused", "foreach", "capturable")


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    live = optimizer.param_groups[0]
    flags = {k: live[k] for k in EXECUTION_FLAGS if k in live}
    optimizer.load_state_dict({**saved, "param_groups": [{**group, **flags}
                                                         for group in saved["param_groups"]]})


def config_conflicts(saved: GANConfig, config: GANConfig) -> list[str]:
    """``name: saved -> config`` for each setting ``config`` changes that a resumed run must
    keep (everything but RESUMABLE_CHANGES)."""
    ours, theirs = saved.to_dict(), config.to_dict()
    return [f"{k}: {ours[k]!r} -> {theirs[k]!r}" for k in ours
            if k not in RESUMABLE_CHANGES and ours[k] != theirs.get(k)]


def _resume_seed(config: GANConfig, step: int) -> int:
    """A deterministic seed from the run's seed and step (the RNG state of another kind of
    device does not carry over)."""
    return int(hashlib.sha256(f"{config.seed}:{step}".encode()).hexdigest()[:15], 16)


def _restore_rng(state: TrainState, saved: torch.Tensor, step: int) -> None:
    live = state.rng.get_state()
    if saved.numel() == live.numel():
        state.rng.set_state(saved.to(torch.uint8).cpu())
        return
    # A CPU generator's state is a 5,056-byte Mersenne twister, a CUDA one's 16 bytes of
    # Philox seed and offset: a checkpoint from the other kind of device cannot set it.
    seed = _resume_seed(state.config, step)
    state.rng.manual_seed(seed)
    log.info("the checkpoint's random state is of another device kind (%d bytes, this %s "
             "generator takes %d): batches and noise re-seeded from seed %d and step %d",
             saved.numel(), state.device.type, live.numel(), state.config.seed, step)


def restore_state(state: TrainState, ckpt: dict[str, Any]) -> None:
    """Load ``ckpt`` into a freshly built ``state``, on any device.

    Raises:
        ValueError: when ``state``'s config differs from the checkpoint's in a setting a
            resumed run must keep, naming each.
    """
    if ckpt.get("slim"):
        raise ValueError("this checkpoint of an ended study trial keeps its generator only "
                         "(study.footprint); it cannot resume training")
    conflicts = config_conflicts(config_from_checkpoint(ckpt), state.config)
    if conflicts:
        raise ValueError(f"the config differs from the checkpoint's in {'; '.join(conflicts)}")
    state.generator.load_state_dict(ckpt["generator"])
    state.discriminator.load_state_dict(ckpt["discriminator"])
    _load_optimizer(state.opt_g, ckpt["opt_g"])
    _load_optimizer(state.opt_d, ckpt["opt_d"])
    _restore_rng(state, ckpt["rng"], int(ckpt["step"]))
    torch.set_rng_state(ckpt["torch_rng"])
    state.fixed_noise = ckpt["fixed_noise"].to(state.device)
    state.epoch, state.step, state.status = ckpt["epoch"], ckpt["step"], ckpt["status"]
    state.history = list(ckpt.get("history", []))


def load_generator(ckpt: dict[str, Any], device: torch.device | str = "cpu",
                   train_mode: bool = False) -> tuple[torch.nn.Module, GANConfig]:
    """The checkpoint's generator on ``device`` (eval mode unless ``train_mode``) and config."""
    config = config_from_checkpoint(ckpt)
    generator = build_generator(config).to(device)
    generator.load_state_dict(ckpt["generator"])
    generator.train(train_mode)
    return generator, config
