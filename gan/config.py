"""The one configuration object of a GAN run.

Every setting of gan.py (PyTorch-GAN ``implementations/gan/gan.py``)
keeps its name and default; the study's additions follow them. The config is
frozen: change it with :func:`dataclasses.replace`, which re-runs validation.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any

from gan.train.losses import GP_WEIGHT, LOSSES, RECIPE_ARMS, arm_loss
from gan.metrics.scores import NN_K

MIN_EVAL_SAMPLES = NN_K + 1  # the fewest samples the quality metrics can score
# Settings that say where and how a run executes, not what it computes: a resumed run may
# change them (and n_epochs, to train longer); every other setting comes from its checkpoint.
EXECUTION_SETTINGS = ("device", "cuda_graphs")
RESUMABLE_CHANGES = ("n_epochs", *EXECUTION_SETTINGS)

DATASETS = ("auto", "mnist", "embedded", "synthetic")
PRECISIONS = ("fp32", "bf16")
CUDA_GRAPH_MODES = ("auto", "off")
# The registered networks (gan.models.registry); a user's own pair is "package.module:build".
MODELS = ("mlp", "dcgan")
# A study's epochs per trial on a CPU: gan.py's 200 are days of CPU time for 50 trials. The
# study's default, and the short budget the budget's reach (analysis.reach) measures.
CPU_STUDY_EPOCHS = 30
# The search space's learning-rate range (Lucic et al. 2018's wide one), log-uniform: the
# study samples it and the report's lr bands cover all of it.
LR_RANGE = (1e-5, 1e-2)
# b2 is searched as 1 - b2 on a log scale over this range (b2 0.9 to 0.9999), so that gan.py's
# 0.999 is sampled like any other value (uniform in b2, 1% of points reached it).
B2_GAP_RANGE = (1e-4, 0.1)
# Settings a loss's own paper uses, applied where the user (or the search) did not set them:
# Gulrajani et al. 2017 train the critic 5 times per generator step, Adam betas (0, 0.9).
LOSS_PAPER_SETTINGS: dict[str, dict[str, Any]] = {
    "wgan-gp": {"b1": 0.0, "b2": 0.9, "n_critic": 5},
}


def _setting(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A config field whose help text and choices the CLIs read (see gan.cli_common)."""
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class GANConfig:
    # --- gan.py's flags, same names and defaults ---
    n_epochs: int = _setting(200, "number of epochs of training")
    batch_size: int = _setting(64, "size of the batches")
    lr: float = _setting(2e-4, "adam: learning rate")
    b1: float = _setting(0.5, "adam: decay of first order momentum of gradient")
    b2: float = _setting(0.999, "adam: decay of second order momentum of gradient")
    n_cpu: int = _setting(8, "CPU threads for training (gan.py's data-loader workers)")
    latent_dim: int = _setting(100, "dimensionality of the latent space")
    img_size: int = _setting(28, "size of each image dimension")
    channels: int = _setting(1, "number of image channels")
    sample_interval: int = _setting(400, "steps between 5x5 sample grids")
    # --- additions ---
    model: str = _setting("mlp", "the networks: mlp (gan.py's), dcgan (Ray Tune's MNIST DCGAN, "
                          "32x32 images) or package.module:build (your own G and D)")
    seed: int = _setting(0, "seeds models, batches and noise")
    device: str = _setting("auto", "auto (CUDA when present), cpu, cuda[:N] or mps")
    dataset: str = _setting("auto", "auto: full MNIST under --data-dir (or downloadable), else "
                            "the embedded 5,000 digits", DATASETS)
    data_dir: str = _setting("data", "where torchvision's MNIST lives or is downloaded to")
    # "ns": gan.py's non-saturating -log D(G(z)); "minimax": log(1 - D(G(z))); the others
    # change D's head (logits, no sigmoid) and both costs: see gan.train.losses.
    loss: str = _setting("ns", "GAN loss: ns (gan.py's), minimax (saturating), lsgan, hinge, "
                         "wgan-gp (wgan-gp defaults to its paper's b1 0, b2 0.9, n_critic 5)",
                         LOSSES)
    n_critic: int = _setting(1, "D steps per G step (G steps on every n_critic-th batch)")
    # bf16: G and D forward passes under torch.autocast (weights, optimizer state, losses and
    # the quality evaluation stay fp32). Opt-in: fp32 is gan.py's numerics.
    precision: str = _setting("fp32", "training numerics: fp32 (gan.py's) or bf16 autocast",
                              PRECISIONS)
    # auto: on CUDA the training step is captured once as CUDA graphs and replayed on every
    # batch (gan.train.graphed), so the host launches one graph instead of ~100 small kernels;
    # on other devices, and with off, each step runs eagerly. The math is the same.
    cuda_graphs: str = _setting("auto", "auto: replay the training step as CUDA graphs on CUDA "
                                "(eager elsewhere); off: eager everywhere", CUDA_GRAPH_MODES)
    gp_weight: float = _setting(GP_WEIGHT, "wgan-gp: gradient-penalty weight lambda")
    # gan.py writes BatchNorm1d(out, 0.8): positionally that is eps, not momentum.
    bn_eps: float = _setting(0.8, "BatchNorm1d eps of the generator (gan.py's 0.8)")
    d_lr: float | None = _setting(None, "discriminator lr (default: --lr, as in gan.py)")
    log_interval: int = _setting(50, "steps between gradient-log rows and step callbacks")
    eval_interval: int = _setting(1, "epochs between sample-quality evaluations; 0 disables")
    eval_samples: int = _setting(1000, "samples scored per quality evaluation")
    # Evaluation noise has its own seed so that runs of different training seeds (every
    # trial of a study) are scored on identical noise; None: derived from ``seed``.
    eval_seed: int | None = _setting(None, "seed of the evaluation noise (default: --seed)")

    def __post_init__(self) -> None:
        self._check_types()
        self._check_values()

    @property
    def img_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.img_size, self.img_size)

    @property
    def discriminator_lr(self) -> float:
        return self.lr if self.d_lr is None else self.d_lr

    def captures_step(self, device: Any) -> bool:
        """Whether the training step on ``device`` (a torch.device) runs as CUDA graphs."""
        return self.cuda_graphs == "auto" and getattr(device, "type", "") == "cuda"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GANConfig:
        """Build a config, rejecting unknown keys (a typo must not train silently)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown GANConfig key(s): {', '.join(unknown)}")
        return cls(**values)

    def _check_types(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            expected = field_type(f.name)
            if value is None and optional(f.name):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float) if expected is float
                                                         else expected):
                raise ValueError(f"{f.name} must be {expected.__name__}, got {value!r}")
            if expected is float:
                object.__setattr__(self, f.name, float(value))

    def _check_values(self) -> None:
        positive = ("n_epochs", "batch_size", "latent_dim", "img_size", "channels",
                    "sample_interval", "log_interval", "eval_samples", "n_critic")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.batch_size < 2:
            # BatchNorm1d cannot normalise a batch of one in training mode.
            raise ValueError(f"batch_size must be >= 2, got {self.batch_size}")
        for name in ("lr", "bn_eps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value}")
        if self.d_lr is not None and not (math.isfinite(self.d_lr) and self.d_lr > 0):
            raise ValueError(f"d_lr must be a finite number > 0, got {self.d_lr}")
        for name in ("b1", "b2"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if self.log_interval % self.n_critic:
            # Logged rows must come from steps where G stepped too (they carry G's gradients).
            raise ValueError(f"log_interval {self.log_interval} must be a multiple of "
                             f"n_critic {self.n_critic}")
        if not (math.isfinite(self.gp_weight) and self.gp_weight >= 0):
            raise ValueError(f"gp_weight must be a finite number >= 0, got {self.gp_weight}")
        if self.eval_seed is not None and self.eval_seed < 0:
            raise ValueError(f"eval_seed must be >= 0, got {self.eval_seed}")
        if self.n_cpu < 0:
            raise ValueError(f"n_cpu must be >= 0, got {self.n_cpu}")
        if self.eval_interval < 0:
            raise ValueError(f"eval_interval must be >= 0, got {self.eval_interval}")
        if self.eval_interval > 0 and self.eval_samples < MIN_EVAL_SAMPLES:
            # Density and coverage give each reference sample a ball to its k-th nearest
            # neighbour: the reference (subsampled to eval_samples) needs more than k.
            raise ValueError(f"eval_samples must be >= {MIN_EVAL_SAMPLES} (the quality "
                             f"metrics' k + 1 = {NN_K} + 1 reference samples), got "
                             f"{self.eval_samples}")
        for f in fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {choices}, got "
                                 f"{getattr(self, f.name)!r}")
        if self.model not in MODELS and ":" not in self.model:
            raise ValueError(f"model must be one of {MODELS} or package.module:build, got "
                             f"{self.model!r}")
        if self.device != "auto" and not self.device.startswith(("cpu", "cuda", "mps")):
            raise ValueError(f"device must be auto, cpu, cuda[:N] or mps, got {self.device!r}")


def paper_settings(loss: str, given: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """The settings ``loss``'s paper uses (e.g. wgan-gp's betas and n_critic), except those in
    ``given`` (set by the user or searched). A single ``gan.train`` run takes them; a study's
    arms take them only under a recipe arm's name (:func:`arm_settings`)."""
    return {k: v for k, v in LOSS_PAPER_SETTINGS.get(loss, {}).items() if k not in given}


def arm_settings(arm: str, given: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """What a study arm sets besides its point: its loss, and for a recipe arm
    (:data:`gan.train.losses.RECIPE_ARMS`) its paper's settings, except those in ``given`` (the
    point's own axes: in the atlas b1 is one, so the recipe arm keeps the point's b1)."""
    loss = arm_loss(arm)
    recipe = paper_settings(loss, given) if arm in RECIPE_ARMS else {}
    return {"loss": loss, **recipe}


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(GANConfig)


def optional(name: str) -> bool:
    """Whether the field ``name`` may be None."""
    return type(None) in typing.get_args(_hints()[name])


def field_type(name: str) -> type:
    """The field's value type (``int``, ``float`` or ``str``), with any ``| None`` removed."""
    hint = _hints()[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint
