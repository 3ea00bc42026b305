"""Core of gan-study: the seed's MLP GAN, its data, training loop and metrics. Never imports Ray."""

from gan.config import GANConfig
from gan.models import Discriminator, Generator
from gan.train import Callback, TrainState, train

__version__ = "0.1.0"
__all__ = ["GANConfig", "Generator", "Discriminator", "train", "Callback", "TrainState",
           "__version__"]
