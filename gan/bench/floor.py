"""A training step's arithmetic floor: its multiply-adds at this machine's measured peak rate.

The floor is what a step would take if every multiply-add ran at the speed of one large fp32
matrix product on the same device and threads. A step costs about three forward passes of
what it runs (the backward pass is about twice the forward): G once, D twice (on the fakes and
on the reals). A measured step far above its floor is bound by something else than arithmetic
(kernel launches, memory, Python), which is what a small network is.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from gan.config import GANConfig
from gan.models.registry import build_pair

BACKWARD_FACTOR = 3  # forward + backward ~ 3 forward passes
PEAK_SIZE = 1024  # a square fp32 matmul large enough to run near the device's peak


def forward_macs(model: nn.Module, inputs: torch.Tensor) -> int:
    """Multiply-adds of one forward pass of ``model`` on ``inputs``, counted over its Linear
    and (transposed) convolution layers, which hold nearly all of a GAN's arithmetic.

    Raises:
        ValueError: for an empty batch.
    """
    if len(inputs) == 0:
        raise ValueError("forward_macs needs a batch of at least one input")
    total = 0

    def count(module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Linear):
            total += out.numel() * module.in_features
        elif isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            kernel = module.weight[0, 0].numel()
            total += args[0].numel() * (module.out_channels // module.groups) * kernel
        elif isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            kernel = module.weight[0, 0].numel()
            total += out.numel() * (module.in_channels // module.groups) * kernel

    handles = [m.register_forward_hook(count) for m in model.modules()]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total


def step_macs(config: GANConfig) -> dict[str, int]:
    """Multiply-adds of one training step of ``config``'s networks at its batch size:
    ``{"g": G forward, "d": D forward, "step": BACKWARD_FACTOR * (g + 2 d)}``."""
    G, D = build_pair(config)
    G.eval(), D.eval()
    z = torch.zeros(config.batch_size, config.latent_dim)
    with torch.no_grad():
        images = G(z)
    g, d = forward_macs(G, z), forward_macs(D, images)
    return {"g": g, "d": d, "step": BACKWARD_FACTOR * (g + 2 * d)}


def peak_macs_per_s(device: torch.device, repeats: int = 10) -> float:
    """This device's fp32 multiply-adds per second on a large square matmul (best of
    ``repeats``, after a warm-up)."""
    a = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    b = torch.randn(PEAK_SIZE, PEAK_SIZE, device=device)
    best = float("inf")
    for i in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:  # the first is a warm-up
            best = min(best, time.perf_counter() - started)
    return PEAK_SIZE ** 3 / best
