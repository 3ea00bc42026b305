"""gan.py's generator and discriminator, layer for layer (the registry's ``mlp``)."""

from __future__ import annotations

import math

import torch
from torch import nn

from gan.config import GANConfig


def _block(in_feat: int, out_feat: int, bn_eps: float | None) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Linear(in_feat, out_feat)]
    if bn_eps is not None:
        # Keyword on purpose: gan.py's positional 0.8 is eps, though it reads like momentum.
        layers.append(nn.BatchNorm1d(out_feat, eps=bn_eps))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class Generator(nn.Module):
    """z (B, latent_dim) -> images (B, C, H, W) in [-1, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.img_shape = config.img_shape
        self.model = nn.Sequential(
            *_block(config.latent_dim, 128, bn_eps=None),
            *_block(128, 256, config.bn_eps),
            *_block(256, 512, config.bn_eps),
            *_block(512, 1024, config.bn_eps),
            nn.Linear(1024, math.prod(self.img_shape)),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.shape[0], *self.img_shape)


class Discriminator(nn.Module):
    """images (B, C, H, W) -> probability of being real, (B, 1)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(math.prod(config.img_shape), 512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def logits(self, img: torch.Tensor) -> torch.Tensor:
        """D's pre-sigmoid output (B, 1): for losses that must not pass through the sigmoid."""
        return self.model[:-1](img.flatten(1))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img.flatten(1))


def build(config: GANConfig) -> tuple[Generator, Discriminator]:
    """gan.py's pair for ``config`` (G is built first: the seeded initialisation depends on it)."""
    return Generator(config), Discriminator(config)
