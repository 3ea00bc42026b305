"""gan.py's training loop as a library function that reports through callbacks.

Differences from gan.py that do not change the math:
- the dataset is one tensor on the device and batches are index slices of it;
- the last incomplete batch of an epoch is dropped (fixed shapes; BatchNorm
  cannot train on a batch of one);
- the generator's backward pass skips D's weight gradients, which gan.py
  computes and then throws away at ``optimizer_D.zero_grad()``;
- D's forward pass on the fakes is done once, in the generator step, and its
  graph is reused by the discriminator step (D does not change in between, so
  this equals gan.py's second pass on ``gen_imgs.detach()``);
- with ``n_critic`` > 1 (wgan-gp's default) G steps only on every n_critic-th
  batch, before that batch's D step; G's epoch means are over its own steps;
- all randomness comes from one seeded ``torch.Generator`` that checkpoints
  save, so a resumed run continues exactly.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from gan.train.checkpoint import restore_state
from gan.config import GANConfig
from gan.data import DataError, DataSplit, at_size, load_data
from gan.train.losses import PROBABILITY_LOSSES, discriminator_loss, generator_loss, gradient_penalty
from gan.models.registry import build_pair, layer_parameters, measured_layers
from gan.metrics.quality import QualityEvaluator
from gan.train.runtime import make_adam, resolve_device, seed_everything
from gan.train.state import STATUS_DIVERGED, STATUS_OK, Callback, TrainState
from gan.train.graphed import GraphedSteps

log = logging.getLogger(__name__)

GRID_SAMPLES = 25  # gan.py's 5x5 grid
Evaluator = Callable[[TrainState], dict[str, Any]]


# D(x) and D(G(z)) as probabilities: NaN ("does not apply") for losses on logits.
PROBABILITY_METRICS = ("d_real", "d_fake")


def step_metric_names(state: TrainState) -> list[str]:
    g = [f"g_grad_{name}" for name in measured_layers(state.generator)]
    d = [f"d_grad_{name}" for name in measured_layers(state.discriminator)]
    return ["d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "d_grad_norm", *g, *d]


def _is_generator_metric(name: str) -> bool:
    return name.startswith("g_")


def _finite(values: Sequence[float], checked: Sequence[bool]) -> bool:
    """All ``values`` whose ``checked`` flag is set are finite (a NaN there means divergence)."""
    return all(math.isfinite(v) for v, c in zip(values, checked) if c)


def build_state(config: GANConfig, device: torch.device | None = None) -> TrainState:
    """Fresh, seeded models and optimizers for ``config``."""
    device = device or resolve_device(config.device)
    seed_everything(config.seed)
    generator, discriminator = (net.to(device) for net in build_pair(config))
    betas = (config.b1, config.b2)
    capturable = config.captures_step(device)
    rng = torch.Generator(device=device).manual_seed(config.seed)
    fixed_noise = torch.randn(GRID_SAMPLES, config.latent_dim, generator=rng, device=device)
    return TrainState(
        config=config, device=device, generator=generator, discriminator=discriminator,
        opt_g=make_adam(generator.parameters(), config.lr, betas, device, capturable),
        opt_d=make_adam(discriminator.parameters(), config.discriminator_lr, betas, device,
                        capturable),
        rng=rng, fixed_noise=fixed_noise,
    )


def _layer_grad_norms(layers: Sequence[nn.Module]) -> torch.Tensor:
    """L2 norm of each layer's (weight, bias) gradient, shape (L,), left on the device."""
    params = [layer_parameters(layer) for layer in layers]
    grads = [p.grad for ps in params for p in ps]
    if grads[0].is_cuda:
        # One multi-tensor kernel for every gradient instead of one reduction each.
        norms = torch.stack(torch._foreach_norm(grads))
    else:
        # vector_norm is one reduction per tensor, where square().sum() makes a temporary and
        # a second pass: on the CPU the norms are a noticeable part of a step.
        norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
    sizes = {len(ps) for ps in params}
    if len(sizes) == 1:  # every layer with a bias, or none: one reshape
        return torch.linalg.vector_norm(norms.view(-1, sizes.pop()), dim=1)
    layer_of = torch.tensor([i for i, ps in enumerate(params) for _ in ps], device=norms.device)
    return norms.square().new_zeros(len(params)).index_add_(0, layer_of, norms.square()).sqrt()


