import pytest
import torch

from gan.train.losses import discriminator_loss, generator_loss, gradient_penalty


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


# --- the logit losses, each against a hand computation on two-element batches ---
REAL, FAKE = [2.0, -1.0], [0.5, -3.0]  # D's logits


def _logits(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("kind,d_value,d_grad_real,d_grad_fake", [
    # lsgan: ((r - 1)^2 mean + f^2 mean) / 2; d/dr_i = (r_i - 1) / n, d/df_i = f_i / n
    ("lsgan", ((1 + 4) / 2 + (0.25 + 9) / 2) / 2, [0.5, -1.0], [0.25, -1.5]),
    # hinge: relu(1 - r) mean + relu(1 + f) mean = (0 + 2)/2 + (1.5 + 0)/2
    ("hinge", 1.0 + 0.75, [0.0, -0.5], [0.5, 0.0]),
    # wgan-gp (without the penalty): mean f - mean r = -1.25 - 0.5
    ("wgan-gp", -1.25 - 0.5, [-0.5, -0.5], [0.5, 0.5]),
])
def test_discriminator_logit_losses(kind, d_value, d_grad_real, d_grad_fake):
    real, fake = _logits(REAL), _logits(FAKE)
    loss = discriminator_loss(real, fake, kind)
    loss.backward()
    assert loss.item() == pytest.approx(d_value)
    assert real.grad.tolist() == pytest.approx(d_grad_real)
    assert fake.grad.tolist() == pytest.approx(d_grad_fake)


@pytest.mark.parametrize("kind,g_value,g_grad", [
    ("lsgan", ((0.5 - 1) ** 2 + 16) / 2 / 2, [-0.25, -2.0]),  # (f - 1)^2 mean / 2
    ("hinge", 1.25, [-0.5, -0.5]),  # -mean f
    ("wgan-gp", 1.25, [-0.5, -0.5]),
])
def test_generator_logit_losses(kind, g_value, g_grad):
    fake = _logits(FAKE)
    loss = generator_loss(fake, kind)
    loss.backward()
    assert loss.item() == pytest.approx(g_value)
    assert fake.grad.tolist() == pytest.approx(g_grad)


def test_unknown_discriminator_loss():
    with pytest.raises(ValueError, match="'wgan'.*wgan-gp"):
        discriminator_loss(torch.tensor([0.5]), torch.tensor([0.5]), "wgan")


def test_gradient_penalty_of_a_linear_critic():
    """critic(x) = <w, x>: its gradient is w everywhere, so the penalty is (|w| - 1)^2."""
    w = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)  # |w| = 5
    critic = lambda x: (x * w).sum(dim=1, keepdim=True)  # noqa: E731
    real, fake = torch.randn(4, 2, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64)
    penalty = gradient_penalty(critic, real, fake, torch.rand(4, dtype=torch.float64))
    assert penalty.item() == pytest.approx(16.0)
    penalty.backward()  # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    assert w.grad.tolist() == pytest.approx([2 * 4 * 3 / 5, 2 * 4 * 4 / 5])


def test_gradient_penalty_matches_autograd_on_a_quadratic_critic():
    """critic(x) = |x|^2 / 2 has gradient x: the penalty is mean((|x_hat| - 1)^2), with
    x_hat = alpha real + (1 - alpha) fake; also on image-shaped (B, C, H, W) inputs."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(3, 1, 2, 2, generator=gen, dtype=torch.float64)
    fake = torch.randn(3, 1, 2, 2, generator=gen, dtype=torch.float64)
    alpha = torch.tensor([0.0, 0.25, 1.0], dtype=torch.float64)
    critic = lambda x: 0.5 * x.flatten(1).square().sum(dim=1, keepdim=True)  # noqa: E731
    x_hat = alpha.view(-1, 1, 1, 1) * real + (1 - alpha.view(-1, 1, 1, 1)) * fake
    expected = (x_hat.flatten(1).norm(dim=1) - 1).square().mean()
    torch.testing.assert_close(gradient_penalty(critic, real, fake, alpha), expected)
    with pytest.raises(ValueError, match="alpha"):
        gradient_penalty(critic, real, fake, alpha[:2])
