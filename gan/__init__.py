"""Core of gan-study: gan.py's MLP GAN, its data, training loop and metrics. Never imports Ray."""

from gan.config import GANConfig
from gan.models import Discriminator, Generator
from gan.state import Callback, TrainState
from gan.train import train
from gan.version import __version__

__all__ = ["GANConfig", "Generator", "Discriminator", "train", "Callback", "TrainState",
           "__version__"]
