"""Core of gan-study: the networks, data, training loop, metrics and a study's records. Never imports Ray."""

from gan.version import __version__

__all__ = ["__version__"]
