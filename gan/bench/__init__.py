"""Benchmarks: the training step against gan.py's loop and its arithmetic floor, runs sharing a GPU, bf16's cost."""
