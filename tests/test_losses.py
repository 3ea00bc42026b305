import pytest
import torch

from gan.losses import discriminator_loss, generator_loss


@pytest.mark.parametrize("kind,expected", [
    ("ns", lambda p: -(1 - p)),  # d/da of -log sigmoid(a)
    ("minimax", lambda p: -p),   # d/da of log(1 - sigmoid(a))
])
def test_gradient_at_the_discriminator_logit(kind, expected):
    logits = torch.tensor([-6.0, -2.0, 0.0, 1.5, 4.0], dtype=torch.float64, requires_grad=True)
    p = torch.sigmoid(logits)
    generator_loss(p, kind).backward()
    n = logits.numel()  # the loss is a batch mean
    torch.testing.assert_close(logits.grad * n, expected(p.detach()))


def test_minimax_saturates_where_ns_does_not():
    """When D confidently rejects fakes, minimax gives G almost no gradient."""
    logits = torch.tensor([-8.0], dtype=torch.float64, requires_grad=True)
    generator_loss(torch.sigmoid(logits), "minimax").backward()
    mm = logits.grad.abs().item()
    logits.grad = None
    generator_loss(torch.sigmoid(logits), "ns").backward()
    assert mm < 1e-3 < logits.grad.abs().item()


def test_discriminator_loss_is_mean_of_halves():
    real, fake = torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.3])
    expected = (-(real.log()).mean() - (1 - fake).log().mean()) / 2
    torch.testing.assert_close(discriminator_loss(real, fake), expected)


def test_unknown_loss():
    with pytest.raises(ValueError, match="wgan"):
        generator_loss(torch.tensor([0.5]), "wgan")


def test_matches_torch_bce_and_propagates_nan():
    import torch.nn.functional as F

    p = torch.tensor([1e-30, 1e-6, 0.3, 0.5, 0.9, 1 - 1e-7, 1.0, 0.0], dtype=torch.float32)
    ones, zeros = torch.ones_like(p), torch.zeros_like(p)
    torch.testing.assert_close(generator_loss(p, "ns"), F.binary_cross_entropy(p, ones))
    torch.testing.assert_close(generator_loss(p, "minimax"), -F.binary_cross_entropy(p, zeros))
    nan = torch.tensor([0.5, float("nan")])
    assert torch.isnan(discriminator_loss(nan, nan)) and torch.isnan(generator_loss(nan, "ns"))


@pytest.mark.parametrize("kind", ["ns", "minimax"])
def test_gradient_equals_torch_bce_even_when_d_saturates(kind):
    """At p = 0 or 1 exactly (a saturated sigmoid) the gradient must stay finite, as BCELoss's."""
    import torch.nn.functional as F

    values = [0.0, 1e-30, 1e-13, 1e-6, 0.3, 0.5, 0.9, 1 - 1e-7, 1.0]
    p = torch.tensor(values, requires_grad=True)
    generator_loss(p, kind).backward()
    q = torch.tensor(values, requires_grad=True)
    target = torch.ones_like(q) if kind == "ns" else torch.zeros_like(q)
    (F.binary_cross_entropy(q, target) * (1 if kind == "ns" else -1)).backward()
    assert torch.isfinite(p.grad).all()
    torch.testing.assert_close(p.grad, q.grad)
    real = torch.tensor(values, requires_grad=True)
    discriminator_loss(real, real.detach()).backward()
    assert torch.isfinite(real.grad).all()
