import dataclasses

import pytest

from gan.config import GANConfig


def test_defaults_match_the_seed_script():
    c = GANConfig()
    assert (c.n_epochs, c.batch_size, c.lr, c.b1, c.b2, c.n_cpu, c.latent_dim, c.img_size,
            c.channels, c.sample_interval) == (200, 64, 2e-4, 0.5, 0.999, 8, 100, 28, 1, 400)
    assert c.bn_eps == 0.8 and c.loss == "ns" and c.discriminator_lr == c.lr


def test_round_trip_and_replace():
    c = GANConfig(lr=1e-3, d_lr=4e-4, loss="minimax", dataset="synthetic")
    assert GANConfig.from_dict(c.to_dict()) == c
    assert dataclasses.replace(c, lr=5e-4).lr == 5e-4
    with pytest.raises(ValueError, match="lr must be"):
        dataclasses.replace(c, lr=0.0)


def test_int_given_for_float_is_accepted_as_float():
    assert GANConfig(lr=1).lr == 1.0 and isinstance(GANConfig(lr=1).lr, float)


@pytest.mark.parametrize("field,value,fragment", [
    ("lr", -1e-3, "lr must be"), ("lr", 0.0, "lr must be"), ("batch_size", 0, "batch_size"),
    ("latent_dim", -4, "latent_dim"), ("b1", 1.0, "b1 must be in"), ("b2", -0.1, "b2 must be in"),
    ("dataset", "cifar", "dataset must be"), ("loss", "wgan", "loss must be"),
    ("bn_eps", 0.0, "bn_eps"), ("d_lr", -1.0, "d_lr"), ("lr", float("nan"), "lr must be"),
    ("batch_size", 1.5, "batch_size must be int"), ("n_epochs", True, "n_epochs must be int"),
])
def test_validation_names_field_and_value(field, value, fragment):
    with pytest.raises(ValueError, match=fragment) as err:
        GANConfig(**{field: value})
    assert str(value) in str(err.value)


def test_unknown_key_rejected():
    with pytest.raises(ValueError, match="learning_rate"):
        GANConfig.from_dict({"learning_rate": 0.1})


def test_both_clis_take_gan_flags_from_the_config():
    import dataclasses

    from gan.config import GANConfig
    from gan.train.__main__ import parse_args as train_args
    from study.flags import GAN_FLAGS
    from study.cli import parse_args as study_args

    defaults = GANConfig()
    study, train = study_args([]), train_args([])
    for name in GAN_FLAGS:
        assert getattr(study, name) == getattr(defaults, name), name
    for f in dataclasses.fields(GANConfig):
        assert getattr(train, f.name) == getattr(defaults, f.name), f.name
    assert study_args(["--batch_size", "32"]).batch_size == 32  # gan.py's spelling too
    assert train_args(["--loss", "minimax", "--eval-seed", "3"]).eval_seed == 3
