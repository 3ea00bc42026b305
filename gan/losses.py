"""The seed's BCE losses, with the generator cost as a choice.

Both take discriminator *probabilities*, as the seed's Sigmoid + BCELoss does,
so the saturating cost saturates exactly as it does in the original.

BCE is written out as an autograd Function with exactly BCELoss's forward (each
log clamped at -100) and backward (``(p - y) / max(p (1 - p), 1e-12)``), instead
of calling ``F.binary_cross_entropy``: that kernel raises on NaN input on the CPU
and trips a device-side assert on CUDA, which would crash a diverging trial
instead of letting the loop report it. (Plain ``-log(p).clamp_min(-100)`` is not
a substitute: its gradient is 0 * inf = NaN once D saturates at exactly 0 or 1.)
"""

from __future__ import annotations

import torch

LOG_FLOOR = -100.0  # BCELoss clamps log terms here
GRAD_EPS = 1e-12  # BCELoss's floor on p (1 - p) in the backward pass


class _BCEConstantTarget(torch.autograd.Function):
    """Elementwise BCE(p, y) for a constant target y in {0, 1}; NaN in, NaN out."""

    @staticmethod
    def forward(ctx, p: torch.Tensor, target: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(p)
        ctx.target = target
        log_term = torch.log(p) if target == 1.0 else torch.log1p(-p)
        return -log_term.clamp_min(LOG_FLOOR)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (p,) = ctx.saved_tensors
        return grad * (p - ctx.target) / (p * (1 - p)).clamp_min(GRAD_EPS), None


def bce_with_ones(p: torch.Tensor) -> torch.Tensor:
    """Mean ``BCE(p, 1) = -log p``."""
    return _BCEConstantTarget.apply(p, 1.0).mean()


def bce_with_zeros(p: torch.Tensor) -> torch.Tensor:
    """Mean ``BCE(p, 0) = -log(1 - p)``."""
    return _BCEConstantTarget.apply(p, 0.0).mean()


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
