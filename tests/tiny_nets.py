"""A user's own G and D, as a study loads them by module path (``tiny_nets:build``): small
enough for an end-to-end study in seconds, with a convolution so that the loop's per-layer
gradient norms name layers other than the MLP's."""

import torch
from torch import nn


class TinyGenerator(nn.Module):
    def __init__(self, config) -> None:
        super().__init__()
        self.shape = config.img_shape
        self.fc = nn.Linear(config.latent_dim, 8 * 7 * 7)
        self.up = nn.ConvTranspose2d(8, config.channels, kernel_size=4, stride=4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc(z)).view(len(z), 8, 7, 7)
        return torch.tanh(self.up(x))  # (B, C, 28, 28)


class TinyDiscriminator(nn.Module):
    def __init__(self, config) -> None:
        super().__init__()
        self.conv = nn.Conv2d(config.channels, 4, kernel_size=4, stride=4)
        self.fc = nn.Linear(4 * 7 * 7, 1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def build(config):
    return TinyGenerator(config), TinyDiscriminator(config)
