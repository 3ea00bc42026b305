import pytest

from gan.config import GANConfig
from study.space import optuna_space, seed_point, trial_config


def test_trial_config_applies_params_and_derives_d_lr():
    base = GANConfig(dataset="synthetic")
    params = {"lr": 1e-3, "b1": 0.1, "b2": 0.95, "latent_dim": 8, "loss": "minimax",
              "bn_eps": 1e-5, "d_lr_ratio": 2.0}
    c = trial_config(base, params, study_seed=7)
    assert (c.lr, c.b1, c.b2, c.latent_dim, c.loss, c.bn_eps, c.d_lr) == \
        (1e-3, 0.1, 0.95, 8, "minimax", 1e-5, 2e-3)
    assert trial_config(base, params, study_seed=7).seed == c.seed
    assert trial_config(base, params, study_seed=8).seed != c.seed


def test_seed_point_is_the_seed_script_and_inside_the_space():
    assert seed_point("default") == {"lr": 2e-4, "b1": 0.5, "b2": 0.999, "latent_dim": 100}
    for space in ("default", "extended"):
        dists = optuna_space(space)
        for name, value in seed_point(space).items():
            assert dists[name]._contains(dists[name].to_internal_repr(value)), name


def test_unknown_param_and_space():
    with pytest.raises(ValueError, match="momentum"):
        trial_config(GANConfig(), {"momentum": 0.9}, 0)
    with pytest.raises(ValueError, match="huge"):
        optuna_space("huge")
