import torch

from gan.config import GANConfig
from gan.models import Discriminator, Generator, count_parameters, linear_layers


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


def test_linear_layer_names():
    assert list(linear_layers(Generator(GANConfig()))) == [f"fc{i}" for i in range(5)]
    assert list(linear_layers(Discriminator(GANConfig()))) == ["fc0", "fc1", "fc2"]
