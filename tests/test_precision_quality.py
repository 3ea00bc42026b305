import math

import pytest

from conftest import tiny_config
from gan.bench.precision_quality import compare, format_rows, quality_params


def test_compare_scores_each_config_in_both_precisions(synthetic):
    # latent 8: neither config's (16, 100), so each needs noise of its own size
    configs = {"gan.py defaults": {}, "pick": {"lr": 1e-3, "latent_dim": 16}}
    rows = compare(synthetic, tiny_config(n_epochs=1, eval_interval=1, eval_samples=200,
                                          latent_dim=8), 2, configs)
    assert [(r["config"], r["precision"]) for r in rows] == \
        [(c, p) for c in configs for p in ("fp32", "bf16")]
    for row in rows:
        assert math.isfinite(row["fcd"]) and math.isfinite(row["fcd_sd"]) and row["seeds"] == 2
    assert len(format_rows(rows)) == 4
    with pytest.raises(ValueError, match="seeds must be >= 1, got 0"):
        compare(synthetic, tiny_config(), 0)


def test_quality_params_read_a_best_config(tmp_path):
    import json

    path = tmp_path / "best_config.json"
    path.write_text(json.dumps({"params": {"lr": 1e-3, "b1": 0.1, "latent_dim": 32,
                                           "d_lr_ratio": 2.0}}))
    assert quality_params(path) == {"lr": 1e-3, "b1": 0.1, "latent_dim": 32, "d_lr": 2e-3}
    path.write_text(json.dumps({"params": {"lr": 1e-3, "warp": 9}}))
    with pytest.raises(ValueError, match="warp"):
        quality_params(path)
