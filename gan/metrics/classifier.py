"""The evaluator network: a small CNN trained once per dataset and cached on disk.

It is deliberately tiny (about 0.2 MFLOP per image) so that scoring 1,000
samples every epoch costs a few milliseconds on a CPU.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan.records.atomic import replace_with
from gan.data import DataSplit

log = logging.getLogger(__name__)

CLASSIFIER_FORMAT = 1
FEATURE_DIM = 64
# Full MNIST (60,000 digits) needs fewer passes and affords a wider net than the 4,000
# embedded ones, which need many epochs (with shift augmentation) to reach ~98%.
LARGE_DATASET = 20_000
WIDTH_EPOCHS_LARGE, WIDTH_EPOCHS_SMALL = (16, 8), (8, 30)
BATCH, LR, MAX_LR, WEIGHT_DECAY = 64, 1e-3, 3e-3, 1e-4
MAX_SHIFT = 2  # pixels of random translation
SCORE_CHUNK = 1000


class DigitClassifier(nn.Module):
    """images (N, C, H, W) in [-1, 1] -> logits (N, classes); ``features`` gives (N, 64)."""

    def __init__(self, channels: int, img_size: int, num_classes: int, width: int) -> None:
        super().__init__()
        side = (img_size + 3) // 4  # two stride-2 convolutions
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, kernel_size=5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(width, 2 * width, kernel_size=5, stride=2, padding=2), nn.ReLU(),
            nn.Flatten(),
            nn.Linear(2 * width * side * side, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def default_cache_dir() -> Path:
    return Path(os.environ.get("GAN_STUDY_CACHE", Path.home() / ".cache" / "gan-study"))


def _random_shift(x: torch.Tensor, g: torch.Generator, max_shift: int = MAX_SHIFT
                  ) -> torch.Tensor:
    """Shift a batch by up to ``max_shift`` pixels: cheap augmentation for a 4,000-image set."""
    span = 2 * max_shift + 1
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dx, dy = torch.randint(0, span, (2,), generator=g).tolist()
    return padded[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]


def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(images[i:i + SCORE_CHUNK]).argmax(1)
                        == labels[i:i + SCORE_CHUNK]).sum())
                   for i in range(0, len(images), SCORE_CHUNK))
    return hits / len(images)


def train_classifier(split: DataSplit, seed: int = 0, device: torch.device | str = "cpu"
                     ) -> tuple[DigitClassifier, float]:
    """Train on ``split.train``; return the model and its held-out accuracy."""
    n = len(split.train)
    width, epochs = WIDTH_EPOCHS_LARGE if n > LARGE_DATASET else WIDTH_EPOCHS_SMALL
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitClassifier(split.train.shape[1], split.train.shape[2], split.num_classes,
                            width).to(device)
    batch = BATCH
    steps_per_epoch = (n + batch - 1) // batch
    opt = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=MAX_LR,
                                                total_steps=epochs * steps_per_epoch)
    x_all, y_all = split.train.to(device), split.train_labels.to(device)
    log.info("training the %s evaluator classifier (%d images, %d epochs)", split.name, n, epochs)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g).to(device)
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            loss = F.cross_entropy(model(_random_shift(x_all[idx], g)), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % max(1, epochs // 5) == 0 or epoch + 1 == epochs:
            log.info("  classifier epoch %d/%d: last batch loss %.4f", epoch + 1, epochs,
                     loss.item())
    acc = accuracy(model, split.test.to(device), split.test_labels.to(device))
    log.info("evaluator classifier held-out accuracy on %s: %.4f", split.name, acc)
    model.eval()
    return model, acc


def load_or_train_classifier(split: DataSplit, device: torch.device | str = "cpu",
                             cache_dir: Path | None = None) -> tuple[DigitClassifier, float]:
    """The cached classifier for this exact dataset, trained and saved on first use."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache_dir / f"classifier-{split.identity()}.pt"
    if path.is_file():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if blob.get("format") == CLASSIFIER_FORMAT:
                model = DigitClassifier(**blob["shape"])
                model.load_state_dict(blob["state_dict"])
                log.info("loaded evaluator classifier %s (held-out acc %.4f)", path,
                         blob["accuracy"])
                return model.to(device).eval(), float(blob["accuracy"])
        except Exception as err:  # a corrupt cache entry is rebuilt, never fatal
            log.warning("ignoring unreadable classifier cache %s: %s", path, err)
    model, acc = train_classifier(split, device=device)
    shape = {"channels": split.train.shape[1], "img_size": split.train.shape[2],
             "num_classes": split.num_classes, "width": model.body[0].out_channels}
    blob = {"format": CLASSIFIER_FORMAT, "shape": shape, "accuracy": acc,
            "state_dict": model.cpu().state_dict()}
    replace_with(path, lambda tmp: torch.save(blob, tmp))  # concurrent trials may race here
    return model.to(device).eval(), acc
