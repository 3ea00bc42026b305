"""The seed's BCE losses, with the generator cost as a choice.

Both take discriminator *probabilities*, as the seed's Sigmoid + BCELoss does,
so the saturating cost saturates exactly as it does in the original.

BCE is written out (with BCELoss's clamp of each log at -100) instead of calling
``F.binary_cross_entropy``: that kernel raises on NaN input on the CPU and trips
a device-side assert on CUDA, which would crash a diverging trial instead of
letting the loop report it.
"""

from __future__ import annotations

import torch

LOG_FLOOR = -100.0  # BCELoss clamps log terms here


def bce_with_ones(p: torch.Tensor) -> torch.Tensor:
    """Mean ``BCE(p, 1) = -log p``; NaN in, NaN out."""
    return -torch.log(p).clamp_min(LOG_FLOOR).mean()


def bce_with_zeros(p: torch.Tensor) -> torch.Tensor:
    """Mean ``BCE(p, 0) = -log(1 - p)``; NaN in, NaN out."""
    return -torch.log1p(-p).clamp_min(LOG_FLOOR).mean()


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """``(BCE(D(x), 1) + BCE(D(G(z)), 0)) / 2``, the seed's d_loss."""
    return (bce_with_ones(d_real) + bce_with_zeros(d_fake)) / 2


def generator_loss(d_fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator cost on D(G(z)).

    Args:
        d_fake: discriminator probabilities on generated images, any shape.
        kind: ``"ns"`` for the non-saturating ``-log D(G(z))`` (the seed's
            ``BCE(D(G(z)), 1)``), ``"minimax"`` for ``log(1 - D(G(z)))`` of
            Goodfellow et al. 2014, written as ``-BCE(D(G(z)), 0)``.

    Returns:
        The scalar mean loss.

    Raises:
        ValueError: for an unknown kind.
    """
    if kind == "ns":
        return bce_with_ones(d_fake)
    if kind == "minimax":
        return -bce_with_zeros(d_fake)
    raise ValueError(f"unknown generator loss {kind!r}; expected 'ns' or 'minimax'")
