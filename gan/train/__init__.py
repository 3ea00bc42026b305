"""The training loop (``loop``), its stock callbacks (``callbacks``) and CLI (``__main__``)."""

from gan.train.loop import Callback, TrainState, build_state, train

__all__ = ["Callback", "TrainState", "build_state", "train"]
