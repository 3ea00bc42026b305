"""Scores generated images against real held-out images with the dataset's classifier.

The held-out split is halved: even rows are the reference every sample set is
compared with; odd rows are left unseen so that real digits can be scored as a
control (they must look diverse, see tests/test_quality.py).

Coverage depends on the sizes of the two sets (Naeem et al.'s Lemma 2), so the
evaluator always scores as many samples as it has reference images (M = N): the
reference is subsampled, with a fixed seed, to the samples asked for, and where
the reference is the smaller (the embedded subset's 500 even held-out rows
against the default 1,000 samples) only that many samples are drawn and scored.
A perfect generator then scores about 0.97 on the embedded subset and on full
MNIST alike. ``coverage_expected`` records that value per score.
"""

from __future__ import annotations

import hashlib
import logging
import math
from typing import Any

import torch

from gan.metrics import scores
from gan.metrics.classifier import DigitClassifier, load_or_train_classifier
from gan.config import GANConfig
from gan.data import DataSplit, at_size
from gan.train.state import TrainState

QUALITY_KEYS = ("diversity", "fcd", "modes", "class_kl", "inception_score", "density",
                "coverage", "coverage_expected", "eval_status", "classifier_id")
EVAL_SEED_OFFSET = 10_007  # evaluation noise must not share a stream with training noise
log = logging.getLogger(__name__)
REFERENCE_SEED = 0  # fixed: the reference subset must never move between runs
CHUNK = 1000
EVAL_OK, EVAL_NONFINITE = "ok", "nonfinite_samples"


def _subsample(images: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None or size >= len(images):
        return images
    g = torch.Generator().manual_seed(REFERENCE_SEED)
    keep = torch.randperm(len(images), generator=g)[:size].sort().values
    return images[keep.to(images.device)]


def reference_images(split: DataSplit, size: int | None = None) -> torch.Tensor:
    """The even held-out rows, subsampled to ``size`` (the samples scored) when larger."""
    return _subsample(split.test[0::2], size)


def control_images(split: DataSplit, size: int | None = None) -> torch.Tensor:
    """Real held-out images that are not in the reference set, subsampled like it."""
    return _subsample(split.test[1::2], size)


def weights_id(model: torch.nn.Module) -> str:
    """A short hash of a model's weights: scores from different networks must not be mixed."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


class QualityEvaluator:
    """Callable on a :class:`TrainState`: samples G on fixed noise and scores the images."""

    def __init__(self, classifier: DigitClassifier, reference: torch.Tensor,
                 noise: torch.Tensor | None = None) -> None:
        self.classifier = classifier.eval()
        self.classifier_id = weights_id(classifier)
        self.noise = noise
        self.size = reference.shape[-1]  # every sample is judged at the reference's size
        self.ref_features, _ = self.embed(reference)
        self.ref_radii = scores.nn_radii(self.ref_features)  # fixed: computed once

    @classmethod
    def for_data(cls, split: DataSplit, config: GANConfig, device: torch.device | str = "cpu",
                 classifier: DigitClassifier | None = None) -> QualityEvaluator:
        """The evaluator of ``config``'s runs: ``classifier`` (the cached one of ``split``
        when None), the reference subsampled to ``eval_samples``, and seeded noise."""
        if classifier is None:
            classifier, _ = load_or_train_classifier(split, device)
        classifier = classifier.to(device)
        seed = config.seed if config.eval_seed is None else config.eval_seed
        g = torch.Generator(device=device).manual_seed(seed + EVAL_SEED_OFFSET)
        # The reference takes the round trip a network's samples take (to its img_size and
        # back), so that a 32x32 network is not judged against sharper images than it sees.
        native = split.test.shape[-1]
        reference = at_size(at_size(reference_images(split, config.eval_samples),
                                    config.img_size), native)
        if len(reference) < config.eval_samples:
            log.info("quality: %d samples scored per evaluation, the size of the %s "
                     "reference (coverage needs M = N; eval_samples %d)", len(reference),
                     split.name, config.eval_samples)
        noise = torch.randn(len(reference), config.latent_dim, generator=g, device=device)
        return cls(classifier, reference.to(device), noise)

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, 64), softmax probabilities (N, C)), computed in chunks."""
        feats, probs = [], []
        device = next(self.classifier.parameters()).device
        with torch.no_grad():
            for i in range(0, len(images), CHUNK):
                f = self.classifier.features(images[i:i + CHUNK].to(device))
                feats.append(f)
                probs.append(torch.softmax(self.classifier.head(f), dim=1))
        return torch.cat(feats).float().cpu(), torch.cat(probs).double().cpu()

    def score(self, images: torch.Tensor) -> dict[str, Any]:
        """Every quality metric of ``images`` (N, C, H, W) in [-1, 1].

        A non-finite image gives NaN metrics with ``eval_status`` saying why,
        never a made-up number.
        """
        if images.ndim != 4 or len(images) < 2:
            raise ValueError(f"images must be (N>=2, C, H, W), got shape {tuple(images.shape)}")
        if not torch.isfinite(images).all():
            return {**{k: math.nan for k in QUALITY_KEYS}, "eval_status": EVAL_NONFINITE,
                    "classifier_id": self.classifier_id}
        if len(images) != len(self.ref_features):
            raise ValueError(f"{len(images)} images against {len(self.ref_features)} reference "
                             "images: coverage is calibrated for M = N (subsample either)")
        feats, probs = self.embed(at_size(images, self.size))
        density, coverage = scores.density_coverage(self.ref_features, feats,
                                                     radii=self.ref_radii)
        entropy = scores.normalized_class_entropy(probs)
        return {
            "diversity": scores.diversity_score(coverage=min(coverage, 1.0),
                                                 class_entropy=entropy),
            "fcd": scores.frechet_distance(self.ref_features, feats),
            "modes": scores.count_modes(probs),
            "class_kl": scores.class_kl(probs),
            "inception_score": scores.inception_score(probs),
            "density": density,
            "coverage": coverage,
            "coverage_expected": scores.expected_coverage(len(self.ref_features), len(feats)),
            "eval_status": EVAL_OK,
            "classifier_id": self.classifier_id,
        }

    def __call__(self, state: TrainState) -> dict[str, Any]:
        if self.noise is None:
            raise ValueError("this evaluator was built without sampling noise")
        with torch.inference_mode():
            images = torch.cat([state.sample(self.noise[i:i + CHUNK])
                                for i in range(0, len(self.noise), CHUNK)])
        return self.score(images)
