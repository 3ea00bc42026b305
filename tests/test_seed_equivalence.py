"""The optimized loop computes what gan.py's loop computes, step for step."""

import copy

import pytest
import torch

from conftest import tiny_config
from gan.train.loop import train
from gan.bench.step import gan_py_step
from gan.train.runtime import make_adam
from gan.train.loop import build_state


def seed_loop(config, data, steps):
    """gan.bench.step's gan.py-style step, fed the same batches and noise as gan.train."""
    state = build_state(config)  # same seeded init and RNG stream as gan.train
    G, D, rng = copy.deepcopy(state.generator), copy.deepcopy(state.discriminator), state.rng
    opt_g = make_adam(G.parameters(), config.lr, (config.b1, config.b2), state.device)
    opt_d = make_adam(D.parameters(), config.lr, (config.b1, config.b2), state.device)
    bs, done = config.batch_size, 0
    while done < steps:
        perm = torch.randperm(len(data), generator=rng)
        for i in range(len(data) // bs):
            real = data[perm[i * bs:(i + 1) * bs]]
            z = torch.randn(bs, config.latent_dim, generator=rng)
            gan_py_step(G, D, opt_g, opt_d, real, z, config.loss)
            done += 1
            if done == steps:
                break
    return G, D


@pytest.mark.parametrize("loss", ["ns", "minimax"])
def test_loop_matches_the_seed_step_for_step(synthetic, loss):
    config = tiny_config(n_epochs=1, loss=loss)
    steps = len(synthetic.train) // config.batch_size
    ours = train(config, data=synthetic)
    G, D = seed_loop(config, synthetic.train, steps)
    for mine, ref in ((ours.generator, G), (ours.discriminator, D)):
        for (name, p), q in zip(mine.named_parameters(), ref.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5, msg=name)
