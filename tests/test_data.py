import pytest
import torch

from gan.config import GANConfig
from gan.data import DataError, at_size, load_data, write_mnist_raw


def test_embedded_has_ten_balanced_classes_in_range(embedded):
    assert embedded.train.shape == (4000, 1, 28, 28) and embedded.test.shape == (1000, 1, 28, 28)
    assert embedded.train.min() >= -1 and embedded.train.max() <= 1
    assert torch.bincount(embedded.train_labels).tolist() == [400] * 10
    assert torch.bincount(embedded.test_labels).tolist() == [100] * 10
    # Shuffled: the source file is sorted by class.
    assert len(set(embedded.train_labels[:50].tolist())) > 5


def test_embedded_split_is_fixed(embedded):
    again = load_data(GANConfig(dataset="embedded"))
    assert torch.equal(again.train, embedded.train)
    assert again.identity() == embedded.identity()


def test_synthetic_is_small_and_labelled(synthetic):
    assert synthetic.train.shape[1:] == (1, 28, 28) and synthetic.num_classes == 10
    assert synthetic.identity() != load_data(GANConfig(dataset="embedded")).identity()


def test_mnist_loader_reads_torchvision_files(tmp_path, synthetic):
    write_mnist_raw(synthetic, tmp_path)
    split = load_data(GANConfig(dataset="mnist", data_dir=str(tmp_path)))
    assert split.name == "mnist" and split.train.shape == synthetic.train.shape
    assert (split.train - synthetic.train).abs().max() < 1 / 127


def test_auto_falls_back_to_embedded_without_mnist(tmp_path, monkeypatch):
    import gan.data as data

    def offline(_):
        raise DataError("offline")
    monkeypatch.setattr(data, "_download_mnist", offline)
    assert load_data(GANConfig(dataset="auto", data_dir=str(tmp_path / "none"))).name == "embedded"


def test_data_keeps_its_size_and_takes_the_channels(synthetic):
    """Every network is judged at the dataset's own 28x28; one of another size trains on
    at_size's resizing, which keeps [-1, 1] and an image's mean."""
    split = load_data(GANConfig(dataset="synthetic", img_size=32, channels=3))
    assert split.train.shape[1:] == (3, 28, 28)
    big = at_size(split.train[:8], 32)
    assert big.shape[1:] == (3, 32, 32) and big.min() >= -1 and big.max() <= 1
    assert torch.allclose(big.mean(dim=(2, 3)), split.train[:8].mean(dim=(2, 3)), atol=0.02)
    assert at_size(split.train, 28) is split.train
    with pytest.raises(ValueError, match="size 0"):
        at_size(split.train, 0)
