import math

import numpy as np
import pytest
import torch

from gan.metrics import scores


def one_hot(labels, c=10):
    return torch.nn.functional.one_hot(torch.tensor(labels), c).double()


def test_modes_and_class_kl_by_hand():
    probs = one_hot([0] * 50 + [1] * 46 + [2] * 4)
    assert scores.count_modes(probs) == 2  # class 2 has 4% < 5%
    hist = np.array([0.5, 0.46, 0.04])
    expected = float((hist * np.log(hist * 10)).sum())
    assert scores.class_kl(probs) == pytest.approx(expected)
    assert scores.class_kl(one_hot(list(range(10)) * 3)) == pytest.approx(0.0)
    assert scores.class_kl(one_hot([4] * 7)) == pytest.approx(math.log(10))


def test_inception_score_bounds():
    assert scores.inception_score(one_hot(list(range(10)) * 5)) == pytest.approx(10.0)
    assert scores.inception_score(one_hot([3] * 20)) == pytest.approx(1.0)
    assert scores.inception_score(torch.full((8, 10), 0.1, dtype=torch.float64)) == \
        pytest.approx(1.0)


def test_frechet_distance_by_hand():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    assert scores.frechet_distance(real_feats=a, fake_feats=a) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, mean shifted by (1, 2, 2): distance = |shift|^2 = 9.
    shift = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64)
    assert scores.frechet_distance(real_feats=a, fake_feats=a + shift) == pytest.approx(9.0)
    # Scaled by 2: trace term = tr(S + 4S - 2*2S) = tr(S) ~ 3.
    assert scores.frechet_distance(real_feats=a, fake_feats=2 * a) == pytest.approx(3.0, rel=0.05)


def test_density_coverage_by_hand():
    real = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    # k=1: radii are 1, 1, 1, 8. A fake at 0.5 lies in balls 0 and 1.
    density, coverage = scores.density_coverage(real_feats=real, fake_feats=torch.tensor([[0.5]]), k=1)
    assert (density, coverage) == (2.0, 0.5)
    density, coverage = scores.density_coverage(real_feats=real,
                                                 fake_feats=torch.tensor([[50.0]]), k=1)
    assert (density, coverage) == (0.0, 0.0)


def test_diversity_score_is_product_and_checked():
    assert scores.diversity_score(coverage=0.5, class_entropy=0.8) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="coverage"):
        scores.diversity_score(coverage=1.5, class_entropy=0.5)
    with pytest.raises(ValueError, match="nan"):
        scores.diversity_score(coverage=0.5, class_entropy=float("nan"))


@pytest.mark.parametrize("bad", [torch.zeros(0, 10), torch.full((3, 10), 0.5),
                                 torch.full((2, 10), float("nan"))])
def test_bad_probs_rejected(bad):
    with pytest.raises(ValueError):
        scores.count_modes(bad)


def test_bad_features_rejected():
    with pytest.raises(ValueError, match="fake_feats"):
        scores.frechet_distance(real_feats=torch.randn(5, 3), fake_feats=torch.randn(5))
    with pytest.raises(ValueError, match="real_feats"):
        scores.density_coverage(real_feats=torch.randn(3, 2), fake_feats=torch.randn(4, 2), k=5)
