"""The CUDA path; skipped where no GPU is present (CI has none)."""

import dataclasses

import pytest
import torch

from conftest import tiny_config
from gan.train.loop import train
from gan.train.checkpoint import checkpoint_dict

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_auto_device_picks_cuda_and_trains(synthetic):
    state = train(tiny_config(device="auto"), data=synthetic)
    assert state.device.type == "cuda" and state.status == "ok"
    assert next(state.generator.parameters()).is_cuda


def test_cuda_resume_is_exact(synthetic):
    straight = train(tiny_config(device="cuda", n_epochs=2), data=synthetic)
    first = train(tiny_config(device="cuda", n_epochs=1), data=synthetic)
    resumed = train(tiny_config(device="cuda", n_epochs=2), data=synthetic,
                    checkpoint=checkpoint_dict(first))
    assert resumed.history[-1]["g_loss"] == pytest.approx(straight.history[-1]["g_loss"],
                                                          rel=1e-4)


LOSSES = ("ns", "minimax", "lsgan", "hinge", "wgan-gp")


def _graphs(config):
    return dataclasses.replace(config, cuda_graphs="auto"), \
        dataclasses.replace(config, cuda_graphs="off")


@pytest.mark.parametrize("loss", LOSSES)
def test_captured_step_equals_the_eager_step(synthetic, loss):
    """A few hundred steps of each loss (wgan-gp: its penalty's double backward, 5 critic
    steps per G step), replayed as CUDA graphs and run eagerly: the same parameters."""
    extra = {"n_critic": 5, "b1": 0.0, "b2": 0.9} if loss == "wgan-gp" else {}
    base = tiny_config(device="cuda", n_epochs=2, loss=loss, log_interval=5, **extra)
    captured, eager = (train(c, data=synthetic) for c in _graphs(base))
    assert captured.status == eager.status == "ok" and captured.step >= 300
    # the graphs really ran (a failed capture would fall back to eager and pass the rest)
    assert captured.graphs_captured == (2 if loss == "wgan-gp" else 1)
    assert eager.graphs_captured == 0
    for a, b in zip(captured.generator.parameters(), eager.generator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(captured.discriminator.parameters(), eager.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert captured.history[-1]["g_loss"] == pytest.approx(eager.history[-1]["g_loss"],
                                                           rel=1e-3, abs=1e-5)


def test_captured_resume_continues_exactly(synthetic):
    config = tiny_config(device="cuda", n_epochs=2, cuda_graphs="auto")
    straight = train(config, data=synthetic)
    first = train(dataclasses.replace(config, n_epochs=1), data=synthetic)
    resumed = train(config, data=synthetic, checkpoint=checkpoint_dict(first))
    assert straight.graphs_captured == resumed.graphs_captured == 1
    for a, b in zip(straight.generator.parameters(), resumed.generator.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert torch.equal(straight.rng.get_state(), resumed.rng.get_state())


def test_captured_run_that_diverges_is_stopped(synthetic):
    """An absurd learning rate drives the losses to NaN: the graphs' flag ends the run as
    diverged, as the eager loop does."""
    config = tiny_config(device="cuda", n_epochs=3, lr=1e4, log_interval=5)
    captured, eager = (train(c, data=synthetic) for c in _graphs(config))
    assert eager.status == "diverged" and captured.status == "diverged"
    assert captured.graphs_captured == 1  # the flag of a replayed graph ended it
    assert captured.step <= eager.step + config.log_interval
