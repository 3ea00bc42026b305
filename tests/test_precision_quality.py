import math

import pytest

from conftest import tiny_config
from gan.precision_quality import CONFIGS, compare, format_rows


def test_compare_scores_each_config_in_both_precisions(synthetic):
    # latent 8: neither config's (16, 100), so each needs noise of its own size
    rows = compare(synthetic, tiny_config(n_epochs=1, eval_interval=1, eval_samples=200,
                                          latent_dim=8), 2)
    assert [(r["config"], r["precision"]) for r in rows] == \
        [(c, p) for c in CONFIGS for p in ("fp32", "bf16")]
    for row in rows:
        assert math.isfinite(row["fcd"]) and math.isfinite(row["fcd_sd"]) and row["seeds"] == 2
    assert len(format_rows(rows)) == 4
    with pytest.raises(ValueError, match="seeds must be >= 1, got 0"):
        compare(synthetic, tiny_config(), 0)
