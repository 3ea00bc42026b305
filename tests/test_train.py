import math

import pytest
import torch

from conftest import tiny_config
from gan.train.state import Callback
from gan.train.loop import train
from gan.train.checkpoint import checkpoint_dict, load_checkpoint, save_checkpoint


class Recorder(Callback):
    def __init__(self):
        self.steps, self.samples, self.epochs = [], [], []

    def on_step(self, state, record):
        self.steps.append(record)

    def on_sample(self, state, images):
        self.samples.append(images.shape)

    def on_epoch_end(self, state, record):
        self.epochs.append(record)


def test_few_steps_give_finite_metrics_and_callbacks(synthetic):
    rec = Recorder()
    state = train(tiny_config(), [rec], data=synthetic)
    assert state.status == "ok" and state.epoch == 2 and state.step == 2 * (640 // 32)
    assert [r["epoch"] for r in rec.epochs] == [1, 2]
    for r in rec.epochs:
        for key in ("d_loss", "g_loss", "d_real", "d_fake", "js_lower_bound", "g_grad_norm",
                    "d_grad_norm", "g_grad_fc0", "g_grad_fc4", "d_grad_fc2"):
            assert math.isfinite(r[key]), key
        assert 0 <= r["js_lower_bound"] <= math.log(2)
        assert r["g_grad_norm"] >= r["g_grad_fc0"] > 0
    assert len(rec.steps) == state.step // 5
    assert rec.samples == [(25, 1, 28, 28)] * (state.step // 10)


def test_same_seed_same_metrics_other_seed_differs(synthetic):
    a = train(tiny_config(seed=3), data=synthetic).history
    b = train(tiny_config(seed=3), data=synthetic).history
    c = train(tiny_config(seed=4), data=synthetic).history
    strip = lambda h: [{k: v for k, v in r.items() if k != "epoch_seconds"} for r in h]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_resume_continues_exactly(synthetic, tmp_path):
    straight = train(tiny_config(n_epochs=3), data=synthetic)
    first = train(tiny_config(n_epochs=1), data=synthetic)
    path = save_checkpoint(first, tmp_path / "ckpt.pt")
    resumed = train(tiny_config(n_epochs=3), data=synthetic, checkpoint=load_checkpoint(path))
    assert resumed.step == straight.step and resumed.epoch == 3
    for p, q in zip(straight.generator.state_dict().values(),
                    resumed.generator.state_dict().values()):
        assert torch.equal(p, q)
    assert straight.history[-1]["g_loss"] == resumed.history[-1]["g_loss"]
    ckpt = checkpoint_dict(resumed)
    assert {"opt_g", "opt_d", "rng", "config", "package_version"} <= set(ckpt)
    assert ckpt["opt_g"]["state"], "optimizer moments must be saved"


@pytest.mark.parametrize("model", ["dcgan", "tiny_nets:build"])
def test_other_networks_train_log_their_layers_and_resume_exactly(synthetic, tmp_path, model):
    """Ray Tune's DCGAN (32x32, on resized digits) and a user's pair by module path: the same
    loop, gradient norms named by their own layers, checkpoints that resume bit for bit."""
    config = lambda n: tiny_config(model=model, n_epochs=n, img_size=32 if model == "dcgan"  # noqa: E731
                                   else 28)
    straight = train(config(2), data=synthetic)
    first = train(config(1), data=synthetic)
    resumed = train(config(2), data=synthetic,
                    checkpoint=load_checkpoint(save_checkpoint(first, tmp_path / "ckpt.pt")))
    for p, q in zip(straight.generator.state_dict().values(),
                    resumed.generator.state_dict().values()):
        assert torch.equal(p, q)
    assert straight.history[-1]["g_loss"] == resumed.history[-1]["g_loss"]
    last = straight.history[-1]
    layer = "g_grad_deconv3" if model == "dcgan" else "g_grad_deconv0"
    assert math.isfinite(last[layer]) and last[layer] > 0 and math.isfinite(last["d_grad_conv0"])
    size = 32 if model == "dcgan" else 28
    assert straight.sample(straight.fixed_noise).shape == (25, 1, size, size)


def test_nan_stops_cleanly(synthetic):
    """An absurd learning rate drives weights to inf; the run ends with status diverged."""
    class Poison(Callback):
        def on_step(self, state, record):
            with torch.no_grad():
                for p in state.generator.parameters():
                    p.fill_(float("nan"))

    state = train(tiny_config(n_epochs=5), [Poison()], data=synthetic)
    assert state.status == "diverged"
    assert state.epoch < 5
    assert state.history[-1]["status"] == "diverged"


def test_minimax_runs(synthetic):
    assert train(tiny_config(loss="minimax", n_epochs=1), data=synthetic).status == "ok"


def test_load_checkpoint_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(bad)
    with pytest.raises(ValueError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


@pytest.mark.parametrize("loss", ["lsgan", "hinge", "wgan-gp"])
def test_logit_losses_train_and_leave_probabilities_undefined(synthetic, loss):
    rec = Recorder()
    config = tiny_config(loss=loss, n_critic=5 if loss == "wgan-gp" else 1)
    state = train(config, [rec], data=synthetic)
    assert state.status == "ok" and state.epoch == 2
    for r in rec.epochs:
        assert math.isfinite(r["d_loss"]) and math.isfinite(r["g_loss"])
        assert r["g_grad_norm"] > 0 and r["d_grad_norm"] > 0
        # D ends without a sigmoid: D(x), D(G(z)) and the JS bound do not apply.
        assert math.isnan(r["d_real"]) and math.isnan(r["d_fake"])
        assert math.isnan(r["js_lower_bound"])
    assert all(math.isfinite(s["g_grad_norm"]) and s["g_grad_norm"] > 0 for s in rec.steps)


def test_n_critic_steps_the_generator_on_every_nth_batch(synthetic):
    """With n_critic 5, Adam has stepped G 4 times and D 20 times after 20 batches."""
    state = train(tiny_config(loss="wgan-gp", n_critic=5, n_epochs=1), data=synthetic)
    adam_steps = lambda opt: {int(s["step"]) for s in opt.state.values()}  # noqa: E731
    assert state.step == 20
    assert adam_steps(state.opt_g) == {4} and adam_steps(state.opt_d) == {20}
    with pytest.raises(ValueError, match="multiple of n_critic 5"):
        tiny_config(loss="wgan-gp", n_critic=5, log_interval=7)


@pytest.mark.parametrize("loss", ["ns", "wgan-gp"])
def test_bf16_autocast_trains_close_to_fp32_and_keeps_fp32_state(synthetic, loss):
    n_critic = 5 if loss == "wgan-gp" else 1
    fp32 = train(tiny_config(loss=loss, n_critic=n_critic, n_epochs=1), data=synthetic)
    bf16 = train(tiny_config(loss=loss, n_critic=n_critic, n_epochs=1, precision="bf16"),
                 data=synthetic)
    assert bf16.status == "ok"
    assert all(p.dtype == torch.float32 for p in bf16.generator.parameters())
    a, b = fp32.history[0], bf16.history[0]
    assert a["d_loss"] != b["d_loss"]  # autocast really changed the numerics ...
    assert b["d_loss"] == pytest.approx(a["d_loss"], rel=0.1, abs=0.05)  # ... by a little
    with pytest.raises(ValueError, match="precision must be one of"):
        tiny_config(precision="fp16")
