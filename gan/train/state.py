"""What the training loop shares with its callbacks and checkpoints: the state and the hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gan.config import GANConfig

STATUS_OK, STATUS_DIVERGED = "ok", "diverged"


@dataclass
class TrainState:
    """Everything a callback may read, and everything a checkpoint must hold."""

    config: GANConfig
    device: torch.device
    generator: nn.Module  # G and D of config.model (gan.models.registry)
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator  # drives batches and noise; saved in checkpoints
    fixed_noise: torch.Tensor  # (25, latent_dim): every sample grid uses it
    epoch: int = 0  # epochs completed
    step: int = 0  # batches completed, gan.py's batches_done
    status: str = STATUS_OK
    stop_requested: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    # CUDA graphs of the training step captured by this process (gan.train.graphed; 0 when
    # the step runs eagerly, on the CPU or after a failed capture). Not checkpointed.
    graphs_captured: int = 0

    def request_stop(self) -> None:
        """Ask the loop to stop after the current callback round."""
        self.stop_requested = True

    @property
    def finished(self) -> bool:
        """True once the run will train no further: all epochs done, or diverged."""
        return self.epoch >= self.config.n_epochs or self.status != STATUS_OK

    def sample(self, noise: torch.Tensor) -> torch.Tensor:
        """G(noise) with BatchNorm in eval mode, so a sample never depends on its batch."""
        was_training = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            images = self.generator(noise)
        self.generator.train(was_training)
        return images


class Callback:
    """Override what you need; the loop calls these in order, on the main process."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_step(self, state: TrainState, record: dict[str, Any]) -> None:
        """Every ``log_interval`` steps, with that step's losses and gradient norms."""

    def on_sample(self, state: TrainState, images: torch.Tensor) -> None:
        """Every ``sample_interval`` steps, with G(fixed_noise): (25, C, H, W) in [-1, 1]."""

    def on_epoch_end(self, state: TrainState, record: dict[str, Any]) -> None:
        """After each epoch, with epoch means, quality metrics and status."""

    def on_train_end(self, state: TrainState) -> None: ...
