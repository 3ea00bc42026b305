"""Sample-quality and mode-collapse metrics: pure functions of classifier outputs.

Inputs are classifier softmax probabilities ``(N, C)`` and penultimate-layer
features ``(N, D)``; outputs are Python floats or ints. Every function checks
its inputs and raises ``ValueError`` naming the bad value.
"""

from __future__ import annotations

import math

import torch

MODE_SHARE = 0.05  # a class counts as a mode when it gets at least 5% of the samples
NN_K = 5  # Naeem et al. 2020 use k = 5


def _check_probs(probs: torch.Tensor) -> None:
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"probs must be (N>0, C>=2), got shape {tuple(probs.shape)}")
    if not torch.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("probs must be finite and non-negative")
    sums = probs.sum(dim=1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
        raise ValueError(f"probs rows must sum to 1, got sums in [{sums.min():.4f}, {sums.max():.4f}]")


def _check_features(name: str, feats: torch.Tensor, min_rows: int = 2) -> None:
    if feats.ndim != 2 or feats.shape[0] < min_rows:
        raise ValueError(f"{name} must be (N>={min_rows}, D), got shape {tuple(feats.shape)}")
    if not torch.isfinite(feats).all():
        raise ValueError(f"{name} contains NaN or inf")


def class_histogram(probs: torch.Tensor) -> torch.Tensor:
    """Share of samples predicted as each class (argmax), shape (C,), summing to 1.

    Args:
        probs: (N, C) softmax outputs.
    """
    _check_probs(probs)
    counts = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1]).double()
    return counts / counts.sum()


def count_modes(probs: torch.Tensor, min_share: float = MODE_SHARE) -> int:
    """How many classes get at least ``min_share`` of the predicted labels.

    Args:
        probs: (N, C) softmax outputs.
        min_share: the share in (0, 1] that makes a class a mode.

    Returns:
        An int in [0, C].

    Raises:
        ValueError: for malformed probs or a share outside (0, 1].
    """
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    return int((class_histogram(probs) >= min_share).sum().item())


def class_kl(probs: torch.Tensor) -> float:
    """KL(p(y) || uniform) in nats, p(y) the predicted-class histogram.

    0 for perfectly balanced classes, log C when every sample is one class.
    """
    hist = class_histogram(probs)
    nz = hist[hist > 0]
    return float((nz * (nz * hist.numel()).log()).sum())


def normalized_class_entropy(probs: torch.Tensor) -> float:
    """H(p(y)) / log C in [0, 1]: 1 when predicted classes are balanced."""
    return min(1.0, max(0.0, 1.0 - class_kl(probs) / math.log(probs.shape[1])))


def inception_score(probs: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) (Salimans et al. 2016) with the dataset's classifier.

    Ranges from 1 (all samples alike or unsure) to C (confident, balanced).
    """
    _check_probs(probs)
    p = probs.double()
    marginal = p.mean(dim=0, keepdim=True)
    kl = (p * (p.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(dim=1)
    return float(math.exp(kl.mean().item()))


def frechet_distance(real_feats: torch.Tensor, fake_feats: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID's formula).

    ``|mu_r - mu_f|^2 + tr(S_r + S_f - 2 (S_r^1/2 S_f S_r^1/2)^1/2)``, with the
    matrix square roots taken by symmetric eigendecomposition, which stays real
    and stable for the singular covariances of collapsed generators.

    Args:
        real_feats: (N, D) features of real images.
        fake_feats: (M, D) features of generated images.

    Returns:
        A float >= 0.
    """
    _check_features("real_feats", real_feats)
    _check_features("fake_feats", fake_feats)
    if real_feats.shape[1] != fake_feats.shape[1]:
        raise ValueError(f"feature sizes differ: {real_feats.shape[1]} vs {fake_feats.shape[1]}")
    # In torch, not NumPy: alternating torch's OpenMP pool with NumPy's OpenBLAS threads
    # made this 5x slower on 2 cores (both pools spin-wait for the same cores).
    r, f = real_feats.double().cpu(), fake_feats.double().cpu()
    mu_r, mu_f = r.mean(dim=0), f.mean(dim=0)
    cov_r, cov_f = torch.cov(r.T), torch.cov(f.T)
    vals, vecs = torch.linalg.eigh(cov_r)
    sqrt_r = (vecs * vals.clamp_min(0).sqrt()) @ vecs.T
    inner = torch.linalg.eigvalsh(sqrt_r @ cov_f @ sqrt_r)
    tr_sqrt = inner.clamp_min(0).sqrt().sum()
    value = float((mu_r - mu_f).square().sum() + cov_r.trace() + cov_f.trace() - 2 * tr_sqrt)
    return max(value, 0.0)


