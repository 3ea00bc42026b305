"""Shared fixtures. Tests run on the CPU with small synthetic or embedded data."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# One classifier cache per pytest run, outside the user's home; subprocesses inherit it.
os.environ["GAN_STUDY_CACHE"] = tempfile.mkdtemp(prefix="gan-study-cache-")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def embedded():
    from gan.config import GANConfig
    from gan.data import load_data

    return load_data(GANConfig(dataset="embedded"))


@pytest.fixture(scope="session")
def synthetic():
    from gan.config import GANConfig
    from gan.data import load_data

    return load_data(GANConfig(dataset="synthetic"))


def tiny_config(**overrides):
    from gan.config import GANConfig

    base = dict(dataset="synthetic", n_epochs=2, batch_size=32, latent_dim=16, eval_interval=0,
                log_interval=5, sample_interval=10, device="cpu")
    return GANConfig(**{**base, **overrides})
