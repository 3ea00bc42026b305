"""The seed's training loop as a library function that reports through callbacks.

Differences from the seed that do not change the math:
- the dataset is one tensor on the device and batches are index slices of it;
- the last incomplete batch of an epoch is dropped (fixed shapes; BatchNorm
  cannot train on a batch of one);
- the generator's backward pass skips D's weight gradients, which the seed
  computes and then throws away at ``optimizer_D.zero_grad()``;
- D's forward pass on the fakes is done once, in the generator step, and its
  graph is reused by the discriminator step (D does not change in between, so
  this equals the seed's second pass on ``gen_imgs.detach()``);
- all randomness comes from one seeded ``torch.Generator`` that checkpoints
  save, so a resumed run continues exactly.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

from gan.config import GANConfig
from gan.data import DataError, DataSplit, load_data
from gan.losses import discriminator_loss, generator_loss
from gan.models import Discriminator, Generator, linear_layers
from gan.runtime import make_adam, resolve_device, seed_everything

log = logging.getLogger(__name__)

GRID_SAMPLES = 25  # the seed's 5x5 grid
STATUS_OK, STATUS_DIVERGED = "ok", "diverged"


@dataclass
class TrainState:
    """Everything a callback may read, and everything a checkpoint must hold."""

    config: GANConfig
    device: torch.device
    generator: Generator
    discriminator: Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator  # drives batches and noise; saved in checkpoints
    fixed_noise: torch.Tensor  # (25, latent_dim): every sample grid uses it
    epoch: int = 0  # epochs completed
    step: int = 0  # batches completed, the seed's batches_done
    status: str = STATUS_OK
    stop_requested: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def request_stop(self) -> None:
        """Ask the loop to stop after the current callback round."""
        self.stop_requested = True

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


def step_metric_names(state: TrainState) -> list[str]:
    g = [f"g_grad_{name}" for name in linear_layers(state.generator)]
    d = [f"d_grad_{name}" for name in linear_layers(state.discriminator)]
    return ["d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "d_grad_norm", *g, *d]


def build_state(config: GANConfig, device: torch.device | None = None) -> TrainState:
    """Fresh, seeded models and optimizers for ``config``."""
    device = device or resolve_device(config.device)
    seed_everything(config.seed)
    generator = Generator(config).to(device)
    discriminator = Discriminator(config).to(device)
    betas = (config.b1, config.b2)
    rng = torch.Generator(device=device).manual_seed(config.seed)
    fixed_noise = torch.randn(GRID_SAMPLES, config.latent_dim, generator=rng, device=device)
    return TrainState(
        config=config, device=device, generator=generator, discriminator=discriminator,
        opt_g=make_adam(generator.parameters(), config.lr, betas, device),
        opt_d=make_adam(discriminator.parameters(), config.discriminator_lr, betas, device),
        rng=rng, fixed_noise=fixed_noise,
    )


def _layer_grad_norms(layers: Sequence[nn.Linear]) -> torch.Tensor:
    """L2 norm of each layer's (weight, bias) gradient, shape (L,), left on the device."""
    # vector_norm is a single reduction; square().sum() was 12% of a CPU step.
    grads = [p.grad for layer in layers for p in (layer.weight, layer.bias)]
    norms = torch.stack([torch.linalg.vector_norm(g) for g in grads]).view(-1, 2)
    return torch.linalg.vector_norm(norms, dim=1)


def train(
    config: GANConfig,
    callbacks: Sequence[Callback] = (),
    *,
    data: DataSplit | None = None,
    checkpoint: dict[str, Any] | None = None,
    evaluator: Callable[[TrainState], dict[str, Any]] | None = None,
) -> TrainState:
    """Train the vanilla GAN of ``config``; report through ``callbacks``.

    Args:
        config: the run's settings.
        callbacks: called on start, every log/sample interval, each epoch and at the end.
        data: a preloaded dataset; loaded from ``config`` when omitted.
        checkpoint: a dict from :func:`gan.checkpoint.load_checkpoint` to resume from.
        evaluator: maps the state to sample-quality metrics every ``eval_interval``
            epochs; the default classifier-based one is built when omitted.

    Returns:
        The final state: ``status`` is ``"ok"`` or ``"diverged"`` (a NaN/inf loss
        stops the run cleanly, it never raises).
    """
    device = resolve_device(config.device)
    split = (data or load_data(config, device)).to(device)
    if len(split.train) < config.batch_size:
        raise DataError(f"batch_size {config.batch_size} exceeds the "
                        f"{len(split.train)} training images of {split.name}")
    state = build_state(config, device)
    if checkpoint is not None:
        from gan.checkpoint import restore_state
        restore_state(state, checkpoint)
    if evaluator is None and config.eval_interval > 0:
        from gan.quality import QualityEvaluator
        evaluator = QualityEvaluator.for_data(split, config, device)
    for cb in callbacks:
        cb.on_train_start(state)
    _run_epochs(state, split.train, callbacks, evaluator)
    for cb in callbacks:
        cb.on_train_end(state)
    return state


