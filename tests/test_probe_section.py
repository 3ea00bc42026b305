"""The gradient probe's section: how far each cost's gradient fell, per stage, in words."""

import numpy as np
import pandas as pd

from analysis import plots
from analysis.sections import probe as probe_section


def _probe(falls: dict[str, float]) -> pd.DataFrame:
    """Two stages x two D seeds; each cost's norm falls ``falls[cost]`` orders of magnitude."""
    rows = []
    for stage in (0, 10):
        for seed in (0, 1):
            for it in range(5):
                row = {"stage_epoch": stage, "probe_seed": seed, "d_iteration": it * 10}
                for cost, fall in falls.items():
                    norm = 10.0 ** (-fall * it / 4)
                    row[cost], row[f"{cost}_logits"] = norm, norm
                rows.append(row)
    return pd.DataFrame(rows)


def test_orders_and_sentences_say_how_far_each_gradient_fell():
    probe = _probe({"minimax": 3.0, "ns": -2.0})
    fell = probe_section.orders(probe, "minimax")
    assert np.allclose(fell.to_numpy(), 3.0)
    assert np.allclose(probe_section.orders(probe, "ns").to_numpy(), -2.0)
    first, second = probe_section.findings(probe)
    assert first.startswith("Probe, G frozen as initialised, 40 fresh-D iterations, 2 D seeds")
    assert "minimax +3.0 [+3.0, +3.0]" in first and "ns -2.0 [-2.0, -2.0]" in first
    assert "agree" in first and "after epoch 10" in second
    fig = plots.gradient_probe(probe)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [
        "frozen G as initialised", "frozen G after epoch 10"]
