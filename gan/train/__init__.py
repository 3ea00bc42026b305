"""The training loop (``loop``), its stock callbacks (``callbacks``) and CLI (``__main__``)."""

from gan.state import Callback, TrainState
from gan.train.loop import build_state, train

__all__ = ["Callback", "TrainState", "build_state", "train"]
