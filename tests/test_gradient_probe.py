"""The report's gradient probe: its numerics, its snapshots and its worker processes."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch

from analysis import gradient_probe
from analysis.gradient_probe import COSTS, _grad_norms, stage_probe
from gan.records import layout
from gan.train.losses import generator_loss
from gan.models.mlp import Discriminator, Generator
from gan.train.loop import train
from gan.train.callbacks import GeneratorSnapshots
from tests.conftest import tiny_config


def _separate_norms(generator, discriminator, config, seed):
    """The probe's four gradient norms, each from its own forward pass (the plain way)."""
    z = torch.randn(gradient_probe.PROBE_BATCH, config.latent_dim,
                    generator=torch.Generator().manual_seed(seed))
    out = {}
    for cost in COSTS:
        fake = generator(z)
        if cost.endswith("_logits"):
            loss = gradient_probe._logit_cost(discriminator.logits(fake),
                                              cost.removesuffix("_logits"))
        else:
            loss = generator_loss(discriminator(fake), cost)
        grads = torch.autograd.grad(loss, list(generator.parameters()))
        out[cost] = float(torch.sqrt(sum((g ** 2).sum() for g in grads)))
    return out


def test_shared_forward_gives_each_costs_own_gradient_norm():
    config = tiny_config()
    torch.manual_seed(0)
    generator, discriminator = Generator(config), Discriminator(config)
    generator.train()
    shared = _grad_norms(generator, discriminator, config, torch.Generator().manual_seed(3),
                         torch.device("cpu"))
    plain = _separate_norms(generator, discriminator, config, 3)
    assert shared == pytest.approx(plain, rel=1e-5)
    assert len({round(v, 6) for v in shared.values()}) > 1  # four different costs, not one


def test_generator_snapshots_are_the_weights_after_those_epochs(tmp_path, synthetic):
    config = tiny_config(n_epochs=3)
    state = train(config, [GeneratorSnapshots(tmp_path, frozenset({1, 3}))], data=synthetic)
    snaps = layout.generator_snapshots(tmp_path)
    assert sorted(snaps) == [1, 3]
    last = torch.load(snaps[3], weights_only=True)
    for key, value in state.generator.state_dict().items():
        assert torch.equal(last[key], value), key
    first = torch.load(snaps[1], weights_only=True)
    assert any(not torch.equal(first[k], last[k]) for k in last)


def test_probe_from_snapshots_trains_nothing_and_workers_do_not_change_rows(
        tmp_path, synthetic, monkeypatch):
    config = tiny_config(n_epochs=2)
    train(config, [GeneratorSnapshots(tmp_path, frozenset({1, 2}))], data=synthetic)
    snaps = layout.generator_snapshots(tmp_path)

    def no_training(*args, **kwargs):
        raise AssertionError("the probe trained G again although snapshots were given")

    monkeypatch.setattr(gradient_probe, "train", no_training)
    inline = stage_probe(config, synthetic, [1, 2], seeds=2, iterations=20, every=10,
                         snapshots=snaps, workers=1)
    pooled = stage_probe(config, synthetic, [1, 2], seeds=2, iterations=20, every=10,
                         snapshots=snaps, workers=2)
    assert len(inline) == 2 * 2 * 3  # stages x seeds x (iterations / every + 1)
    assert set(inline["stage_epoch"]) == {1, 2} and set(inline["probe_seed"]) == {0, 1}
    key = ["stage_epoch", "probe_seed", "d_iteration"]
    pd.testing.assert_frame_equal(inline.sort_values(key).reset_index(drop=True),
                                  pooled.sort_values(key).reset_index(drop=True),
                                  rtol=1e-2)  # one thread per worker: other float sums


def test_probe_without_snapshots_retrains_the_same_generator(tmp_path, synthetic):
    config = tiny_config(n_epochs=2)
    train(config, [GeneratorSnapshots(tmp_path, frozenset({2}))], data=synthetic)
    saved = torch.load(layout.generator_snapshots(tmp_path)[2], weights_only=True)
    again = gradient_probe.stage_weights(dataclasses.replace(config, n_epochs=5), synthetic, [2])
    for key, value in saved.items():
        assert torch.allclose(again[2][key].float(), value.float(), atol=1e-6), key