def train(
    config: GANConfig,
    callbacks: Sequence[Callback] = (),
    *,
    data: DataSplit | None = None,
    checkpoint: dict[str, Any] | None = None,
    evaluator: Evaluator | None = None,
) -> TrainState:
    """Train the vanilla GAN of ``config``; report through ``callbacks``.

    Args:
        config: the run's settings.
        callbacks: called on start, every log/sample interval, each epoch and at the end.
        data: a preloaded dataset; loaded from ``config`` when omitted.
        checkpoint: a dict from :func:`gan.train.checkpoint.load_checkpoint` to resume from.
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
        restore_state(state, checkpoint)
    if evaluator is None and config.eval_interval > 0:
        evaluator = QualityEvaluator.for_data(split, config, device)
    for cb in callbacks:
        cb.on_train_start(state)
    # A network with its own image size (the DCGAN's 32x32) trains on the resized images; the
    # evaluator judges at the dataset's own size (gan.metrics.quality).
    _Epochs(state, at_size(split.train, config.img_size), callbacks, evaluator).run()
    for cb in callbacks:
        cb.on_train_end(state)
    return state


@dataclass
class _Epochs:
    """The loop over epochs; one instance per :func:`train` call."""

    state: TrainState
    train_x: torch.Tensor  # (N, C, H, W) on the device
    callbacks: Sequence[Callback]
    evaluator: Evaluator | None

    def __post_init__(self) -> None:
        G, D = self.state.generator, self.state.discriminator
        self.g_layers = list(measured_layers(G).values())
        self.d_layers = list(measured_layers(D).values())
        self.g_params, self.d_params = list(G.parameters()), list(D.parameters())
        self.names = step_metric_names(self.state)
        loss = self.state.config.loss
        self.probabilities = loss in PROBABILITY_LOSSES
        self.critic = D if self.probabilities else D.logits
        # Columns that must stay finite (the others are NaN by design for logit losses).
        self.checked = [self.probabilities or n not in PROBABILITY_METRICS for n in self.names]
        self.g_columns = torch.tensor([_is_generator_metric(n) for n in self.names])
        self.bf16 = self.state.config.precision == "bf16"
        # D(x), D(G(z)) of a logit loss: built once, not on every step.
        self.no_probability = torch.full((), math.nan, device=self.state.device)
        self.graphed = GraphedSteps(
            self.step, self.train_x, self.state.config.batch_size, len(self.names),
            torch.tensor(self.checked), self.state.rng) \
            if self.state.config.captures_step(self.state.device) else None

    def run(self) -> None:
        state = self.state
        state.generator.train()
        state.discriminator.train()
        # A run restored in the diverged state stays stopped.
        while state.epoch < state.config.n_epochs and not state.stop_requested \
                and state.status == STATUS_OK:
            self.epoch()
            if state.status == STATUS_DIVERGED:
                log.warning("run diverged (non-finite loss) at epoch %d, step %d; stopping",
                            state.epoch, state.step)

    def epoch(self) -> None:
        state, config = self.state, self.state.config
        started = time.perf_counter()
        bs = config.batch_size
        perm = torch.randperm(len(self.train_x), generator=state.rng, device=state.device)
        steps = len(self.train_x) // bs
        g_steps = 0
        if self.graphed is not None:
            self.graphed.new_epoch(perm)
            totals = self.graphed.totals  # the graphs accumulate the epoch's rows
        else:
            totals = torch.zeros(len(self.names), device=state.device)
        for i in range(steps):
            g_step = self._generator_steps()
            if self.graphed is not None:
                row = self.graphed.run(g_step)
            else:
                row = self.step(self.train_x[perm[i * bs:(i + 1) * bs]], g_step)
                totals += row
            g_steps += g_step
            state.step += 1
            if not self._after_step(row):
                break
        state.epoch += 1
        if self.graphed is not None and self.graphed.captured != state.graphs_captured:
            state.graphs_captured = self.graphed.captured
            log.info("training step captured as %d CUDA graph(s), replayed on every batch",
                     state.graphs_captured)
        counts = torch.where(self.g_columns, max(g_steps, 1), max(steps, 1)).to(totals)
        record = _epoch_record(state, self.names, (totals / counts).tolist(), self.checked)
        record["epoch_seconds"] = time.perf_counter() - started  # training only
        if state.status == STATUS_OK and self.evaluator is not None \
                and config.eval_interval > 0 and state.epoch % config.eval_interval == 0:
            started = time.perf_counter()
            record.update(self.evaluator(state))
            record["eval_seconds"] = time.perf_counter() - started
        state.history.append(record)
        for cb in self.callbacks:
            cb.on_epoch_end(state, record)

    def _generator_steps(self) -> bool:
        """Whether G steps on this batch: every batch, or every n_critic-th (the last of each
        group, so logged steps, multiples of n_critic, are G steps)."""
        return (self.state.step + 1) % self.state.config.n_critic == 0

    def _autocast(self) -> contextlib.AbstractContextManager:
        if not self.bf16:
            return contextlib.nullcontext()
        # A graph must not keep autocast's cached weight casts: they would be stale on replay.
        return torch.autocast(device_type=self.state.device.type, dtype=torch.bfloat16,
                              cache_enabled=self.graphed is None)

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        """D's output on ``images`` (probabilities or logits), in fp32 for the losses."""
        with self._autocast():
            return self.critic(images).float()

    def step(self, real: torch.Tensor, g_step: bool = True) -> torch.Tensor:
        """One G step (when ``g_step``) then one D step on ``real`` (B, C, H, W); the step's
        metrics, (M,), with G's columns 0 when G did not step."""
        state, config = self.state, self.state.config
        G = state.generator
        z = torch.randn(len(real), config.latent_dim, generator=state.rng, device=state.device)

        # Generator first, as in gan.py.
        if g_step:
            state.opt_g.zero_grad(set_to_none=True)
            with self._autocast():
                fake = G(z)
            d_fake = self._score(fake)  # (B, 1); D is unchanged until its step: it reuses this
            g_loss = generator_loss(d_fake, config.loss)
            g_loss.backward(inputs=self.g_params, retain_graph=True)
            g_norms = _layer_grad_norms(self.g_layers)
            state.opt_g.step()
        else:
            with torch.no_grad(), self._autocast():
                fake = G(z)
            d_fake = self._score(fake)
            g_loss, g_norms = torch.zeros((), device=real.device), \
                torch.zeros(len(self.g_layers), device=real.device)

        # gan.py's D(gen_imgs.detach()) equals d_fake: backpropagating d_fake's graph
        # into D's weights only never touches G's (already stepped) part of it.
        state.opt_d.zero_grad(set_to_none=True)
        d_real = self._score(real)
        d_loss = discriminator_loss(d_real, d_fake, config.loss)
        if config.loss == "wgan-gp":
            alpha = torch.rand(len(real), generator=state.rng, device=state.device)
            d_loss = d_loss + config.gp_weight * gradient_penalty(
                self._score, real, fake.detach().float(), alpha)
        d_loss.backward(inputs=self.d_params)
        d_norms = _layer_grad_norms(self.d_layers)
        state.opt_d.step()

        probs = (d_real.detach().mean(), d_fake.detach().mean()) if self.probabilities \
            else (self.no_probability, self.no_probability)
        head = torch.stack([d_loss.detach(), g_loss.detach(), *probs,
                            torch.linalg.vector_norm(g_norms),
                            torch.linalg.vector_norm(d_norms)])
        return torch.cat([head, g_norms, d_norms])

    def _after_step(self, row: torch.Tensor) -> bool:
        """Step and sample callbacks; False once the run diverged (the epoch stops)."""
        state, config = self.state, self.state.config
        if state.step % config.log_interval == 0:
            if self.graphed is not None:  # one sync for the row and the graphs' NaN flag
                values = torch.cat([row, self.graphed.bad.float().view(1)]).tolist()
                bad = bool(values.pop())
            else:
                values, bad = row.tolist(), False
            record = {"step": state.step, "epoch": state.epoch + 1,
                      **dict(zip(self.names, values))}
            for cb in self.callbacks:
                cb.on_step(state, record)
            if bad or not _finite(values, self.checked):
                state.status = STATUS_DIVERGED
                return False
        if state.step % config.sample_interval == 0:
            images = state.sample(state.fixed_noise)
            for cb in self.callbacks:
                cb.on_sample(state, images)
        return True


def _epoch_record(state: TrainState, names: list[str], means: list[float],
                  checked: list[bool]) -> dict[str, Any]:
    record: dict[str, Any] = {"epoch": state.epoch, "step": state.step, **dict(zip(names, means))}
    if not _finite(means, checked):
        state.status = STATUS_DIVERGED
    # Goodfellow et al. 2014, Thm. 1: JSD(p_data, p_g) >= log 2 - d_loss for any D, with
    # equality only at the optimal D; so this is a lower bound, not an estimate. It holds
    # for the BCE d_loss only.
    bce = state.config.loss in PROBABILITY_LOSSES
    record["js_lower_bound"] = max(0.0, math.log(2) - record["d_loss"]) \
        if bce and math.isfinite(record["d_loss"]) else math.nan
    record["status"] = state.status
    return record
