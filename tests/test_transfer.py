import pandas as pd
import pytest

from analysis.transfer import agreement, pair_points, rate_lines, transfer_map, transfer_markdown

NAMES = ("mlp", "dcgan")


def _trials(classes, seeds=None):
    n = len(classes)
    return pd.DataFrame({"lr": [1e-4 * (i + 1) for i in range(n)], "b1": [0.1 * i for i in range(n)],
                         "latent_dim": [100] * n, "loss": ["ns"] * n, "bn_eps": [0.8] * n,
                         "seed": seeds or list(range(n)), "failure": classes,
                         "outcome": classes, "fcd": [100.0] * n, "epochs": [30] * n})


def test_agreement_counts_by_hand_with_and_without_no_verdict_points():
    a = _trials(["healthy", "mode_collapse", "mode_collapse", "not_diverse_yet", "vanishing_gradients"])
    b = _trials(["healthy", "mode_collapse", "healthy", "mode_collapse", "vanishing_gradients"])
    pairs = pair_points(a, b, NAMES)
    agree = agreement(pairs, NAMES)
    assert agree["all"] == (3, 5)
    assert agree["judged"] == (3, 4)  # the point not diverse yet as the MLP has no verdict
    assert sorted(agree["moves"]) == [("mode_collapse", "healthy", 1),
                                      ("not_diverse_yet", "mode_collapse", 1)]
    lines = rate_lines(pairs, NAMES)
    assert lines[0].startswith("mlp: failed 3 of 4") and "1 not diverse yet" in lines[0]
    assert lines[1].startswith("dcgan: failed 3 of 5")
    text = transfer_markdown(pairs, NAMES)
    assert "3 of 5" in text and "transfer_map.png" in text
    # Failed as mlp, not as dcgan at one judged point, the reverse at none: 1 vs 0 discordant,
    # below the six the exact test needs to decide anything.
    assert "1 vs 0 discordant" in text and "n 4" in text and "needs 6 to decide" in text
    assert transfer_map(pairs, NAMES).axes


def test_pairs_need_shared_points_from_the_same_seeds():
    a = _trials(["healthy", "healthy"])
    with pytest.raises(ValueError, match="different seeds"):
        pair_points(a, _trials(["healthy", "healthy"], seeds=[5, 6]), NAMES)
    with pytest.raises(ValueError, match="share no point"):
        pair_points(a, a.assign(lr=a["lr"] * 3), NAMES)
