"""The captured step's machinery, on the CPU: batches drawn on the device from the epoch's
static index buffer, totals and the non-finite flag kept by the step itself. (The capture and
replay need CUDA: tests/test_gpu.py.)"""

import math

import pytest
import torch

from conftest import tiny_config
from gan.train.state import STATUS_DIVERGED
from gan.train import loop
from gan.train.graphed import GraphedSteps


def _run(config, data, graphed: bool):
    state = loop.build_state(config)
    epochs = loop._Epochs(state, data.train[:640], [], None)  # 20 batches an epoch
    if graphed:  # the graphs' body, run eagerly: exactly what each replay executes
        epochs.graphed = GraphedSteps(epochs.step, epochs.train_x, config.batch_size,
                                      len(epochs.names), torch.tensor(epochs.checked), state.rng)
        epochs.graphed.eager = True
    epochs.run()
    return state


@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_static_buffer_step_equals_the_eager_loop(synthetic, loss):
    extra = {"n_critic": 5, "b1": 0.0, "b2": 0.9} if loss == "wgan-gp" else {}
    config = tiny_config(n_epochs=2, loss=loss, **extra)
    plain, buffered = _run(config, synthetic, False), _run(config, synthetic, True)
    for a, b in zip(plain.generator.parameters(), buffered.generator.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(plain.history, buffered.history):
        assert a["g_loss"] == b["g_loss"] and a["d_grad_norm"] == b["d_grad_norm"]
    assert torch.equal(plain.rng.get_state(), buffered.rng.get_state())


def test_a_nan_between_log_steps_is_caught_at_the_next_one(synthetic):
    config = tiny_config(n_epochs=1, log_interval=5)
    state = loop.build_state(config)
    epochs = loop._Epochs(state, synthetic.train, [], None)
    epochs.graphed = GraphedSteps(epochs.step, epochs.train_x, config.batch_size,
                                  len(epochs.names), torch.tensor(epochs.checked), state.rng)
    epochs.graphed.eager = True
    calls = {"n": 0}
    step = epochs.step

    def poisoned(real, g_step):
        calls["n"] += 1
        row = step(real, g_step)
        return row if calls["n"] != 3 else row * math.nan  # step 3 only; 4 and 5 are finite

    epochs.graphed.step = poisoned
    epochs.run()
    assert state.status == STATUS_DIVERGED and state.step == 5  # the log step after the NaN


class _FakeGraph:
    """Stands in for torch.cuda.CUDAGraph on the CPU; ``register`` decides whether the
    generator registration works (a torch without it raises)."""

    register = True

    def register_generator_state(self, rng):
        if not _FakeGraph.register:
            raise AttributeError("'CUDAGraph' object has no attribute 'register_generator_state'")


class _FailingCapture:
    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        raise RuntimeError("operation not permitted when stream is capturing")

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("register", [True, False], ids=["capture fails", "no registration"])
def test_a_failed_capture_goes_on_eagerly_and_bit_exactly(synthetic, monkeypatch, caplog,
                                                          register):
    """Capture is made to fail on purpose (the CPU has no CUDA graphs): the run must say so in
    one line, capture nothing, and train exactly what the eager loop trains."""
    monkeypatch.setattr(_FakeGraph, "register", register)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", _FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", _FailingCapture)
    monkeypatch.setattr(torch.cuda, "graph_pool_handle", lambda: object())
    monkeypatch.setattr(GraphedSteps, "_warmup", lambda self, g_step: self._body(g_step))
    config = tiny_config(n_epochs=2)
    plain = _run(config, synthetic, False)
    state = loop.build_state(config)
    epochs = loop._Epochs(state, synthetic.train[:640], [], None)
    epochs.graphed = GraphedSteps(epochs.step, epochs.train_x, config.batch_size,
                                  len(epochs.names), torch.tensor(epochs.checked), state.rng)
    with caplog.at_level("WARNING", logger="gan.train.graphed"):
        epochs.run()
    assert epochs.graphed.eager and epochs.graphed.captured == 0
    warned = [r.getMessage() for r in caplog.records if "trains eagerly" in r.getMessage()]
    assert len(warned) == 1, warned
    assert ("register" in warned[0]) != register
    for a, b in zip(plain.generator.parameters(), state.generator.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(plain.rng.get_state(), state.rng.get_state())
