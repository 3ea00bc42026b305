import sys
import textwrap

import pytest
import torch

from gan.config import GANConfig
from gan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan.models.mlp import Discriminator, Generator
from gan.models.registry import (ModelError, build_pair, check_pair, count_parameters,
                                 measured_layers, model_settings)
from gan.bench.floor import forward_macs, step_macs

DCGAN = GANConfig(model="dcgan", **model_settings("dcgan"))


def test_parameter_counts_match_the_seed():
    c = GANConfig()
    assert count_parameters(Generator(c)) == 1_510_032
    assert count_parameters(Discriminator(c)) == 533_505


def test_forward_shapes_and_ranges():
    c = GANConfig(latent_dim=8)
    g, d = Generator(c), Discriminator(c)
    imgs = g(torch.randn(5, 8))
    assert imgs.shape == (5, 1, 28, 28) and imgs.abs().max() <= 1
    p = d(imgs)
    assert p.shape == (5, 1) and ((p > 0) & (p < 1)).all()


def test_bn_eps_is_eps_not_momentum():
    bns = [m for m in Generator(GANConfig(bn_eps=0.8)).modules()
           if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bns) == 3 and all(b.eps == 0.8 and b.momentum == 0.1 for b in bns)
    assert all(b.eps == 1e-5 for b in Generator(GANConfig(bn_eps=1e-5)).modules()
               if isinstance(b, torch.nn.BatchNorm1d))


def test_layer_names():
    assert list(measured_layers(Generator(GANConfig()))) == [f"fc{i}" for i in range(5)]
    assert list(measured_layers(Discriminator(GANConfig()))) == ["fc0", "fc1", "fc2"]
    G, D = build_pair(DCGAN)
    assert list(measured_layers(G)) == [f"deconv{i}" for i in range(4)]
    assert list(measured_layers(D)) == [f"conv{i}" for i in range(4)]


def test_dcgan_is_ray_tunes_network():
    """nz 100, ngf = ndf = 32, bias-free: 369,600 + 166,784 weights; 4.5 M and 4.3 M
    multiply-adds a sample, the arithmetic the study's docs quote."""
    G, D = DCGANGenerator(DCGAN), DCGANDiscriminator(DCGAN)
    assert (count_parameters(G), count_parameters(D)) == (369_600, 166_784)
    z = torch.randn(3, 100)
    images = G(z)
    assert images.shape == (3, 1, 32, 32) and images.abs().max() <= 1
    assert D(images).shape == (3, 1) and D.logits(images).shape == (3, 1)
    assert forward_macs(G, z[:1]) == 4_530_176
    assert forward_macs(D, images[:1]) == 4_327_424
    macs = step_macs(DCGAN)
    assert macs["step"] == 3 * (macs["g"] + 2 * macs["d"]) == 3 * 64 * (4_530_176 + 2 * 4_327_424)


def test_dcgan_takes_the_runs_bn_eps_and_needs_32x32():
    bns = [m for m in DCGANGenerator(GANConfig(model="dcgan", img_size=32, bn_eps=1e-5)).modules()
           if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 3 and all(b.eps == 1e-5 for b in bns)
    with pytest.raises(ModelError, match="32x32.*img_size must be 32, got 28"):
        check_pair(GANConfig(model="dcgan"))
    assert model_settings("dcgan", {"img_size"}) == {} and model_settings("mlp") == {}


def test_unknown_model_names_itself():
    with pytest.raises(ValueError, match="'vgg'"):
        GANConfig(model="vgg")
    with pytest.raises(ModelError, match="cannot import no_such_package_xyz"):
        check_pair(GANConfig(model="no_such_package_xyz.nets:build"))


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of user pairs on sys.path: a good one and three that break the contract."""
    (tmp_path / "user_nets.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class G(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.shape = config.img_shape
                self.fc = nn.Linear(config.latent_dim, 28 * 28)
            def forward(self, z):
                return torch.tanh(self.fc(z)).view(len(z), *self.shape)

        class D(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.fc = nn.Linear(28 * 28, 1)
            def logits(self, x):
                return self.fc(x.flatten(1))
            def forward(self, x):
                return torch.sigmoid(self.logits(x))

        def build(config):
            return G(config), D(config)

        def wrong_shape(config):
            g = nn.Sequential(nn.Linear(config.latent_dim, 10), nn.Tanh())
            return g, D(config)

        def one_net(config):
            return G(config)

        class NoLogits(D):
            logits = None
            def forward(self, x):
                return torch.sigmoid(self.fc(x.flatten(1)))

        def no_logits(config):
            return G(config), NoLogits(config)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "user_nets"
    sys.modules.pop("user_nets", None)


def test_a_users_pair_from_a_module_path(user_module):
    config = GANConfig(model=f"{user_module}:build", latent_dim=8)
    check_pair(config)
    G, D = build_pair(config)
    assert list(measured_layers(G)) == ["fc0"] and list(measured_layers(D)) == ["fc0"]


@pytest.mark.parametrize("attr, message", [
    ("wrong_shape", r"G\(z\) must be \(2, 1, 28, 28\), got \(2, 10\)"),
    ("one_net", "must return \\(G, D\\)"),
    ("missing", "has no callable missing"),
])
def test_a_broken_users_pair_names_what_it_broke(user_module, attr, message):
    with pytest.raises(ModelError, match=message):
        check_pair(GANConfig(model=f"{user_module}:{attr}", latent_dim=8))


def test_a_logit_loss_needs_d_logits(user_module):
    check_pair(GANConfig(model=f"{user_module}:no_logits", latent_dim=8))  # ns: no logits needed
    with pytest.raises(ModelError, match="lsgan trains on D.logits"):
        check_pair(GANConfig(model=f"{user_module}:no_logits", latent_dim=8, loss="lsgan"))