def nn_radii(real_feats: torch.Tensor, k: int = NN_K) -> torch.Tensor:
    """Distance from each real sample to its k-th nearest real neighbour, shape (N,).

    Args:
        real_feats: (N, D) real features, N > k.
        k: neighbour rank.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    _check_features("real_feats", real_feats, min_rows=k + 1)
    real = real_feats.float()
    # The (k+1)-th smallest distance skips each point's zero distance to itself.
    return torch.cdist(real, real).kthvalue(k + 1, dim=1).values


def density_coverage(real_feats: torch.Tensor, fake_feats: torch.Tensor, k: int = NN_K,
                     radii: torch.Tensor | None = None) -> tuple[float, float]:
    """Density and coverage of Naeem et al. 2020.

    Each real sample gets a ball reaching its k-th nearest real neighbour.
    Density is the mean number of balls a fake sample falls in, divided by k
    (about 1 when the distributions match). Coverage is the share of real balls
    that hold at least one fake sample (in [0, 1]).

    Args:
        real_feats: (N, D) real features, N > k.
        fake_feats: (M, D) generated features.
        k: neighbours defining each ball.
        radii: ``nn_radii(real_feats, k)``, when the caller has it already.

    Returns:
        (density, coverage).
    """
    radii = nn_radii(real_feats, k) if radii is None else radii
    if radii.shape != (real_feats.shape[0],):
        raise ValueError(f"radii must have shape ({real_feats.shape[0]},), got "
                         f"{tuple(radii.shape)}")
    _check_features("fake_feats", fake_feats, min_rows=1)
    fake = fake_feats.float()
    inside = torch.cdist(real_feats.float(), fake) <= radii[:, None]  # (N, M)
    density = inside.sum().item() / (k * fake.shape[0])
    coverage = inside.any(dim=1).float().mean().item()
    return float(density), float(coverage)


def expected_coverage(n_real: int, n_fake: int, k: int = NN_K) -> float:
    """Coverage a perfect generator scores in expectation (Naeem et al. 2020, Lemma 2).

    ``1 - prod_{i=1..k} (N - i) / (M + N - i)`` for N real and M fake samples: about
    0.97 at M = N with k = 5, but only 0.60 for 5,000 real against 1,000 fake, which
    is why the evaluator scores equal-sized sets.

    Args:
        n_real: N > k.
        n_fake: M >= 1.
        k: neighbours defining each ball.
    """
    if k < 1 or n_real <= k or n_fake < 1:
        raise ValueError(f"need k >= 1, n_real > k and n_fake >= 1; got k={k}, "
                         f"n_real={n_real}, n_fake={n_fake}")
    return 1.0 - math.prod((n_real - i) / (n_fake + n_real - i) for i in range(1, k + 1))


def diversity_score(coverage: float, class_entropy: float) -> float:
    """The headline diversity score in [0, 1]: ``coverage * class_entropy``.

    What it measures: how much of the real data the samples reach, discounted
    for unbalanced classes.
    - ``coverage`` (Naeem et al.) falls when samples miss regions of the real
      data: whole classes, all but a few points of a class (collapse onto
      prototypes) -- and also when samples are varied but unrealistic (blur),
      since those fall in no real ball. So a low score alone does not say
      collapse; the failure classes add density to tell collapse (realistic,
      high density) from non-convergence (low density).
    - ``class_entropy`` (normalized entropy of predicted classes) falls when the
      classes are unbalanced, even if every class is still touched. A missing
      class lowers both factors: the score is deliberately harsh on it.
    Calibrated for equal-sized real and fake sets (see :func:`expected_coverage`):
    real held-out digits score about 0.95 to 1; ten prototypes about 0.05.

    Args:
        coverage: in [0, 1].
        class_entropy: in [0, 1].
    """
    for name, value in (("coverage", coverage), ("class_entropy", class_entropy)):
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    return coverage * class_entropy