def _run_epochs(state: TrainState, train_x: torch.Tensor, callbacks: Sequence[Callback],
                evaluator: Callable[[TrainState], dict[str, Any]] | None) -> None:
    config, device, rng = state.config, state.device, state.rng
    bs, n = config.batch_size, len(train_x)
    G, D = state.generator, state.discriminator
    g_layers, d_layers = list(linear_layers(G).values()), list(linear_layers(D).values())
    g_params, d_params = list(G.parameters()), list(D.parameters())
    names = step_metric_names(state)
    G.train()
    D.train()
    # A run restored in the diverged state stays stopped.
    while state.epoch < config.n_epochs and not state.stop_requested \
            and state.status == STATUS_OK:
        started = time.perf_counter()
        perm = torch.randperm(n, generator=rng, device=device)
        totals = torch.zeros(len(names), device=device)
        steps = n // bs
        for i in range(steps):
            real = train_x[perm[i * bs:(i + 1) * bs]]  # (B, C, H, W)
            z = torch.randn(bs, config.latent_dim, generator=rng, device=device)

            # Generator first, as in the seed.
            state.opt_g.zero_grad(set_to_none=True)
            fake = G(z)
            d_fake = D(fake)  # (B, 1); D is unchanged until its own step, so the D step reuses it
            g_loss = generator_loss(d_fake, config.loss)
            g_loss.backward(inputs=g_params, retain_graph=True)
            g_norms = _layer_grad_norms(g_layers)
            state.opt_g.step()

            # The seed's D(gen_imgs.detach()) equals d_fake: backpropagating d_fake's graph
            # into D's weights only never touches G's (already stepped) part of it.
            state.opt_d.zero_grad(set_to_none=True)
            d_real = D(real)
            d_loss = discriminator_loss(d_real, d_fake)
            d_loss.backward(inputs=d_params)
            d_norms = _layer_grad_norms(d_layers)
            state.opt_d.step()

            g_total, d_total = torch.linalg.vector_norm(g_norms), torch.linalg.vector_norm(d_norms)
            row = torch.cat([torch.stack([d_loss.detach(), g_loss.detach(), d_real.detach().mean(),
                                          d_fake.detach().mean(), g_total, d_total]),
                             g_norms, d_norms])
            totals += row
            state.step += 1
            if state.step % config.log_interval == 0:
                record = {"step": state.step, "epoch": state.epoch + 1,
                          **dict(zip(names, row.tolist()))}
                for cb in callbacks:
                    cb.on_step(state, record)
                if not all(math.isfinite(v) for v in row.tolist()):
                    state.status = STATUS_DIVERGED
                    break
            if state.step % config.sample_interval == 0:
                images = state.sample(state.fixed_noise)
                for cb in callbacks:
                    cb.on_sample(state, images)
        state.epoch += 1
        record = _epoch_record(state, names, (totals / max(steps, 1)).tolist())
        record["epoch_seconds"] = time.perf_counter() - started
        if state.status == STATUS_OK and evaluator is not None and config.eval_interval > 0 \
                and state.epoch % config.eval_interval == 0:
            record.update(evaluator(state))
        state.history.append(record)
        for cb in callbacks:
            cb.on_epoch_end(state, record)
        if state.status == STATUS_DIVERGED:
            log.warning("run diverged (non-finite loss) at epoch %d, step %d; stopping",
                        state.epoch, state.step)
            break


def _epoch_record(state: TrainState, names: list[str], means: list[float]) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": state.epoch, "step": state.step, **dict(zip(names, means))}
    if not all(math.isfinite(v) for v in means):
        state.status = STATUS_DIVERGED
    # Goodfellow et al. 2014, Thm. 1: at the optimal D, d_loss = log 2 - JSD(p_data, p_g).
    record["js_estimate"] = max(0.0, math.log(2) - record["d_loss"]) \
        if math.isfinite(record["d_loss"]) else math.nan
    record["status"] = state.status
    return record
