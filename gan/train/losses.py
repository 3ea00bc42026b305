"""GAN losses: gan.py's BCE pair (two generator costs) and three remedies.

- ``ns`` (gan.py's) and ``minimax`` take discriminator *probabilities*, as
  gan.py's Sigmoid + BCELoss does, so the saturating cost saturates exactly as in
  the original.
- ``lsgan`` (Mao et al. 2017), ``hinge`` (Miyato et al. 2018) and ``wgan-gp``
  (Gulrajani et al. 2017) take D's *logits* (``Discriminator.logits``): the
  sigmoid is what makes the JS game give no gradient once D separates the two
  distributions, and these losses were made to avoid it.

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


LOSSES = ("ns", "minimax", "lsgan", "hinge", "wgan-gp")
# Losses on D's probabilities: D(x) and D(G(z)) mean "probability of real" only for these.
PROBABILITY_LOSSES = ("ns", "minimax")
# d_loss >= 0 with 0 meaning D separates real from fake perfectly (not so for wgan-gp,
# whose critic loss is an unbounded negative Wasserstein estimate plus the penalty).
D_LOSS_FLOORED = ("ns", "minimax", "lsgan", "hinge")
# g_loss bounded on one side, so its spread relative to its size is a meaningful swing
# (hinge and wgan-gp have g_loss = -E[D(G(z))], which drifts freely around 0).
G_LOSS_ONE_SIDED = ("ns", "minimax", "lsgan")
GP_WEIGHT = 10.0  # Gulrajani et al.'s lambda
# The arms of a loss comparison: every loss on its own, and a loss trained with its paper's
# whole recipe (gan.config.LOSS_PAPER_SETTINGS), under its own name, so that two arms at an
# atlas point differ in the loss alone or in the recipe alone.
RECIPE_ARMS = {"wgan-gp-recipe": "wgan-gp"}
ARMS = (*LOSSES, *RECIPE_ARMS)


def arm_loss(arm: str) -> str:
    """The loss an arm trains: ``wgan-gp-recipe`` -> ``wgan-gp``; a loss is its own arm."""
    return RECIPE_ARMS.get(arm, arm)


def in_arm_order(names) -> list[str]:
    """The distinct ``names`` in :data:`ARMS` order, unknown names last (first seen first)."""
    present = list(dict.fromkeys(str(name) for name in names))
    return [arm for arm in ARMS if arm in present] + [n for n in present if n not in ARMS]


def _check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; expected one of {', '.join(LOSSES)}")


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor, kind: str = "ns"
                       ) -> torch.Tensor:
    """D's loss on its outputs for real and generated images (without wgan-gp's penalty).

    Args:
        d_real, d_fake: probabilities for ``ns``/``minimax``, logits otherwise.
        kind: ``ns``/``minimax``: ``(BCE(D(x), 1) + BCE(D(G(z)), 0)) / 2``, gan.py's;
            ``lsgan``: ``(E[(D(x) - 1)^2] + E[D(G(z))^2]) / 2``;
            ``hinge``: ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``;
            ``wgan-gp``: ``E[D(G(z))] - E[D(x)]`` (add :func:`gradient_penalty`).
    """
    _check_kind(kind)
    if kind in PROBABILITY_LOSSES:
        return (bce_with_ones(d_real) + bce_with_zeros(d_fake)) / 2
    if kind == "lsgan":
        return ((d_real - 1).square().mean() + d_fake.square().mean()) / 2
    if kind == "hinge":
        return torch.relu(1 - d_real).mean() + torch.relu(1 + d_fake).mean()
    return d_fake.mean() - d_real.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor) -> torch.Tensor:
    """Gulrajani et al.'s ``E[(||grad_x critic(x_hat)||_2 - 1)^2]`` on interpolates.

    Args:
        critic: maps images (B, ...) to scores (B, 1) (D's logits).
        real, fake: (B, ...) images; ``fake`` should be detached from G.
        alpha: (B,) mixing weights in [0, 1]: ``x_hat = alpha real + (1 - alpha) fake``.

    Returns:
        The scalar penalty, differentiable in the critic's parameters.

    Raises:
        ValueError: for mismatched shapes.
    """
    if real.shape != fake.shape or alpha.shape != real.shape[:1]:
        raise ValueError(f"real {tuple(real.shape)}, fake {tuple(fake.shape)} and alpha "
                         f"{tuple(alpha.shape)} do not match")
    mix = alpha.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (torch.linalg.vector_norm(grad.flatten(1), dim=1) - 1).square().mean()


def generator_loss(d_fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator cost on D(G(z)).

    Args:
        d_fake: D's outputs on generated images, any shape: probabilities for
            ``ns``/``minimax``, logits otherwise.
        kind: ``"ns"`` for the non-saturating ``-log D(G(z))`` (gan.py's
            ``BCE(D(G(z)), 1)``), ``"minimax"`` for ``log(1 - D(G(z)))`` of
            Goodfellow et al. 2014, written as ``-BCE(D(G(z)), 0)``; ``"lsgan"``
            for ``E[(D(G(z)) - 1)^2] / 2``; ``"hinge"`` and ``"wgan-gp"`` for
            ``-E[D(G(z))]``.

    Returns:
        The scalar mean loss.

    Raises:
        ValueError: for an unknown kind.
    """
    if kind == "ns":
        return bce_with_ones(d_fake)
    _check_kind(kind)
    if kind == "minimax":
        return -bce_with_zeros(d_fake)
    if kind == "lsgan":
        return (d_fake - 1).square().mean() / 2
    return -d_fake.mean()
