"""The training loop (``loop``), its state and callbacks, losses, checkpoints, the CUDA-graph step and the CLI (``__main__``)."""
