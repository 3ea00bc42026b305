import pytest

from gan.config import GANConfig
from study.space import gan_py_point, optuna_space, to_optuna_params, to_trial_params, trial_config


def test_trial_config_applies_params_and_derives_d_lr():
    base = GANConfig(dataset="synthetic")
    params = {"lr": 1e-3, "b1": 0.1, "b2": 0.95, "latent_dim": 8, "loss": "minimax",
              "bn_eps": 1e-5, "d_lr_ratio": 2.0}
    c = trial_config(base, params, study_seed=7)
    assert (c.lr, c.b1, c.b2, c.latent_dim, c.loss, c.bn_eps, c.d_lr) == \
        (1e-3, 0.1, 0.95, 8, "minimax", 1e-5, 2e-3)
    assert trial_config(base, params, study_seed=7).seed == c.seed
    assert trial_config(base, params, study_seed=8).seed != c.seed


def test_gan_py_point_trains_gan_pys_settings_and_lies_inside_the_space():
    ours = GANConfig()  # gan.py's settings are GANConfig's defaults
    for space in ("default", "extended"):
        config = trial_config(GANConfig(dataset="synthetic"), gan_py_point(space), study_seed=0)
        for name in ("lr", "b1", "b2", "latent_dim", "loss", "bn_eps"):
            assert getattr(config, name) == getattr(ours, name), name
        assert config.discriminator_lr == ours.lr
    for space in ("default", "extended"):
        dists = optuna_space(space)
        for name, value in to_optuna_params(gan_py_point(space)).items():
            assert dists[name]._contains(dists[name].to_internal_repr(value)), name
        assert to_trial_params(to_optuna_params(gan_py_point(space)))["b2"] == \
            pytest.approx(ours.b2, abs=1e-15)


def test_unknown_param_and_space():
    with pytest.raises(ValueError, match="momentum"):
        trial_config(GANConfig(), {"momentum": 0.9}, 0)
    with pytest.raises(ValueError, match="huge"):
        optuna_space("huge")
