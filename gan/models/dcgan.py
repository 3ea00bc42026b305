"""Ray Tune's MNIST DCGAN (``tune/examples/pbt_dcgan_mnist``), the registry's ``dcgan``.

Ray's example trains it on 32x32 MNIST (``transforms.Resize(32)``): nz 100, ngf = ndf = 32,
bias-free convolutions, BatchNorm in G and in D's middle layers, and DCGAN's N(0, 0.02)
initialisation. Here MNIST is brought to 32x32 the same way, by bilinear resizing
(``gan.data.at_size``); samples are judged after resizing back to the dataset's 28x28
(``gan.metrics.quality``).

One difference, on purpose: G's BatchNorm eps is the run's ``bn_eps`` (gan.py's 0.8 by
default) rather than PyTorch's 1e-5, so that the MLP and the DCGAN of a paired survey train
under the same settings. ``--bn-eps 1e-5`` gives Ray's network exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from gan.config import GANConfig

IMG_SIZE = 32  # 1 -> 4 -> 8 -> 16 -> 32: four stride-2 (transposed) convolutions
WIDTH = 32  # Ray's ngf = ndf


def _init_weights(module: nn.Module) -> None:
    """DCGAN's initialisation (Radford et al. 2016), as Ray's ``weights_init`` applies it."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _check_size(config: GANConfig) -> None:
    if config.img_size != IMG_SIZE:
        raise ValueError(f"model dcgan makes {IMG_SIZE}x{IMG_SIZE} images: img_size must be "
                         f"{IMG_SIZE}, got {config.img_size}")


class DCGANGenerator(nn.Module):
    """z (B, latent_dim) -> images (B, C, 32, 32) in [-1, 1]."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        _check_size(config)
        w, eps = WIDTH, config.bn_eps
        self.model = nn.Sequential(
            nn.ConvTranspose2d(config.latent_dim, w * 4, kernel_size=4, stride=1, padding=0,
                               bias=False),  # (B, 128, 4, 4)
            nn.BatchNorm2d(w * 4, eps=eps),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w * 4, w * 2, kernel_size=4, stride=2, padding=1,
                               bias=False),  # (B, 64, 8, 8)
            nn.BatchNorm2d(w * 2, eps=eps),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w * 2, w, kernel_size=4, stride=2, padding=1,
                               bias=False),  # (B, 32, 16, 16)
            nn.BatchNorm2d(w, eps=eps),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(w, config.channels, kernel_size=4, stride=2, padding=1,
                               bias=False),  # (B, C, 32, 32)
            nn.Tanh(),
        )
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (B, C, 32, 32) -> probability of being real, (B, 1)."""

    def __init__(self, config: GANConfig) -> None:
        super().__init__()
        _check_size(config)
        w = WIDTH
        self.model = nn.Sequential(
            nn.Conv2d(config.channels, w, kernel_size=4, stride=2, padding=1,
                      bias=False),  # (B, 32, 16, 16)
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w, w * 2, kernel_size=4, stride=2, padding=1, bias=False),  # (B, 64, 8, 8)
            nn.BatchNorm2d(w * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w * 2, w * 4, kernel_size=4, stride=2, padding=1,
                      bias=False),  # (B, 128, 4, 4)
            nn.BatchNorm2d(w * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(w * 4, 1, kernel_size=4, stride=1, padding=0, bias=False),  # (B, 1, 1, 1)
            nn.Sigmoid(),
        )
        self.apply(_init_weights)

    def logits(self, img: torch.Tensor) -> torch.Tensor:
        """D's pre-sigmoid output (B, 1): for losses that must not pass through the sigmoid."""
        return self.model[:-1](img).view(img.shape[0], 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img).view(img.shape[0], 1)


def build(config: GANConfig) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """Ray Tune's MNIST DCGAN pair for ``config`` (whose img_size must be 32)."""
    return DCGANGenerator(config), DCGANDiscriminator(config)
