"""The CUDA path; skipped where no GPU is present (CI has none)."""

import pytest
import torch

from conftest import tiny_config
from gan import train
from gan.checkpoint import checkpoint_dict

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
